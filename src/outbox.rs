//! The durable outbox: records waiting to be delivered to the CRM, as a pure state machine.
//!
//! Nothing here reads a clock, draws random numbers or touches storage. Every method that changes
//! state returns the [`Change`]s to persist, keyed by the record's idempotency key; the edge (the
//! extension's service worker, the native binary) writes them *before* acting on the result, so
//! that a crash at any point resumes from storage with nothing lost and nothing sent twice after a
//! success was recorded. The states, the lease that covers a crash mid-send, and the backoff are
//! described in docs/threads-and-outbox.md.
//!
//! ```text
//!  enqueue ─► Pending ──due──► Sending ──Delivered/Duplicate──► Done ──compact──► (removed)
//!               ▲  │             │  ▲ lease expired (maybe_sent)
//!               │  │             │  └──────due─────┐
//!   retry_now   │  │             ├──Retry──► Retrying ──due──► Sending …
//!               │  │             └──Permanent / too many attempts──► Dead
//!               └──┼──────────────────────────────────────────────────┘
//!                  └──cancel (Pending/Retrying/Dead)──► Cancelled ──enqueue again──► Pending
//! ```

use crate::json_read::required;
use crate::reason::Reason;
use crate::record::Record;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::threads::StateError;

/// The snapshot format written by [`Outbox::to_json`].
pub const SNAPSHOT_FORMAT: &str = "mailtrail.outbox";
pub const SNAPSHOT_VERSION: u64 = 1;
const WHAT: &str = "outbox snapshot";

const HOUR_MS: u64 = 60 * 60 * 1000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest `Retry-After` honoured. Beyond the backoff cap on purpose (HubSpot's daily limit
/// asks to wait until midnight), but bounded: a broken or hostile answer asking for years must
/// not park a record where it neither retries nor shows as failed.
const RETRY_AFTER_LIMIT_MS: u64 = 24 * HOUR_MS;

/// How records are retried and how long finished ones are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// First retry delay; doubles with every attempt (at least 1 ms).
    pub base_ms: u64,
    /// Longest backoff (Retry-After may ask for longer, and is honoured).
    pub max_ms: u64,
    /// Attempts before a record is dead (kept, visible, retryable by the user). At least 1.
    pub max_attempts: u32,
    /// How long a record handed out by [`Outbox::due`] stays "sending" before it is considered
    /// abandoned (the sender crashed or was suspended) and becomes due again. At least 1 s:
    /// it must be longer than a request can take, or a slow request would be sent twice.
    pub lease_ms: u64,
    /// How long done (and cancelled) keys are kept to refuse duplicates.
    pub done_retention_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_ms: 2_000,
            max_ms: 6 * HOUR_MS,
            max_attempts: 20,
            lease_ms: 120_000,
            done_retention_ms: 30 * DAY_MS,
        }
    }
}

impl RetryPolicy {
    fn sanitized(self) -> Self {
        let base_ms = self.base_ms.max(1);
        RetryPolicy {
            base_ms,
            max_ms: self.max_ms.max(base_ms),
            max_attempts: self.max_attempts.max(1),
            lease_ms: self.lease_ms.max(1_000),
            done_retention_ms: self.done_retention_ms.max(0),
        }
    }

    /// The wait after the `attempts`-th failed attempt, before Retry-After:
    /// `d = min(max, base · 2^(attempts−1))`, then "equal jitter": `d/2 + jitter · d/2`, so the
    /// wait is in `[d/2, d]` — spread out to avoid every client retrying at once, yet never
    /// shorter than half the exponential delay. `jitter` is in [0, 1); anything else is clamped.
    pub fn backoff_ms(&self, attempts: u32, jitter: f64) -> u64 {
        let exponent = attempts.saturating_sub(1);
        let capped = 2u64
            .checked_pow(exponent)
            .and_then(|factor| self.base_ms.checked_mul(factor))
            .unwrap_or(u64::MAX)
            .min(self.max_ms);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let half = capped / 2;
        // `as` saturates for floats; the product is at most `half`.
        capped - half + ((half as f64) * jitter) as u64
    }
}

