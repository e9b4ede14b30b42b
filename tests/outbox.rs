//! Durable outbox: every transition, the backoff, and crash-anywhere simulations.

use mailtrail::outbox::{
    Change, DeliveryError, DeliveryOutcome, Enqueued, Entry, EntryState, Outbox, OutboxCounts,
    RetryPolicy, StateError,
};
use mailtrail::Record;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const T0: i64 = 1_772_500_500_000;
const DAY: i64 = 24 * 60 * 60 * 1000;

fn record(key: &str) -> Record {
    serde_json::from_value(serde_json::json!({
        "schema": "mailtrail.record/1",
        "idempotencyKey": key,
        "direction": "outgoing",
        "timestamp": T0,
        "subject": format!("Quote {key}"),
        "to": [{"address": "jane@partner.example"}],
        "cc": [], "bcc": [], "attachments": [], "contacts": [], "reasons": ["log-checked"],
        "source": "gmail",
        "client": "mailtrail/test"
    }))
    .expect("test record")
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        base_ms: 1_000,
        max_ms: 60_000,
        max_attempts: 5,
        lease_ms: 30_000,
        done_retention_ms: 30 * DAY,
    }
}

fn error(status: u16) -> DeliveryError {
    DeliveryError {
        status: Some(status),
        message: format!("HTTP {status}"),
        code: Some("TEST".into()),
    }
}

fn retry(retry_after_ms: Option<u64>) -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        error: error(503),
        retry_after_ms,
        maybe_sent: false,
        credentials_rejected: false,
    }
}

fn delivered(id: &str) -> DeliveryOutcome {
    DeliveryOutcome::Delivered {
        remote_id: Some(id.into()),
        associated: None,
        notes: Vec::new(),
    }
}

fn put(change: Option<Change>) -> Entry {
    match change {
        Some(Change::Put(e)) => e,
        other => panic!("expected a put, got {other:?}"),
    }
}

fn keys(batch: &[(String, Record)]) -> Vec<&str> {
    batch.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn enqueue_is_idempotent_by_key() {
    let mut o = Outbox::new(policy());
    let (result, changes) = o.enqueue(record("k1"), T0, T0);
    assert_eq!(result, Enqueued::Added);
    assert_eq!(changes.len(), 1);
    let entry = put(changes.into_iter().next());
    assert_eq!(
        (entry.key.as_str(), &entry.state, entry.attempts),
        ("k1", &EntryState::Pending, 0)
    );
    assert_eq!(
        o.enqueue(record("k1"), T0 + 5, T0 + 5),
        (Enqueued::Duplicate(EntryState::Pending), vec![])
    );
    let (batch, _) = o.due(T0, 10);
    assert_eq!(keys(&batch), ["k1"]);
    assert!(matches!(
        o.enqueue(record("k1"), T0, T0).0,
        Enqueued::Duplicate(EntryState::Sending { .. })
    ));
    o.complete("k1", delivered("crm-1"), T0 + 1, 0.5);
    let (result, changes) = o.enqueue(record("k1"), T0 + 2, T0 + 2);
    assert_eq!(
        result,
        Enqueued::Duplicate(EntryState::Done {
            at: T0 + 1,
            remote_id: Some("crm-1".into())
        })
    );
    assert!(changes.is_empty());
    assert_eq!(o.len(), 1);
}

#[test]
fn due_hands_out_the_oldest_first_and_leases_them() {
    let mut o = Outbox::new(policy());
    for (i, key) in ["c", "a", "b"].iter().enumerate() {
        o.enqueue(record(key), T0 + i as i64, T0 + i as i64);
    }
    let (batch, changes) = o.due(T0 + 10, 2);
    assert_eq!(keys(&batch), ["c", "a"], "oldest due first, not key order");
    assert_eq!(changes.len(), 2);
    for c in &changes {
        let Change::Put(e) = c else { panic!("{c:?}") };
        assert_eq!(
            e.state,
            EntryState::Sending {
                lease_until: T0 + 10 + 30_000
            }
        );
        assert_eq!(e.attempts, 1);
        assert!(!e.maybe_sent);
    }
    assert_eq!(batch[0].1, record("c"), "the record itself is handed out");
    let (batch, _) = o.due(T0 + 10, 10);
    assert_eq!(keys(&batch), ["b"]);
    assert_eq!(
        o.due(T0 + 10, 10),
        (vec![], vec![]),
        "sending records are not handed out again"
    );
    assert_eq!(o.due(T0 + 10, 0).0.len(), 0);
}

#[test]
fn not_before_delays_the_first_attempt() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("undo"), T0, T0 + 10_000); // 10 s Undo Send window
    assert_eq!(o.next_wakeup(), Some(T0 + 10_000));
    assert!(o.due(T0 + 9_999, 10).0.is_empty());
    assert_eq!(keys(&o.due(T0 + 10_000, 10).0), ["undo"]);
}

#[test]
fn undo_send_cancels_within_the_window_and_sending_again_revives() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0 + 10_000);
    let e = put(o.cancel("k", T0 + 3_000));
    assert_eq!(e.state, EntryState::Cancelled { at: T0 + 3_000 });
    assert!(o.due(T0 + DAY, 10).0.is_empty());
    assert_eq!(o.next_wakeup(), None);
    assert_eq!(o.cancel("k", T0 + 4_000), None, "already cancelled");
    // The user sends the same message again after undoing: it is logged after all.
    let (result, changes) = o.enqueue(record("k"), T0 + 20_000, T0 + 30_000);
    assert_eq!(result, Enqueued::Added);
    let e = put(changes.into_iter().next());
    assert_eq!(
        (e.state, e.attempts, e.not_before),
        (EntryState::Pending, 0, T0 + 30_000)
    );
    // Sending and done records cannot be cancelled: they may already be in the CRM.
    o.due(T0 + 30_000, 10);
    assert_eq!(o.cancel("k", T0 + 30_001), None);
    o.complete("k", delivered("1"), T0 + 30_002, 0.0);
    assert_eq!(o.cancel("k", T0 + 30_003), None);
    assert_eq!(o.cancel("unknown", T0), None);
}

