//! The engine: settings, thread tracker, outbox, known contacts and recent activity behind one
//! API, shared by the browser (through [`crate::wasm`]), the CLI and the IMAP watcher.
//!
//! Still pure: time, randomness, contact lookups and the network are passed in. Every change to
//! the outbox is also queued as a [`Change`] for the edge to persist *before* it reports success
//! to the user (see [`Engine::take_changes`]); the rest of the state (threads, contacts,
//! activity) is saved as one snapshot whenever [`Engine::state_dirty`] says so.

use crate::email::{Email, ParseOptions};
use crate::outbox::{
    Change, DeliveryOutcome, Enqueued, Entry, EntryState, Outbox, OutboxCounts, RetryPolicy,
};
use crate::policy::{decide, ContactDirectory, Context, Decision, Trigger};
use crate::reason::ReasonCode;
use crate::record::{self, ForwardInfo, Record, RecordMeta};
use crate::settings::{Settings, SettingsError};
use crate::threads::{ThreadMatch, ThreadTracker, TrackerLimits};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// How many recent decisions the popup can show.
pub const ACTIVITY_LIMIT: usize = 100;
/// How many addresses are remembered as contacts Mailtrail logged against.
pub const KNOWN_CONTACTS_LIMIT: usize = 50_000;

/// One decision, as the popup and the web UI list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub at: i64,
    pub subject: String,
    pub logged: bool,
    pub direction: record::Direction,
    pub reasons: Vec<crate::reason::Reason>,
    /// The record's idempotency key when one was queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub contacts: Vec<String>,
}

/// The result of [`Engine::process`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub decision: Decision,
    /// The record queued (or that would be queued, for a dry run).
    pub record: Option<Record>,
    /// True when the record was added to the outbox now; false for a duplicate or dry run.
    pub queued: bool,
    /// The logged thread the email was matched to, if any.
    pub thread: Option<ThreadMatch>,
    /// When the email was recognised as a forward: the forwarder and their note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<ForwardInfo>,
}

/// What [`Engine::process_raw`] decides about.
enum RawSubject {
    /// The message itself.
    Email(Email),
    /// The original a forward carries, the trigger to decide it under, who forwarded it, and
    /// how many more forwarded emails the message holds (not logged with it).
    Forward(Email, Trigger, ForwardInfo, usize),
    /// Sent to be logged as a forward, but no original was found in it.
    UnrecognisedForward(Email),
}

/// Options for [`Engine::process`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessOptions {
    /// Do not send before this time (Undo Send window), ms.
    pub not_before_ms: Option<i64>,
    /// The mailbox the email is logged from (overrides the first user address).
    pub mailbox: Option<String>,
    /// Decide and build, but do not queue or remember anything.
    pub dry_run: bool,
    /// The provider's thread id (Outlook conversationId, Gmail thread id) for an email whose raw
    /// source does not carry it.
    pub thread_id: Option<String>,
    /// Hand the whole record back (bodies, attachments, ids). Only the WebAssembly API reads
    /// this: by default it returns a summary of the record (key, direction, date, subject,
    /// people), because the record itself waits in the outbox and copying bodies into JS objects
    /// nobody reads was a fifth of `processRaw`'s time (BENCHMARKS.md "Core engine").
    pub include_record: bool,
}

/// Status for the popup.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub counts: OutboxCounts,
    /// Every entry that is not done (pending, sending, retrying, dead).
    pub queue: Vec<QueueItem>,
    pub activity: Vec<Activity>,
    pub next_wakeup: Option<i64>,
    pub threads: usize,
}

/// An outbox entry as the popup shows it (without bodies).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    pub key: String,
    pub subject: String,
    pub state: crate::outbox::EntryState,
    pub attempts: u32,
    pub last_error: Option<crate::outbox::DeliveryError>,
    pub created_at: i64,
    /// Not sent before this time (the Undo Send window), ms.
    pub not_before: i64,
}

