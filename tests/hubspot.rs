//! HubSpot CRM v3 end to end with a scripted transport: bodies within HubSpot's property limit,
//! contacts HubSpot already has or refuses, the token being rejected, retryable statuses, the
//! "already created?" search, and "Test connection".

use mailtrail::delivery::{self, HUBSPOT_SEARCH_SETTLE_MS};
use mailtrail::email::{AddressInput, ComposeData, Email};
use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::http::HttpRequest;
use mailtrail::hubspot::{self, utf16_len, TEXT_PROPERTY_LIMIT};
use mailtrail::outbox::{DeliveryOutcome, EntryState};
use mailtrail::policy::Trigger;
use mailtrail::reason::{Reason, ReasonCode};
use mailtrail::settings::{EndpointConfig, Settings};
use serde_json::Value;
use std::collections::HashSet;

#[path = "support/scripted.rs"]
mod scripted;
use scripted::{block_on, Scripted};

const NOW: i64 = 1_772_500_500_000;

fn hubspot(token: &str) -> EndpointConfig {
    EndpointConfig::Hubspot {
        token: token.into(),
        base_url: "https://api.hubapi.example".into(),
        emails_path: "/crm/v3/objects/emails".into(),
        contacts_path: "/crm/v3/objects/contacts".into(),
        owner_id: None,
    }
}

fn engine() -> Engine {
    Engine::new(&Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        endpoint: Some(hubspot("pat-1")),
        ..Settings::default()
    })
    .unwrap()
}

fn email(draft: &str, to: &[&str], subject: &str) -> ComposeData {
    ComposeData {
        from: Some(AddressInput::Text("Me <me@ourco.example>".into())),
        to: to
            .iter()
            .map(|a| AddressInput::Text(a.to_string()))
            .collect(),
        subject: Some(subject.into()),
        html: Some("<p>Hello</p>".into()),
        draft_id: Some(draft.into()),
        date: Some(NOW),
        ..Default::default()
    }
}

/// Queues an email (Log checked) and returns its outbox key.
fn queue(engine: &mut Engine, data: ComposeData) -> String {
    let email = Email::from_compose(&data).unwrap();
    let out = engine.process(
        &email,
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &ProcessOptions::default(),
    );
    assert!(out.queued, "{:?}", out.decision);
    out.record.unwrap().idempotency_key
}

fn flush(engine: &mut Engine, t: &Scripted, at: i64) -> delivery::FlushReport {
    block_on(delivery::flush(engine, t, || at, || 0.5))
}

const JANE_FOUND: &str = r#"{"status":"COMPLETE","results":[{"id":"101","properties":{"email":"jane@customer.example"}}]}"#;

fn is_email_create(r: &HttpRequest) -> bool {
    r.url.ends_with("/crm/v3/objects/emails")
}

