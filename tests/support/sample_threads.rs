//! A thread tracker filled the way a year of real use would: `n` threads of 4 ids and a
//! subject each, logged at scattered times. Shared by tests/threads.rs (size and reload bounds)
//! and benches/engine.rs (the 100k-thread figures in BENCHMARKS.md), so both measure the same.

use mailtrail::threads::{ThreadTracker, TrackerLimits};
use mailtrail::Email;

const DAY: i64 = 24 * 60 * 60 * 1000;
/// 2026-03-03T01:15:00Z: "now" for the sample.
pub const SAMPLE_NOW: i64 = 1_772_500_500_000;

pub fn sample_tracker(n: usize) -> ThreadTracker {
    let mut t = ThreadTracker::new(TrackerLimits {
        capacity: n.max(1),
        max_age_ms: 400 * DAY,
    });
    for i in 0..n {
        let e = Email {
            message_id: Some(format!("CAF{i:08}=msg@mail.gmail.com")),
            in_reply_to: vec![format!("parent{i}@partner.example")],
            references: vec![
                format!("root{i}@partner.example"),
                format!("parent{i}@partner.example"),
            ],
            thread_id: Some(format!("18c{i:013x}")),
            subject: format!("Re: Order {i} for the spring catalogue"),
            ..Email::default()
        };
        // Spread over a year, not in order, as a real history would be.
        let at = SAMPLE_NOW - ((i as i64 * 7919) % 365) * DAY - i as i64;
        t.track(&e, at);
    }
    t
}