/// Everything but the outbox, for persistence.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    version: u32,
    threads: String, // base64 of the tracker's binary form
    known_contacts: Vec<(String, i64)>,
    activity: Vec<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outbox: Option<Vec<Entry>>,
}

const SNAPSHOT_VERSION: u32 = 1;

/// Why the engine refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("invalid settings: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Settings(Vec<SettingsError>),
    #[error(transparent)]
    Email(#[from] crate::email::EmailError),
    #[error("saved state could not be read: {0}")]
    State(String),
}

impl EngineError {
    /// A stable code for JS errors and exit messages.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Settings(_) => "invalid-settings",
            EngineError::Email(crate::email::EmailError::Empty) => "empty-input",
            EngineError::Email(crate::email::EmailError::TooLarge { .. }) => "too-large",
            EngineError::Email(crate::email::EmailError::InvalidCompose(_)) => "invalid-compose",
            EngineError::Email(_) => "not-an-email",
            EngineError::State(_) => "invalid-state",
        }
    }
}

/// The engine.
pub struct Engine {
    settings: Settings,
    threads: ThreadTracker,
    outbox: Outbox,
    known_contacts: HashMap<String, i64>,
    activity: VecDeque<Activity>,
    changes: Vec<Change>,
    dirty: bool,
}

