//! The logging policy, rule by rule: every reason code is produced by at least one test here.

use mailtrail::email::{AddressInput, AttachmentInput, ComposeData, Email};
use mailtrail::policy::{decide, ContactDirectory, Context, Decision, Trigger};
use mailtrail::record::Direction;
use mailtrail::settings::{LogMode, Settings};
use mailtrail::ReasonCode::{self, *};
use std::collections::HashSet;

fn settings() -> Settings {
    Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        never_log_addresses: vec!["ceo@customer.example".into()],
        never_log_domains: vec!["competitor.example".into()],
        bcc_address: Some("log@bcc.crm.example".into()),
        forwarding_address: Some("fwd@crm.example".into()),
        ..Settings::default()
    }
    .validate()
    .expect("valid settings")
}

fn compose(to: &[&str], cc: &[&str], bcc: &[&str]) -> Email {
    let list = |v: &[&str]| {
        v.iter()
            .map(|s| AddressInput::Text(s.to_string()))
            .collect()
    };
    Email::from_compose(&ComposeData {
        from: Some(AddressInput::Text("Me <me@ourco.example>".into())),
        to: list(to),
        cc: list(cc),
        bcc: list(bcc),
        subject: Some("Offer".into()),
        text: Some("Hello".into()),
        ..Default::default()
    })
    .expect("compose")
}

fn incoming(from: &str, to: &[&str]) -> Email {
    let list = to
        .iter()
        .map(|s| AddressInput::Text(s.to_string()))
        .collect();
    Email::from_compose(&ComposeData {
        from: Some(AddressInput::Text(from.into())),
        to: list,
        subject: Some("Re: Offer".into()),
        text: Some("Thanks".into()),
        in_reply_to: Some("<sent-1@ourco.example>".into()),
        ..Default::default()
    })
    .expect("compose")
}

fn run(
    email: &Email,
    s: &Settings,
    trigger: Trigger,
    contacts: &dyn ContactDirectory,
    in_thread: bool,
) -> Decision {
    decide(
        email,
        s,
        &Context {
            trigger,
            contacts,
            in_logged_thread: in_thread,
            already_logged: false,
        },
    )
}

fn none() -> HashSet<String> {
    HashSet::new()
}

fn set(items: &[&str]) -> HashSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn contact_addresses(d: &Decision) -> Vec<&str> {
    d.contacts.iter().map(|c| c.address.as_str()).collect()
}

fn reasons_about(d: &Decision, code: ReasonCode) -> Vec<&str> {
    d.reasons
        .iter()
        .filter(|r| r.code == code)
        .filter_map(|r| r.address.as_deref())
        .collect()
}

const SEND: Trigger = Trigger::Send { log_checked: true };

#[test]
fn checked_email_logs_against_every_external_recipient() {
    let e = compose(
        &["Jane <Jane@Customer.example>"],
        &["bob@partner.example"],
        &["carol@other.example"],
    );
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(d.log && d.push);
    assert_eq!(d.direction, Direction::Outgoing);
    assert_eq!(
        contact_addresses(&d),
        [
            "jane@customer.example",
            "bob@partner.example",
            "carol@other.example"
        ]
    );
    assert_eq!(d.reasons[0].code, LogChecked);
    // create_contacts is on by default: unknown people become contacts, and it says so
    assert!(d.contacts.iter().all(|c| c.create));
    assert_eq!(reasons_about(&d, ContactCreated).len(), 3);
}

#[test]
fn unchecked_email_is_not_logged() {
    let e = compose(&["jane@customer.example"], &[], &[]);
    let d = run(
        &e,
        &settings(),
        Trigger::Send { log_checked: false },
        &none(),
        false,
    );
    assert!(!d.log && !d.push && d.add_bcc.is_none());
    assert_eq!(d.codes(), vec![LogUnchecked]);
}

#[test]
fn never_log_excludes_only_those_recipients() {
    let e = compose(
        &["ceo@customer.example", "jane@customer.example"],
        &["spy@eu.competitor.example"],
        &[],
    );
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(d.log);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
    assert_eq!(reasons_about(&d, NeverLogAddress), ["ceo@customer.example"]);
    assert_eq!(
        reasons_about(&d, NeverLogDomain),
        ["spy@eu.competitor.example"]
    );
}

