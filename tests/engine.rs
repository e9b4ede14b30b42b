//! The engine end to end with a scripted transport: queueing, delivery to each endpoint type,
//! response handling, Undo Send, ids attached after sending, and state persistence.

use mailtrail::delivery::{self, FlushReport};
use mailtrail::email::{AddressInput, ComposeData, Email};
use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::http::{HttpRequest, HttpResponse, Transport, TransportError};
use mailtrail::outbox::EntryState;
use mailtrail::policy::Trigger;
use mailtrail::settings::{EndpointConfig, Settings};
use std::collections::HashSet;

#[path = "support/scripted.rs"]
mod scripted;
use scripted::{block_on, Scripted};

const NOW: i64 = 1_772_500_500_000;

fn settings(endpoint: EndpointConfig) -> Settings {
    Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        endpoint: Some(endpoint),
        ..Settings::default()
    }
}

fn local() -> EndpointConfig {
    EndpointConfig::Local {
        url: "http://127.0.0.1:8787".into(),
        token: "tok".into(),
    }
}

fn hubspot(token: &str) -> EndpointConfig {
    EndpointConfig::Hubspot {
        token: token.into(),
        base_url: "https://api.hubapi.example".into(),
        emails_path: "/crm/v3/objects/emails".into(),
        contacts_path: "/crm/v3/objects/contacts".into(),
        owner_id: None,
    }
}

fn compose(draft: &str) -> Email {
    Email::from_compose(&ComposeData {
        from: Some(AddressInput::Text("Me <me@ourco.example>".into())),
        to: vec![AddressInput::Text(
            "Doe, Jane <jane@customer.example>".into(),
        )],
        subject: Some("Offer".into()),
        html: Some("<p>Hello</p>".into()),
        draft_id: Some(draft.into()),
        date: Some(NOW),
        ..Default::default()
    })
    .unwrap()
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn send(engine: &mut Engine, email: &Email) -> mailtrail::engine::Outcome {
    engine.process(
        email,
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &ProcessOptions::default(),
    )
}

#[test]
fn local_endpoint_gets_a_signed_request_and_the_record_is_done_once() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let outcome = send(&mut engine, &compose("d1"));
    assert!(outcome.queued);
    let key = outcome.record.as_ref().unwrap().idempotency_key.clone();
    assert!(
        !engine.take_changes().is_empty(),
        "the queued record is a change to persist"
    );

    let t = Scripted::default();
    t.answer(201, r#"{"id":"42","duplicate":false}"#);
    let report = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.5));
    assert_eq!(
        report,
        FlushReport {
            delivered: 1,
            ..Default::default()
        }
    );
    let req = &t.requests()[0];
    assert_eq!(req.url, "http://127.0.0.1:8787/v1/records");
    assert_eq!(header(req, "Idempotency-Key"), Some(key.as_str()));
    assert_eq!(header(req, "Authorization"), Some("Bearer tok"));
    let ts = header(req, "Mailtrail-Timestamp").unwrap();
    assert_eq!(ts, (NOW / 1000).to_string());
    mailtrail::webhook::verify(
        b"tok",
        Some(ts),
        header(req, "Mailtrail-Signature"),
        req.body.as_bytes(),
        NOW / 1000,
        300,
    )
    .expect("signature verifies");
    let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["contacts"][0]["address"], "jane@customer.example");

    match &engine.outbox().get(&key).unwrap().state {
        EntryState::Done { remote_id, .. } => assert_eq!(remote_id.as_deref(), Some("42")),
        other => panic!("expected done, got {other:?}"),
    }
    // Logging the same email again is a duplicate, and nothing more is sent.
    let again = send(&mut engine, &compose("d1"));
    assert!(!again.queued);
    assert!(again.decision.has(mailtrail::ReasonCode::Duplicate));
    let report = block_on(delivery::flush(&mut engine, &t, || NOW + 60_000, || 0.5));
    assert_eq!(report, FlushReport::default());
    assert_eq!(t.requests().len(), 1);
}

#[test]
fn failures_retry_or_fail_permanently_with_the_crm_message() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let key = send(&mut engine, &compose("d2"))
        .record
        .unwrap()
        .idempotency_key;
    let t = Scripted::default();
    t.fail(false);
    let r = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.0));
    assert_eq!(r.retrying, 1);
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Retrying { .. }
    ));

    // 429 with Retry-After: not before 120 s.
    let due_at = engine.next_wakeup().unwrap();
    t.answer_with(429, &[("Retry-After", "120")], "{}");
    block_on(delivery::flush(&mut engine, &t, || due_at, || 0.0));
    match engine.outbox().get(&key).unwrap().state {
        EntryState::Retrying { next_attempt_at } => assert!(next_attempt_at >= due_at + 120_000),
        ref s => panic!("{s:?}"),
    }

    // A 400 is permanent and keeps the endpoint's message for the user.
    let due_at = engine.next_wakeup().unwrap();
    t.answer(
        400,
        r#"{"error":{"code":"invalid-record","message":"subject is too long"}}"#,
    );
    let r = block_on(delivery::flush(&mut engine, &t, || due_at, || 0.0));
    assert_eq!(r.failed, 1);
    let entry = engine.outbox().get(&key).unwrap();
    assert!(matches!(entry.state, EntryState::Dead { .. }));
    let err = entry.last_error.as_ref().unwrap();
    assert_eq!(err.status, Some(400));
    assert!(
        err.message.contains("subject is too long"),
        "{}",
        err.message
    );
    let status = engine.status();
    assert_eq!(status.queue.len(), 1, "failed records stay visible");

    // The user's Retry sends it again.
    assert!(engine.retry(&key, due_at + 1));
    t.answer(200, r#"{"id":"7"}"#);
    let r = block_on(delivery::flush(&mut engine, &t, || due_at + 1, || 0.0));
    assert_eq!(r.delivered, 1);
}