fn associated_ids(create: &Value) -> Vec<String> {
    create["associations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["to"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn activity_reasons(engine: &Engine, key: &str) -> Vec<Reason> {
    engine
        .status()
        .activity
        .into_iter()
        .find(|a| a.key.as_deref() == Some(key))
        .unwrap()
        .reasons
}

// ---------------------------------------------------------------- H1: long bodies

#[test]
fn long_bodies_are_kept_within_hubspots_limit_and_say_so() {
    let mut engine = engine();
    // 40,000 "ą" and 20,000 emoji: 80,000 UTF-16 units (HubSpot's count), 60,000 characters.
    let text = "ą".repeat(40_000) + &"😀".repeat(20_000);
    assert!(text.chars().count() < TEXT_PROPERTY_LIMIT);
    let html = format!("<div>{}</div>", "<b>x</b> ".repeat(10_000));
    let key = queue(
        &mut engine,
        ComposeData {
            text: Some(text.clone()),
            html: Some(html),
            ..email("long", &["Jane <jane@customer.example>"], "Long")
        },
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9001"}"#);
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.delivered, 1, "{r:?}");
    let create = &t.bodies()[1];
    let props = &create["properties"];
    let sent = props["hs_email_text"].as_str().unwrap();
    assert!(
        utf16_len(sent) <= TEXT_PROPERTY_LIMIT,
        "{}",
        utf16_len(sent)
    );
    assert!(sent.starts_with(&text[..1000]));
    assert!(
        sent.contains("Shortened by Mailtrail"),
        "the text says it was cut"
    );
    // The HTML (90,000 characters) does not fit: left out, the text says so.
    assert!(props.get("hs_email_html").is_none(), "{props}");
    assert!(sent.contains("HTML) version of this email"));
    // The user sees it on the email's activity entry and in the flush report.
    let reasons = activity_reasons(&engine, &key);
    let note = reasons
        .iter()
        .find(|r| r.code == ReasonCode::BodyTruncated)
        .expect("body-truncated added after delivery");
    assert!(
        note.detail.as_deref().unwrap().contains("65,536"),
        "{note:?}"
    );
    assert!(r
        .notes
        .iter()
        .any(|(k, n)| k == &key && n.code == ReasonCode::BodyTruncated));
}

#[test]
fn an_html_only_body_is_cut_between_tags_outside_scripts_and_comments() {
    let mut engine = engine();
    // The cut would fall inside a long <style> block; everything before it is ordinary.
    let head = "<p>intro</p>".repeat(5_000); // 60,000 characters
    let style = format!(
        "<style>p {{ color: red }} {}</style>",
        "/*x*/".repeat(2_000)
    );
    let html = format!("{head}{style}<p>after</p><!-- {} -->", "c".repeat(20_000));
    queue(
        &mut engine,
        ComposeData {
            html: Some(html.clone()),
            ..email("htmlonly", &["jane@customer.example"], "Html")
        },
    );
    // A record with an HTML body only (a compose window gives a text version too; other
    // sources may not).
    let mut record = engine.take_due(NOW, 1).remove(0).1;
    record.text = None;
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9"}"#);
    let outcome = block_on(delivery::deliver(
        &hubspot("pat-1"),
        &record,
        false,
        NOW,
        &t,
    ));
    let DeliveryOutcome::Delivered { notes, .. } = outcome else {
        panic!("{outcome:?}");
    };
    let props = &t.bodies()[1]["properties"];
    assert!(props.get("hs_email_text").is_none());
    let sent = props["hs_email_html"].as_str().unwrap();
    assert!(utf16_len(sent) <= TEXT_PROPERTY_LIMIT);
    // Cut before the <style> element, not inside it (the note would be styling otherwise).
    let (kept, note) = sent.split_at(head.len());
    assert_eq!(kept, head);
    assert!(note.starts_with("<p>[…] Shortened by Mailtrail"), "{note}");
    assert!(notes.iter().any(|r| r.code == ReasonCode::BodyTruncated));
}

#[test]
fn bodies_within_the_limit_are_sent_as_they_are() {
    let mut engine = engine();
    let text = "😀".repeat(TEXT_PROPERTY_LIMIT / 2); // exactly the limit in UTF-16 units
    let key = queue(
        &mut engine,
        ComposeData {
            text: Some(text.clone()),
            ..email("fits", &["jane@customer.example"], "Fits")
        },
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9"}"#);
    let r = flush(&mut engine, &t, NOW);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    let props = &t.bodies()[1]["properties"];
    assert_eq!(props["hs_email_text"], text);
    assert_eq!(props["hs_email_html"], "<p>Hello</p>");
    assert!(!activity_reasons(&engine, &key)
        .iter()
        .any(|r| r.code == ReasonCode::BodyTruncated));
}

#[test]
fn attachments_are_named_in_the_email_hubspot_shows() {
    // Files are not uploaded: the rep must still see that a quote came with the email.
    let mut engine = Engine::new(&Settings {
        user_addresses: vec!["me@ourco.example".into()],
        endpoint: Some(hubspot("pat-1")),
        attachment_limit: 1024 * 1024,
        ..Settings::default()
    })
    .unwrap();
    let attachment = |name: &str, size: u64, inline: bool| mailtrail::email::AttachmentInput {
        name: Some(name.into()),
        size,
        content_type: Some("application/pdf".into()),
        sha256: None,
        inline,
    };
    queue(
        &mut engine,
        ComposeData {
            text: Some("Please find the quote attached.".into()),
            attachments: vec![
                attachment("Oferta <Q3> & cennik.pdf", 48_213, false),
                attachment("logo.png", 2_000, true),
                attachment("見積書.pdf", 3 * 1024 * 1024, false),
            ],
            ..email("att", &["jane@customer.example"], "Quote")
        },
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9"}"#);
    assert_eq!(flush(&mut engine, &t, NOW).delivered, 1);
    let props = &t.bodies()[1]["properties"];
    let text = props["hs_email_text"].as_str().unwrap();
    assert!(
        text.starts_with("Please find the quote attached."),
        "{text}"
    );
    assert!(
        text.ends_with("(Mailtrail does not upload files to HubSpot): Oferta <Q3> & cennik.pdf (48 KB), 見積書.pdf (3.0 MB), over the size limit]"),
        "{text}"
    );
    assert!(
        !text.contains("logo.png"),
        "inline images are part of the body"
    );
    let html = props["hs_email_html"].as_str().unwrap();
    assert!(html.starts_with("<p>Hello</p><p>[Attachments"), "{html}");
    assert!(
        html.contains("Oferta &lt;Q3&gt; &amp; cennik.pdf (48 KB)"),
        "{html}"
    );
}

#[test]
fn a_400_naming_a_body_length_is_sent_again_with_text_only() {
    let mut engine = engine();
    let key = queue(&mut engine, email("len", &["jane@customer.example"], "Len"));
    let t = Scripted::default();
    t.answer(200, JANE_FOUND)
        .answer(400, r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"hs_email_html exceeds the maximum length\",\"error\":\"INVALID_LENGTH\",\"name\":\"hs_email_html\"}]","category":"VALIDATION_ERROR"}"#)
        .answer(201, r#"{"id":"9002"}"#);
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.delivered, 1, "{r:?}");
    let bodies = t.bodies();
    assert_eq!(bodies.len(), 3);
    let retry = &bodies[2]["properties"];
    assert!(retry.get("hs_email_html").is_none());
    // No text body: the HTML's text stands in for it.
    assert!(retry["hs_email_text"]
        .as_str()
        .unwrap()
        .starts_with("Hello"));
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Done { ref remote_id, .. } if remote_id.as_deref() == Some("9002")
    ));

    // Any other 400 is still the CRM refusing the record.
    let mut engine = self::engine();
    let key = queue(
        &mut engine,
        email("len2", &["jane@customer.example"], "Len"),
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(
        400,
        r#"{"status":"error","message":"Property hs_timestamp is required","category":"VALIDATION_ERROR"}"#,
    );
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.failed, 1);
    assert_eq!(t.requests().len(), 2);
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Dead { .. }
    ));
}