/// Where a record is in its delivery. Read back as part of an [`Entry`] (its fields sit in the
/// entry's object, next to `"state"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum EntryState {
    /// Waiting for its first attempt (after `not_before`).
    Pending,
    /// Handed to a sender; if no result comes back by `lease_until`, due again.
    Sending { lease_until: i64 },
    /// Failed; the next attempt is due at `next_attempt_at`.
    Retrying { next_attempt_at: i64 },
    /// The CRM has it (created now, or it already had it).
    Done {
        at: i64,
        #[serde(default)]
        remote_id: Option<String>,
    },
    /// Refused permanently or out of attempts: kept with its error until the user retries it.
    Dead { at: i64 },
    /// Withdrawn before it was sent (Undo Send).
    Cancelled { at: i64 },
}

impl EntryState {
    /// The state's name as in JSON (`pending`, `sending`, …).
    pub fn name(&self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::Sending { .. } => "sending",
            EntryState::Retrying { .. } => "retrying",
            EntryState::Done { .. } => "done",
            EntryState::Dead { .. } => "dead",
            EntryState::Cancelled { .. } => "cancelled",
        }
    }
}

/// What went wrong with an attempt, as the CRM (or the network) said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DeliveryError {
    /// HTTP status, when there was an answer.
    #[serde(default)]
    pub status: Option<u16>,
    /// For people: the CRM's own message when it gave one.
    pub message: String,
    /// The CRM's error code or category (`RATE_LIMIT`, `VALIDATION_ERROR`), or Mailtrail's
    /// (`network`, `no-result`, `record-missing`).
    #[serde(default)]
    pub code: Option<String>,
}

/// One record in the outbox. (Its TypeScript declaration is written by hand in `src/wasm`:
/// the state's fields sit beside the entry's, which a derived `interface … extends` of a
/// union cannot say.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The record's idempotency key: the entry's identity.
    pub key: String,
    /// The record to send; `None` once done and compacted (only the key is kept, for dedup).
    #[serde(default)]
    pub record: Option<Box<Record>>,
    #[serde(flatten)]
    pub state: EntryState,
    /// Attempts started (counted when handed out by [`Outbox::due`], so a record that crashes
    /// its sender every time still ends up dead rather than looping forever).
    #[serde(default)]
    pub attempts: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// Not sent before this time (the Undo Send window).
    #[serde(default)]
    pub not_before: i64,
    #[serde(default)]
    pub last_error: Option<DeliveryError>,
    /// An earlier attempt may have reached the CRM (lease expired, or the request timed out
    /// after being sent). Adapters for CRMs without idempotency keys check before creating.
    #[serde(default)]
    pub maybe_sent: bool,
}

impl Entry {
    /// When this entry is (or was) due for an attempt; `None` when finished.
    pub fn due_at(&self) -> Option<i64> {
        match self.state {
            EntryState::Pending => Some(self.not_before),
            EntryState::Retrying { next_attempt_at } => Some(next_attempt_at.max(self.not_before)),
            EntryState::Sending { lease_until } => Some(lease_until),
            EntryState::Done { .. } | EntryState::Dead { .. } | EntryState::Cancelled { .. } => {
                None
            }
        }
    }
}

/// The result of one delivery attempt, as the endpoint adapter classified it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(
    tag = "outcome",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum DeliveryOutcome {
    /// Created in the CRM.
    Delivered {
        #[serde(default)]
        remote_id: Option<String>,
        /// The (normalised) addresses the CRM really associated the email with, when the
        /// endpoint says (HubSpot). `None`: all of the record's contacts. Only these are
        /// remembered as known contacts: an address the CRM refused is not a contact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        associated: Option<Vec<String>>,
        /// What the user should know about how it was logged (a body shortened to fit the CRM,
        /// an address the CRM refused as a contact): added to the email's activity entry.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<Reason>,
    },
    /// The CRM already had it (409, or found when checking after `maybe_sent`).
    Duplicate {
        #[serde(default)]
        remote_id: Option<String>,
    },
    /// Try again later (408, 429, 5xx, network).
    Retry {
        error: DeliveryError,
        /// The server's Retry-After (or rate-limit window), in ms: never retried earlier.
        #[serde(default)]
        retry_after_ms: Option<u64>,
        /// The request may have reached the CRM (timeout after sending, 5xx after a create).
        #[serde(default)]
        maybe_sent: bool,
        /// The endpoint refused the credentials (401/403, or a token that cannot be sent): not
        /// this record's fault, and every other record would fail the same way. The attempt is
        /// not counted (the record never goes dead for it), and a flush stops at the first.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        credentials_rejected: bool,
    },
    /// The CRM refused it (other 4xx): dead, with the CRM's message for the user.
    Permanent { error: DeliveryError },
}

