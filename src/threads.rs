//! The thread tracker: remembers which conversations were logged, so that replies in them can be
//! logged automatically.
//!
//! A thread is known by every identifier Mailtrail has seen for it: RFC 5322 Message-IDs (its own,
//! In-Reply-To, References), the provider's thread id (Gmail thread id, Outlook `conversationId`)
//! and the compose window's draft id (known before Gmail tells us the Message-ID it assigned).
//! [`ThreadTracker::track`] merges all of them into one thread; [`ThreadTracker::match_reply`] finds
//! the thread of an incoming message.
//!
//! The tracker lives in the browser's storage, so it is bounded (capacity with least-recently-used
//! eviction, and a maximum age) and compact: identifiers are kept only as 64-bit hashes, subjects as
//! 32-bit hashes of their normalised form, and [`ThreadTracker::to_bytes`] writes a small versioned
//! binary format with a checksum. See docs/threads-and-outbox.md for the reasoning and the format.
//!
//! Nothing here reads a clock: every mutating call takes `now_ms`.

use crate::email::Email;
use crate::subject::normalize_subject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};

/// Message-IDs kept per thread: the thread's root plus the newest 31. A reply almost always
/// names its parent (In-Reply-To) and the root (first References entry), so a long conversation
/// does not need every id it ever had.
pub const MAX_MESSAGE_IDS_PER_THREAD: usize = 32;
/// Provider thread ids and draft ids kept per thread (newest kept).
pub const MAX_HANDLES_PER_THREAD: usize = 8;
/// Normalised subjects kept per thread (newest kept).
pub const MAX_SUBJECTS_PER_THREAD: usize = 4;
/// How many References entries of one email are considered (the first, which is the root, and
/// the newest ones). Bounds the work a hostile header with thousands of ids can cause.
pub const MAX_REFERENCES_CONSIDERED: usize = 128;

/// 100 000 threads: a heavy user's year and a half of logged conversations, ~5 MB serialised.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// 400 days: replies to last year's conversations still match.
pub const DEFAULT_MAX_AGE_MS: i64 = 400 * 24 * 60 * 60 * 1000;

/// The serialisation format version written by [`ThreadTracker::to_bytes`].
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"MTTR";
const CHECKSUM_LEN: usize = 8;

// Hash namespaces: the same text as a Message-ID and as a Gmail thread id must not collide.
const NS_MESSAGE_ID: u8 = b'm';
const NS_PROVIDER_THREAD: u8 = b't';
const NS_DRAFT: u8 = b'd';
const NS_SUBJECT: u8 = b's';

/// Bounds of a [`ThreadTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct TrackerLimits {
    /// Most threads remembered; the least recently used are forgotten first. At least 1.
    pub capacity: usize,
    /// Threads neither logged nor touched for longer than this are forgotten.
    pub max_age_ms: i64,
}

impl Default for TrackerLimits {
    fn default() -> Self {
        TrackerLimits {
            capacity: DEFAULT_CAPACITY,
            max_age_ms: DEFAULT_MAX_AGE_MS,
        }
    }
}

impl TrackerLimits {
    fn sanitized(self) -> Self {
        TrackerLimits {
            capacity: self.capacity.max(1),
            max_age_ms: self.max_age_ms.max(0),
        }
    }
}

/// How a reply was matched to its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "kebab-case")]
pub enum MatchedBy {
    /// The reply's In-Reply-To names a message of the thread.
    InReplyTo,
    /// One of the reply's References names a message of the thread.
    References,
    /// Same provider thread id (Gmail thread, Outlook conversation) and same normalised subject.
    ProviderThread,
}

/// The thread an incoming message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ThreadMatch {
    /// The tracker's id for the thread (small integers: safe as JavaScript numbers).
    pub thread: u64,
    pub by: MatchedBy,
    /// When a message of this thread was last logged (ms).
    pub logged_at: i64,
}

/// Why saved state (thread tracker bytes, outbox snapshot) could not be loaded.
///
/// Shared by [`ThreadTracker::from_bytes`] and `Outbox::from_json`. Loading never panics and never
/// half-loads: on error the caller still has its input and can keep it for inspection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("saved {what} is empty or cut short")]
    Truncated { what: &'static str },
    #[error("saved data is not {what} (unrecognised header)")]
    WrongFormat { what: &'static str },
    #[error("saved {what} uses format version {found}; this version of Mailtrail reads version {supported}")]
    UnsupportedVersion {
        what: &'static str,
        found: u64,
        supported: u64,
    },
    #[error("saved {what} is corrupt: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

impl StateError {
    /// A stable machine-readable code, for JavaScript errors and logs.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Truncated { .. } => "state-truncated",
            StateError::WrongFormat { .. } => "state-wrong-format",
            StateError::UnsupportedVersion { .. } => "state-unsupported-version",
            StateError::Corrupt { .. } => "state-corrupt",
        }
    }
}

const WHAT: &str = "thread tracker state";

fn corrupt(detail: impl Into<String>) -> StateError {
    StateError::Corrupt {
        what: WHAT,
        detail: detail.into(),
    }
}

/// One remembered thread. Ids are hashes (see [`stable_hash`]). One allocation per thread:
/// loading 100 000 threads is dominated by allocations and hash-map inserts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Thread {
    /// Message-ID hashes first (`[..n_messages]`: `[0]` is the root, pinned; the rest oldest →
    /// newest), then provider thread id and draft id hashes (oldest → newest).
    ids: Vec<u64>,
    n_messages: u8,
    /// Hashes of normalised subjects, oldest → newest; unused slots are 0.
    subjects: [u32; MAX_SUBJECTS_PER_THREAD],
    n_subjects: u8,
    logged_at: i64,
    last_used: i64,
}