#[test]
fn undo_send_cancels_and_sent_ids_are_attached() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let opts = ProcessOptions {
        not_before_ms: Some(NOW + 10_000),
        ..Default::default()
    };
    let out = engine.process(
        &compose("undo"),
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &opts,
    );
    assert!(out.queued);
    assert!(
        engine.take_due(NOW + 5_000, 10).is_empty(),
        "held during the Undo window"
    );
    assert_eq!(engine.cancel_draft("undo", NOW + 6_000), 1);
    assert!(
        engine.take_due(NOW + 60_000, 10).is_empty(),
        "an undone send is never logged"
    );

    let out = engine.process(
        &compose("sent"),
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &opts,
    );
    assert!(out.queued);
    assert!(engine.attach_sent_ids(
        "sent",
        Some("<abc@mail.gmail.com>"),
        Some("18c2f"),
        NOW + 1_000
    ));
    let due = engine.take_due(NOW + 10_000, 10);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1.message_id.as_deref(), Some("abc@mail.gmail.com"));
    assert_eq!(due[0].1.thread_id.as_deref(), Some("18c2f"));

    // A reply to that Message-ID now matches the logged thread.
    let reply = Email::from_raw(
        b"From: Jane <jane@customer.example>\r\nTo: me@ourco.example\r\nSubject: Re: Offer\r\nIn-Reply-To: <abc@mail.gmail.com>\r\nMessage-ID: <r1@customer.example>\r\n\r\nThanks",
        Default::default(),
    )
    .unwrap();
    let contacts: HashSet<String> = ["jane@customer.example".to_string()].into();
    let out = engine.process(
        &reply,
        Trigger::Incoming,
        &contacts,
        NOW + 20_000,
        &ProcessOptions::default(),
    );
    assert!(out.thread.is_some());
    assert!(out.decision.log, "{:?}", out.decision.reasons);
    assert_eq!(
        out.record.unwrap().direction,
        mailtrail::Direction::Incoming
    );
}

#[test]
fn state_survives_export_and_import() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let key = send(&mut engine, &compose("persist"))
        .record
        .unwrap()
        .idempotency_key;
    assert!(engine.state_dirty());
    let snapshot = engine.export_state(true);
    assert!(!engine.state_dirty());

    let mut restored = Engine::new(&settings(local())).unwrap();
    restored.import_state(&snapshot, Vec::new()).unwrap();
    assert!(restored.outbox().get(&key).is_some());
    assert_eq!(restored.status().activity.len(), 1);
    assert_eq!(restored.threads().len(), 1);
    // Same email again: a duplicate, even after the restart.
    assert!(send(&mut restored, &compose("persist"))
        .decision
        .has(mailtrail::ReasonCode::Duplicate));

    let err = restored.import_state(b"{not json", Vec::new()).unwrap_err();
    assert_eq!(err.code(), "invalid-state");
}

#[test]
fn hubspot_finds_creates_and_associates_contacts() {
    let hs = hubspot("pat-1");
    let mut engine = Engine::new(&settings(hs)).unwrap();
    let mut email = compose("hs");
    email.cc = vec![mailtrail::Mailbox::parse("Bob Stone <bob@partner.example>").unwrap()];
    let out = send(&mut engine, &email);
    assert!(out.queued);
    let t = Scripted::default();
    // batch/read finds Jane (207: Bob not found), batch/create makes Bob, then the email.
    t.answer(207, r#"{"status":"COMPLETE","results":[{"id":"101","properties":{"email":"jane@customer.example"}}],"errors":[{"status":"error","category":"OBJECT_NOT_FOUND"}]}"#)
        .answer(201, r#"{"status":"COMPLETE","results":[{"id":"202","properties":{"email":"bob@partner.example"}}]}"#)
        .answer(201, r#"{"id":"9001","properties":{}}"#);
    let r = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.5));
    assert_eq!(r.delivered, 1, "{r:?}");
    let reqs = t.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[0].url.ends_with("/crm/v3/objects/contacts/batch/read"));
    assert_eq!(header(&reqs[0], "Authorization"), Some("Bearer pat-1"));
    let read: serde_json::Value = serde_json::from_str(&reqs[0].body).unwrap();
    assert_eq!(read["idProperty"], "email");
    assert!(reqs[1].url.ends_with("/batch/create"));
    let created: serde_json::Value = serde_json::from_str(&reqs[1].body).unwrap();
    assert_eq!(
        created["inputs"][0]["properties"]["email"],
        "bob@partner.example"
    );
    assert_eq!(created["inputs"][0]["properties"]["firstname"], "Bob");
    assert_eq!(created["inputs"][0]["properties"]["lastname"], "Stone");
    assert!(reqs[2].url.ends_with("/crm/v3/objects/emails"));
    let email_req: serde_json::Value = serde_json::from_str(&reqs[2].body).unwrap();
    let props = &email_req["properties"];
    assert_eq!(props["hs_email_direction"], "EMAIL");
    assert_eq!(props["hs_timestamp"], NOW.to_string());
    assert_eq!(props["hs_email_subject"], "Offer");
    // hs_email_headers is a JSON *string* of objects, never bare addresses
    let headers: serde_json::Value =
        serde_json::from_str(props["hs_email_headers"].as_str().unwrap()).unwrap();
    assert_eq!(headers["to"][0]["email"], "jane@customer.example");
    assert_eq!(headers["to"][0]["firstName"], "Jane");
    assert_eq!(headers["to"][0]["lastName"], "Doe");
    let ids: Vec<&str> = email_req["associations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["to"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["101", "202"]);
    assert_eq!(
        email_req["associations"][0]["types"][0]["associationTypeId"],
        198
    );
}

#[test]
fn hubspot_never_creates_twice_after_an_unanswered_create() {
    let hs = hubspot("pat-1");
    let mut engine = Engine::new(&settings(hs)).unwrap();
    let key = send(&mut engine, &compose("hs2"))
        .record
        .unwrap()
        .idempotency_key;
    let t = Scripted::default();
    // lookup ok, create times out after sending
    t.answer(
        200,
        r#"{"results":[{"id":"101","properties":{"email":"jane@customer.example"}}]}"#,
    )
    .fail(true);
    let r = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.0));
    assert_eq!(r.retrying, 1);
    assert!(engine.outbox().get(&key).unwrap().maybe_sent);
    // Next attempt: lookup, then a search finds the email created by the lost attempt; not
    // before HubSpot's search has had time to index it.
    let at = engine.next_wakeup().unwrap();
    assert!(
        at >= NOW + delivery::HUBSPOT_SEARCH_SETTLE_MS as i64,
        "retried after {} ms",
        at - NOW
    );
    t.answer(
        200,
        r#"{"results":[{"id":"101","properties":{"email":"jane@customer.example"}}]}"#,
    )
    .answer(200, r#"{"total":1,"results":[{"id":"9001"}]}"#);
    let r = block_on(delivery::flush(&mut engine, &t, || at, || 0.0));
    assert_eq!(r.duplicates, 1);
    let reqs = t.requests();
    assert!(reqs
        .last()
        .unwrap()
        .url
        .ends_with("/crm/v3/objects/emails/search"));
    assert_eq!(
        reqs.iter()
            .filter(|r| r.url.ends_with("/crm/v3/objects/emails"))
            .count(),
        1,
        "one create only"
    );
}