#[test]
fn cancelling_and_sending_again_keeps_the_maybe_sent_warning() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    o.due(T0, 1);
    // Timed out after the request left: the CRM may have it.
    o.complete(
        "k",
        DeliveryOutcome::Retry {
            error: error(504),
            retry_after_ms: None,
            maybe_sent: true,
            credentials_rejected: false,
        },
        T0,
        0.0,
    );
    o.cancel("k", T0 + 1);
    let (result, changes) = o.enqueue(record("k"), T0 + 2, T0 + 2);
    assert_eq!(result, Enqueued::Added);
    assert!(
        put(changes.into_iter().next()).maybe_sent,
        "the adapter must still check before creating"
    );
}

#[test]
fn a_success_is_final() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    o.due(T0, 10);
    let e = put(o.complete("k", delivered("crm-7"), T0 + 100, 0.3));
    assert_eq!(
        e.state,
        EntryState::Done {
            at: T0 + 100,
            remote_id: Some("crm-7".into())
        }
    );
    assert_eq!(
        o.complete("k", retry(None), T0 + 200, 0.3),
        None,
        "a late failure changes nothing"
    );
    assert_eq!(
        o.complete(
            "k",
            DeliveryOutcome::Permanent { error: error(400) },
            T0 + 200,
            0.3
        ),
        None
    );
    assert_eq!(o.complete("k", delivered("crm-8"), T0 + 300, 0.3), None);
    assert_eq!(o.retry_now("k", T0 + 400), None);
    assert!(o.due(T0 + 365 * DAY, 10).0.is_empty());
    assert_eq!(o.next_wakeup(), None);
}

#[test]
fn a_late_success_after_the_lease_wins() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    o.due(T0, 10);
    // The sender is slow; the lease expires and the record is handed out again…
    let (batch, _) = o.due(T0 + 30_000, 10);
    assert_eq!(keys(&batch), ["k"]);
    // …then the first attempt reports success: done, and the second attempt's result is moot.
    let e = put(o.complete(
        "k",
        DeliveryOutcome::Duplicate { remote_id: None },
        T0 + 30_001,
        0.0,
    ));
    assert!(matches!(e.state, EntryState::Done { .. }));
    assert_eq!(o.complete("k", retry(None), T0 + 30_002, 0.0), None);
}

#[test]
fn retries_back_off_exponentially_with_bounded_jitter_and_a_cap() {
    let p = RetryPolicy {
        max_attempts: 30,
        ..policy()
    };
    for jitter in [0.0, 0.25, 0.5, 0.999_999] {
        let mut o = Outbox::new(p);
        o.enqueue(record("k"), T0, T0);
        let mut now = T0;
        for attempt in 1..=12u32 {
            let (batch, _) = o.due(now, 10);
            assert_eq!(keys(&batch), ["k"], "attempt {attempt}");
            let e = put(o.complete("k", retry(None), now, jitter));
            let EntryState::Retrying { next_attempt_at } = e.state else {
                panic!("{:?}", e.state)
            };
            let wait = next_attempt_at - now;
            let full = (1_000i64 << (attempt - 1)).min(60_000);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: waited {wait}, cap {full}"
            );
            assert_eq!(e.attempts, attempt);
            assert_eq!(o.next_wakeup(), Some(next_attempt_at));
            assert!(o.due(next_attempt_at - 1, 10).0.is_empty(), "never early");
            now = next_attempt_at;
        }
    }
    // Jitter really spreads the waits.
    let waits: BTreeSet<i64> = [0.0, 0.3, 0.6, 0.9]
        .iter()
        .map(|&j| {
            let mut o = Outbox::new(p);
            o.enqueue(record("k"), T0, T0);
            o.due(T0, 1);
            match put(o.complete("k", retry(None), T0, j)).state {
                EntryState::Retrying { next_attempt_at } => next_attempt_at,
                s => panic!("{s:?}"),
            }
        })
        .collect();
    assert_eq!(waits.len(), 4);
}

#[test]
fn retry_after_is_never_undercut() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    o.due(T0, 1);
    // Rate limited: the server asks for 90 s, far above the 1 s backoff.
    let e = put(o.complete("k", retry(Some(90_000)), T0, 0.999));
    assert_eq!(
        e.state,
        EntryState::Retrying {
            next_attempt_at: T0 + 90_000
        }
    );
    assert!(o.due(T0 + 89_999, 10).0.is_empty());
    o.due(T0 + 90_000, 10);
    // Even beyond the backoff cap (HubSpot's daily limit): honoured, not capped.
    let e = put(o.complete("k", retry(Some(10 * 3_600_000)), T0 + 90_000, 0.0));
    assert_eq!(
        e.state,
        EntryState::Retrying {
            next_attempt_at: T0 + 90_000 + 10 * 3_600_000
        }
    );
    // But not forever: a Retry-After of years waits a day.
    let now = T0 + 90_000 + 10 * 3_600_000;
    o.due(now, 10);
    let e = put(o.complete("k", retry(Some(100_000_000_000)), now, 0.0));
    assert_eq!(
        e.state,
        EntryState::Retrying {
            next_attempt_at: now + 24 * 3_600_000
        }
    );
    // A Retry-After shorter than the backoff does not shorten it.
    let now = now + 24 * 3_600_000;
    o.due(now, 10);
    let e = put(o.complete("k", retry(Some(1)), now, 0.0));
    assert_eq!(
        e.state,
        EntryState::Retrying {
            next_attempt_at: now + 4_000
        },
        "fourth attempt: 8 s, half with zero jitter"
    );
}