impl Thread {
    fn message_ids(&self) -> &[u64] {
        &self.ids[..usize::from(self.n_messages)]
    }

    fn handles(&self) -> &[u64] {
        &self.ids[usize::from(self.n_messages)..]
    }

    fn subjects(&self) -> &[u32] {
        &self.subjects[..usize::from(self.n_subjects)]
    }

    /// Adds a Message-ID hash as the newest (an id seen again becomes the newest: ids named by
    /// recent mail are the ones replies name); when over the cap, drops the oldest one after
    /// the root. Returns the dropped hash.
    fn add_message_id(&mut self, h: u64) -> Option<u64> {
        let end = usize::from(self.n_messages);
        if let Some(at) = self.message_ids().iter().position(|&x| x == h) {
            if at > 0 {
                self.ids[at..end].rotate_left(1);
            }
            return None;
        }
        self.ids.insert(end, h);
        self.n_messages += 1;
        if usize::from(self.n_messages) > MAX_MESSAGE_IDS_PER_THREAD {
            self.n_messages -= 1;
            return Some(self.ids.remove(1));
        }
        None
    }

    /// Adds a provider thread id or draft id hash; when over the cap, drops the oldest.
    fn add_handle(&mut self, h: u64) -> Option<u64> {
        if let Some(at) = self.handles().iter().position(|&x| x == h) {
            let start = usize::from(self.n_messages);
            self.ids[start + at..].rotate_left(1);
            return None;
        }
        self.ids.push(h);
        if self.handles().len() > MAX_HANDLES_PER_THREAD {
            return Some(self.ids.remove(usize::from(self.n_messages)));
        }
        None
    }

    fn add_subject(&mut self, subject: u32) {
        if self.subjects().contains(&subject) {
            return;
        }
        if usize::from(self.n_subjects) == MAX_SUBJECTS_PER_THREAD {
            self.subjects.copy_within(1.., 0);
            self.n_subjects -= 1;
        }
        self.subjects[usize::from(self.n_subjects)] = subject;
        self.n_subjects += 1;
    }

    fn holds(&self, h: u64) -> bool {
        self.ids.contains(&h)
    }
}

/// Hasher for the tracker's maps. Keys are SHA-256-derived or small sequential thread ids, so a
/// folded 128-bit multiply spreads them well at a fraction of SipHash's cost (it is most of the
/// reload time). Not flooding-resistant: the keys come from the user's own storage.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let product = u128::from(self.0) * 0x9E37_79B9_7F4A_7C15u128;
        (product as u64) ^ ((product >> 64) as u64)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 ^= value;
    }
}

type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// The id-hash → thread index: an open-addressing table with linear probing whose home slot is
/// the hash's top bits. The keys are SHA-256 output, already uniform, so nothing is rehashed, and
/// a key and its thread share a cache line. Reloading 100 000 threads inserts 400 000 ids: this
/// table does it in about half the time `HashMap` took in WebAssembly. Hash 0 marks an empty slot
/// ([`stable_hash`] never returns it). At most 80 % full.
#[derive(Debug, Clone, Default)]
struct IdIndex {
    slots: Vec<(u64, u64)>,
    len: usize,
    shift: u32,
}

const EMPTY: u64 = 0;

/// Sorts pairs by the top 16 bits of their key: two stable counting-sort passes of 8 bits
/// (least significant first), linear time.
fn sort_by_top_bits(pairs: &mut Vec<(u64, u64)>) {
    let mut buffer = vec![(EMPTY, 0); pairs.len()];
    for shift in [48u32, 56] {
        let digit = |key: u64| ((key >> shift) & 0xFF) as usize;
        let mut starts = [0usize; 256];
        for &(key, _) in pairs.iter() {
            starts[digit(key)] += 1;
        }
        let mut sum = 0;
        for start in starts.iter_mut() {
            let count = *start;
            *start = sum;
            sum += count;
        }
        for &pair in pairs.iter() {
            let d = digit(pair.0);
            buffer[starts[d]] = pair;
            starts[d] += 1;
        }
        std::mem::swap(pairs, &mut buffer);
    }
}

impl IdIndex {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Builds the index from (id hash, thread) pairs, inserting them in order of their home slot
    /// so that memory is written front to back instead of at random (most of the reload time
    /// otherwise). Fails with the first key found twice.
    fn from_pairs(mut pairs: Vec<(u64, u64)>) -> Result<Self, u64> {
        sort_by_top_bits(&mut pairs);
        let mut index = IdIndex::default();
        index.reserve(pairs.len());
        for (key, thread) in pairs {
            if index.insert(key, thread).is_some() {
                return Err(key);
            }
        }
        Ok(index)
    }

    fn slots_for(entries: usize) -> usize {
        (entries.saturating_mul(5) / 4 + 1)
            .next_power_of_two()
            .max(16)
    }

    fn reserve(&mut self, additional: usize) {
        let wanted = Self::slots_for(self.len.saturating_add(additional));
        if wanted > self.slots.len() {
            self.rehash(wanted);
        }
    }