#[test]
fn nobody_left_means_not_logged_with_the_reasons() {
    let e = compose(&["ceo@customer.example"], &["x@competitor.example"], &[]);
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(!d.log);
    assert_eq!(d.reasons[0].code, NoLoggableRecipients);
    assert!(d.has(NeverLogAddress) && d.has(NeverLogDomain));
}

#[test]
fn internal_only_mail_is_not_logged_by_default_but_can_be() {
    let e = compose(
        &["colleague@ourco.example"],
        &["other@sales.ourco.example"],
        &[],
    );
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(!d.log);
    assert_eq!(d.reasons[0].code, InternalOnly);

    let s = Settings {
        log_internal_only: true,
        ..settings()
    };
    let d = run(&e, &s, SEND, &none(), false);
    assert!(d.log);
    assert_eq!(
        contact_addresses(&d),
        ["colleague@ourco.example", "other@sales.ourco.example"]
    );

    // Without contact creation, only the internal people already in the CRM are associated,
    // and the others are named.
    let s = Settings {
        log_internal_only: true,
        create_contacts: false,
        ..settings()
    };
    let d = run(&e, &s, SEND, &set(&["colleague@ourco.example"]), false);
    assert!(d.log);
    assert_eq!(contact_addresses(&d), ["colleague@ourco.example"]);
    assert!(d.contacts.iter().all(|c| !c.create));
    assert_eq!(
        reasons_about(&d, RecipientNotContact),
        ["other@sales.ourco.example"]
    );
}

#[test]
fn internal_recipients_are_not_associated_on_external_mail() {
    let e = compose(
        &["jane@customer.example"],
        &["colleague@ourco.example"],
        &[],
    );
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(d.log);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
    assert_eq!(
        reasons_about(&d, InternalRecipient),
        ["colleague@ourco.example"]
    );
}

#[test]
fn unknown_recipients_need_contact_creation() {
    let s = Settings {
        create_contacts: false,
        ..settings()
    };
    let e = compose(
        &["known@customer.example", "new@customer.example"],
        &[],
        &[],
    );
    let d = run(&e, &s, SEND, &set(&["known@customer.example"]), false);
    assert!(d.log);
    assert_eq!(contact_addresses(&d), ["known@customer.example"]);
    assert!(!d.contacts[0].create);
    assert_eq!(
        reasons_about(&d, RecipientNotContact),
        ["new@customer.example"]
    );
    assert!(!d.has(ContactCreated));
}

#[test]
fn bcc_mode_adds_the_address_once() {
    let s = Settings {
        mode: LogMode::Bcc,
        ..settings()
    };
    let e = compose(&["jane@customer.example"], &[], &[]);
    let d = run(&e, &s, SEND, &none(), false);
    assert!(d.log && !d.push);
    assert_eq!(d.add_bcc.as_deref(), Some("log@bcc.crm.example"));
    assert!(d.has(BccAdded));

    let e = compose(&["jane@customer.example"], &[], &["LOG@bcc.crm.example"]);
    let d = run(&e, &s, SEND, &none(), false);
    assert_eq!(d.add_bcc, None);
    assert!(d.has(BccAlreadyPresent));
    // the CRM's own address is never a contact
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);

    let both = Settings {
        mode: LogMode::Both,
        ..settings()
    };
    let d = run(
        &compose(&["jane@customer.example"], &[], &[]),
        &both,
        SEND,
        &none(),
        false,
    );
    assert!(d.push && d.add_bcc.is_some());
}

#[test]
fn oversized_attachments_are_dropped_and_the_email_still_logs() {
    let att = |name: &str, size: u64| AttachmentInput {
        name: Some(name.into()),
        size,
        ..Default::default()
    };
    let e = Email::from_compose(&ComposeData {
        from: Some(AddressInput::Text("me@ourco.example".into())),
        to: vec![AddressInput::Text("jane@customer.example".into())],
        attachments: vec![
            att("big.zip", 40 << 20),
            att("bigger.iso", 30 << 20),
            att("small.pdf", 1 << 20),
        ],
        ..Default::default()
    })
    .unwrap();
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(d.log);
    let dropped: Vec<_> = d
        .dropped_attachments
        .iter()
        .map(|a| a.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        dropped,
        ["bigger.iso"],
        "first-fit within 50 MiB keeps big.zip and small.pdf"
    );
    assert!(d.has(AttachmentsTooLarge));

    let s = Settings {
        include_attachments: false,
        ..settings()
    };
    let d = run(&e, &s, SEND, &none(), false);
    assert_eq!(d.dropped_attachments.len(), 3);
    assert!(d.has(AttachmentsDisabled));
}