// ---------------------------------------------------------------- H2, H3: contacts

#[test]
fn a_contact_created_meanwhile_does_not_cost_the_others() {
    let mut engine = engine();
    let key = queue(
        &mut engine,
        email(
            "409",
            &[
                "jane@customer.example",
                "Bob Stone <bob@partner.example>",
                "Carol <carol@partner.example>",
            ],
            "Three",
        ),
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND)
        // The batch is refused whole: Bob exists now (the message names only an id).
        .answer(409, r#"{"status":"error","message":"Contact already exists. Existing ID: 303","correlationId":"c","category":"CONFLICT"}"#)
        // One by one: Bob's 409 names his id, Carol is created.
        .answer(409, r#"{"status":"error","message":"Contact already exists. Existing ID: 303","category":"CONFLICT"}"#)
        .answer(201, r#"{"status":"COMPLETE","results":[{"id":"404","properties":{"email":"carol@partner.example"}}]}"#)
        .answer(201, r#"{"id":"9003"}"#);
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.delivered, 1, "{r:?}");
    let bodies = t.bodies();
    assert_eq!(bodies[2]["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(
        bodies[2]["inputs"][0]["properties"]["email"],
        "bob@partner.example"
    );
    assert_eq!(
        bodies[3]["inputs"][0]["properties"]["email"],
        "carol@partner.example"
    );
    assert_eq!(associated_ids(&bodies[4]), ["101", "303", "404"]);
    for a in [
        "jane@customer.example",
        "bob@partner.example",
        "carol@partner.example",
    ] {
        assert!(engine.is_known_contact(a), "{a}");
    }
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Done { .. }
    ));
}

#[test]
fn an_address_hubspot_refuses_is_left_out_and_the_email_logs_with_the_rest() {
    let mut engine = engine();
    let key = queue(
        &mut engine,
        email(
            "invalid",
            &[
                "jane@customer.example",
                "bob@partner.example",
                "x@bad-tld.invalid",
            ],
            "Invalid",
        ),
    );
    let invalid = r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address x@bad-tld.invalid is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","category":"VALIDATION_ERROR"}"#;
    let t = Scripted::default();
    t.answer(200, JANE_FOUND)
        .answer(400, invalid)
        .answer(
            201,
            r#"{"results":[{"id":"202","properties":{"email":"bob@partner.example"}}]}"#,
        )
        .answer(400, invalid)
        .answer(201, r#"{"id":"9004"}"#);
    let r = flush(&mut engine, &t, NOW);
    assert_eq!((r.delivered, r.failed), (1, 0), "{r:?}");
    assert_eq!(associated_ids(&t.bodies()[4]), ["101", "202"]);
    // The refused address is said, with HubSpot's reason, where the user looks.
    let reasons = activity_reasons(&engine, &key);
    let note = reasons
        .iter()
        .find(|r| r.code == ReasonCode::ContactRejected)
        .expect("contact-rejected note");
    assert_eq!(note.address.as_deref(), Some("x@bad-tld.invalid"));
    assert!(
        note.detail.as_deref().unwrap().contains("is invalid"),
        "{note:?}"
    );
    // Only the associated addresses become known contacts.
    assert!(engine.is_known_contact("bob@partner.example"));
    assert!(!engine.is_known_contact("x@bad-tld.invalid"));
}

#[test]
fn an_email_with_no_contact_to_associate_is_not_created_as_an_orphan() {
    let mut engine = engine();
    let key = queue(
        &mut engine,
        email("orphan", &["x@bad-tld.invalid"], "Orphan"),
    );
    let invalid = r#"{"status":"error","message":"Email address x@bad-tld.invalid is invalid","category":"VALIDATION_ERROR"}"#;
    let t = Scripted::default();
    t.answer(207, r#"{"status":"COMPLETE","results":[],"errors":[{"status":"error","category":"OBJECT_NOT_FOUND"}]}"#)
        .answer(400, invalid)
        .answer(400, invalid);
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.failed, 1, "{r:?}");
    assert!(
        !t.requests().iter().any(is_email_create),
        "no email created"
    );
    let err = engine
        .outbox()
        .get(&key)
        .unwrap()
        .last_error
        .clone()
        .unwrap();
    assert_eq!(err.code.as_deref(), Some("no-contact"));
    assert!(err.message.contains("x@bad-tld.invalid"), "{}", err.message);
    assert!(err.message.contains("is invalid"), "{}", err.message);
}

// ---------------------------------------------------------------- M3: rejected token

#[test]
fn a_rejected_token_stops_the_flush_and_keeps_every_record_waiting() {
    let mut engine = engine();
    let keys: Vec<String> = (0..3)
        .map(|i| {
            queue(
                &mut engine,
                email(
                    &format!("tok{i}"),
                    &["jane@customer.example"],
                    &format!("S{i}"),
                ),
            )
        })
        .collect();
    let mut at = NOW;
    // Far more flushes than the attempt limit (20): a revoked token must not make them dead.
    for round in 0..30 {
        let t = Scripted::default();
        t.answer(401, r#"{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}"#);
        let r = flush(&mut engine, &t, at);
        assert_eq!(
            t.requests().len(),
            1,
            "round {round}: the flush stops at the first 401"
        );
        assert!(r.token_rejected);
        assert_eq!(r.failed, 0);
        for key in &keys {
            let e = engine.outbox().get(key).unwrap();
            assert!(
                matches!(e.state, EntryState::Retrying { .. }),
                "round {round}: {:?}",
                e.state
            );
            assert_eq!(
                e.attempts, 0,
                "a rejected token is not the record's attempt"
            );
            assert_eq!(
                e.last_error.as_ref().unwrap().code.as_deref(),
                Some("token-rejected")
            );
        }
        at = engine.next_wakeup().unwrap();
        assert!(
            at >= NOW + round as i64 * 1_800_000 + 1_800_000 - 1,
            "long backoff"
        );
    }
    // Token fixed: everything goes.
    let t = Scripted::default();
    for _ in 0..3 {
        t.answer(200, JANE_FOUND).answer(201, r#"{"id":"1"}"#);
    }
    let r = flush(&mut engine, &t, at);
    assert_eq!(r.delivered, 3, "{r:?}");
}

#[test]
fn a_new_token_sends_the_records_that_waited_on_the_old_one_at_once() {
    let mut engine = engine();
    let key = queue(
        &mut engine,
        email("tok-new", &["jane@customer.example"], "S"),
    );
    let t = Scripted::default();
    t.answer(
        401,
        r#"{"status":"error","message":"expired","category":"INVALID_AUTHENTICATION"}"#,
    );
    assert!(flush(&mut engine, &t, NOW).token_rejected);
    let waiting_until = engine.next_wakeup().unwrap();
    assert!(waiting_until >= NOW + 1_800_000 - 1, "the long wait");
    // Saving settings that change something else leaves it waiting.
    let mut same = engine.settings().clone();
    same.log_by_default = !same.log_by_default;
    engine.configure(&same, NOW + 1_000).unwrap();
    assert_eq!(engine.next_wakeup(), Some(waiting_until));
    // The admin pastes a new token: due now, and delivered by the next flush.
    let mut fixed = engine.settings().clone();
    fixed.endpoint = Some(hubspot("pat-2"));
    engine.configure(&fixed, NOW + 2_000).unwrap();
    assert!(engine.next_wakeup().unwrap() <= NOW + 2_000);
    assert!(
        !engine.take_changes().is_empty(),
        "the entry's new state is persisted"
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9"}"#);
    let r = flush(&mut engine, &t, NOW + 2_000);
    assert_eq!(r.delivered, 1, "{r:?}");
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Done { .. }
    ));
}

#[test]
fn a_token_no_http_client_can_send_is_reported_not_thrown() {
    let endpoint = hubspot("pat-na1\u{200b}-abc");
    // Settings validation refuses it with a clear field error…
    let errors = Settings {
        endpoint: Some(endpoint.clone()),
        ..Settings::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code.as_str()),
        ("endpoint.token", "invalid-token")
    );
    assert!(errors[0].message.contains("zero-width space"));
    // …and one that got through anyway (older settings) is never handed to the transport.
    let mut engine = engine();
    queue(&mut engine, email("zw", &["jane@customer.example"], "Zw"));
    let record = engine.take_due(NOW, 1).remove(0).1;
    let t = Scripted::default();
    let outcome = block_on(delivery::deliver(&endpoint, &record, false, NOW, &t));
    assert!(t.requests().is_empty());
    match outcome {
        DeliveryOutcome::Retry {
            error,
            credentials_rejected: true,
            ..
        } => {
            assert!(error.message.contains("U+200B"), "{}", error.message);
            assert!(!error.message.contains("pat-na1"), "the token is not shown");
        }
        other => panic!("{other:?}"),
    }
    let report = block_on(delivery::test_connection(&endpoint, &t));
    assert!(
        !report.ok && report.message.contains("U+200B"),
        "{report:?}"
    );
    assert!(t.requests().is_empty());
}

// ---------------------------------------------------------------- M1, L1: statuses

#[test]
fn locked_and_migrating_accounts_are_retried() {
    for (status, headers, least_ms) in [
        (423, vec![], 2_000),
        (423, vec![("Retry-After", "5")], 5_000),
        (477, vec![("Retry-After", "120")], 120_000),
    ] {
        let mut engine = engine();
        let key = queue(&mut engine, email("lock", &["jane@customer.example"], "L"));
        let t = Scripted::default();
        t.answer(200, JANE_FOUND).answer_with(
            status,
            &headers,
            r#"{"status":"error","message":"busy"}"#,
        );
        let r = flush(&mut engine, &t, NOW);
        assert_eq!(r.retrying, 1, "{status}: {r:?}");
        match engine.outbox().get(&key).unwrap().state {
            EntryState::Retrying { next_attempt_at } => {
                assert!(next_attempt_at >= NOW + least_ms, "{status}")
            }
            ref s => panic!("{status}: {s:?}"),
        }
    }
}

#[test]
fn a_409_from_the_email_create_is_not_taken_as_already_logged() {
    let mut engine = engine();
    let key = queue(&mut engine, email("c409", &["jane@customer.example"], "C"));
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(
        409,
        r#"{"status":"error","message":"Conflict","category":"CONFLICT"}"#,
    );
    let r = flush(&mut engine, &t, NOW);
    assert_eq!((r.duplicates, r.failed), (0, 1), "{r:?}");
    let e = engine.outbox().get(&key).unwrap();
    assert!(matches!(e.state, EntryState::Dead { .. }));
    assert!(e.last_error.as_ref().unwrap().message.contains("Conflict"));
}

// ---------------------------------------------------------------- L3: the "already created?" search

fn filters(search: &Value) -> Vec<(String, String, Option<String>)> {
    search["filterGroups"][0]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["propertyName"].as_str().unwrap().to_string(),
                f["operator"].as_str().unwrap().to_string(),
                f["value"].as_str().map(str::to_string),
            )
        })
        .collect()
}