#[test]
fn rate_limited_attempts_do_not_use_up_a_record() {
    // A CRM rate-limiting every client (429) says nothing about the record: however many
    // times it answers so, the record waits for the window and is never dead for it.
    let mut o = Outbox::new(RetryPolicy {
        max_attempts: 3,
        ..policy()
    });
    o.enqueue(record("k"), T0, T0);
    let mut now = T0;
    for _ in 0..10 {
        assert_eq!(o.due(now, 1).0.len(), 1);
        let e = put(o.complete(
            "k",
            DeliveryOutcome::Retry {
                error: error(429),
                retry_after_ms: Some(10_000),
                maybe_sent: false,
                credentials_rejected: false,
            },
            now,
            0.5,
        ));
        assert!(
            matches!(e.state, EntryState::Retrying { .. }),
            "{:?}",
            e.state
        );
        assert_eq!(e.attempts, 0);
        now = e.due_at().unwrap();
        assert!(now >= T0 + 10_000);
    }
    // Any other failure still counts.
    o.due(now, 1);
    let e = put(o.complete("k", retry(None), now, 0.5));
    assert_eq!(e.attempts, 1);
}

#[test]
fn too_many_attempts_make_a_record_dead_and_retry_now_revives_it() {
    let mut o = Outbox::new(RetryPolicy {
        max_attempts: 3,
        ..policy()
    });
    o.enqueue(record("k"), T0, T0);
    let mut now = T0;
    for _ in 0..2 {
        o.due(now, 1);
        let e = put(o.complete(
            "k",
            DeliveryOutcome::Retry {
                error: error(500),
                retry_after_ms: None,
                maybe_sent: true,
                credentials_rejected: false,
            },
            now,
            0.5,
        ));
        now = e.due_at().unwrap();
    }
    o.due(now, 1);
    let e = put(o.complete("k", retry(None), now, 0.5));
    assert_eq!(e.state, EntryState::Dead { at: now });
    assert_eq!(e.attempts, 3);
    assert_eq!(
        e.last_error,
        Some(error(503)),
        "the last error is kept for the user"
    );
    assert!(
        e.maybe_sent,
        "an earlier 5xx after a create may have gone through"
    );
    assert!(o.due(now + 365 * DAY, 10).0.is_empty());
    assert_eq!(o.next_wakeup(), None);
    assert_eq!(o.counts().dead, 1);

    let e = put(o.retry_now("k", now + 1_000));
    assert_eq!(
        (e.state.clone(), e.attempts, e.maybe_sent),
        (EntryState::Pending, 0, true)
    );
    assert_eq!(
        o.next_wakeup(),
        Some(T0),
        "due at once (its not-before is long past)"
    );
    let (batch, _) = o.due(now + 1_000, 10);
    assert_eq!(keys(&batch), ["k"]);
    assert!(o.get("k").unwrap().maybe_sent);
    assert_eq!(o.retry_now("k", now + 2_000), None, "not while sending");
}

#[test]
fn retry_now_skips_the_wait_of_a_retrying_record() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    o.due(T0, 1);
    o.complete("k", retry(Some(3_600_000)), T0, 0.0);
    assert!(o.due(T0 + 1_000, 1).0.is_empty());
    put(o.retry_now("k", T0 + 1_000));
    assert_eq!(keys(&o.due(T0 + 1_000, 1).0), ["k"]);
    assert_eq!(o.retry_now("unknown", T0), None);
}

#[test]
fn permanent_errors_are_dead_with_the_crm_message() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("k"), T0, T0);
    assert_eq!(
        o.complete(
            "k",
            DeliveryOutcome::Permanent { error: error(400) },
            T0,
            0.0
        ),
        None,
        "not sending: stale"
    );
    o.due(T0, 1);
    let crm_error = DeliveryError {
        status: Some(400),
        message: "Property values were not valid: hs_timestamp".into(),
        code: Some("VALIDATION_ERROR".into()),
    };
    let e = put(o.complete(
        "k",
        DeliveryOutcome::Permanent {
            error: crm_error.clone(),
        },
        T0 + 5,
        0.0,
    ));
    assert_eq!(e.state, EntryState::Dead { at: T0 + 5 });
    assert_eq!(e.last_error, Some(crm_error));
    assert!(
        e.record.is_some(),
        "dead records keep their content for the retry button"
    );
    // The user gives up on it.
    assert_eq!(
        put(o.cancel("k", T0 + 10)).state,
        EntryState::Cancelled { at: T0 + 10 }
    );
}

fn replay(policy: RetryPolicy, log: &[Change]) -> Outbox {
    let mut o = Outbox::new(policy);
    for c in log {
        o.apply(c.clone());
    }
    o
}

#[test]
fn a_crash_while_sending_makes_the_record_due_after_the_lease_as_maybe_sent() {
    let mut log = Vec::new();
    let mut o = Outbox::new(policy());
    log.extend(o.enqueue(record("k"), T0, T0).1);
    let (batch, changes) = o.due(T0, 10);
    log.extend(changes);
    assert_eq!(keys(&batch), ["k"]);
    // The service worker is killed mid-request; the next one reloads from storage.
    let mut o = replay(policy(), &log);
    assert_eq!(o.next_wakeup(), Some(T0 + 30_000));
    assert!(
        o.due(T0 + 29_999, 10).0.is_empty(),
        "the lease still covers the lost attempt"
    );
    let (batch, changes) = o.due(T0 + 30_000, 10);
    assert_eq!(keys(&batch), ["k"]);
    let Change::Put(e) = &changes[0] else {
        panic!()
    };
    assert!(
        e.maybe_sent,
        "the CRM may have the record: adapters must check first"
    );
    assert_eq!(e.attempts, 2);
    assert_eq!(
        e.last_error.as_ref().and_then(|e| e.code.as_deref()),
        Some("no-result")
    );
    // maybe_sent stays until done, even through retries.
    let e = put(o.complete("k", retry(None), T0 + 30_001, 0.0));
    assert!(e.maybe_sent);
}