#[test]
fn long_bodies_are_flagged_for_truncation() {
    let mut e = compose(&["jane@customer.example"], &[], &[]);
    e.text = Some("x".repeat(2 * 1024 * 1024));
    let d = run(&e, &settings(), SEND, &none(), false);
    assert!(d.log && d.has(BodyTruncated));
}

#[test]
fn duplicates_are_not_logged_again() {
    let e = compose(&["jane@customer.example"], &[], &[]);
    let d = decide(
        &e,
        &settings(),
        &Context {
            trigger: SEND,
            contacts: &none(),
            in_logged_thread: false,
            already_logged: true,
        },
    );
    assert!(!d.log);
    assert_eq!(d.codes(), vec![Duplicate]);
}

#[test]
fn reply_from_a_contact_in_a_logged_thread_is_logged() {
    let e = incoming(
        "Jane <jane@customer.example>",
        &["me@ourco.example", "bob@partner.example"],
    );
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["jane@customer.example", "bob@partner.example"]),
        true,
    );
    assert!(d.log && d.push);
    assert_eq!(d.direction, Direction::Incoming);
    assert_eq!(
        contact_addresses(&d),
        ["jane@customer.example", "bob@partner.example"]
    );
    assert!(
        d.contacts.iter().all(|c| !c.create),
        "replies never create contacts"
    );
    assert_eq!(
        reasons_about(&d, ReplyInLoggedThread),
        ["jane@customer.example"]
    );
}

#[test]
fn reply_from_a_non_contact_is_not_logged_and_says_why() {
    let e = incoming("stranger@customer.example", &["me@ourco.example"]);
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["jane@customer.example"]),
        true,
    );
    assert!(!d.log);
    assert_eq!(
        reasons_about(&d, SenderNotContact),
        ["stranger@customer.example"]
    );
    assert!(d.contacts.is_empty());
}

#[test]
fn message_outside_logged_threads_is_not_logged() {
    let e = incoming("jane@customer.example", &["me@ourco.example"]);
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["jane@customer.example"]),
        false,
    );
    assert!(!d.log);
    assert_eq!(d.codes(), vec![ThreadNotLogged]);
}

#[test]
fn never_log_sender_is_not_logged_even_in_a_logged_thread() {
    let e = incoming("ceo@customer.example", &["me@ourco.example"]);
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["ceo@customer.example"]),
        true,
    );
    assert!(!d.log);
    assert_eq!(d.codes(), vec![SenderNeverLog, NeverLogAddress]);
    let e = incoming("a@x.competitor.example", &["me@ourco.example"]);
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["a@x.competitor.example"]),
        true,
    );
    assert_eq!(d.codes(), vec![SenderNeverLog, NeverLogDomain]);
}

#[test]
fn internal_reply_and_own_message_and_auto_reply() {
    let e = incoming("colleague@ourco.example", &["me@ourco.example"]);
    let d = run(&e, &settings(), Trigger::Incoming, &none(), true);
    assert_eq!(d.codes(), vec![InternalOnly]);

    let e = incoming("me@ourco.example", &["jane@customer.example"]);
    let d = run(&e, &settings(), Trigger::Incoming, &none(), true);
    assert_eq!(d.codes(), vec![OwnMessage]);

    let mut e = incoming("jane@customer.example", &["me@ourco.example"]);
    e.auto_submitted = true;
    let d = run(
        &e,
        &settings(),
        Trigger::Incoming,
        &set(&["jane@customer.example"]),
        true,
    );
    assert_eq!(d.codes(), vec![AutoSubmitted]);

    let mut e = incoming("jane@customer.example", &["me@ourco.example"]);
    e.from = None;
    let d = run(&e, &settings(), Trigger::Incoming, &none(), true);
    assert_eq!(d.codes(), vec![NoSender]);
}