#[test]
fn hubspot_rate_limit_and_bad_token() {
    let hs = hubspot("bad");
    let mut engine = Engine::new(&settings(hs)).unwrap();
    let key = send(&mut engine, &compose("hs3"))
        .record
        .unwrap()
        .idempotency_key;
    let t = Scripted::default();
    t.answer(429, r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#);
    block_on(delivery::flush(&mut engine, &t, || NOW, || 0.0));
    match engine.outbox().get(&key).unwrap().state {
        EntryState::Retrying { next_attempt_at } => assert!(next_attempt_at >= NOW + 10_000),
        ref s => panic!("{s:?}"),
    }
    let at = engine.next_wakeup().unwrap();
    t.answer(401, r#"{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}"#);
    let r = block_on(delivery::flush(&mut engine, &t, || at, || 0.0));
    // A rejected token is not the record's fault: it waits for the token to be fixed.
    assert_eq!((r.failed, r.retrying), (0, 1));
    assert!(r.token_rejected);
    let err = engine
        .outbox()
        .get(&key)
        .unwrap()
        .last_error
        .clone()
        .unwrap();
    assert!(
        err.message.contains("Authentication credentials not found"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("INVALID_AUTHENTICATION"),
        "{}",
        err.message
    );
    assert_eq!(err.code.as_deref(), Some("token-rejected"));
}

#[test]
fn generic_webhook_409_counts_as_delivered() {
    let wh = EndpointConfig::Webhook {
        url: "https://crm.example/hook".into(),
        secret: "s3cret".into(),
    };
    let mut engine = Engine::new(&settings(wh)).unwrap();
    send(&mut engine, &compose("wh"));
    let t = Scripted::default();
    t.answer(409, r#"{"message":"already have it"}"#);
    let r = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.0));
    assert_eq!(r.duplicates, 1);
    let req = &t.requests()[0];
    assert_eq!(req.url, "https://crm.example/hook");
    assert_eq!(
        header(req, "Authorization"),
        None,
        "webhooks are authenticated by the signature only"
    );
}

#[test]
fn test_connection_reports_token_problems() {
    let t = Scripted::default();
    t.answer(200, r#"{"status":"ok","authenticated":false}"#);
    let r = block_on(delivery::test_connection(&local(), &t));
    assert!(!r.ok);
    assert!(r.message.contains("rejected the token"));
    t.answer(200, r#"{"status":"ok","authenticated":true}"#);
    assert!(block_on(delivery::test_connection(&local(), &t)).ok);
    t.fail(false);
    let r = block_on(delivery::test_connection(&local(), &t));
    assert!(!r.ok && r.message.contains("could not reach"));
}

#[test]
fn an_undone_send_does_not_make_its_recipients_known_contacts() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let opts = ProcessOptions {
        not_before_ms: Some(NOW + 10_000),
        ..Default::default()
    };
    engine.process(
        &compose("undo2"),
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &opts,
    );
    engine.cancel_draft("undo2", NOW + 1_000);
    assert!(!engine.is_known_contact("jane@customer.example"));
    // Sent again: the contact is still created by the endpoint.
    let out = engine.process(
        &compose("undo2b"),
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &ProcessOptions::default(),
    );
    assert!(out.record.as_ref().unwrap().contacts[0].create);
    let t = Scripted::default();
    t.answer(201, r#"{"id":"1"}"#);
    block_on(delivery::flush(&mut engine, &t, || NOW, || 0.0));
    assert!(
        engine.is_known_contact("jane@customer.example"),
        "known once delivered"
    );
}

#[test]
fn log_this_email_on_a_forward_logs_the_attached_original_manually() {
    let raw = b"From: Colleague <colleague@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Order 7\r\n\
Message-ID: <fwd-1@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nFYI, see below.\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n\
From: Jan Kowalski <jan@klient.example>\r\nTo: colleague@ourco.example\r\nSubject: Order 7\r\nMessage-ID: <orig-7@klient.example>\r\n\
Date: Mon, 2 Mar 2026 09:30:00 +0100\r\n\r\nPlease send the invoice.\r\n--B--\r\n";
    let out = logged_manually(raw);
    assert!(out.decision.log);
    assert_eq!(
        out.decision.reasons[0].code,
        mailtrail::ReasonCode::LoggedManually
    );
    let rec = out.record.unwrap();
    assert_eq!(rec.direction, mailtrail::Direction::Forwarded);
    assert_eq!(rec.from.as_ref().unwrap().address, "jan@klient.example");
    assert_eq!(rec.message_id.as_deref(), Some("orig-7@klient.example"));
    assert_eq!(rec.subject, "Order 7");
    let fwd = out.forwarded.unwrap();
    assert_eq!(fwd.by.unwrap().address, "colleague@ourco.example");
    assert_eq!(fwd.note.as_deref(), Some("FYI, see below."));
    assert_eq!(rec.reasons[0], mailtrail::ReasonCode::LoggedManually);

    // The same bytes sent to the forwarding address say forwarded-to-crm.
    let mut s = settings(local());
    s.forwarding_address = Some("me@ourco.example".into());
    let mut engine = Engine::new(&s).unwrap();
    let out = engine
        .process_raw(
            raw,
            Trigger::BccCopy,
            &HashSet::new(),
            NOW,
            &ProcessOptions::default(),
        )
        .unwrap();
    assert_eq!(
        out.decision.reasons[0].code,
        mailtrail::ReasonCode::ForwardedToCrm
    );
}

#[test]
fn log_this_email_twice_on_a_received_email_without_message_id_says_duplicate() {
    // Without a Message-ID the key is a content hash that includes the direction; the second
    // "Log this email" must find the first by the key of the direction the record really has.
    let raw =
        b"From: Jan Kowalski <jan@klient.example>\r\nTo: me@ourco.example\r\nSubject: Question\r\n\
Date: Mon, 2 Mar 2026 09:30:00 +0100\r\n\r\nDo you ship to Krakow?\r\n";
    let mut engine = Engine::new(&settings(local())).unwrap();
    let log = |engine: &mut Engine| {
        engine
            .process_raw(
                raw,
                Trigger::Manual,
                &HashSet::new(),
                NOW,
                &ProcessOptions::default(),
            )
            .unwrap()
    };
    let first = log(&mut engine);
    assert!(
        first.decision.log && first.queued,
        "{:?}",
        first.decision.reasons
    );
    assert_eq!(first.decision.direction, mailtrail::Direction::Incoming);
    let second = log(&mut engine);
    assert!(!second.decision.log);
    assert_eq!(
        second.decision.reasons[0].code,
        mailtrail::ReasonCode::Duplicate
    );
    assert_eq!(engine.outbox().len(), 1);
}

#[test]
fn log_this_email_on_a_forward_pasted_in_the_body_logs_the_original_sender() {
    // Gmail's Polish forward, written out as Gmail sends it (text part).
    let raw = "From: Maria Nowak <maria@ourco.example>\r\nTo: me@ourco.example\r\nSubject: PD: Zapytanie ofertowe\r\n\
Message-ID: <fwd-pl@ourco.example>\r\nDate: Wed, 4 Mar 2026 08:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Proszę o kontakt z klientem.\r\n\r\n---------- Forwarded message ---------\r\nOd: Piotr Wiśniewski <piotr@firma.example>\r\n\
Date: wt., 3 mar 2026 o 14:05\r\nSubject: Zapytanie ofertowe\r\nTo: Maria Nowak <maria@ourco.example>\r\n\r\n\
Dzień dobry, proszę o ofertę na 20 licencji.\r\n";
    let out = logged_manually(raw.as_bytes());
    assert!(out.decision.log, "{:?}", out.decision.reasons);
    let rec = out.record.unwrap();
    assert_eq!(rec.direction, mailtrail::Direction::Forwarded);
    assert_eq!(rec.from.as_ref().unwrap().address, "piotr@firma.example");
    assert_eq!(
        rec.from.as_ref().unwrap().name.as_deref(),
        Some("Piotr Wiśniewski")
    );
    assert_eq!(rec.subject, "Zapytanie ofertowe");
    assert!(rec.text.as_deref().unwrap().contains("20 licencji"));
    assert_eq!(rec.contacts[0].address, "piotr@firma.example");
    assert_eq!(
        out.forwarded.unwrap().note.as_deref(),
        Some("Proszę o kontakt z klientem.")
    );
}

#[test]
fn a_damaged_thread_history_does_not_block_the_outbox() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let key = send(&mut engine, &compose("damaged"))
        .record
        .unwrap()
        .idempotency_key;
    let mut snapshot: serde_json::Value =
        serde_json::from_slice(&engine.export_state(true)).unwrap();
    snapshot["threads"] = serde_json::json!("AAAAAAAA");
    let mut restored = Engine::new(&settings(local())).unwrap();
    let problems = restored
        .import_state(&serde_json::to_vec(&snapshot).unwrap(), Vec::new())
        .unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("thread history"), "{problems:?}");
    assert!(
        restored.outbox().get(&key).is_some(),
        "the queued record survived"
    );
    assert!(restored.state_dirty(), "the reset tracker is written back");
}

#[test]
fn addresses_to_check_for_a_raw_forward_are_the_originals_people() {
    // "Log this email" on a forward: the contact lookup must ask about the customer who wrote
    // the original, not about the colleague who forwarded it.
    let raw = "From: Maria Nowak <maria@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Offer\r\n\
Message-ID: <fwd-a@ourco.example>\r\nDate: Wed, 4 Mar 2026 08:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
FYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: Piotr <piotr@firma.example>\r\n\
Date: Tue, 3 Mar 2026 14:05\r\nSubject: Offer\r\nTo: Maria Nowak <maria@ourco.example>, buyer@firma.example\r\n\r\nPlease quote.\r\n";
    let engine = Engine::new(&settings(local())).unwrap();
    let none = ProcessOptions::default();
    let forward = engine
        .addresses_to_check_raw(raw.as_bytes(), Trigger::Manual, &none)
        .unwrap();
    assert_eq!(
        forward,
        [
            "piotr@firma.example",
            "maria@ourco.example",
            "buyer@firma.example"
        ]
    );
    // The same bytes as an ordinary incoming email (not a manual log): its own people.
    let plain = engine
        .addresses_to_check_raw(raw.as_bytes(), Trigger::Incoming, &none)
        .unwrap();
    assert_eq!(plain, ["maria@ourco.example"]);
    // Bytes that are not a message: an error, as for process_raw.
    assert!(engine
        .addresses_to_check_raw(b"not a message", Trigger::Manual, &none)
        .is_err());
}

#[test]
fn never_log_people_are_not_looked_up_in_the_crm() {
    // A lookup is a request about that person to the CRM; never-log addresses and domains must
    // not reach it, in a compose window, for raw bytes, or inside a forward.
    let mut s = settings(local());
    s.never_log_addresses = vec!["ceo@client.example".into()];
    s.never_log_domains = vec!["lawfirm.example".into()];
    let engine = Engine::new(&s).unwrap();
    let raw = "From: me@ourco.example\r\nTo: buyer@client.example, ceo@client.example\r\n\
Cc: counsel@eu.lawfirm.example\r\nSubject: Offer\r\nMessage-ID: <nl-1@ourco.example>\r\n\
Date: Wed, 4 Mar 2026 08:00:00 +0100\r\n\r\nHello\r\n";
    let email = engine.parse(raw.as_bytes()).unwrap();
    assert_eq!(engine.addresses_to_check(&email), ["buyer@client.example"]);
    let none = ProcessOptions::default();
    assert_eq!(
        engine
            .addresses_to_check_raw(raw.as_bytes(), Trigger::Manual, &none)
            .unwrap(),
        ["buyer@client.example"]
    );
    let forward = "From: Maria <maria@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Offer\r\n\
Message-ID: <nl-2@ourco.example>\r\nDate: Wed, 4 Mar 2026 09:00:00 +0100\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Counsel <counsel@lawfirm.example>\r\n\
Date: Tue, 3 Mar 2026 14:05\r\nSubject: Offer\r\nTo: Maria <maria@ourco.example>, ceo@client.example, \
buyer@client.example\r\n\r\nPlease quote.\r\n";
    assert_eq!(
        engine
            .addresses_to_check_raw(forward.as_bytes(), Trigger::Manual, &none)
            .unwrap(),
        ["maria@ourco.example", "buyer@client.example"]
    );
}

/// The customer's reply to a message (by In-Reply-To), as it arrives.
fn customer_reply(in_reply_to: &str, id: &str) -> Email {
    let raw = format!(
        "From: Jane Doe <jane@customer.example>\r\nTo: me@ourco.example\r\nSubject: Re: Offer\r\n\
Message-ID: <{id}>\r\nIn-Reply-To: <{in_reply_to}>\r\nDate: Wed, 4 Mar 2026 09:00:00 +0100\r\n\r\nThanks.\r\n"
    );
    Email::from_raw(raw.as_bytes(), Default::default()).unwrap()
}

fn incoming(engine: &mut Engine, email: &Email) -> mailtrail::engine::Outcome {
    let contacts: HashSet<String> = ["jane@customer.example".to_string()].into();
    engine.process(
        email,
        Trigger::Incoming,
        &contacts,
        NOW + 60_000,
        &ProcessOptions::default(),
    )
}

#[test]
fn an_undone_send_leaves_no_logged_thread_behind() {
    // The rep answers the customer's first email with Log checked, then clicks Undo: nothing
    // was logged, so the customer's next reply in that conversation is not logged either.
    let mut engine = Engine::new(&settings(local())).unwrap();
    let mut reply = compose("d-undo");
    reply.in_reply_to = vec!["first@customer.example".into()];
    reply.references = vec!["first@customer.example".into()];
    let undo_window = ProcessOptions {
        not_before_ms: Some(NOW + 30_000),
        ..Default::default()
    };
    let out = engine.process(
        &reply,
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &undo_window,
    );
    assert!(out.queued);
    assert_eq!(engine.cancel_draft("d-undo", NOW + 5_000), 1);
    let next = incoming(
        &mut engine,
        &customer_reply("first@customer.example", "second@customer.example"),
    );
    assert!(!next.decision.log, "{:?}", next.decision.reasons);
    assert!(next.decision.has(mailtrail::ReasonCode::ThreadNotLogged));
}

#[test]
fn an_undone_reply_in_a_logged_conversation_keeps_the_conversation_logged() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let mut first = compose("d-first");
    first.message_id = Some("offer@ourco.example".into());
    assert!(send(&mut engine, &first).queued);
    // A second email in the same conversation, undone.
    let mut second = compose("d-second");
    second.in_reply_to = vec!["offer@ourco.example".into()];
    second.references = vec!["offer@ourco.example".into()];
    let undo_window = ProcessOptions {
        not_before_ms: Some(NOW + 30_000),
        ..Default::default()
    };
    engine.process(
        &second,
        Trigger::Send { log_checked: true },
        &HashSet::new(),
        NOW,
        &undo_window,
    );
    assert_eq!(engine.cancel_draft("d-second", NOW + 5_000), 1);
    // The customer answers the first (logged) email: still a reply in a logged thread.
    let answer = incoming(
        &mut engine,
        &customer_reply("offer@ourco.example", "answer@customer.example"),
    );
    assert!(answer.decision.log, "{:?}", answer.decision.reasons);
}

#[test]
fn automatic_replies_in_a_logged_thread_are_not_logged() {
    // Out-of-office notices, read receipts and list copies answer a logged email too; only a
    // person's reply belongs on the contact's timeline.
    let mut engine = Engine::new(&settings(local())).unwrap();
    let mut first = compose("d-auto");
    first.message_id = Some("offer@ourco.example".into());
    assert!(send(&mut engine, &first).queued);
    let reply = |extra_headers: &str, subject: &str, n: usize| {
        let raw = format!(
            "From: Jane Doe <jane@customer.example>\r\nTo: me@ourco.example\r\nSubject: {subject}\r\n\
Message-ID: <auto-{n}@customer.example>\r\nIn-Reply-To: <offer@ourco.example>\r\n{extra_headers}\
Date: Wed, 4 Mar 2026 09:00:00 +0100\r\n\r\nI am away until Monday.\r\n"
        );
        Email::from_raw(raw.as_bytes(), Default::default()).unwrap()
    };
    let automatic = [
        ("Precedence: auto_reply\r\n", "Odp: Offer"),
        ("X-Auto-Response-Suppress: All\r\n", "自動応答: Offer"),
        (
            "X-Auto-Response-Suppress: All\r\n",
            "Automatic reply: Offer",
        ),
        (
            "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n",
            "Read: Offer",
        ),
        (
            "List-Id: <sales.customer.example>\r\n",
            "[zakupy] Odp: Offer",
        ),
        (
            "List-Unsubscribe: <mailto:leave@customer.example>\r\n",
            "Re: Offer",
        ),
        // No header says so, the subject does.
        ("", "Autoodpowiedź: Offer"),
        ("", "自動返信：Offer"),
        ("", "Out of Office: Offer"),
        ("", "[外部] Automatische Antwort: Offer"),
    ];
    for (n, (headers, subject)) in automatic.iter().enumerate() {
        let out = incoming(&mut engine, &reply(headers, subject, n));
        assert!(
            !out.decision.log,
            "{subject} / {headers}: {:?}",
            out.decision.reasons
        );
        assert!(
            out.decision.has(mailtrail::ReasonCode::AutoSubmitted),
            "{subject}: {:?}",
            out.decision.reasons
        );
    }
    // A person's reply, even one mentioning an automatic reply, is logged.
    for (n, subject) in [
        "Re: Offer",
        "Re: Automatic replies in the offer",
        "Odp: Nieobecność w biurze – Offer",
    ]
    .iter()
    .enumerate()
    {
        let out = incoming(
            &mut engine,
            &reply("X-Auto-Response-Suppress: DR, RN\r\n", subject, 100 + n),
        );
        assert!(out.decision.log, "{subject}: {:?}", out.decision.reasons);
    }
}

/// A receiver on a slow link: every request takes 20 s of the clock, and it checks each
/// signature against its own clock with the usual five-minute window.
struct SlowReceiver<'a> {
    clock: &'a std::cell::Cell<i64>,
}