#[test]
fn a_record_that_keeps_crashing_its_sender_ends_up_dead() {
    let mut o = Outbox::new(RetryPolicy {
        max_attempts: 3,
        ..policy()
    });
    o.enqueue(record("poison"), T0, T0);
    let mut now = T0;
    let mut handed_out = 0;
    for _ in 0..10 {
        handed_out += o.due(now, 10).0.len();
        now += 30_000; // no result ever comes back
    }
    assert_eq!(handed_out, 3);
    let e = o.get("poison").unwrap();
    assert_eq!(
        e.state,
        EntryState::Dead {
            at: T0 + 3 * 30_000
        }
    );
    assert_eq!(
        e.last_error.as_ref().and_then(|e| e.code.as_deref()),
        Some("no-result")
    );
    assert!(e.maybe_sent);
}

#[test]
fn an_entry_without_its_record_becomes_dead_rather_than_vanishing() {
    let mut broken = put(Outbox::new(policy()).enqueue(record("k"), T0, T0).1.pop());
    broken.record = None; // e.g. storage lost the body
    let mut o = Outbox::from_entries(policy(), [broken]);
    let (batch, changes) = o.due(T0, 10);
    assert!(batch.is_empty());
    let Change::Put(e) = &changes[0] else {
        panic!()
    };
    assert_eq!(e.state, EntryState::Dead { at: T0 });
    assert_eq!(
        e.last_error.as_ref().and_then(|e| e.code.as_deref()),
        Some("record-missing")
    );
}

#[test]
fn update_record_attaches_ids_before_sending_but_never_changes_the_key() {
    let mut o = Outbox::new(policy());
    o.enqueue(record("c1-abc"), T0, T0 + 10_000);
    let e = put(o.update_record("c1-abc", |r| {
        r.message_id = Some("CAF=1@mail.gmail.com".into());
        r.idempotency_key = "m1-other".into();
    }));
    assert_eq!(e.key, "c1-abc");
    let r = e.record.unwrap();
    assert_eq!(r.message_id.as_deref(), Some("CAF=1@mail.gmail.com"));
    assert_eq!(r.idempotency_key, "c1-abc");
    let (batch, _) = o.due(T0 + 10_000, 1);
    assert_eq!(
        batch[0].1.message_id.as_deref(),
        Some("CAF=1@mail.gmail.com")
    );
    o.complete("c1-abc", delivered("1"), T0 + 10_001, 0.0);
    assert_eq!(
        o.update_record("c1-abc", |r| r.subject.clear()),
        None,
        "done: too late"
    );
    assert_eq!(o.update_record("nope", |_| {}), None);
}

#[test]
fn compaction_drops_bodies_then_keys_after_retention() {
    let mut o = Outbox::new(policy());
    for key in ["done", "cancelled", "dead", "pending"] {
        o.enqueue(
            record(key),
            T0,
            T0 + if key == "pending" { DAY * 100 } else { 0 },
        );
    }
    o.due(T0, 10);
    o.complete("done", delivered("1"), T0, 0.0);
    o.complete(
        "dead",
        DeliveryOutcome::Permanent { error: error(422) },
        T0,
        0.0,
    );
    o.complete("cancelled", retry(None), T0, 0.0);
    o.cancel("cancelled", T0);

    let changes = o.compact(T0 + DAY);
    let mut compacted: Vec<&str> = changes.iter().map(Change::key).collect();
    compacted.sort();
    assert_eq!(compacted, ["cancelled", "done"]);
    assert!(changes
        .iter()
        .all(|c| matches!(c, Change::Put(e) if e.record.is_none())));
    assert!(o.get("done").unwrap().record.is_none());
    assert!(o.get("dead").unwrap().record.is_some());
    assert!(o.get("pending").unwrap().record.is_some());
    assert!(o.compact(T0 + DAY).is_empty(), "nothing left to do");
    // Within retention the key still refuses duplicates.
    assert!(matches!(
        o.enqueue(record("done"), T0 + DAY, T0 + DAY).0,
        Enqueued::Duplicate(EntryState::Done { .. })
    ));

    assert!(
        o.compact(T0 + 30 * DAY).is_empty(),
        "exactly the retention is kept"
    );
    let mut removed: Vec<Change> = o.compact(T0 + 30 * DAY + 1);
    removed.sort_by(|a, b| a.key().cmp(b.key()));
    assert_eq!(
        removed,
        [
            Change::Remove("cancelled".into()),
            Change::Remove("done".into())
        ]
    );
    assert_eq!(o.len(), 2, "dead and pending are kept");
    assert_eq!(
        o.enqueue(record("done"), T0 + 31 * DAY, T0 + 31 * DAY).0,
        Enqueued::Added
    );
}

#[test]
fn counts_and_next_wakeup_follow_the_states() {
    let mut o = Outbox::new(policy());
    assert_eq!(o.counts(), OutboxCounts::default());
    assert_eq!(o.next_wakeup(), None);
    for (i, key) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        o.enqueue(record(key), T0, T0 + i as i64 * 1_000);
    }
    assert_eq!(o.next_wakeup(), Some(T0));
    let (batch, _) = o.due(T0 + 4_000, 4); // a, b, c, d
    assert_eq!(keys(&batch), ["a", "b", "c", "d"]);
    o.complete("a", delivered("1"), T0 + 4_000, 0.0);
    o.complete(
        "b",
        DeliveryOutcome::Permanent { error: error(400) },
        T0 + 4_000,
        0.0,
    );
    o.complete("c", retry(Some(7_000)), T0 + 4_000, 0.0);
    o.cancel("f", T0 + 4_000);
    assert_eq!(
        o.counts(),
        OutboxCounts {
            pending: 1,
            sending: 1,
            retrying: 1,
            done: 1,
            dead: 1,
            cancelled: 1
        }
    );
    // e is pending since T0 + 4 s: due now.
    assert_eq!(o.next_wakeup(), Some(T0 + 4_000));
    o.due(T0 + 4_000, 10);
    // Then c's Retry-After (T0 + 11 s) comes before d's and e's leases (T0 + 34 s).
    assert_eq!(o.next_wakeup(), Some(T0 + 11_000));
    assert_eq!(
        serde_json::to_value(o.counts()).unwrap(),
        serde_json::json!({"pending": 0, "sending": 2, "retrying": 1, "done": 1, "dead": 1, "cancelled": 1})
    );
}