#[test]
fn a_colleague_s_reply_all_in_a_customer_thread_is_not_logged_against_the_colleague() {
    // Tanaka (a colleague the CRM happens to list as a contact) answers the customer with the
    // user in copy: not a contact reply; the colleague's own mailbox logs it.
    let e = incoming(
        "Tanaka <tanaka@ourco.example>",
        &["me@ourco.example", "Yamada <yamada@customer.example>"],
    );
    let known = set(&["tanaka@ourco.example", "yamada@customer.example"]);
    let d = run(&e, &settings(), Trigger::Incoming, &known, true);
    assert!(!d.log, "{:?}", d.reasons);
    assert_eq!(d.codes(), vec![SenderNotContact]);
    // With internal mail logged on purpose, colleagues are contacts like anyone else.
    let s = Settings {
        log_internal_only: true,
        ..settings()
    };
    let d = run(&e, &s, Trigger::Incoming, &known, true);
    assert!(d.log, "{:?}", d.reasons);
}

#[test]
fn manual_log_of_a_received_email_uses_its_sender() {
    let e = incoming("Jane <jane@customer.example>", &["me@ourco.example"]);
    let d = run(&e, &settings(), Trigger::Manual, &none(), false);
    assert!(d.log);
    assert_eq!(d.direction, Direction::Incoming);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
    assert_eq!(d.reasons[0].code, LoggedManually);
    assert!(d.has(ContactCreated));
}

#[test]
fn manual_log_of_a_sent_email_is_outgoing_without_bcc() {
    let s = Settings {
        mode: LogMode::Both,
        ..settings()
    };
    let e = compose(&["jane@customer.example"], &[], &[]);
    let d = run(&e, &s, Trigger::Manual, &none(), false);
    assert!(d.log);
    assert_eq!(d.direction, Direction::Outgoing);
    assert_eq!(d.add_bcc, None);
    assert!(!d.has(BccAdded));
    assert_eq!(d.reasons[0].code, LoggedManually);
}

#[test]
fn forwarded_original_logs_against_the_original_sender() {
    let e = incoming("Jane <jane@customer.example>", &["sales@ourco.example"]);
    let d = run(&e, &settings(), Trigger::Forwarded, &none(), false);
    assert!(d.log);
    assert_eq!(d.direction, Direction::Forwarded);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
    assert_eq!(d.reasons[0].code, ForwardedToCrm);

    let mut no_sender = e.clone();
    no_sender.from = None;
    let d = run(&no_sender, &settings(), Trigger::Forwarded, &none(), false);
    assert_eq!(d.codes(), vec![ForwardNotRecognised]);

    // a forward of the user's own sent email logs against its external recipients
    let own = compose(
        &["jane@customer.example", "colleague@ourco.example"],
        &[],
        &[],
    );
    let d = run(&own, &settings(), Trigger::Forwarded, &none(), false);
    assert_eq!(d.direction, Direction::Forwarded);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
}

#[test]
fn bcc_copy_is_outgoing_against_recipients() {
    let mut e = compose(&["jane@customer.example"], &[], &["log@bcc.crm.example"]);
    e.from = mailtrail::Mailbox::parse("teammate@ourco.example").ok();
    let d = run(&e, &settings(), Trigger::BccCopy, &none(), false);
    assert!(d.log && d.push);
    assert_eq!(d.reasons[0].code, BccCopy);
    assert_eq!(contact_addresses(&d), ["jane@customer.example"]);
}