/// A state change to persist, by key: `{"put": entry}` or `{"remove": key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
// Changes are short-lived (persisted, then dropped) and almost all are puts: boxing would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    Put(Entry),
    Remove(String),
}

impl Change {
    /// The key the change is about (the storage key to write or delete).
    pub fn key(&self) -> &str {
        match self {
            Change::Put(e) => &e.key,
            Change::Remove(k) => k,
        }
    }
}

/// What [`Outbox::enqueue`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Enqueued {
    /// New (or a cancelled key enqueued again).
    Added,
    /// The key is already in the outbox, in this state: nothing was added.
    Duplicate(EntryState),
}

/// How many entries are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OutboxCounts {
    pub pending: usize,
    pub sending: usize,
    pub retrying: usize,
    pub done: usize,
    pub dead: usize,
    pub cancelled: usize,
}

/// The outbox. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    policy: RetryPolicy,
    entries: BTreeMap<String, Entry>,
    /// `(due_at, created_at, key)` of every entry that has a due time, oldest first: `due` and
    /// `next_wakeup` read this instead of walking every entry (a logging mailbox keeps ~100k
    /// done entries for duplicate checks, of which only a handful are ever waiting). Derived
    /// from `entries`; every change to an entry goes through `put`, `modify` or `remove`.
    schedule: BTreeSet<(i64, i64, String)>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::new(RetryPolicy::default())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotOut<'a> {
    format: &'static str,
    version: u64,
    policy: RetryPolicy,
    entries: Vec<&'a Entry>,
}