impl Engine {
    /// An engine with validated settings.
    pub fn new(settings: &Settings) -> Result<Self, EngineError> {
        Ok(Engine {
            settings: settings.validate().map_err(EngineError::Settings)?,
            threads: ThreadTracker::new(TrackerLimits::default()),
            outbox: Outbox::new(RetryPolicy::default()),
            known_contacts: HashMap::new(),
            activity: VecDeque::new(),
            changes: Vec::new(),
            dirty: false,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Replaces the settings (validated; nothing changes on error).
    ///
    /// When the endpoint changed (a new token, say), records waiting because the endpoint had
    /// refused the old token are due again at once instead of after their long wait.
    pub fn configure(&mut self, settings: &Settings, now_ms: i64) -> Result<(), EngineError> {
        let settings = settings.validate().map_err(EngineError::Settings)?;
        let endpoint_changed = settings.endpoint != self.settings.endpoint;
        self.settings = settings;
        if endpoint_changed {
            let waiting: Vec<String> = self
                .outbox
                .entries()
                .filter(|e| {
                    matches!(e.state, EntryState::Retrying { .. })
                        && e.last_error.as_ref().and_then(|err| err.code.as_deref())
                            == Some(crate::delivery::TOKEN_REJECTED)
                })
                .map(|e| e.key.clone())
                .collect();
            for key in waiting {
                self.retry(&key, now_ms);
            }
        }
        Ok(())
    }

    /// Parses raw bytes the way the engine needs them (attachment data kept when attachments
    /// are sent).
    pub fn parse(&self, raw: &[u8]) -> Result<Email, EngineError> {
        Ok(Email::from_raw(
            raw,
            ParseOptions {
                keep_attachment_data: self.settings.include_attachments,
                ..Default::default()
            },
        )?)
    }

    /// The addresses whose contact status a decision about `email` may need; the edge looks
    /// them up (endpoint lookup API) and passes the known ones to [`Engine::process`].
    ///
    /// Never-log addresses and domains are left out: every rule decides them before asking
    /// whether they are contacts, and the CRM is not to hear of them at all — a lookup is a
    /// request about that person to the CRM.
    pub fn addresses_to_check(&self, email: &Email) -> Vec<String> {
        let s = &self.settings;
        let mut out: Vec<String> = Vec::new();
        for m in email.participants() {
            let a = &m.normalized;
            if !s.is_user(a)
                && !s.is_crm_address(a)
                && s.never_log_reason(a).is_none()
                && !out.contains(a)
            {
                out.push(a.clone());
            }
        }
        out
    }

    /// True when Mailtrail itself logged a record associated with this address.
    pub fn is_known_contact(&self, normalized: &str) -> bool {
        self.known_contacts.contains_key(normalized)
    }

    /// Decides about an email and, when it is to be logged by pushing, queues its record.
    ///
    /// `contacts` are the addresses the endpoint knows as contacts; addresses Mailtrail logged
    /// against before count too. For a "Log this email" or an email to the forwarding address,
    /// `forward` is the original recovered by forward extraction (see [`Engine::process_raw`]).
    pub fn process(
        &mut self,
        email: &Email,
        trigger: Trigger,
        contacts: &dyn ContactDirectory,
        now_ms: i64,
        options: &ProcessOptions,
    ) -> Outcome {
        self.process_inner(email, trigger, contacts, now_ms, options, None)
    }

    /// Like [`Engine::process`] for a raw message: parses it, and for a manual log, a BCC copy
    /// or anything addressed to the forwarding address, recognises a forward and logs the
    /// original instead.
    pub fn process_raw(
        &mut self,
        raw: &[u8],
        trigger: Trigger,
        contacts: &dyn ContactDirectory,
        now_ms: i64,
        options: &ProcessOptions,
    ) -> Result<Outcome, EngineError> {
        Ok(match self.resolve_raw(raw, trigger, options)? {
            RawSubject::Email(email) => {
                self.process_inner(&email, trigger, contacts, now_ms, options, None)
            }
            RawSubject::Forward(original, as_forward, info, more) => self.process_inner(
                &original,
                as_forward,
                contacts,
                now_ms,
                options,
                Some((info, more)),
            ),
            RawSubject::UnrecognisedForward(email) => {
                let decision = Decision::not_logged(
                    record::Direction::Forwarded,
                    vec![crate::reason::Reason::new(ReasonCode::ForwardNotRecognised)],
                );
                self.remember_activity(&email, &decision, None, now_ms, options.dry_run);
                Outcome {
                    decision,
                    record: None,
                    queued: false,
                    thread: None,
                    forwarded: None,
                }
            }
        })
    }

    /// [`Engine::addresses_to_check`] for a raw message as [`Engine::process_raw`] will see it:
    /// for a recognised forward, the original's people (the customer who wrote it), not the
    /// forwarder's.
    pub fn addresses_to_check_raw(
        &self,
        raw: &[u8],
        trigger: Trigger,
        options: &ProcessOptions,
    ) -> Result<Vec<String>, EngineError> {
        Ok(match self.resolve_raw(raw, trigger, options)? {
            RawSubject::Email(email) | RawSubject::Forward(email, ..) => {
                self.addresses_to_check(&email)
            }
            RawSubject::UnrecognisedForward(_) => Vec::new(),
        })
    }

    /// What a raw message is to be decided as: itself, or the original it forwards.
    fn resolve_raw(
        &self,
        raw: &[u8],
        trigger: Trigger,
        options: &ProcessOptions,
    ) -> Result<RawSubject, EngineError> {
        let options_parse = ParseOptions {
            keep_attachment_data: self.settings.include_attachments,
            ..Default::default()
        };
        let (mut email, message) = Email::parse_with_message(raw, options_parse)?;
        if email.thread_id.is_none() {
            email.thread_id = options.thread_id.clone().filter(|t| !t.trim().is_empty());
        }
        let to_forwarding = self
            .settings
            .forwarding_address
            .as_deref()
            .is_some_and(|f| email.recipients().any(|m| m.normalized == f));
        let may_be_forward =
            to_forwarding || matches!(trigger, Trigger::Manual | Trigger::Forwarded);
        if may_be_forward {
            if let Some((original, info, more)) = crate::forward::original_of(
                &message,
                &email,
                self.settings.include_attachments,
                &|address| self.settings.is_internal(address),
            ) {
                // "Log this email" on a forward says so; a forward to the CRM's address says that.
                let as_forward = if trigger == Trigger::Manual {
                    Trigger::ManualForward
                } else {
                    Trigger::Forwarded
                };
                return Ok(RawSubject::Forward(original, as_forward, info, more));
            }
            if to_forwarding || trigger == Trigger::Forwarded {
                return Ok(RawSubject::UnrecognisedForward(email));
            }
        }
        Ok(RawSubject::Email(email))
    }

    fn process_inner(
        &mut self,
        email: &Email,
        trigger: Trigger,
        contacts: &dyn ContactDirectory,
        now_ms: i64,
        options: &ProcessOptions,
        forward: Option<(ForwardInfo, usize)>,
    ) -> Outcome {
        let (forwarded, more_forwarded) = match forward {
            Some((info, more)) => (Some(info), more),
            None => (None, 0),
        };
        let thread = self.threads.match_reply_at(email, now_ms);
        let merged = MergedContacts {
            endpoint: contacts,
            known: &self.known_contacts,
        };
        let direction = crate::policy::direction(email, &self.settings, trigger);
        let key =
            record::idempotency_key_ignoring(email, direction, &self.settings.crm_addresses());
        let already_logged = self
            .outbox
            .get(&key)
            .is_some_and(|e| !matches!(e.state, crate::outbox::EntryState::Cancelled { .. }));
        let ctx = Context {
            trigger,
            contacts: &merged,
            in_logged_thread: thread.is_some(),
            already_logged,
        };
        let mut decision = decide(email, &self.settings, &ctx);
        if more_forwarded > 0 {
            // Never silently: the user learns the others need forwarding one by one.
            decision.reasons.push(
                crate::reason::Reason::new(ReasonCode::MoreForwardedEmails)
                    .with_detail(more_forwarded.to_string()),
            );
        }
        let mut record_out = None;
        let mut queued = false;
        if decision.log && decision.push {
            debug_assert_eq!(
                decision.direction, direction,
                "policy::direction disagrees with decide"
            );
            let meta = RecordMeta {
                mailbox: options
                    .mailbox
                    .clone()
                    .or_else(|| self.settings.user_addresses.first().cloned()),
                forwarded: forwarded.clone(),
                now_ms,
                idempotency_key: Some(key.clone()),
            };
            let rec = record::build(email, &decision, &self.settings, meta);
            if !options.dry_run {
                let (enqueued, changes) = self.outbox.enqueue(
                    rec.clone(),
                    now_ms,
                    options.not_before_ms.unwrap_or(now_ms),
                );
                queued = matches!(enqueued, Enqueued::Added);
                self.changes.extend(changes);
            }
            record_out = Some(rec);
        }
        if decision.log && !options.dry_run {
            self.threads.track(email, now_ms);
            if let Some(t) = &thread {
                self.threads.touch(t.thread, now_ms);
            }
            // Pushed records make their contacts known once delivered (see `complete`): an
            // Undo Send must not leave a contact the CRM never got. A BCC copy is the CRM's job.
            if !decision.push {
                self.remember_contacts(
                    decision.contacts.iter().map(|c| c.address.as_str()),
                    now_ms,
                );
            }
            self.dirty = true;
        }
        let key = record_out.as_ref().map(|r| r.idempotency_key.clone());
        self.remember_activity(email, &decision, key, now_ms, options.dry_run);
        Outcome {
            decision,
            record: record_out,
            queued,
            thread,
            forwarded,
        }
    }

    fn remember_activity(
        &mut self,
        email: &Email,
        decision: &Decision,
        key: Option<String>,
        now_ms: i64,
        dry_run: bool,
    ) {
        if dry_run {
            return;
        }
        self.activity.push_front(Activity {
            at: now_ms,
            subject: email.subject.clone(),
            logged: decision.log,
            direction: decision.direction,
            reasons: decision.reasons.clone(),
            key,
            contacts: decision
                .contacts
                .iter()
                .map(|c| c.address.clone())
                .collect(),
        });
        self.activity.truncate(ACTIVITY_LIMIT);
        self.dirty = true;
    }

    fn remember_contacts<'a>(&mut self, addresses: impl Iterator<Item = &'a str>, now_ms: i64) {
        for a in addresses {
            self.known_contacts.insert(a.to_string(), now_ms);
        }
        self.bound_known_contacts();
    }

    fn bound_known_contacts(&mut self) {
        if self.known_contacts.len() > KNOWN_CONTACTS_LIMIT {
            let mut by_age: Vec<(i64, String)> = self
                .known_contacts
                .iter()
                .map(|(a, t)| (*t, a.clone()))
                .collect();
            by_age.sort_unstable();
            let excess = self.known_contacts.len() - KNOWN_CONTACTS_LIMIT;
            for (_, a) in by_age.into_iter().take(excess) {
                self.known_contacts.remove(&a);
            }
        }
    }

    /// Remembers `email`'s thread as logged without logging anything: for emails known to be
    /// logged elsewhere (the IMAP Sent folder when the record exists at the endpoint, a BCC copy
    /// seen by the CRM).
    pub fn track_thread(&mut self, email: &Email, now_ms: i64) -> u64 {
        self.dirty = true;
        self.threads.track(email, now_ms)
    }

    /// The logged thread `email` belongs to, if any.
    pub fn match_reply(&self, email: &Email) -> Option<ThreadMatch> {
        self.threads.match_reply(email)
    }

    /// After the provider sent the email: attach the Message-ID and thread id it assigned, to the
    /// queued record (if not sent yet) and to the thread tracker, so replies can be matched.
    pub fn attach_sent_ids(
        &mut self,
        draft_id: &str,
        message_id: Option<&str>,
        thread_id: Option<&str>,
        now_ms: i64,
    ) -> bool {
        let message_id = message_id.and_then(crate::ids::clean_message_id);
        let thread_id = thread_id
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        let keys = self.draft_keys(draft_id);
        let mut found = false;
        let mut tracked = Email {
            draft_id: Some(draft_id.to_string()),
            message_id: message_id.clone(),
            thread_id: thread_id.clone(),
            ..Default::default()
        };
        for key in keys {
            if let Some(change) = self.outbox.update_record(&key, |r| {
                if r.message_id.is_none() {
                    r.message_id = message_id.clone();
                }
                if r.thread_id.is_none() {
                    r.thread_id = thread_id.clone();
                }
            }) {
                self.changes.push(change);
            }
            if let Some(r) = self.outbox.get(&key).and_then(|e| e.record.as_ref()) {
                tracked.subject = r.subject.clone();
            }
            found = true;
        }
        if found || message_id.is_some() || thread_id.is_some() {
            // Merges into the thread created at send time through the draft id.
            self.threads.track(&tracked, now_ms);
            self.dirty = true;
        }
        found
    }

    /// Records due for delivery: `(key, record, maybe_sent)`; they are marked as being sent.
    pub fn take_due(&mut self, now_ms: i64, limit: usize) -> Vec<(String, Record, bool)> {
        let (due, changes) = self.outbox.due(now_ms, limit);
        self.changes.extend(changes);
        due.into_iter()
            .map(|(key, rec)| {
                let maybe_sent = self.outbox.get(&key).is_some_and(|e| e.maybe_sent);
                (key, rec, maybe_sent)
            })
            .collect()
    }

    /// Reports the result of a delivery. `jitter` ∈ [0, 1).
    ///
    /// A delivered record's contacts become known contacts — only those the CRM really
    /// associated when it says (`associated`: an address it refused is no contact, and must be
    /// created when it next comes up) — and the delivery's notes (a body shortened, an address
    /// refused) are added to the email's activity entry, where the popup shows them.
    pub fn complete(&mut self, key: &str, outcome: DeliveryOutcome, now_ms: i64, jitter: f64) {
        let (delivered, associated, notes) = match &outcome {
            DeliveryOutcome::Delivered {
                associated, notes, ..
            } => (true, associated.clone(), notes.clone()),
            DeliveryOutcome::Duplicate { .. } => (true, None, Vec::new()),
            _ => (false, None, Vec::new()),
        };
        if let Some(change) = self.outbox.complete(key, outcome, now_ms, jitter) {
            self.changes.push(change);
            if delivered {
                let contacts: Vec<String> = self
                    .outbox
                    .get(key)
                    .and_then(|e| e.record.as_ref())
                    .map(|r| {
                        r.contacts
                            .iter()
                            .map(|c| c.address.clone())
                            .filter(|a| associated.as_ref().is_none_or(|list| list.contains(a)))
                            .collect()
                    })
                    .unwrap_or_default();
                self.remember_contacts(contacts.iter().map(String::as_str), now_ms);
                if let Some(activity) = self
                    .activity
                    .iter_mut()
                    .find(|a| a.key.as_deref() == Some(key))
                {
                    for note in notes {
                        if !activity.reasons.contains(&note) {
                            activity.reasons.push(note);
                        }
                    }
                }
                self.dirty = true;
            }
        }
    }

    /// The user's "retry" on a failed record.
    pub fn retry(&mut self, key: &str, now_ms: i64) -> bool {
        let change = self.outbox.retry_now(key, now_ms);
        self.note(change)
    }

    /// Cancels a record not yet sent (Undo Send).
    pub fn cancel(&mut self, key: &str, now_ms: i64) -> bool {
        let withdrawn = self
            .outbox
            .get(key)
            .and_then(|e| e.record.as_ref())
            .map(|record| thread_ids_of(record));
        let change = self.outbox.cancel(key, now_ms);
        if change.is_some() {
            // The email is not logged after all: nor is a conversation only it started.
            if let Some(email) = withdrawn {
                if self.threads.withdraw(&email) {
                    self.dirty = true;
                }
            }
        }
        self.note(change)
    }

    /// Queues an outbox change for persistence; true when there was one.
    fn note(&mut self, change: Option<Change>) -> bool {
        let changed = change.is_some();
        self.changes.extend(change);
        changed
    }

    /// The outbox keys of records queued from this compose window.
    fn draft_keys(&self, draft_id: &str) -> Vec<String> {
        self.outbox
            .entries()
            .filter(|e| {
                e.record
                    .as_ref()
                    .is_some_and(|r| r.draft_id.as_deref() == Some(draft_id))
            })
            .map(|e| e.key.clone())
            .collect()
    }

    /// Cancels the records queued from a compose window (Undo Send).
    pub fn cancel_draft(&mut self, draft_id: &str, now_ms: i64) -> usize {
        let keys = self.draft_keys(draft_id);
        keys.iter().filter(|k| self.cancel(k, now_ms)).count()
    }

    /// Drops old done entries and bodies of delivered records; expires old threads.
    pub fn compact(&mut self, now_ms: i64) {
        let changes = self.outbox.compact(now_ms);
        self.changes.extend(changes);
        if self.threads.evict_expired(now_ms) > 0 {
            self.dirty = true;
        }
    }

    /// Outbox changes to persist (in order) since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// True when threads, contacts or activity changed since the last [`Engine::export_state`].
    pub fn state_dirty(&self) -> bool {
        self.dirty
    }

    /// When the next record becomes due (for a timer or `chrome.alarms`).
    pub fn next_wakeup(&self) -> Option<i64> {
        self.outbox.next_wakeup()
    }

    pub fn status(&self) -> Status {
        let queue = self
            .outbox
            .entries()
            .filter(|e| {
                !matches!(
                    e.state,
                    crate::outbox::EntryState::Done { .. }
                        | crate::outbox::EntryState::Cancelled { .. }
                )
            })
            .map(|e| QueueItem {
                key: e.key.clone(),
                subject: e
                    .record
                    .as_ref()
                    .map(|r| r.subject.clone())
                    .unwrap_or_default(),
                state: e.state.clone(),
                attempts: e.attempts,
                last_error: e.last_error.clone(),
                created_at: e.created_at,
                not_before: e.not_before,
            })
            .collect();
        Status {
            counts: self.outbox.counts(),
            queue,
            activity: self.activity.iter().cloned().collect(),
            next_wakeup: self.outbox.next_wakeup(),
            threads: self.threads.len(),
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn threads(&self) -> &ThreadTracker {
        &self.threads
    }

    /// Serialises threads, known contacts and activity (and the outbox when asked: the browser
    /// persists the outbox entry by entry instead).
    pub fn export_state(&mut self, include_outbox: bool) -> Vec<u8> {
        let snapshot = Snapshot {
            version: SNAPSHOT_VERSION,
            threads: crate::base64::encode(&self.threads.to_bytes()),
            known_contacts: self
                .known_contacts
                .iter()
                .map(|(a, t)| (a.clone(), *t))
                .collect(),
            activity: self.activity.iter().cloned().collect(),
            outbox: include_outbox.then(|| self.outbox.entries().cloned().collect()),
        };
        self.dirty = false;
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    /// Restores a snapshot and, separately persisted, outbox entries. Either may be empty.
    ///
    /// A snapshot that cannot be read at all is an error and changes nothing. A damaged thread
    /// tracker inside a readable snapshot does not block the rest: threads start empty, the
    /// outbox, contacts and activity load, and the problem is returned for the user to see
    /// (losing thread history only means some replies are not matched; losing the outbox would
    /// lose records).
    pub fn import_state(
        &mut self,
        snapshot: &[u8],
        outbox_entries: Vec<Entry>,
    ) -> Result<Vec<String>, EngineError> {
        let mut entries = outbox_entries;
        let mut problems = Vec::new();
        if !snapshot.is_empty() {
            // from_str, like every other deserialisation in the crate: one serde_json reader
            // means one copy of each type's generated code in the WASM build.
            let text = std::str::from_utf8(snapshot)
                .map_err(|e| EngineError::State(format!("state is not UTF-8: {e}")))?;
            let s: Snapshot =
                serde_json::from_str(text).map_err(|e| EngineError::State(e.to_string()))?;
            if s.version != SNAPSHOT_VERSION {
                return Err(EngineError::State(format!(
                    "unsupported state version {}",
                    s.version
                )));
            }
            let threads = crate::base64::decode(&s.threads)
                .ok_or_else(|| "threads are not base64".to_string())
                .and_then(|bytes| {
                    ThreadTracker::from_bytes(&bytes).map_err(|e| format!("{} ({})", e, e.code()))
                });
            self.threads = match threads {
                Ok(t) => t,
                Err(why) => {
                    problems.push(format!(
                        "thread history could not be read and starts empty: {why}"
                    ));
                    ThreadTracker::new(TrackerLimits::default())
                }
            };
            self.known_contacts = s.known_contacts.into_iter().collect();
            self.activity = s.activity.into_iter().take(ACTIVITY_LIMIT).collect();
            if let Some(o) = s.outbox {
                if entries.is_empty() {
                    entries = o;
                }
            }
        }
        self.outbox = Outbox::from_entries(RetryPolicy::default(), entries);
        // A reset tracker must be written back, or the damaged one would be read again.
        self.dirty = !problems.is_empty();
        Ok(problems)
    }
}

/// The endpoint's contacts plus the addresses Mailtrail logged against itself.
struct MergedContacts<'a> {
    endpoint: &'a dyn ContactDirectory,
    known: &'a HashMap<String, i64>,
}

impl ContactDirectory for MergedContacts<'_> {
    fn is_contact(&self, normalized: &str) -> bool {
        self.endpoint.is_contact(normalized) || self.known.contains_key(normalized)
    }
}

/// What the thread tracker knows an email by, from its record (ids learnt after sending
/// included): enough to find the thread it started.
fn thread_ids_of(record: &Record) -> Email {
    Email {
        subject: record.subject.clone(),
        message_id: record.message_id.clone(),
        in_reply_to: record.in_reply_to.clone(),
        references: record.references.clone(),
        thread_id: record.thread_id.clone(),
        draft_id: record.draft_id.clone(),
        ..Email::default()
    }
}