    fn rehash(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![(EMPTY, 0); slots]);
        self.shift = 64 - slots.trailing_zeros();
        self.len = 0;
        for (key, thread) in old {
            if key != EMPTY {
                self.insert(key, thread);
            }
        }
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, key: u64) -> usize {
        (key >> self.shift) as usize
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: u64) -> (usize, bool) {
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            match self.slots[i].0 {
                k if k == key => return (i, true),
                EMPTY => return (i, false),
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn get(&self, key: &u64) -> Option<&u64> {
        if self.slots.is_empty() || *key == EMPTY {
            return None;
        }
        match self.find(*key) {
            (i, true) => Some(&self.slots[i].1),
            _ => None,
        }
    }

    /// Inserts or replaces; returns the previous thread. `key` must not be [`EMPTY`].
    fn insert(&mut self, key: u64, thread: u64) -> Option<u64> {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.rehash(Self::slots_for(self.len + 1).max(self.slots.len() * 2));
        }
        let (i, found) = self.find(key);
        let previous = std::mem::replace(&mut self.slots[i], (key, thread));
        if found {
            return Some(previous.1);
        }
        self.len += 1;
        None
    }

    /// Removes `key`, shifting later entries of its probe run back so lookups never stop early.
    fn remove(&mut self, key: &u64) -> Option<u64> {
        if self.slots.is_empty() || *key == EMPTY {
            return None;
        }
        let (mut hole, true) = self.find(*key) else {
            return None;
        };
        let removed = self.slots[hole].1;
        let mask = self.mask();
        let mut j = (hole + 1) & mask;
        while self.slots[j].0 != EMPTY {
            let home = self.home(self.slots[j].0);
            // The entry at j may move to the hole when the hole lies between its home and j.
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = (EMPTY, 0);
        self.len -= 1;
        Some(removed)
    }
}

/// Remembers logged threads. See the module documentation.
#[derive(Debug, Clone)]
pub struct ThreadTracker {
    limits: TrackerLimits,
    threads: KeyMap<Thread>,
    /// Every id hash → the thread holding it (each hash is in exactly one thread).
    index: IdIndex,
    /// (last_used, thread): the first element is the least recently used.
    lru: BTreeSet<(i64, u64)>,
    next_thread: u64,
    revision: u64,
}

impl PartialEq for ThreadTracker {
    /// Same limits, same threads with the same ids and times. The revision counter is not state.
    fn eq(&self, other: &Self) -> bool {
        self.limits == other.limits
            && self.next_thread == other.next_thread
            && self.threads == other.threads
    }
}

impl Default for ThreadTracker {
    fn default() -> Self {
        ThreadTracker::new(TrackerLimits::default())
    }
}

/// The hashed identifiers of one email, in the order they are added to a thread.
struct EmailKeys {
    /// Oldest → newest: the References root, the newest References, In-Reply-To, Message-ID
    /// (at most [`MAX_MESSAGE_IDS_PER_THREAD`]): the ids added to the thread.
    message_ids: Vec<u64>,
    /// Older References entries: only used to find the thread.
    lookup_only: Vec<u64>,
    handles: Vec<u64>,
    subject: u32,
}

impl EmailKeys {
    fn of(email: &Email) -> Self {
        let in_order: Vec<u64> = considered_references(&email.references)
            .chain(email.in_reply_to.iter().take(MAX_REFERENCES_CONSIDERED))
            .chain(email.message_id.iter())
            .map(|id| stable_hash(NS_MESSAGE_ID, id))
            .collect();
        // An id named twice counts where it was named last (its newest mention): the email's
        // own Message-ID, last in the list, is always kept.
        let mut message_ids: Vec<u64> = Vec::with_capacity(in_order.len());
        for &h in in_order.iter().rev() {
            if !message_ids.contains(&h) {
                message_ids.push(h);
            }
        }
        message_ids.reverse();
        // Every considered id is looked up (to find the thread), but only the root and the
        // newest ids are added: older ones would be dropped again at once.
        let lookup_only = if message_ids.len() > MAX_MESSAGE_IDS_PER_THREAD {
            message_ids
                .drain(1..message_ids.len() - (MAX_MESSAGE_IDS_PER_THREAD - 1))
                .collect()
        } else {
            Vec::new()
        };
        let mut handles = Vec::new();
        if let Some(t) = non_blank(email.thread_id.as_deref()) {
            handles.push(stable_hash(NS_PROVIDER_THREAD, t));
        }
        if let Some(d) = non_blank(email.draft_id.as_deref()) {
            handles.push(stable_hash(NS_DRAFT, d));
        }
        EmailKeys {
            message_ids,
            lookup_only,
            handles,
            subject: subject_hash(&email.subject),
        }
    }

    fn all(&self) -> impl Iterator<Item = u64> + '_ {
        self.message_ids
            .iter()
            .chain(&self.lookup_only)
            .chain(&self.handles)
            .copied()
    }
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The first References entry (the thread root) and the newest ones, oldest → newest.
fn considered_references(references: &[String]) -> impl Iterator<Item = &String> {
    let skip_from = if references.len() > MAX_REFERENCES_CONSIDERED {
        references.len() - (MAX_REFERENCES_CONSIDERED - 1)
    } else {
        1
    };
    references
        .iter()
        .take(1)
        .chain(references.iter().skip(skip_from))
}

/// The 64-bit hash identifiers are stored as: the first 8 bytes (little-endian) of
/// SHA-256(namespace byte ‖ UTF-8 text). Identical on every platform; part of the format.
fn stable_hash(namespace: u8, text: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update([namespace])
        .chain_update(text.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 0 marks an empty slot in the index; one hash in 2^64 is moved to 1.
    u64::from_le_bytes(first).max(1)
}

/// Subjects are only compared inside one provider thread, so 32 bits are plenty.
fn subject_hash(subject: &str) -> u32 {
    (stable_hash(NS_SUBJECT, &normalize_subject(subject)) & 0xFFFF_FFFF) as u32
}

impl ThreadTracker {
    /// An empty tracker. A capacity of 0 is raised to 1, a negative age to 0.
    pub fn new(limits: TrackerLimits) -> Self {
        ThreadTracker {
            limits: limits.sanitized(),
            threads: KeyMap::default(),
            index: IdIndex::default(),
            lru: BTreeSet::new(),
            next_thread: 1,
            revision: 0,
        }
    }

    pub fn limits(&self) -> TrackerLimits {
        self.limits
    }

    /// Changes the limits (e.g. after a settings change; the limits are also saved with the
    /// state). Evicts least-recently-used threads if the new capacity is smaller; age is applied
    /// at the next [`track`](Self::track) or [`evict_expired`](Self::evict_expired).
    /// Returns how many threads were evicted.
    pub fn set_limits(&mut self, limits: TrackerLimits) -> usize {
        let limits = limits.sanitized();
        if limits != self.limits {
            self.limits = limits;
            self.revision += 1;
        }
        self.evict_over_capacity(None)
    }

    /// Counts mutations since this value was created or loaded: an edge can skip writing the
    /// state back when it has not changed.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Records that `email` was logged, or attaches ids learnt later (Gmail's Message-ID after
    /// send, found by the draft id): merges into the thread that already knows any of its ids
    /// (Message-ID, In-Reply-To, References, provider thread id, draft id), else creates one.
    /// When the email links several known threads they become one (the oldest id survives).
    /// Returns the thread's id.
    pub fn track(&mut self, email: &Email, now_ms: i64) -> u64 {
        let keys = EmailKeys::of(email);
        let mut found: Vec<u64> = keys
            .all()
            .filter_map(|h| self.index.get(&h).copied())
            .collect();
        found.sort_unstable();
        found.dedup();

        let thread_id = match found.first() {
            Some(&first) => first,
            None => {
                let id = self.next_thread;
                self.next_thread += 1;
                self.threads.insert(
                    id,
                    Thread {
                        logged_at: now_ms,
                        last_used: now_ms,
                        ..Thread::default()
                    },
                );
                self.lru.insert((now_ms, id));
                id
            }
        };
        for &other in found.iter().skip(1) {
            self.merge_into(thread_id, other);
        }
        self.add_keys(thread_id, &keys);
        if let Some(thread) = self.threads.get_mut(&thread_id) {
            thread.logged_at = thread.logged_at.max(now_ms);
        }
        self.set_last_used(thread_id, now_ms);
        self.revision += 1;
        self.evict_expired(now_ms);
        self.evict_over_capacity(Some(thread_id));
        thread_id
    }

    /// Finds the logged thread an incoming message belongs to: by In-Reply-To first, then by
    /// References (newest first), then by provider thread id — only when the normalised subject
    /// also matches, because Gmail and Outlook keep a reply whose subject was changed in the same
    /// conversation while the person has changed topic. Pure lookup: call
    /// [`touch`](Self::touch) when the match is used.
    pub fn match_reply(&self, email: &Email) -> Option<ThreadMatch> {
        let found = |thread: u64, by: MatchedBy| {
            self.threads.get(&thread).map(|t| ThreadMatch {
                thread,
                by,
                logged_at: t.logged_at,
            })
        };
        for id in email.in_reply_to.iter().take(MAX_REFERENCES_CONSIDERED) {
            if let Some(&t) = self.index.get(&stable_hash(NS_MESSAGE_ID, id)) {
                return found(t, MatchedBy::InReplyTo);
            }
        }
        let refs = &email.references;
        let newest_first = refs.iter().rev().take(MAX_REFERENCES_CONSIDERED - 1);
        let root = refs
            .first()
            .filter(|_| refs.len() >= MAX_REFERENCES_CONSIDERED);
        for id in newest_first.chain(root) {
            if let Some(&t) = self.index.get(&stable_hash(NS_MESSAGE_ID, id)) {
                return found(t, MatchedBy::References);
            }
        }
        let provider = non_blank(email.thread_id.as_deref())?;
        let &t = self.index.get(&stable_hash(NS_PROVIDER_THREAD, provider))?;
        let thread = self.threads.get(&t)?;
        if thread.subjects().contains(&subject_hash(&email.subject)) {
            return found(t, MatchedBy::ProviderThread);
        }
        None
    }

    /// [`match_reply`](Self::match_reply) as of `now_ms`: a thread past the age limit no longer
    /// matches, whether or not something has evicted it yet (eviction runs when a thread is
    /// tracked or the state compacted, which for a quiet mailbox may be a long time).
    pub fn match_reply_at(&self, email: &Email, now_ms: i64) -> Option<ThreadMatch> {
        let found = self.match_reply(email)?;
        let thread = self.threads.get(&found.thread)?;
        (thread.last_used >= now_ms.saturating_sub(self.limits.max_age_ms)).then_some(found)
    }

    /// The thread that knows this Message-ID, if any.
    pub fn thread_of_message_id(&self, message_id: &str) -> Option<u64> {
        self.index
            .get(&stable_hash(NS_MESSAGE_ID, message_id))
            .copied()
    }

    /// When the thread was last logged (ms), if it is remembered.
    pub fn logged_at(&self, thread: u64) -> Option<i64> {
        self.threads.get(&thread).map(|t| t.logged_at)
    }

    /// Marks the thread as used now (a matched reply), so that it is evicted last.
    pub fn touch(&mut self, thread: u64, now_ms: i64) {
        if self.threads.contains_key(&thread) && self.set_last_used(thread, now_ms) {
            self.revision += 1;
        }
    }

    /// Withdraws an email whose logging was called off (Undo Send, a record discarded): forgets
    /// the thread it started, so replies to an email that was never logged are not logged
    /// either. A thread holding ids of other emails (the email was a reply in a conversation
    /// logged before) is kept: that conversation is still logged. Returns whether a thread was
    /// forgotten.
    pub fn withdraw(&mut self, email: &Email) -> bool {
        let keys = EmailKeys::of(email);
        let Some(thread) = keys.all().find_map(|h| self.index.get(&h).copied()) else {
            return false;
        };
        let Some(t) = self.threads.get(&thread) else {
            return false;
        };
        let own = |h: &u64| {
            keys.message_ids.contains(h) || keys.lookup_only.contains(h) || keys.handles.contains(h)
        };
        t.ids.iter().all(own) && self.forget(thread)
    }

    /// Forgets a thread and all its ids. Returns whether it was known.
    pub fn forget(&mut self, thread: u64) -> bool {
        let removed = self.remove_thread(thread).is_some();
        if removed {
            self.revision += 1;
        }
        removed
    }

    pub fn len(&self) -> usize {
        self.threads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    pub fn contains(&self, thread: u64) -> bool {
        self.threads.contains_key(&thread)
    }

    /// Forgets threads not logged or touched within `max_age_ms` of `now_ms`. Returns how many.
    pub fn evict_expired(&mut self, now_ms: i64) -> usize {
        let oldest_kept = now_ms.saturating_sub(self.limits.max_age_ms);
        let mut evicted = 0;
        while let Some(&(last_used, thread)) = self.lru.first() {
            if last_used >= oldest_kept {
                break;
            }
            self.remove_thread(thread);
            evicted += 1;
        }
        if evicted > 0 {
            self.revision += 1;
        }
        evicted
    }

    fn evict_over_capacity(&mut self, keep: Option<u64>) -> usize {
        let mut evicted = 0;
        while self.threads.len() > self.limits.capacity {
            let victim = self.lru.iter().map(|&(_, t)| t).find(|&t| Some(t) != keep);
            let Some(victim) = victim else { break };
            self.remove_thread(victim);
            evicted += 1;
        }
        if evicted > 0 {
            self.revision += 1;
        }
        evicted
    }

    /// Moves `thread` to `now_ms` in the LRU order (never backwards). Returns whether it moved.
    fn set_last_used(&mut self, thread: u64, now_ms: i64) -> bool {
        let Some(t) = self.threads.get_mut(&thread) else {
            return false;
        };
        if now_ms <= t.last_used {
            return false;
        }
        self.lru.remove(&(t.last_used, thread));
        t.last_used = now_ms;
        self.lru.insert((now_ms, thread));
        true
    }

    fn remove_thread(&mut self, thread: u64) -> Option<Thread> {
        let t = self.threads.remove(&thread)?;
        self.lru.remove(&(t.last_used, thread));
        for h in &t.ids {
            if self.index.get(h) == Some(&thread) {
                self.index.remove(h);
            }
        }
        Some(t)
    }

    fn merge_into(&mut self, survivor: u64, other: u64) {
        let Some(o) = self.remove_thread(other) else {
            return;
        };
        let keys = EmailKeys {
            message_ids: o.message_ids().to_vec(),
            lookup_only: Vec::new(),
            handles: o.handles().to_vec(),
            subject: 0,
        };
        self.add_keys_without_subject(survivor, &keys);
        if let Some(s) = self.threads.get_mut(&survivor) {
            for &subject in o.subjects() {
                s.add_subject(subject);
            }
            s.logged_at = s.logged_at.max(o.logged_at);
        }
        self.set_last_used(survivor, o.last_used);
    }

    fn add_keys(&mut self, thread: u64, keys: &EmailKeys) {
        self.add_keys_without_subject(thread, keys);
        if let Some(t) = self.threads.get_mut(&thread) {
            t.add_subject(keys.subject);
        }
    }

    fn add_keys_without_subject(&mut self, thread: u64, keys: &EmailKeys) {
        let Some(t) = self.threads.get_mut(&thread) else {
            return;
        };
        let mut dropped = Vec::new();
        for &h in &keys.message_ids {
            dropped.extend(t.add_message_id(h));
            self.index.insert(h, thread);
        }
        for &h in &keys.handles {
            dropped.extend(t.add_handle(h));
            self.index.insert(h, thread);
        }
        // An id dropped and then added again in the same call is still in the thread.
        for h in dropped {
            if t.holds(h) {
                continue;
            }
            if self.index.get(&h) == Some(&thread) {
                self.index.remove(&h);
            }
        }
    }

    /// Serialises the tracker (format in docs/threads-and-outbox.md). Deterministic: the same
    /// state always gives the same bytes, on every platform.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Threads are written least recently used first: the times are then small increasing
        // deltas, and the LRU order is rebuilt on load without sorting.
        let base = self.lru.first().map(|&(t, _)| t).unwrap_or(0);
        let mut out = Vec::with_capacity(32 + self.threads.len() * 52);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        put_varint(&mut out, self.limits.capacity as u64);
        put_varint(&mut out, zigzag(self.limits.max_age_ms));
        put_varint(&mut out, self.next_thread);
        put_varint(&mut out, zigzag(base));
        put_varint(&mut out, self.lru.len() as u64);
        let mut previous = base;
        for &(last_used, id) in &self.lru {
            let Some(t) = self.threads.get(&id) else {
                continue;
            };
            put_varint(&mut out, id);
            // Non-negative: the LRU set is ordered by time.
            put_varint(&mut out, last_used.wrapping_sub(previous) as u64);
            previous = last_used;
            put_varint(&mut out, zigzag(t.last_used.wrapping_sub(t.logged_at)));
            put_varint(&mut out, t.message_ids().len() as u64);
            put_varint(&mut out, t.handles().len() as u64);
            put_varint(&mut out, t.subjects().len() as u64);
            for h in &t.ids {
                out.extend_from_slice(&h.to_le_bytes());
            }
            for s in t.subjects() {
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Loads what [`to_bytes`](Self::to_bytes) wrote. Refuses, with a clear error and without
    /// panicking, input that is empty, cut short, of another format or version, or corrupt.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        if bytes.len() < MAGIC.len() {
            return Err(StateError::Truncated { what: WHAT });
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(StateError::WrongFormat { what: WHAT });
        }
        let Some(&version) = bytes.get(MAGIC.len()) else {
            return Err(StateError::Truncated { what: WHAT });
        };
        if version != FORMAT_VERSION {
            return Err(StateError::UnsupportedVersion {
                what: WHAT,
                found: version.into(),
                supported: FORMAT_VERSION.into(),
            });
        }
        if bytes.len() < MAGIC.len() + 1 + CHECKSUM_LEN {
            return Err(StateError::Truncated { what: WHAT });
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let mut stored = [0u8; CHECKSUM_LEN];
        stored.copy_from_slice(sum);
        if u64::from_le_bytes(stored) != checksum(body) {
            return Err(corrupt(
                "checksum mismatch (the data was cut short or altered)",
            ));
        }
        decode_body(Reader {
            bytes: body,
            pos: MAGIC.len() + 1,
        })
    }
}

fn decode_body(mut r: Reader<'_>) -> Result<ThreadTracker, StateError> {
    let capacity = usize::try_from(r.varint()?).map_err(|_| corrupt("capacity out of range"))?;
    if capacity == 0 {
        return Err(corrupt("capacity is 0"));
    }
    let max_age_ms = unzigzag(r.varint()?);
    let next_thread = r.varint()?;
    let base = unzigzag(r.varint()?);
    let count = r.varint()?;
    // Never trust a count for allocation: a thread takes at least 7 bytes.
    let plausible = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(r.remaining() / 7);
    let mut tracker = ThreadTracker::new(TrackerLimits {
        capacity,
        max_age_ms,
    });
    tracker.next_thread = next_thread;
    tracker.threads.reserve(plausible);
    let mut ids = Vec::with_capacity(plausible.saturating_mul(4));
    let mut lru = Vec::with_capacity(plausible);
    let mut previous: Option<(i64, u64)> = None;
    let mut highest_id = 0u64;
    for _ in 0..count {
        let id = r.varint()?;
        let delta = r.varint()?;
        let last_used = previous
            .map_or(base, |(t, _)| t)
            .checked_add_unsigned(delta)
            .ok_or_else(|| corrupt("time out of range"))?;
        if previous.is_some_and(|p| p >= (last_used, id)) {
            return Err(corrupt("threads are not in least-recently-used order"));
        }
        previous = Some((last_used, id));
        highest_id = highest_id.max(id);
        let logged_at = last_used
            .checked_sub(unzigzag(r.varint()?))
            .ok_or_else(|| corrupt("time out of range"))?;
        let n_messages = r.count(MAX_MESSAGE_IDS_PER_THREAD, "message ids")?;
        let n_handles = r.count(MAX_HANDLES_PER_THREAD, "thread handles")?;
        let n_subjects = r.count(MAX_SUBJECTS_PER_THREAD, "subjects")?;
        let mut thread = Thread {
            ids: Vec::with_capacity(n_messages + n_handles),
            // Bounded by MAX_MESSAGE_IDS_PER_THREAD (checked by `count`).
            n_messages: n_messages as u8,
            subjects: [0; MAX_SUBJECTS_PER_THREAD],
            n_subjects: n_subjects as u8,
            logged_at,
            last_used,
        };
        for _ in 0..n_messages + n_handles {
            let h = r.u64_le()?;
            if h == EMPTY {
                return Err(corrupt("an id hash is 0"));
            }
            ids.push((h, id));
            thread.ids.push(h);
        }
        for slot in thread.subjects.iter_mut().take(n_subjects) {
            *slot = r.u32_le()?;
        }
        if thread
            .subjects()
            .iter()
            .enumerate()
            .any(|(i, s)| thread.subjects()[..i].contains(s))
        {
            return Err(corrupt("a thread lists the same subject twice"));
        }
        if tracker.threads.insert(id, thread).is_some() {
            return Err(corrupt(format!("thread {id} appears twice")));
        }
        lru.push((last_used, id));
    }
    if r.remaining() != 0 {
        return Err(corrupt("unexpected bytes after the last thread"));
    }
    if count > 0 && highest_id >= next_thread {
        return Err(corrupt("next thread id is not above the existing ones"));
    }
    tracker.index =
        IdIndex::from_pairs(ids).map_err(|_| corrupt("an id belongs to two threads"))?;
    // Already sorted (checked above): the set is built in one pass.
    tracker.lru = lru.into_iter().collect();
    tracker.evict_over_capacity(None);
    tracker.revision = 0;
    Ok(tracker)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        let end = self
            .pos
            .checked_add(N)
            .ok_or(StateError::Truncated { what: WHAT })?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| corrupt("a thread is cut short"))?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        self.pos = end;
        Ok(out)
    }

    fn u64_le(&mut self) -> Result<u64, StateError> {
        self.take::<8>().map(u64::from_le_bytes)
    }

    fn u32_le(&mut self) -> Result<u32, StateError> {
        self.take::<4>().map(u32::from_le_bytes)
    }

    /// LEB128 unsigned varint, at most 10 bytes, no overflow.
    fn varint(&mut self) -> Result<u64, StateError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(corrupt("a number is cut short"));
            };
            self.pos += 1;
            let bits = u64::from(byte & 0x7F);
            if shift == 63 && bits > 1 {
                return Err(corrupt("a number overflows 64 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("a number overflows 64 bits"))
    }

    fn count(&mut self, max: usize, what: &str) -> Result<usize, StateError> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| corrupt(format!("a thread has {n} {what} (at most {max} are kept)")))
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

const CHECKSUM_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const CHECKSUM_MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// Catches truncation and bit rot in storage, eight bytes per step (a byte-at-a-time hash was a
/// sixth of the reload time). Starting from `SEED ^ len·K`, each little-endian 64-bit word `w`
/// (the last one zero-padded) does `h = rotl((h ^ w)·K, 31)`; the result is `h ^ (h >> 29)`.
/// Each step is a bijection of `h` for a given word, so any change confined to one word is
/// always detected. Not a defence against tampering: whoever can write the extension's
/// storage can do worse.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h = CHECKSUM_SEED ^ (bytes.len() as u64).wrapping_mul(CHECKSUM_MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    let mut step = |word: u64| {
        h = (h ^ word).wrapping_mul(CHECKSUM_MULTIPLIER).rotate_left(31);
    };
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        step(u64::from_le_bytes(word));
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        step(u64::from_le_bytes(word));
    }
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip_at_the_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut r = Reader {
                bytes: &buf,
                pos: 0,
            };
            assert_eq!(r.varint(), Ok(v));
            assert_eq!(r.remaining(), 0);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -1_772_500_500_000] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // 11 continuation bytes, and a 10th byte carrying more than the 64th bit.
        let mut r = Reader {
            bytes: &[0xFF; 11],
            pos: 0,
        };
        assert!(r.varint().is_err());
        let mut too_big = vec![0xFF; 9];
        too_big.push(0x02);
        let mut r = Reader {
            bytes: &too_big,
            pos: 0,
        };
        assert!(r.varint().is_err());
    }

    /// The hash is part of the persisted format: if this changes, saved trackers stop matching.
    /// Expected values: the first 8 bytes of SHA-256("m" ‖ id), computed independently
    /// (`printf 'mabc@example.com' | sha256sum`).
    #[test]
    fn stable_hash_is_pinned() {
        assert_eq!(
            stable_hash(NS_MESSAGE_ID, "abc@example.com").to_le_bytes(),
            PINNED_ABC
        );
    }
    const PINNED_ABC: [u8; 8] = [0x6d, 0x29, 0xbe, 0x5d, 0x96, 0xd3, 0x82, 0x8d];

    #[test]
    fn checksum_sees_length_padding_and_every_bit() {
        // Zero padding of the last word must not make "a" and "a\0" equal.
        assert_ne!(checksum(b"a"), checksum(b"a\0"));
        assert_ne!(checksum(b""), checksum(&[0; 8]));
        let data: Vec<u8> = (0..100u8).collect();
        let sum = checksum(&data);
        for i in 0..data.len() {
            for bit in 0..8 {
                let mut flipped = data.clone();
                flipped[i] ^= 1 << bit;
                assert_ne!(checksum(&flipped), sum, "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn thread_caps_keep_the_root_and_the_newest() {
        let mut t = Thread::default();
        let mut dropped = Vec::new();
        for i in 0..100u64 {
            dropped.extend(t.add_message_id(i));
            dropped.extend(t.add_handle(1000 + i));
            t.add_subject(i as u32);
        }
        let expected: Vec<u64> = std::iter::once(0).chain(100 - 31..100).collect();
        assert_eq!(t.message_ids(), &expected[..]);
        assert_eq!(t.handles(), &(1092..1100).collect::<Vec<u64>>()[..]);
        assert_eq!(t.subjects(), &[96, 97, 98, 99]);
        assert_eq!(dropped.len(), (100 - 32) + (100 - 8));
        assert_eq!(t.add_message_id(0), None, "already there");
        assert_eq!(t.add_handle(1099), None);
        // Seen again: becomes the newest, so the next drop takes another one.
        assert_eq!(t.add_message_id(69), None);
        assert_eq!(t.add_message_id(500), Some(70));
        assert_eq!(t.message_ids().last(), Some(&500));
        assert_eq!(t.message_ids()[t.message_ids().len() - 2], 69);
        assert_eq!(t.add_handle(1092), None);
        assert_eq!(t.add_handle(2000), Some(1093));
        assert_eq!(t.handles().last(), Some(&2000));
        t.add_subject(98);
        assert_eq!(t.subjects(), &[96, 97, 98, 99]);
    }

    #[test]
    fn id_index_agrees_with_a_hash_map() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut index = IdIndex::default();
        let mut model = HashMap::new();
        for step in 0..50_000u64 {
            // Keys crowded into a few home slots (and the last slot, to wrap around), so that
            // probe runs are long and removals have to shift entries back.
            let key = match next() % 3 {
                0 => (next() % 64).max(1),
                1 => u64::MAX - next() % 64,
                _ => next().max(1),
            };
            if next() % 3 == 0 {
                assert_eq!(index.remove(&key), model.remove(&key), "step {step}");
            } else {
                assert_eq!(
                    index.insert(key, step),
                    model.insert(key, step),
                    "step {step}"
                );
            }
            assert_eq!(index.len(), model.len());
            if step % 1_000 == 0 {
                for (k, v) in &model {
                    assert_eq!(index.get(k), Some(v));
                }
            }
        }
        for (k, v) in &model {
            assert_eq!(index.get(k), Some(v));
        }
        assert_eq!(index.get(&EMPTY), None);
        assert_eq!(index.remove(&EMPTY), None);
        assert!(index.len() * 5 <= index.slots.len() * 4);
    }

    #[test]
    fn bulk_loading_the_index_sorts_by_home_and_refuses_duplicates() {
        let mut pairs: Vec<(u64, u64)> = (1..=5_000u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, i))
            .collect();
        let mut sorted = pairs.clone();
        sort_by_top_bits(&mut sorted);
        assert!(sorted.windows(2).all(|w| w[0].0 >> 48 <= w[1].0 >> 48));
        let index = IdIndex::from_pairs(pairs.clone()).unwrap();
        assert_eq!(index.len(), 5_000);
        for (k, v) in &pairs {
            assert_eq!(index.get(k), Some(v));
        }
        pairs.push((pairs[10].0, 99_999));
        assert_eq!(
            IdIndex::from_pairs(pairs.clone()).map(|i| i.len()),
            Err(pairs[10].0)
        );
    }

    /// The index, the LRU set and the threads always agree, whatever sequence of calls.
    fn assert_consistent(t: &ThreadTracker) {
        let mut expected_index = HashMap::new();
        for (&id, thread) in &t.threads {
            assert!(id < t.next_thread);
            assert!(
                t.lru.contains(&(thread.last_used, id)),
                "thread {id} missing from the LRU set"
            );
            assert!(thread.message_ids().len() <= MAX_MESSAGE_IDS_PER_THREAD);
            assert!(thread.handles().len() <= MAX_HANDLES_PER_THREAD);
            for &h in &thread.ids {
                assert_eq!(expected_index.insert(h, id), None, "id in two threads");
            }
        }
        assert_eq!(t.lru.len(), t.threads.len());
        assert_eq!(t.index.len(), expected_index.len());
        for (h, id) in expected_index {
            assert_eq!(t.index.get(&h), Some(&id));
        }
        assert!(t.threads.len() <= t.limits.capacity);
        let reloaded = ThreadTracker::from_bytes(&t.to_bytes()).expect("own output loads");
        assert_eq!(&reloaded, t);
    }

    #[test]
    fn random_histories_keep_index_lru_and_threads_consistent() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..20 {
            let limits = TrackerLimits {
                capacity: 1 + next(40) as usize,
                max_age_ms: 50 + next(500) as i64,
            };
            let mut t = ThreadTracker::new(limits);
            let mut now = 1_000i64;
            for step in 0..400 {
                now += next(20) as i64;
                let id = |n: u64| format!("m{n}@x");
                match next(10) {
                    0..=5 => {
                        // Small id space so that emails often link existing threads.
                        let refs: Vec<String> = (0..next(40)).map(|_| id(next(200))).collect();
                        let email = Email {
                            message_id: Some(id(next(200))),
                            in_reply_to: (0..next(2)).map(|_| id(next(200))).collect(),
                            references: refs,
                            thread_id: (next(3) == 0).then(|| format!("t{}", next(30))),
                            draft_id: (next(4) == 0).then(|| format!("d{}", next(30))),
                            subject: format!("Re: topic {}", next(6)),
                            ..Email::default()
                        };
                        let thread = t.track(&email, now);
                        assert!(t.contains(thread), "round {round} step {step}");
                        assert_eq!(
                            t.thread_of_message_id(email.message_id.as_deref().unwrap_or("")),
                            Some(thread)
                        );
                    }
                    6 => t.touch(next(t.next_thread + 1), now),
                    7 => {
                        t.forget(next(t.next_thread + 1));
                    }
                    8 => {
                        t.evict_expired(now);
                    }
                    _ => {
                        let limits = TrackerLimits {
                            capacity: 1 + next(40) as usize,
                            ..t.limits()
                        };
                        t.set_limits(limits);
                    }
                }
                assert_consistent(&t);
            }
        }
    }

    #[test]
    fn considered_references_keep_root_and_newest() {
        let refs: Vec<String> = (0..500).map(|i| format!("r{i}@x")).collect();
        let got: Vec<&String> = considered_references(&refs).collect();
        assert_eq!(got.len(), MAX_REFERENCES_CONSIDERED);
        assert_eq!(got[0], "r0@x");
        assert_eq!(
            got[1],
            &format!("r{}@x", 500 - (MAX_REFERENCES_CONSIDERED - 1))
        );
        assert_eq!(got.last().map(|s| s.as_str()), Some("r499@x"));
        let short: Vec<String> = vec!["a@x".into(), "b@x".into()];
        assert_eq!(considered_references(&short).count(), 2);
    }
}