#[derive(Deserialize)]
struct SnapshotHeader {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotIn {
    #[serde(default)]
    policy: RetryPolicy,
    entries: Vec<Entry>,
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl Outbox {
    /// An empty outbox. Out-of-range policy values are raised to their minimum (see
    /// [`RetryPolicy`]).
    pub fn new(policy: RetryPolicy) -> Self {
        Outbox {
            policy: policy.sanitized(),
            entries: BTreeMap::new(),
            schedule: BTreeSet::new(),
        }
    }

    fn slot(entry: &Entry) -> Option<(i64, i64)> {
        entry.due_at().map(|t| (t, entry.created_at))
    }

    /// Inserts or replaces an entry, keeping the schedule in step.
    fn put(&mut self, entry: Entry) {
        self.remove(&entry.key);
        if let Some((t, c)) = Self::slot(&entry) {
            self.schedule.insert((t, c, entry.key.clone()));
        }
        self.entries.insert(entry.key.clone(), entry);
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let old = self.entries.remove(key)?;
        if let Some((t, c)) = Self::slot(&old) {
            self.schedule.remove(&(t, c, old.key.clone()));
        }
        Some(old)
    }

    /// Changes one entry in place and moves its schedule slot if its due time changed.
    fn modify<R>(&mut self, key: &str, f: impl FnOnce(&mut Entry) -> Option<R>) -> Option<R> {
        let Outbox {
            entries, schedule, ..
        } = self;
        let entry = entries.get_mut(key)?;
        let before = Self::slot(entry);
        let result = f(entry);
        let after = Self::slot(entry);
        if before != after {
            if let Some((t, c)) = before {
                schedule.remove(&(t, c, entry.key.clone()));
            }
            if let Some((t, c)) = after {
                schedule.insert((t, c, entry.key.clone()));
            }
        }
        result
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Changes the policy for future transitions (existing waits are not recomputed).
    pub fn set_policy(&mut self, policy: RetryPolicy) {
        self.policy = policy.sanitized();
    }

    /// Adds a record, idempotently by its idempotency key: a key already present (pending,
    /// sending, retrying, done, dead) is not added again and its state is returned. A cancelled
    /// key is the exception: enqueuing it again (the user undid a send, then sent again) makes
    /// it pending with the new record. `not_before_ms` delays the first attempt (Undo Send).
    pub fn enqueue(
        &mut self,
        record: Record,
        now_ms: i64,
        not_before_ms: i64,
    ) -> (Enqueued, Vec<Change>) {
        let key = record.idempotency_key.clone();
        let mut maybe_sent = false;
        if let Some(existing) = self.entries.get(&key) {
            if !matches!(existing.state, EntryState::Cancelled { .. }) {
                return (Enqueued::Duplicate(existing.state.clone()), Vec::new());
            }
            // Cancelled after a failed attempt that may have gone through: keep that knowledge.
            maybe_sent = existing.maybe_sent;
        }
        let entry = Entry {
            key: key.clone(),
            record: Some(Box::new(record)),
            state: EntryState::Pending,
            attempts: 0,
            created_at: now_ms,
            updated_at: now_ms,
            not_before: not_before_ms,
            last_error: None,
            maybe_sent,
        };
        self.put(entry.clone());
        (Enqueued::Added, vec![Change::Put(entry)])
    }

    /// Changes a record before it is done (e.g. attach the Message-ID Gmail assigned at send).
    /// The entry's key never changes, even if `f` rewrites the record's idempotency key.
    /// `None` when the key is unknown, done, or its record was compacted away.
    pub fn update_record(&mut self, key: &str, f: impl FnOnce(&mut Record)) -> Option<Change> {
        // A record change never moves the entry's due time: no schedule update needed.
        let entry = self.entries.get_mut(key)?;
        if matches!(entry.state, EntryState::Done { .. }) {
            return None;
        }
        let record = entry.record.as_mut()?;
        f(record);
        record.idempotency_key = entry.key.clone();
        Some(Change::Put(entry.clone()))
    }

    /// Hands out up to `limit` records due at `now_ms`, oldest due first, and marks them
    /// sending with a lease of `lease_ms`. Due means: pending past `not_before`, retrying past
    /// its next attempt time (and `not_before`), or sending with an expired lease — whose earlier
    /// attempt may have reached the CRM, so it is marked `maybe_sent`. An entry out of attempts
    /// or without a record becomes dead instead (in the changes, not in the list).
    pub fn due(&mut self, now_ms: i64, limit: usize) -> (Vec<(String, Record)>, Vec<Change>) {
        let keys: Vec<String> = self
            .schedule
            .iter()
            .take_while(|(t, _, _)| *t <= now_ms)
            .map(|(_, _, k)| k.clone())
            .collect();

        let lease_until = now_ms.saturating_add(millis(self.policy.lease_ms));
        let max_attempts = self.policy.max_attempts;
        let mut out = Vec::new();
        let mut changes = Vec::new();
        for key in keys {
            if out.len() >= limit {
                break;
            }
            // (the entry after the transition, the record to send when it is now sending)
            let step = self.modify(&key, |entry| {
                if matches!(entry.state, EntryState::Sending { .. }) {
                    entry.maybe_sent = true;
                    entry.last_error = Some(DeliveryError {
                        status: None,
                        message: "the previous attempt never reported back (the sender stopped or \
                                  crashed); it may have reached the CRM"
                            .into(),
                        code: Some("no-result".into()),
                    });
                }
                entry.updated_at = now_ms;
                let Some(record) = entry
                    .record
                    .as_deref()
                    .filter(|_| entry.attempts < max_attempts)
                else {
                    let dead_reason = match entry.record {
                        None => Some(DeliveryError {
                            status: None,
                            message:
                                "the record's content is missing from storage; it cannot be sent"
                                    .into(),
                            code: Some("record-missing".into()),
                        }),
                        Some(_) => entry.last_error.clone(),
                    };
                    entry.state = EntryState::Dead { at: now_ms };
                    entry.last_error = dead_reason;
                    return Some((entry.clone(), None));
                };
                let record = record.clone();
                entry.attempts = entry.attempts.saturating_add(1);
                entry.state = EntryState::Sending { lease_until };
                Some((entry.clone(), Some(record)))
            });
            let Some((entry, record)) = step else {
                continue;
            };
            changes.push(Change::Put(entry));
            if let Some(record) = record {
                out.push((key, record));
            }
        }
        (out, changes)
    }

    /// Records the result of an attempt. Delivered/Duplicate → done, whatever the state (a
    /// success is never forgotten, even a late one). Retry → retrying after the backoff (and at
    /// least Retry-After), or dead when out of attempts — except a Retry with
    /// `credentials_rejected`, which is not counted as an attempt and never makes the record
    /// dead. Permanent → dead, keeping the error.
    /// Retry and Permanent are ignored unless the entry is sending (a stale result).
    /// `jitter` is a random number in [0, 1) from the edge.
    pub fn complete(
        &mut self,
        key: &str,
        outcome: DeliveryOutcome,
        now_ms: i64,
        jitter: f64,
    ) -> Option<Change> {
        let policy = self.policy;
        self.modify(key, |entry| {
            match outcome {
                DeliveryOutcome::Delivered { remote_id, .. }
                | DeliveryOutcome::Duplicate { remote_id } => {
                    if matches!(entry.state, EntryState::Done { .. }) {
                        return None;
                    }
                    entry.state = EntryState::Done {
                        at: now_ms,
                        remote_id,
                    };
                    entry.last_error = None;
                }
                DeliveryOutcome::Retry {
                    error,
                    retry_after_ms,
                    maybe_sent,
                    credentials_rejected,
                } => {
                    if !matches!(entry.state, EntryState::Sending { .. }) {
                        return None;
                    }
                    entry.maybe_sent |= maybe_sent;
                    // The endpoint refused the token, or is rate limiting every client: not this
                    // record's fault, so the attempt counted by `due` is given back (fixing the
                    // token, or the limit's window passing, still delivers it).
                    let not_the_record = credentials_rejected || error.status == Some(429);
                    entry.last_error = Some(error);
                    if not_the_record {
                        entry.attempts = entry.attempts.saturating_sub(1);
                    }
                    if entry.attempts >= policy.max_attempts && !not_the_record {
                        entry.state = EntryState::Dead { at: now_ms };
                    } else {
                        let wait = policy
                            .backoff_ms(entry.attempts, jitter)
                            .max(retry_after_ms.unwrap_or(0).min(RETRY_AFTER_LIMIT_MS));
                        entry.state = EntryState::Retrying {
                            next_attempt_at: now_ms.saturating_add(millis(wait)),
                        };
                    }
                }
                DeliveryOutcome::Permanent { error } => {
                    if !matches!(entry.state, EntryState::Sending { .. }) {
                        return None;
                    }
                    entry.last_error = Some(error);
                    entry.state = EntryState::Dead { at: now_ms };
                }
            }
            entry.updated_at = now_ms;
            Some(Change::Put(entry.clone()))
        })
    }

    /// The user's "retry" button: a dead (or waiting) record is due now with its attempts reset.
    /// `maybe_sent` and the last error are kept. `None` in any other state.
    pub fn retry_now(&mut self, key: &str, now_ms: i64) -> Option<Change> {
        self.modify(key, |entry| {
            if !matches!(
                entry.state,
                EntryState::Dead { .. } | EntryState::Retrying { .. }
            ) {
                return None;
            }
            entry.state = EntryState::Pending;
            entry.attempts = 0;
            entry.updated_at = now_ms;
            Some(Change::Put(entry.clone()))
        })
    }

    /// Withdraws a record that is not being sent and not done (Undo Send, or the user removing a
    /// dead record). `None` when sending (it may already be in the CRM), done, or cancelled.
    pub fn cancel(&mut self, key: &str, now_ms: i64) -> Option<Change> {
        self.modify(key, |entry| {
            if !matches!(
                entry.state,
                EntryState::Pending | EntryState::Retrying { .. } | EntryState::Dead { .. }
            ) {
                return None;
            }
            entry.state = EntryState::Cancelled { at: now_ms };
            entry.updated_at = now_ms;
            Some(Change::Put(entry.clone()))
        })
    }

    /// The earliest time something becomes due (possibly in the past: due now), for
    /// `chrome.alarms` or a timer. `None` when nothing is waiting.
    pub fn next_wakeup(&self) -> Option<i64> {
        self.schedule.first().map(|(t, _, _)| *t)
    }

    /// Drops the record bodies of done and cancelled entries (only the key is needed to refuse
    /// duplicates), and removes done and cancelled entries older than `done_retention_ms`.
    /// Dead entries are kept until the user retries or cancels them.
    pub fn compact(&mut self, now_ms: i64) -> Vec<Change> {
        let retention = self.policy.done_retention_ms;
        let mut changes = Vec::new();
        self.entries.retain(|key, entry| {
            let finished_at = match entry.state {
                EntryState::Done { at, .. } | EntryState::Cancelled { at } => at,
                _ => return true,
            };
            if now_ms.saturating_sub(finished_at) > retention {
                changes.push(Change::Remove(key.clone()));
                return false;
            }
            if entry.record.take().is_some() {
                changes.push(Change::Put(entry.clone()));
            }
            true
        });
        changes
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn counts(&self) -> OutboxCounts {
        let mut c = OutboxCounts::default();
        for e in self.entries.values() {
            match e.state {
                EntryState::Pending => c.pending += 1,
                EntryState::Sending { .. } => c.sending += 1,
                EntryState::Retrying { .. } => c.retrying += 1,
                EntryState::Done { .. } => c.done += 1,
                EntryState::Dead { .. } => c.dead += 1,
                EntryState::Cancelled { .. } => c.cancelled += 1,
            }
        }
        c
    }

    /// Rebuilds the outbox from entries persisted one per key (what the [`Change`]s wrote).
    /// If a key appears twice, the later entry wins, as it would in a key-value store.
    pub fn from_entries(policy: RetryPolicy, entries: impl IntoIterator<Item = Entry>) -> Self {
        let mut outbox = Outbox::new(policy);
        for e in entries {
            outbox.put(e);
        }
        outbox
    }

    /// Replays one persisted change.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Put(e) => self.put(e),
            Change::Remove(key) => {
                self.remove(&key);
            }
        }
    }

    /// The whole outbox as one JSON document
    /// (`{"format":"mailtrail.outbox","version":1,"policy":…,"entries":[…]}`), for export and
    /// for edges that store one value rather than one entry per key.
    pub fn to_json(&self) -> String {
        let snapshot = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            policy: self.policy,
            entries: self.entries.values().collect(),
        };
        // Only strings, integers, booleans and string-keyed structs: serde_json cannot fail.
        serde_json::to_string(&snapshot).expect("outbox entries always serialise to JSON")
    }