/// Queues an email and has its create time out after sending: the next attempt searches.
fn after_a_lost_create(subject: &str) -> (Engine, String, i64) {
    let mut engine = engine();
    let key = queue(
        &mut engine,
        email("lost", &["jane@customer.example"], subject),
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).fail(true);
    assert_eq!(flush(&mut engine, &t, NOW).retrying, 1);
    let at = engine.next_wakeup().unwrap();
    assert!(at >= NOW + HUBSPOT_SEARCH_SETTLE_MS as i64);
    (engine, key, at)
}

#[test]
fn the_search_for_an_earlier_copy_matches_direction_contact_and_an_empty_subject() {
    let (mut engine, _, at) = after_a_lost_create("");
    let t = Scripted::default();
    t.answer(200, JANE_FOUND)
        .answer(200, r#"{"total":1,"results":[{"id":"9005"}]}"#);
    let r = flush(&mut engine, &t, at);
    assert_eq!(r.duplicates, 1);
    let search = &t.bodies()[1];
    assert!(t.requests()[1].url.ends_with("/emails/search"));
    let f = filters(search);
    assert!(f.contains(&("hs_timestamp".into(), "EQ".into(), Some(NOW.to_string()))));
    assert!(f.contains(&(
        "hs_email_direction".into(),
        "EQ".into(),
        Some("EMAIL".into())
    )));
    assert!(f.contains(&("hs_email_subject".into(), "NOT_HAS_PROPERTY".into(), None)));
    assert!(f.contains(&(
        "associations.contact".into(),
        "EQ".into(),
        Some("101".into())
    )));
}

#[test]
fn a_refused_search_does_not_lose_the_email() {
    let (mut engine, key, at) = after_a_lost_create("Offer");
    let t = Scripted::default();
    t.answer(200, JANE_FOUND)
        .answer(
            400,
            r#"{"status":"error","message":"Invalid filter","category":"VALIDATION_ERROR"}"#,
        )
        .answer(
            400,
            r#"{"status":"error","message":"Invalid filter","category":"VALIDATION_ERROR"}"#,
        )
        .answer(201, r#"{"id":"9006"}"#);
    let r = flush(&mut engine, &t, at);
    assert_eq!(r.delivered, 1, "{r:?}");
    let bodies = t.bodies();
    // Tried again without the association filter, then created.
    assert!(filters(&bodies[1])
        .iter()
        .any(|f| f.0 == "associations.contact"));
    assert!(!filters(&bodies[2])
        .iter()
        .any(|f| f.0 == "associations.contact"));
    assert!(filters(&bodies[2]).contains(&(
        "hs_email_subject".into(),
        "EQ".into(),
        Some("Offer".into())
    )));
    assert!(is_email_create(&t.requests()[3]));
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Done { .. }
    ));
}