impl Transport for SlowReceiver<'_> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.clock.set(self.clock.get() + 20_000);
        let verified = mailtrail::webhook::verify(
            b"tok",
            header(&request, "Mailtrail-Timestamp"),
            header(&request, "Mailtrail-Signature"),
            request.body.as_bytes(),
            self.clock.get() / 1000,
            300,
        );
        Ok(match verified {
            Ok(_) => HttpResponse {
                status: 201,
                headers: vec![],
                body: r#"{"id":"1"}"#.into(),
            },
            Err(e) => HttpResponse {
                status: 401,
                headers: vec![],
                body: format!(
                    r#"{{"error":{{"code":"timestamp_out_of_window","message":"{e}"}}}}"#
                ),
            },
        })
    }
}

#[test]
fn a_long_flush_signs_each_record_with_the_time_it_is_sent() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    for i in 0..30 {
        let mut email = compose(&format!("d{i}"));
        email.subject = format!("Offer {i}");
        assert!(send(&mut engine, &email).queued);
    }
    let clock = std::cell::Cell::new(NOW);
    let receiver = SlowReceiver { clock: &clock };
    // 30 requests of 20 s each: ten minutes, twice the receiver's window.
    let report = block_on(delivery::flush(
        &mut engine,
        &receiver,
        || clock.get(),
        || 0.5,
    ));
    assert_eq!(report.delivered, 30, "{:?}", report.errors);
    assert_eq!(clock.get(), NOW + 30 * 20_000);
}