    /// Loads what [`to_json`](Self::to_json) wrote. A document of another kind or version, or
    /// with invalid or duplicated entries, is refused with a clear error.
    pub fn from_json(json: &str) -> Result<Self, StateError> {
        if json.trim().is_empty() {
            return Err(StateError::Truncated { what: WHAT });
        }
        let header: SnapshotHeader = serde_json::from_str(json).map_err(|e| {
            if e.is_eof() {
                StateError::Truncated { what: WHAT }
            } else {
                StateError::WrongFormat { what: WHAT }
            }
        })?;
        if header.format.as_deref() != Some(SNAPSHOT_FORMAT) {
            return Err(StateError::WrongFormat { what: WHAT });
        }
        match header.version {
            Some(SNAPSHOT_VERSION) => {}
            found => {
                return Err(StateError::UnsupportedVersion {
                    what: WHAT,
                    found: found.unwrap_or(0),
                    supported: SNAPSHOT_VERSION,
                })
            }
        }
        let snapshot: SnapshotIn = serde_json::from_str(json).map_err(|e| StateError::Corrupt {
            what: WHAT,
            detail: e.to_string(),
        })?;
        let mut outbox = Outbox::new(snapshot.policy);
        for e in snapshot.entries {
            if outbox.entries.contains_key(&e.key) {
                return Err(StateError::Corrupt {
                    what: WHAT,
                    detail: format!("key {:?} appears twice", e.key),
                });
            }
            outbox.put(e);
        }
        Ok(outbox)
    }
}

// Entries and outcomes are read back by hand (why: `crate::json_read`).

/// An [`Entry`] as stored: the entry's fields and its state's, side by side.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEntry {
    key: String,
    #[serde(default)]
    record: Option<Box<Record>>,
    state: String,
    lease_until: Option<i64>,
    next_attempt_at: Option<i64>,
    at: Option<i64>,
    remote_id: Option<String>,
    #[serde(default)]
    attempts: u32,
    created_at: i64,
    updated_at: i64,
    #[serde(default)]
    not_before: i64,
    #[serde(default)]
    last_error: Option<DeliveryError>,
    #[serde(default)]
    maybe_sent: bool,
}