// ---------------------------------------------------------------- M7: Test connection

#[test]
fn test_connection_checks_the_emails_object_too() {
    let t = Scripted::default();
    t.answer(200, r#"{"results":[]}"#).answer(
        403,
        r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","category":"MISSING_SCOPES"}"#,
    );
    let r = block_on(delivery::test_connection(&hubspot("pat-1"), &t));
    assert!(!r.ok);
    assert_eq!(r.status, Some(403));
    assert!(r.message.contains("sales-email-read"), "{}", r.message);
    let reqs = t.requests();
    assert_eq!(reqs[1].method, "GET");
    assert_eq!(
        reqs[1].url,
        "https://api.hubapi.example/crm/v3/objects/emails?limit=1"
    );

    t.answer(200, r#"{"results":[]}"#)
        .answer(200, r#"{"results":[]}"#);
    let r = block_on(delivery::test_connection(&hubspot("pat-1"), &t));
    assert!(r.ok, "{r:?}");
}

// ---------------------------------------------------------------- L2: names

#[test]
fn names_lose_titles_companies_and_quotes() {
    let split = |n: &str| hubspot::split_name(Some(n));
    let name = |f: &str, l: &str| (Some(f.to_string()), Some(l.to_string()));
    assert_eq!(split("John Doe, PhD"), name("John", "Doe"));
    assert_eq!(split("Jan Kowalski, CEO"), name("Jan", "Kowalski"));
    assert_eq!(split("Doe, John, Jr."), name("John", "Doe"));
    assert_eq!(
        split("Jan Kowalski, Head of Sales"),
        name("Jan", "Kowalski")
    );
    assert_eq!(split("'Jan Kowalski'"), name("Jan", "Kowalski"));
    assert_eq!(split("\"Doe, Jane\""), name("Jane", "Doe"));
    assert_eq!(split("Jan Kowalski (Acme)"), name("Jan", "Kowalski"));
    assert_eq!(
        split("Jan Kowalski | Acme sp. z o.o."),
        name("Jan", "Kowalski")
    );
    // Still a "Last, First" name.
    assert_eq!(split("Doe, John"), name("John", "Doe"));
    assert_eq!(split("DOE, JOHN"), name("JOHN", "DOE"));
    // Half-width katakana is written family name first, like the full-width kind.
    assert_eq!(split("ﾔﾏﾀﾞ ﾀﾛｳ"), name("ﾀﾛｳ", "ﾔﾏﾀﾞ"));
    assert_eq!(split("山田 太郎"), name("太郎", "山田"));
}

// ---------------------------------------------------------------- owner (hubspot_owner_id)

fn hubspot_owned(owner: Option<&str>) -> EndpointConfig {
    match hubspot("pat-1") {
        EndpointConfig::Hubspot {
            token,
            base_url,
            emails_path,
            contacts_path,
            ..
        } => EndpointConfig::Hubspot {
            token,
            base_url,
            emails_path,
            contacts_path,
            owner_id: owner.map(str::to_string),
        },
        other => other,
    }
}

fn engine_with(endpoint: EndpointConfig) -> Engine {
    Engine::new(&Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        endpoint: Some(endpoint),
        ..Settings::default()
    })
    .unwrap()
}

#[test]
fn emails_are_created_with_the_configured_owner_and_without_one_when_none_is_set() {
    for (owner, expected) in [(Some("41629779"), Some("41629779")), (None, None)] {
        let mut engine = engine_with(hubspot_owned(owner));
        queue(&mut engine, email("own", &["jane@customer.example"], "Own"));
        let t = Scripted::default();
        t.answer(200, JANE_FOUND).answer(201, r#"{"id":"9001"}"#);
        assert_eq!(flush(&mut engine, &t, NOW).delivered, 1);
        let reqs = t.requests();
        assert!(is_email_create(&reqs[1]));
        let props = &t.bodies()[1]["properties"];
        assert_eq!(props["hubspot_owner_id"].as_str(), expected, "{props}");
        if expected.is_none() {
            assert!(props.get("hubspot_owner_id").is_none(), "{props}");
        }
        // Contacts are never given an owner: only the email is.
        assert!(!reqs[0].body.contains("hubspot_owner_id"));
    }
}

#[test]
fn an_owner_hubspot_does_not_know_fails_with_a_message_naming_the_setting() {
    let mut engine = engine_with(hubspot_owned(Some("999")));
    let key = queue(
        &mut engine,
        email("bad-owner", &["jane@customer.example"], "B"),
    );
    let t = Scripted::default();
    t.answer(200, JANE_FOUND).answer(
        400,
        r#"{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"999 is not a valid owner id\",\"error\":\"INVALID_OWNER_ID\",\"name\":\"hubspot_owner_id\"}]","category":"VALIDATION_ERROR"}"#,
    );
    let r = flush(&mut engine, &t, NOW);
    assert_eq!(r.failed, 1, "{r:?}");
    let error = &r.errors[0].1;
    assert_eq!(error.code.as_deref(), Some("invalid-owner"));
    assert!(
        error.message.contains("owner 999") && error.message.contains("settings"),
        "{}",
        error.message
    );
    // Kept (failed, retryable), not lost.
    assert!(engine.outbox().get(&key).is_some());
}

#[test]
fn owner_id_in_settings_is_optional_digits_and_old_documents_still_load() {
    // A document from before the field.
    let old: Settings = serde_json::from_str(
        r#"{"endpoint":{"type":"hubspot","token":"pat-1","baseUrl":"https://api.hubapi.com"}}"#,
    )
    .unwrap();
    let old = old.validate().unwrap();
    assert!(matches!(
        old.endpoint,
        Some(EndpointConfig::Hubspot { owner_id: None, .. })
    ));
    // Not written when unset: exports stay as they were.
    assert!(!serde_json::to_string(&old).unwrap().contains("ownerId"));

    let load = |owner: &str| -> Settings {
        serde_json::from_str(&format!(
            r#"{{"endpoint":{{"type":"hubspot","token":"pat-1","ownerId":{owner}}}}}"#
        ))
        .unwrap()
    };
    let owner_of = |s: Settings| match s.validate().unwrap().endpoint {
        Some(EndpointConfig::Hubspot { owner_id, .. }) => owner_id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        owner_of(load(r#"" 41629779 ""#)).as_deref(),
        Some("41629779")
    );
    assert_eq!(
        owner_of(load("41629779")).as_deref(),
        Some("41629779"),
        "a JSON number"
    );
    assert_eq!(owner_of(load(r#""""#)), None, "empty means no owner");
    assert_eq!(owner_of(load("null")), None);
    let round = serde_json::to_value(load(r#""41629779""#).validate().unwrap()).unwrap();
    assert_eq!(round["endpoint"]["ownerId"], "41629779");

    for bad in [
        r#""jane@ourco.example""#,
        r#""Jane Doe""#,
        r#""41 629 779""#,
        r#""-5""#,
        r#""12345678901234567890""#,
        "1.5",
    ] {
        let errors = load(bad).validate().unwrap_err();
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(errors[0].field, "endpoint.ownerId", "{bad}");
        assert_eq!(errors[0].code, "invalid-owner-id", "{bad}");
        assert!(
            errors[0].message.contains("owner id"),
            "{}",
            errors[0].message
        );
    }
}

const CONNECTED: &str = r#"{"results":[]}"#;

#[test]
fn test_connection_finds_the_users_hubspot_owner() {
    let t = Scripted::default();
    t.answer(200, CONNECTED).answer(200, CONNECTED).answer(
        200,
        r#"{"results":[{"id":"41629779","email":"me+sales@ourco.example","type":"PERSON","firstName":"Jane","lastName":"Doe","userId":9586504,"archived":false}]}"#,
    );
    let r = block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me+sales@ourco.example"),
        &t,
    ));
    assert!(r.ok, "{r:?}");
    let owner = r.owner.expect("an owner lookup");
    assert_eq!(owner.status, delivery::OwnerStatus::Found);
    let found = owner.owner.expect("the owner");
    assert_eq!(found.id, "41629779", "the owner id, not the user id");
    assert_eq!(found.name.as_deref(), Some("Jane Doe"));
    assert_eq!(found.email.as_deref(), Some("me+sales@ourco.example"));
    assert!(owner.message.contains("41629779"), "{}", owner.message);
    let reqs = t.requests();
    assert_eq!(reqs[2].method, "GET");
    assert_eq!(
        reqs[2].url,
        "https://api.hubapi.example/crm/v3/owners/?email=me%2Bsales%40ourco.example&limit=1"
    );
    assert_eq!(
        reqs[2]
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .map(|(_, v)| v.as_str()),
        Some("Bearer pat-1")
    );
    // In the JSON the options page reads.
    let json = serde_json::to_value(block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me@ourco.example"),
        &{
            let t = Scripted::default();
            t.answer(200, CONNECTED).answer(200, CONNECTED).answer(
                200,
                r#"{"results":[{"id":"7","firstName":"Jane","lastName":"Doe"}]}"#,
            );
            t
        },
    )))
    .unwrap();
    assert_eq!(json["owner"]["status"], "found");
    assert_eq!(json["owner"]["owner"]["id"], "7");
}

#[test]
fn test_connection_says_why_no_owner_was_found_without_failing() {
    // No HubSpot user with the address.
    let t = Scripted::default();
    t.answer(200, CONNECTED)
        .answer(200, CONNECTED)
        .answer(200, r#"{"results":[]}"#);
    let r = block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me@ourco.example"),
        &t,
    ));
    assert!(r.ok, "{r:?}");
    let owner = r.owner.unwrap();
    assert_eq!(owner.status, delivery::OwnerStatus::NotFound);
    assert!(owner.owner.is_none());
    assert!(
        owner.message.contains("me@ourco.example"),
        "{}",
        owner.message
    );

    // The private app lacks the owners scope: named.
    let t = Scripted::default();
    t.answer(200, CONNECTED).answer(200, CONNECTED).answer(
        403,
        r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.owners.read"]}}],"category":"MISSING_SCOPES"}"#,
    );
    let r = block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me@ourco.example"),
        &t,
    ));
    assert!(r.ok, "the connection itself works: {r:?}");
    assert_eq!(r.status, Some(200));
    let owner = r.owner.unwrap();
    assert_eq!(owner.status, delivery::OwnerStatus::MissingScope);
    assert!(
        owner.message.contains("crm.objects.owners.read"),
        "{}",
        owner.message
    );

    // No address to look up by: nothing asked, and said so.
    let t = Scripted::default();
    t.answer(200, CONNECTED).answer(200, CONNECTED);
    let r = block_on(delivery::test_connection_as(&hubspot_owned(None), None, &t));
    assert!(r.ok);
    assert_eq!(r.owner.unwrap().status, delivery::OwnerStatus::NoAddress);
    assert_eq!(t.requests().len(), 2);

    // The owners call failing (network) does not fail the test either.
    let t = Scripted::default();
    t.answer(200, CONNECTED).answer(200, CONNECTED).fail(false);
    let r = block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me@ourco.example"),
        &t,
    ));
    assert!(r.ok);
    assert_eq!(r.owner.unwrap().status, delivery::OwnerStatus::Failed);

    // A failed connection looks up no owner.
    let t = Scripted::default();
    t.answer(
        401,
        r#"{"status":"error","message":"expired","category":"EXPIRED_AUTHENTICATION"}"#,
    );
    let r = block_on(delivery::test_connection_as(
        &hubspot_owned(None),
        Some("me@ourco.example"),
        &t,
    ));
    assert!(!r.ok && r.owner.is_none(), "{r:?}");
    assert_eq!(t.requests().len(), 1);
}

#[test]
fn test_connection_compares_the_found_owner_with_the_configured_one() {
    let found = r#"{"results":[{"id":"41629779","email":"me@ourco.example"}]}"#;
    let run = |owner: Option<&str>| {
        let t = Scripted::default();
        t.answer(200, CONNECTED)
            .answer(200, CONNECTED)
            .answer(200, found);
        block_on(delivery::test_connection_as(
            &hubspot_owned(owner),
            Some("me@ourco.example"),
            &t,
        ))
        .owner
        .unwrap()
        .message
    };
    assert!(run(Some("41629779")).contains("the owner id in the settings"));
    assert!(run(Some("5")).contains("the settings name owner 5 instead"));
    assert!(run(None).contains("without one"));
}