#[test]
fn a_signature_refused_as_too_old_is_retried_not_dead() {
    let mut engine = Engine::new(&settings(local())).unwrap();
    let key = send(&mut engine, &compose("d1"))
        .record
        .unwrap()
        .idempotency_key;
    let t = Scripted::default();
    t.answer(
        401,
        r#"{"error":{"code":"timestamp_out_of_window","message":"Timestamp is 320 seconds away"}}"#,
    );
    let report = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.5));
    assert_eq!(report.retrying, 1);
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Retrying { .. }
    ));

    // Any other refusal of the credentials is the endpoint's token, not this record: it waits
    // (retrying, never dead for it) until the token is fixed, and the flush says so.
    let mut engine = Engine::new(&settings(local())).unwrap();
    let key = send(&mut engine, &compose("d2"))
        .record
        .unwrap()
        .idempotency_key;
    let t = Scripted::default();
    t.answer(401, r#"{"error":{"code":"bad_signature","message":"no"}}"#);
    let report = block_on(delivery::flush(&mut engine, &t, || NOW, || 0.5));
    assert!(report.token_rejected);
    assert!(matches!(
        engine.outbox().get(&key).unwrap().state,
        EntryState::Retrying { .. }
    ));
}

#[test]
fn a_forwarded_original_without_a_readable_date_takes_the_forward_s_date() {
    let forward_at = 1_772_535_600_000; // Tue, 3 Mar 2026 12:00:00 +0100
    for original_date in ["Date: sometime last week\r\n", ""] {
        // In the body (extracted) and attached (message/rfc822).
        let body = format!(
            "From: Colleague <colleague@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Order 7\r\n\
Message-ID: <fwd-2@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Jan Kowalski <jan@klient.example>\r\n{original_date}\
Subject: Order 7\r\nTo: colleague@ourco.example\r\n\r\nPlease send the invoice.\r\n"
        );
        let attached = format!(
            "From: Colleague <colleague@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Order 7\r\n\
Message-ID: <fwd-3@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n\
From: Jan Kowalski <jan@klient.example>\r\nTo: colleague@ourco.example\r\nSubject: Order 7\r\n{original_date}\
\r\nPlease send the invoice.\r\n--B--\r\n"
        );
        for raw in [body, attached] {
            let out = logged_manually(raw.as_bytes());
            let rec = out.record.expect("logged");
            assert_eq!(rec.direction, mailtrail::Direction::Forwarded, "{raw}");
            assert_eq!(rec.timestamp, forward_at, "{raw}");
        }
    }
}