const ENTRY_STATES: &[&str] = &[
    "pending",
    "sending",
    "retrying",
    "done",
    "dead",
    "cancelled",
];

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let e = StoredEntry::deserialize(d)?;
        let state = match e.state.as_str() {
            "pending" => EntryState::Pending,
            "sending" => EntryState::Sending {
                lease_until: required(e.lease_until, "leaseUntil")?,
            },
            "retrying" => EntryState::Retrying {
                next_attempt_at: required(e.next_attempt_at, "nextAttemptAt")?,
            },
            "done" => EntryState::Done {
                at: required(e.at, "at")?,
                remote_id: e.remote_id,
            },
            "dead" => EntryState::Dead {
                at: required(e.at, "at")?,
            },
            "cancelled" => EntryState::Cancelled {
                at: required(e.at, "at")?,
            },
            other => return Err(serde::de::Error::unknown_variant(other, ENTRY_STATES)),
        };
        Ok(Entry {
            key: e.key,
            record: e.record,
            state,
            attempts: e.attempts,
            created_at: e.created_at,
            updated_at: e.updated_at,
            not_before: e.not_before,
            last_error: e.last_error,
            maybe_sent: e.maybe_sent,
        })
    }
}

/// A [`DeliveryOutcome`] as JSON: `outcome` and the fields of every kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeFields {
    outcome: String,
    remote_id: Option<String>,
    #[serde(default)]
    associated: Option<Vec<String>>,
    #[serde(default)]
    notes: Vec<Reason>,
    error: Option<DeliveryError>,
    retry_after_ms: Option<u64>,
    #[serde(default)]
    maybe_sent: bool,
    #[serde(default)]
    credentials_rejected: bool,
}