#[test]
fn every_reason_code_is_exercised() {
    // Keep this list in sync with the tests above: a new code needs a rule test.
    let exercised = [
        LogChecked,
        LoggedManually,
        ForwardedToCrm,
        BccCopy,
        ReplyInLoggedThread,
        BccAdded,
        BccAlreadyPresent,
        ContactCreated,
        LogUnchecked,
        InternalOnly,
        NoLoggableRecipients,
        ThreadNotLogged,
        SenderNotContact,
        SenderNeverLog,
        Duplicate,
        AutoSubmitted,
        ForwardNotRecognised,
        NoSender,
        OwnMessage,
        NeverLogAddress,
        NeverLogDomain,
        InternalRecipient,
        RecipientNotContact,
        AttachmentsTooLarge,
        AttachmentsDisabled,
        BodyTruncated,
        // The engine adds it after deciding (tests/engine.rs
        // several_attached_originals_log_the_first_and_say_so).
        MoreForwardedEmails,
        // Added by HubSpot delivery when the CRM refuses one of the contacts (tests/hubspot.rs
        // an_address_hubspot_refuses_is_left_out_and_the_email_logs_with_the_rest).
        ContactRejected,
    ];
    for code in mailtrail::ReasonCode::ALL {
        assert!(exercised.contains(code), "{code} has no policy test");
    }
    assert_eq!(exercised.len(), mailtrail::ReasonCode::ALL.len());
}

#[test]
fn the_direction_is_known_before_deciding_and_decide_agrees() {
    // The engine computes the idempotency key (which, without a Message-ID, includes the
    // direction) before deciding, to ask whether the email is already logged: both must agree
    // for every trigger, sender and outcome, logged or not.
    let s = settings();
    let emails = [
        compose(&["jane@partner.example"], &[], &[]),
        compose(&["colleague@ourco.example"], &[], &[]),
        incoming("Jane <jane@partner.example>", &["me@ourco.example"]),
        incoming("ceo@customer.example", &["me@ourco.example"]),
        incoming("me@ourco.example", &["jane@partner.example"]),
        Email::from_compose(&ComposeData {
            subject: Some("no sender".into()),
            ..Default::default()
        })
        .expect("compose"),
    ];
    let triggers = [
        Trigger::Send { log_checked: true },
        Trigger::Send { log_checked: false },
        Trigger::BccCopy,
        Trigger::Incoming,
        Trigger::Manual,
        Trigger::Forwarded,
        Trigger::ManualForward,
    ];
    let contacts = set(&["jane@partner.example"]);
    let mut seen = HashSet::new();
    for email in &emails {
        for trigger in triggers {
            for in_thread in [false, true] {
                let decision = run(email, &s, trigger, &contacts, in_thread);
                let expected = mailtrail::policy::direction(email, &s, trigger);
                assert_eq!(
                    decision.direction, expected,
                    "{trigger:?} on {:?}",
                    email.from
                );
                seen.insert(format!("{:?}", decision.direction));
            }
        }
    }
    assert_eq!(
        seen.len(),
        3,
        "all three directions were exercised: {seen:?}"
    );
}

#[test]
fn dropped_attachments_are_listed_without_their_content() {
    // A raw message whose attachment data is kept (the record carries it), one over the limit.
    let raw = b"From: me@ourco.example\r\n\
To: jane@customer.example\r\n\
Subject: files\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
see attached\r\n\
--b\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n\
--b--\r\n";
    let e = Email::from_raw(
        raw,
        mailtrail::ParseOptions {
            keep_attachment_data: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(e.attachments[0].data.is_some());
    let s = Settings {
        attachment_limit: 16,
        ..settings()
    };
    let d = run(&e, &s, SEND, &none(), false);
    assert!(d.log);
    assert_eq!(d.dropped_attachments.len(), 1);
    assert_eq!(d.dropped_attachments[0].data, None);
    assert_eq!(d.dropped_attachments[0].size, 32);
    // The record still drops it, by metadata.
    let record = mailtrail::record::build(&e, &d, &s, Default::default());
    assert!(record.attachments.is_empty());
    assert_eq!(record.dropped_attachments.len(), 1);
}

#[test]
fn a_body_limit_beyond_32_bits_keeps_bodies_whole() {
    let mut e = compose(&["jane@customer.example"], &[], &[]);
    e.text = Some("hello".into());
    let s = Settings {
        body_limit: 1 << 32,
        ..settings()
    };
    assert_eq!(s.body_limit_bytes(), 1 << 32);
    let d = run(&e, &s, SEND, &none(), false);
    assert!(!d.has(BodyTruncated));
    let record = mailtrail::record::build(&e, &d, &s, Default::default());
    assert_eq!(record.text.as_deref(), Some("hello"));
}