/// `raw` processed once by a fresh engine with settings `s`.
fn process_fresh(raw: &[u8], trigger: Trigger, s: &Settings) -> mailtrail::engine::Outcome {
    Engine::new(s)
        .unwrap()
        .process_raw(
            raw,
            trigger,
            &HashSet::new(),
            NOW,
            &ProcessOptions::default(),
        )
        .unwrap()
}

/// "Log this email" on `raw`.
fn logged_manually(raw: &[u8]) -> mailtrail::engine::Outcome {
    process_fresh(raw, Trigger::Manual, &settings(local()))
}

/// `raw` as the CRM's forwarding address receives it (a BCC copy or the logging mailbox).
fn sent_to_the_forwarding_address(raw: &str) -> mailtrail::engine::Outcome {
    let mut s = settings(local());
    s.forwarding_address = Some("fwd@crm.example".into());
    process_fresh(raw.as_bytes(), Trigger::Forwarded, &s)
}

/// A forward whose client printed the original's date without a zone, forwarded at `fwd_date`.
fn zoneless_forward(fwd_date: &str, original_date: &str) -> String {
    format!(
        "From: Tanaka <tanaka@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Mitsumori\r\n\
Message-ID: <fwd-z@ourco.example>\r\nDate: {fwd_date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Yamada <yamada@kyakusaki.example>\r\nDate: {original_date}\r\n\
Subject: Mitsumori\r\nTo: Tanaka <tanaka@ourco.example>\r\n\r\nPlease quote.\r\n"
    )
}