impl<'de> Deserialize<'de> for DeliveryOutcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let o = OutcomeFields::deserialize(d)?;
        Ok(match o.outcome.as_str() {
            "delivered" => DeliveryOutcome::Delivered {
                remote_id: o.remote_id,
                associated: o.associated,
                notes: o.notes,
            },
            "duplicate" => DeliveryOutcome::Duplicate {
                remote_id: o.remote_id,
            },
            "retry" => DeliveryOutcome::Retry {
                error: required(o.error, "error")?,
                retry_after_ms: o.retry_after_ms,
                maybe_sent: o.maybe_sent,
                credentials_rejected: o.credentials_rejected,
            },
            "permanent" => DeliveryOutcome::Permanent {
                error: required(o.error, "error")?,
            },
            other => {
                return Err(serde::de::Error::unknown_variant(
                    other,
                    &["delivered", "duplicate", "retry", "permanent"],
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_base_and_is_capped() {
        let p = RetryPolicy {
            base_ms: 1_000,
            max_ms: 60_000,
            ..RetryPolicy::default()
        };
        let top = |n| p.backoff_ms(n, 0.999_999);
        let bottom = |n| p.backoff_ms(n, 0.0);
        assert_eq!((bottom(1), top(1)), (500, 999));
        assert_eq!((bottom(2), top(2)), (1_000, 1_999));
        assert_eq!((bottom(5), top(5)), (8_000, 15_999));
        assert_eq!((bottom(7), top(7)), (30_000, 59_999));
        assert_eq!((bottom(200), top(u32::MAX)), (30_000, 59_999));
        // Out-of-range jitter is clamped, NaN is treated as the middle.
        assert_eq!(p.backoff_ms(1, 7.0), 1_000);
        assert_eq!(p.backoff_ms(1, -1.0), 500);
        assert_eq!(p.backoff_ms(1, f64::NAN), 750);
    }

    #[test]
    fn policy_minimums() {
        let p = RetryPolicy {
            base_ms: 0,
            max_ms: 0,
            max_attempts: 0,
            lease_ms: 0,
            done_retention_ms: -5,
        }
        .sanitized();
        assert_eq!(
            p,
            RetryPolicy {
                base_ms: 1,
                max_ms: 1,
                max_attempts: 1,
                lease_ms: 1_000,
                done_retention_ms: 0
            }
        );
    }
}