#[test]
fn changes_entries_and_outcomes_have_a_stable_json_shape() {
    let mut o = Outbox::new(policy());
    let (_, changes) = o.enqueue(record("k"), T0, T0 + 5);
    let json = serde_json::to_value(&changes[0]).unwrap();
    assert_eq!(json["put"]["key"], "k");
    assert_eq!(json["put"]["state"], "pending");
    assert_eq!(json["put"]["notBefore"], T0 + 5);
    assert_eq!(json["put"]["record"]["idempotencyKey"], "k");
    let (_, changes) = o.due(T0 + 5, 1);
    let json = serde_json::to_value(&changes[0]).unwrap();
    assert_eq!(json["put"]["state"], "sending");
    assert_eq!(json["put"]["leaseUntil"], T0 + 5 + 30_000);
    assert_eq!(
        serde_json::to_value(Change::Remove("k".into())).unwrap(),
        serde_json::json!({"remove": "k"})
    );
    for c in [&changes[0], &Change::Remove("k".into())] {
        let back: Change = serde_json::from_value(serde_json::to_value(c).unwrap()).unwrap();
        assert_eq!(&back, c);
    }
    // Outcomes as an edge would send them from JavaScript.
    let outcome: DeliveryOutcome = serde_json::from_str(
        r#"{"outcome":"retry","error":{"status":429,"message":"You have reached your ten_secondly_rolling limit.","code":"RATE_LIMIT"},"retryAfterMs":10000,"maybeSent":false}"#,
    )
    .unwrap();
    assert_eq!(
        outcome,
        DeliveryOutcome::Retry {
            error: DeliveryError {
                status: Some(429),
                message: "You have reached your ten_secondly_rolling limit.".into(),
                code: Some("RATE_LIMIT".into())
            },
            retry_after_ms: Some(10_000),
            maybe_sent: false,
            credentials_rejected: false,
        }
    );
    let outcome: DeliveryOutcome =
        serde_json::from_str(r#"{"outcome":"delivered","remoteId":"42"}"#).unwrap();
    assert_eq!(outcome, delivered("42"));
    let done = serde_json::to_value(EntryState::Done {
        at: 1,
        remote_id: Some("x".into()),
    })
    .unwrap();
    assert_eq!(
        done,
        serde_json::json!({"state": "done", "at": 1, "remoteId": "x"})
    );
    assert_eq!(serde_json::to_value(Enqueued::Added).unwrap(), "added");
}

#[test]
fn snapshots_round_trip_and_bad_ones_are_refused() {
    let mut o = Outbox::new(policy());
    for key in ["a", "b", "c"] {
        o.enqueue(record(key), T0, T0);
    }
    o.due(T0, 2);
    o.complete("a", delivered("1"), T0, 0.0);
    let json = o.to_json();
    let back = Outbox::from_json(&json).unwrap();
    assert_eq!(back, o);
    assert_eq!(back.policy(), policy());

    assert!(matches!(
        Outbox::from_json(""),
        Err(StateError::Truncated { .. })
    ));
    assert!(matches!(
        Outbox::from_json(&json[..json.len() / 2]),
        Err(StateError::Truncated { .. })
    ));
    assert!(matches!(
        Outbox::from_json("[1,2]"),
        Err(StateError::WrongFormat { .. })
    ));
    assert!(matches!(
        Outbox::from_json("MTTR\u{1}"),
        Err(StateError::WrongFormat { .. })
    ));
    assert!(matches!(
        Outbox::from_json(r#"{"format":"something.else","version":1}"#),
        Err(StateError::WrongFormat { .. })
    ));
    let future = json.replacen(r#""version":1"#, r#""version":2"#, 1);
    let err = Outbox::from_json(&future).unwrap_err();
    assert!(
        matches!(
            err,
            StateError::UnsupportedVersion {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let broken = json.replacen(r#""state":"done""#, r#""state":"teleported""#, 1);
    let err = Outbox::from_json(&broken).unwrap_err();
    assert_eq!(err.code(), "state-corrupt");
    assert!(err.to_string().contains("teleported"), "{err}");
    let duplicated = {
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let first = v["entries"][0].clone();
        v["entries"].as_array_mut().unwrap().push(first);
        v.to_string()
    };
    let err = Outbox::from_json(&duplicated).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn hostile_snapshots_never_panic() {
    let mut o = Outbox::new(policy());
    for key in ["a", "b"] {
        o.enqueue(record(key), T0, T0);
    }
    o.due(T0, 1);
    let json = o.to_json();
    let chars: Vec<char> = json.chars().collect();
    let mut rng = Rng(7);
    let pool = [
        '{', '}', '[', ']', '"', ':', ',', '0', '9', '-', 'e', 'x', '\\', 'n', ' ', 'é',
    ];
    for _ in 0..5_000 {
        let mut mutated = chars.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(mutated.len() as u64) as usize;
            match rng.below(3) {
                0 => mutated[i] = pool[rng.below(pool.len() as u64) as usize],
                1 => {
                    mutated.remove(i);
                }
                _ => mutated.insert(i, pool[rng.below(pool.len() as u64) as usize]),
            }
        }
        let text: String = mutated.into_iter().collect();
        if let Ok(loaded) = Outbox::from_json(&text) {
            // Whatever was accepted works: it can be driven without panicking.
            let mut loaded = loaded;
            loaded.due(T0 + DAY, 10);
            loaded.compact(T0 + 100 * DAY);
            let _ = loaded.next_wakeup();
        }
    }
    let deep = "[".repeat(100_000);
    assert!(Outbox::from_json(&deep).is_err());
    let huge = r#"{"format":"mailtrail.outbox","version":1,"entries":[{"key":"k","state":"retrying","nextAttemptAt":9223372036854775807,"createdAt":-9223372036854775808,"updatedAt":0,"attempts":4294967295,"notBefore":9223372036854775807}]}"#;
    let mut o = Outbox::from_json(huge).unwrap();
    assert!(
        o.due(i64::MAX, 10).0.is_empty(),
        "out of attempts: dead, not sent"
    );
    assert_eq!(o.counts().dead, 1);
}

// ---------------------------------------------------------------------------------------------
// Crash simulations.

/// xorshift64*: a small seeded generator, so that every run explores the same histories.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The storage the edge writes to: the change log (for prefix replays) and a key-value view.
#[derive(Default)]
struct Storage {
    log: Vec<Change>,
    by_key: BTreeMap<String, Entry>,
}

impl Storage {
    fn persist(&mut self, changes: impl IntoIterator<Item = Change>) {
        for c in changes {
            match &c {
                Change::Put(e) => {
                    self.by_key.insert(e.key.clone(), e.clone());
                }
                Change::Remove(k) => {
                    self.by_key.remove(k);
                }
            }
            self.log.push(c);
        }
    }
}

/// A CRM without idempotency keys (like HubSpot): it creates whatever it is sent. `created`
/// remembers, for each key, the log length when it was created, so prefix replays know what the
/// CRM held at that point.
#[derive(Default)]
struct Crm {
    created: HashMap<String, usize>,
    creates: HashMap<String, u32>,
}

impl Crm {
    fn create(&mut self, key: &str, log_len: usize) {
        self.created.entry(key.to_string()).or_insert(log_len);
        *self.creates.entry(key.to_string()).or_default() += 1;
    }
    fn had_at(&self, key: &str, log_len: usize) -> bool {
        self.created.get(key).is_some_and(|&at| at <= log_len)
    }
}

fn sim_policy() -> RetryPolicy {
    RetryPolicy {
        base_ms: 1_000,
        max_ms: 20_000,
        max_attempts: 6,
        lease_ms: 15_000,
        done_retention_ms: 10 * 365 * DAY,
    }
}

/// What a careful adapter does with a record handed out by `due`: when `maybe_sent`, look it up
/// first and report a duplicate instead of creating it again.
fn adapter_checks(
    crm: &Crm,
    key: &str,
    maybe_sent: bool,
    log_len: usize,
) -> Option<DeliveryOutcome> {
    (maybe_sent && crm.had_at(key, log_len)).then(|| DeliveryOutcome::Duplicate {
        remote_id: Some(format!("crm-{key}")),
    })
}

struct Run {
    storage: Storage,
    crm: Crm,
    enqueued: BTreeSet<String>,
}

/// Drives an outbox through a random history of enqueues, flushes with every kind of result,
/// user actions and crashes (reloading from storage, alternately from the log and from the
/// key-value view). Checks after every step that storage holds exactly the live state, that a
/// done key is never handed out, and that a record the CRM may have is always flagged.
fn random_history(seed: u64, steps: usize) -> Run {
    let mut rng = Rng(seed | 1);
    let mut storage = Storage::default();
    let mut crm = Crm::default();
    let mut outbox = Outbox::new(sim_policy());
    let mut now = T0;
    let mut enqueued = BTreeSet::new();
    let mut next_key = 0;
    let mut crashes = 0;

    for step in 0..steps {
        now += rng.below(8_000) as i64;
        match rng.below(20) {
            0..=4 => {
                let cancelled = keys_where(&outbox, |s| matches!(s, EntryState::Cancelled { .. }));
                let key = if !cancelled.is_empty() && rng.below(3) == 0 {
                    pick(&mut rng, &cancelled).unwrap_or_default() // sent again after Undo Send
                } else if next_key > 0 && rng.below(4) == 0 {
                    format!("k{}", rng.below(next_key)) // the same email seen again
                } else {
                    next_key += 1;
                    format!("k{}", next_key - 1)
                };
                let not_before = now + [0, 0, 5_000, 30_000][rng.below(4) as usize];
                let (result, changes) = outbox.enqueue(record(&key), now, not_before);
                if result == Enqueued::Added {
                    assert_eq!(changes.len(), 1);
                }
                storage.persist(changes);
                enqueued.insert(key);
            }
            5..=12 => {
                let (batch, changes) = outbox.due(now, 1 + rng.below(4) as usize);
                storage.persist(changes);
                let mut crashed = false;
                for (key, _record) in batch {
                    let entry = outbox.get(&key).expect("handed-out key exists");
                    assert!(matches!(entry.state, EntryState::Sending { .. }));
                    if crm.created.contains_key(&key) {
                        assert!(
                            entry.maybe_sent,
                            "seed {seed} step {step}: {key} may be in the CRM but is not flagged"
                        );
                    }
                    let outcome =
                        match adapter_checks(&crm, &key, entry.maybe_sent, storage.log.len()) {
                            Some(duplicate) => duplicate,
                            None => match rng.below(20) {
                                0..=8 => {
                                    crm.create(&key, storage.log.len());
                                    delivered(&format!("crm-{key}"))
                                }
                                9..=10 => retry(None),
                                11 => retry(Some(rng.below(60_000))),
                                12 => {
                                    // Timed out after the request went out.
                                    crm.create(&key, storage.log.len());
                                    DeliveryOutcome::Retry {
                                        error: error(504),
                                        retry_after_ms: None,
                                        maybe_sent: true,
                                        credentials_rejected: false,
                                    }
                                }
                                13 => DeliveryOutcome::Permanent { error: error(400) },
                                14..=16 => {
                                    // Created in the CRM, then the worker died before recording it.
                                    crm.create(&key, storage.log.len());
                                    crashed = true;
                                    break;
                                }
                                _ => {
                                    // Died before the request left.
                                    crashed = true;
                                    break;
                                }
                            },
                        };
                    let change =
                        outbox.complete(&key, outcome, now + rng.below(3_000) as i64, rng.unit());
                    storage.persist(change);
                }
                if crashed {
                    crashes += 1;
                    outbox = reload(&storage, crashes);
                }
            }
            13 => {
                // Undo Send or "remove" on something not being sent.
                let cancellable = keys_where(&outbox, |s| {
                    matches!(
                        s,
                        EntryState::Pending | EntryState::Retrying { .. } | EntryState::Dead { .. }
                    )
                });
                if let Some(key) = pick(&mut rng, &cancellable) {
                    let change = outbox.cancel(&key, now);
                    assert!(change.is_some());
                    storage.persist(change);
                }
            }
            14 => {
                let dead = keys_where(&outbox, |s| {
                    matches!(s, EntryState::Dead { .. } | EntryState::Retrying { .. })
                });
                if let Some(key) = pick(&mut rng, &dead) {
                    let change = outbox.retry_now(&key, now);
                    assert!(change.is_some());
                    storage.persist(change);
                }
            }
            15 => {
                if let Some(key) = pick(&mut rng, &enqueued) {
                    storage.persist(
                        outbox.update_record(&key, |r| r.thread_id = Some(format!("t-{step}"))),
                    );
                }
            }
            16 => storage.persist(outbox.compact(now)),
            _ => {
                crashes += 1;
                outbox = reload(&storage, crashes);
            }
        }
        assert_due_order_matches_entries(&outbox, now, seed, step);
        // Storage always holds exactly the live state: no transition forgot its change.
        assert_eq!(
            reload(&storage, 0),
            outbox,
            "seed {seed} step {step}: log replay differs"
        );
        assert_eq!(
            reload(&storage, 1),
            outbox,
            "seed {seed} step {step}: key-value view differs"
        );
    }
    Run {
        storage,
        crm,
        enqueued,
    }
}

/// The outbox answers `due` and `next_wakeup` from an index of due times; check it against
/// the entries themselves: the same earliest wake-up, and `due` handing out (or killing) every
/// ready entry, oldest due first, ties by creation time then key.
fn assert_due_order_matches_entries(outbox: &Outbox, now: i64, seed: u64, step: usize) {
    let earliest = outbox.entries().filter_map(Entry::due_at).min();
    assert_eq!(
        outbox.next_wakeup(),
        earliest,
        "seed {seed} step {step}: next wake-up"
    );
    let mut ready: Vec<(i64, i64, String)> = outbox
        .entries()
        .filter_map(|e| {
            e.due_at()
                .filter(|&t| t <= now)
                .map(|t| (t, e.created_at, e.key.clone()))
        })
        .collect();
    ready.sort();
    let expected: Vec<String> = ready.into_iter().map(|(_, _, k)| k).collect();
    let (_, changes) = outbox.clone().due(now, usize::MAX);
    let touched: Vec<String> = changes
        .into_iter()
        .filter_map(|c| match c {
            Change::Put(e) => Some(e.key),
            Change::Remove(_) => None,
        })
        .collect();
    assert_eq!(touched, expected, "seed {seed} step {step}: due order");
}

fn keys_where(outbox: &Outbox, wanted: impl Fn(&EntryState) -> bool) -> BTreeSet<String> {
    outbox
        .entries()
        .filter(|e| wanted(&e.state))
        .map(|e| e.key.clone())
        .collect()
}

fn pick(rng: &mut Rng, keys: &BTreeSet<String>) -> Option<String> {
    if keys.is_empty() {
        return None;
    }
    keys.iter()
        .nth(rng.below(keys.len() as u64) as usize)
        .cloned()
}

fn reload(storage: &Storage, crashes: usize) -> Outbox {
    if crashes % 2 == 0 {
        replay(sim_policy(), &storage.log)
    } else {
        Outbox::from_entries(sim_policy(), storage.by_key.values().cloned())
    }
}

/// Runs the outbox with a CRM that always answers, until nothing is due any more. Asserts that
/// nothing done is handed out again and that anything the CRM may hold is flagged.
fn drain(mut outbox: Outbox, crm: &mut Crm, log_len: usize, mut now: i64) -> Outbox {
    let done_before: BTreeSet<String> = outbox
        .entries()
        .filter(|e| matches!(e.state, EntryState::Done { .. }))
        .map(|e| e.key.clone())
        .collect();
    for _ in 0..1_000 {
        let Some(wakeup) = outbox.next_wakeup() else {
            return outbox;
        };
        now = now.max(wakeup);
        let (batch, _) = outbox.due(now, 100);
        for (key, _) in batch {
            assert!(
                !done_before.contains(&key),
                "{key} was done and was handed out again"
            );
            let maybe_sent = outbox.get(&key).is_some_and(|e| e.maybe_sent);
            if crm.had_at(&key, log_len) {
                assert!(maybe_sent, "{key} may be in the CRM but is not flagged");
            }
            let outcome = adapter_checks(crm, &key, maybe_sent, log_len).unwrap_or_else(|| {
                crm.create(&key, log_len);
                delivered("x")
            });
            outbox.complete(&key, outcome, now, 0.5);
        }
    }
    panic!("the outbox never settled");
}

fn settled(outbox: &Outbox, key: &str) -> bool {
    outbox.get(key).is_some_and(|e| {
        matches!(
            e.state,
            EntryState::Done { .. } | EntryState::Dead { .. } | EntryState::Cancelled { .. }
        )
    })
}

#[test]
fn random_histories_with_crashes_lose_nothing_and_never_resend_after_success() {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 1..=40u64 {
        let mut run = random_history(seed * 0x9E37_79B9, 300);
        for c in &run.storage.log {
            let Change::Put(e) = c else {
                *seen.entry("remove").or_default() += 1;
                continue;
            };
            *seen.entry(e.state.name()).or_default() += 1;
            if e.maybe_sent && matches!(e.state, EntryState::Sending { .. }) {
                *seen.entry("resent-with-maybe-sent").or_default() += 1;
            }
            if e.attempts > 1 {
                *seen.entry("several-attempts").or_default() += 1;
            }
        }
        // Nothing created twice: the adapter's maybe_sent check always had what it needed.
        for (key, n) in &run.crm.creates {
            assert_eq!(*n, 1, "seed {seed}: {key} created {n} times");
        }
        let last = run.storage.log.len();
        let outbox = drain(
            replay(sim_policy(), &run.storage.log),
            &mut run.crm,
            last,
            T0 + 365 * DAY,
        );
        for key in &run.enqueued {
            assert!(
                settled(&outbox, key),
                "seed {seed}: {key} is {:?}",
                outbox.get(key).map(|e| &e.state)
            );
        }
        for (key, n) in &run.crm.creates {
            assert_eq!(*n, 1, "seed {seed}: {key} created {n} times while draining");
        }
    }
    // The histories really went through every state and the crash paths.
    for what in [
        "pending",
        "sending",
        "retrying",
        "done",
        "dead",
        "cancelled",
        "resent-with-maybe-sent",
        "several-attempts",
    ] {
        assert!(seen.get(what).copied().unwrap_or(0) >= 10, "only {seen:?}");
    }
}

/// The crash can come between any two writes: reload every prefix of the change log, keep going
/// with a working CRM, and check that every record enqueued by then is eventually done or dead
/// (or was cancelled by the user), that nothing done is sent again, and that whatever the CRM
/// already had is flagged `maybe_sent` when handed out.
#[test]
fn every_prefix_of_the_change_log_resumes_without_loss_or_resend() {
    for seed in [3u64, 17, 99, 1234, 98765] {
        let run = random_history(seed, 250);
        let log = &run.storage.log;
        let mut state = Outbox::new(sim_policy());
        let mut enqueued_so_far = BTreeSet::new();
        for prefix in 0..=log.len() {
            if prefix > 0 {
                let change = &log[prefix - 1];
                if let Change::Put(e) = change {
                    enqueued_so_far.insert(e.key.clone());
                }
                state.apply(change.clone());
            }
            // Each prefix gets its own copy of the CRM as it was at that point.
            let mut crm = Crm {
                created: run
                    .crm
                    .created
                    .iter()
                    .filter(|(_, &at)| at <= prefix)
                    .map(|(k, &at)| (k.clone(), at))
                    .collect(),
                creates: HashMap::new(),
            };
            let resumed = drain(state.clone(), &mut crm, prefix, T0 + 365 * DAY);
            for key in &enqueued_so_far {
                assert!(
                    settled(&resumed, key),
                    "seed {seed} prefix {prefix}: {key} lost"
                );
            }
            assert!(
                crm.creates.keys().all(|k| !run.crm.had_at(k, prefix)),
                "seed {seed} prefix {prefix}: created twice"
            );
        }
    }
}

#[test]
fn every_entry_state_and_outcome_reads_back_as_written() {
    // Entries and outcomes are read by hand-written code (not serde's tagged-enum derive, which
    // is an eighth of the browser engine): every state and outcome must survive a round trip.
    let states = [
        EntryState::Pending,
        EntryState::Sending { lease_until: 7 },
        EntryState::Retrying { next_attempt_at: 8 },
        EntryState::Done {
            at: 9,
            remote_id: Some("r-1".into()),
        },
        EntryState::Done {
            at: 9,
            remote_id: None,
        },
        EntryState::Dead { at: 10 },
        EntryState::Cancelled { at: 11 },
    ];
    for (i, state) in states.into_iter().enumerate() {
        let entry = Entry {
            key: format!("k{i}"),
            record: (i % 2 == 0).then(|| Box::new(record(&format!("k{i}")))),
            state,
            attempts: i as u32,
            created_at: T0,
            updated_at: T0 + 1,
            not_before: T0 + i as i64,
            last_error: (i > 2).then(|| error(503)),
            maybe_sent: i % 3 == 0,
        };
        let json = serde_json::to_string(&entry).unwrap();
        let back: Entry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entry, "{json}");
    }
    let outcomes = [
        delivered("42"),
        DeliveryOutcome::Delivered {
            remote_id: None,
            associated: None,
            notes: Vec::new(),
        },
        DeliveryOutcome::Duplicate {
            remote_id: Some("7".into()),
        },
        DeliveryOutcome::Retry {
            error: error(500),
            retry_after_ms: Some(3),
            maybe_sent: true,
            credentials_rejected: false,
        },
        DeliveryOutcome::Retry {
            error: error(429),
            retry_after_ms: None,
            maybe_sent: false,
            credentials_rejected: false,
        },
        DeliveryOutcome::Permanent { error: error(400) },
    ];
    for outcome in outcomes {
        let json = serde_json::to_string(&outcome).unwrap();
        let back: DeliveryOutcome = serde_json::from_str(&json).unwrap();
        assert_eq!(back, outcome, "{json}");
    }
    // What is wrong is said, not guessed.
    let err = |json: &str| serde_json::from_str::<Entry>(json).unwrap_err().to_string();
    let base = r#""key":"k","createdAt":1,"updatedAt":2"#;
    assert!(err(&format!(r#"{{{base},"state":"sending"}}"#)).contains("missing field `leaseUntil`"));
    assert!(err(&format!(r#"{{{base},"state":"lost"}}"#)).contains("unknown variant `lost`"));
    assert!(err(&format!(r#"{{{base}}}"#)).contains("missing field `state`"));
    assert!(err(r#"{"key":"k","state":"pending"}"#).contains("missing field `createdAt`"));
    let outcome_err = |json: &str| {
        serde_json::from_str::<DeliveryOutcome>(json)
            .unwrap_err()
            .to_string()
    };
    assert!(outcome_err(r#"{"outcome":"retry"}"#).contains("missing field `error`"));
    assert!(outcome_err(r#"{"outcome":"maybe"}"#).contains("unknown variant `maybe`"));
}