fn forwarded_timestamp(raw: &str) -> i64 {
    let out = logged_manually(raw.as_bytes());
    let rec = out.record.expect("logged");
    assert_eq!(rec.direction, mailtrail::Direction::Forwarded);
    assert_eq!(
        rec.from.as_ref().unwrap().address,
        "yamada@kyakusaki.example"
    );
    rec.timestamp
}

#[test]
fn an_original_date_without_a_zone_is_read_in_the_forwarder_s_zone() {
    // 2026-03-02 09:30 in Tokyo is 00:30 UTC (the forward left at 10:15 Tokyo time).
    let at_0030z = 1_772_411_400_000;
    assert_eq!(
        forwarded_timestamp(&zoneless_forward(
            "Mon, 2 Mar 2026 10:15:00 +0900",
            "2026年3月2日(月) 9:30"
        )),
        at_0030z
    );
    // Polish: 09:30 in Warsaw (+0100 in March) is 08:30 UTC.
    assert_eq!(
        forwarded_timestamp(&zoneless_forward(
            "Mon, 2 Mar 2026 10:15:00 +0100",
            "pon., 2 mar 2026 o 09:30"
        )),
        at_0030z + 8 * 3_600_000
    );
    // A written zone wins over the forward's.
    assert_eq!(
        forwarded_timestamp(&zoneless_forward(
            "Mon, 2 Mar 2026 10:15:00 +0100",
            "Mon, 2 Mar 2026 09:30:00 +0900"
        )),
        at_0030z
    );
    // A server that stamps the forward +0000 hides the zone: read as UTC the original would come
    // after its forward (09:30Z > 01:15Z); it is dated no later than the forward instead.
    let forward_at = 1_772_414_100_000; // 2026-03-02 01:15 UTC
    assert_eq!(
        forwarded_timestamp(&zoneless_forward(
            "Mon, 2 Mar 2026 01:15:00 +0000",
            "2026年3月2日(月) 9:30"
        )),
        forward_at
    );
}

#[test]
fn a_forward_of_a_colleague_s_forward_logs_the_customer_s_email() {
    // The customer wrote to Suzuki (a colleague), who forwarded it to Tanaka (the user), who
    // forwards it to the CRM: the record is the customer's email.
    let raw = "From: Tanaka <me@ourco.example>\r\nTo: fwd@crm.example\r\nSubject: Fwd: Fwd: Order 7\r\n\
Message-ID: <fwd-ff@ourco.example>\r\nDate: Mon, 2 Mar 2026 12:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
For the CRM.\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Suzuki <suzuki@ourco.example>\r\nDate: Mon, 2 Mar 2026 at 11:00\r\n\
Subject: Fwd: Order 7\r\nTo: Tanaka <me@ourco.example>\r\n\r\nCan you handle this?\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Jan Kowalski <jan@klient.example>\r\nDate: Mon, 2 Mar 2026 at 09:30\r\n\
Subject: Order 7\r\nTo: Suzuki <suzuki@ourco.example>\r\n\r\nPlease send the invoice.\r\n";
    let out = sent_to_the_forwarding_address(raw);
    assert!(out.decision.log, "{:?}", out.decision.reasons);
    let rec = out.record.unwrap();
    assert_eq!(rec.from.as_ref().unwrap().address, "jan@klient.example");
    assert_eq!(rec.subject, "Order 7");
    assert!(rec
        .text
        .as_deref()
        .unwrap()
        .contains("Please send the invoice."));
    assert_eq!(out.forwarded.unwrap().note.as_deref(), Some("For the CRM."));
    assert_eq!(
        out.decision
            .contacts
            .iter()
            .map(|c| c.address.as_str())
            .collect::<Vec<_>>(),
        ["jan@klient.example"]
    );
}

#[test]
fn an_attached_original_is_found_however_the_client_attached_it() {
    // Clients attach the original as a parsed message/rfc822 part, as message/rfc822 in base64
    // (which mail-parser may leave as bytes), or as an .eml file of any type; the extractor
    // and the engine must agree on what counts as an attached email.
    let original = "From: Jan Kowalski <jan@klient.example>\r\nTo: colleague@ourco.example\r\n\
Subject: Order 9\r\nMessage-ID: <orig-9@klient.example>\r\nDate: Mon, 2 Mar 2026 09:30:00 +0100\r\n\r\nOrder 9, please.\r\n";
    let b64 = mailtrail::base64::encode(original.as_bytes());
    let parts = [
        format!("Content-Type: message/rfc822\r\n\r\n{original}"),
        format!("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"),
        format!("Content-Type: application/octet-stream; name=\"order.eml\"\r\nContent-Disposition: attachment; filename=\"order.eml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n"),
    ];
    for part in parts {
        let raw = format!(
            "From: Colleague <colleague@ourco.example>\r\nTo: fwd@crm.example\r\nSubject: Fwd: order\r\n\
Message-ID: <fwd-att@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--B\r\n{part}--B--\r\n"
        );
        let extracted = mailtrail::extract::forward_from_message(raw.as_bytes()).unwrap();
        let from_extractor = extracted.email.and_then(|e| e.from).map(|p| p.address);
        let out = sent_to_the_forwarding_address(&raw);
        let from_engine = out
            .record
            .as_ref()
            .and_then(|r| r.from.as_ref())
            .map(|p| p.address.clone());
        assert_eq!(
            from_extractor.as_deref(),
            Some("jan@klient.example"),
            "extractor, {part}"
        );
        assert_eq!(
            from_engine, from_extractor,
            "engine, {part}: {:?}",
            out.decision.reasons
        );
        assert_eq!(
            out.record.unwrap().message_id.as_deref(),
            Some("orig-9@klient.example")
        );
    }
}

#[test]
fn several_attached_originals_log_the_first_and_say_so() {
    let original = |n: u32| {
        format!(
            "--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: Jan Kowalski <jan{n}@klient.example>\r\nTo: colleague@ourco.example\r\n\
Subject: Order {n}\r\nMessage-ID: <orig-{n}@klient.example>\r\nDate: Mon, 2 Mar 2026 09:30:00 +0100\r\n\r\nOrder {n}, please.\r\n"
        )
    };
    let raw = format!(
        "From: Colleague <colleague@ourco.example>\r\nTo: fwd@crm.example\r\nSubject: Fwd: orders\r\n\
Message-ID: <fwd-many@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nThree orders.\r\n{}{}{}--B--\r\n",
        original(1),
        original(2),
        original(3)
    );
    let out = sent_to_the_forwarding_address(&raw);
    assert!(out.decision.log);
    let rec = out.record.unwrap();
    assert_eq!(rec.message_id.as_deref(), Some("orig-1@klient.example"));
    let more: Vec<_> = out
        .decision
        .reasons
        .iter()
        .filter(|r| r.code == mailtrail::ReasonCode::MoreForwardedEmails)
        .collect();
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].detail.as_deref(), Some("2"));
    assert!(rec
        .reasons
        .contains(&mailtrail::ReasonCode::MoreForwardedEmails));
}

#[test]
fn the_html_part_is_used_when_the_text_part_s_forward_has_no_sender() {
    // The text alternative lost the sender line (a client that wrapped it away); the HTML has it.
    let raw = "From: Colleague <colleague@ourco.example>\r\nTo: fwd@crm.example\r\nSubject: Fwd: Order 9\r\n\
Message-ID: <fwd-alt@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n\
--A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
---------- Forwarded message ---------\r\nDate: Mon, 2 Mar 2026 at 09:30\r\nSubject: Order 9\r\n\r\nPlease send the invoice.\r\n\
--A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<div>---------- Forwarded message ---------<br>From: <b>Jan Kowalski</b> &lt;jan@klient.example&gt;<br>\
Date: Mon, 2 Mar 2026 at 09:30<br>Subject: Order 9<br>To: colleague@ourco.example<br><br>Please send the invoice.</div>\r\n\
--A--\r\n";
    let out = sent_to_the_forwarding_address(raw);
    assert!(out.decision.log, "{:?}", out.decision.reasons);
    let rec = out.record.unwrap();
    assert_eq!(rec.from.as_ref().unwrap().address, "jan@klient.example");
}

#[test]
fn forward_all_logs_the_first_message_and_says_more_were_forwarded() {
    // Gmail's "Forward all": one block per message of the conversation, at the same level.
    let raw = "From: Colleague <colleague@ourco.example>\r\nTo: fwd@crm.example\r\nSubject: Fwd: Order 7\r\n\
Message-ID: <fwd-all@ourco.example>\r\nDate: Tue, 3 Mar 2026 12:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Jan Kowalski <jan@klient.example>\r\nDate: Mon, 2 Mar 2026 at 09:30\r\n\
Subject: Order 7\r\nTo: colleague@ourco.example\r\n\r\nPlease send the invoice.\r\n\r\n\
---------- Forwarded message ---------\r\nFrom: Colleague <colleague@ourco.example>\r\nDate: Mon, 2 Mar 2026 at 09:55\r\n\
Subject: Re: Order 7\r\nTo: Jan Kowalski <jan@klient.example>\r\n\r\nTomorrow.\r\n";
    let out = sent_to_the_forwarding_address(raw);
    assert!(out.decision.log, "{:?}", out.decision.reasons);
    let rec = out.record.unwrap();
    assert_eq!(rec.from.as_ref().unwrap().address, "jan@klient.example");
    let text = rec.text.as_deref().unwrap();
    assert!(text.contains("Please send the invoice."), "{text}");
    assert!(!text.contains("Tomorrow."), "{text}");
    let more = out
        .decision
        .reasons
        .iter()
        .find(|r| r.code == mailtrail::ReasonCode::MoreForwardedEmails)
        .expect("says the rest was not logged");
    assert_eq!(more.detail.as_deref(), Some("1"));
}
