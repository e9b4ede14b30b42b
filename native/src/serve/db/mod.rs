//! Storage for the local endpoint: SQLite (default) or PostgreSQL (teams, several instances).
//!
//! The two backends share one body of code (`backend.rs`), compiled twice with different sqlx
//! types, so every query and every invariant is written once. Where the SQL dialects differ the
//! code branches on `IS_SQLITE`; both accept `$N` placeholders.
//!
//! Writes of records go through writers that take whatever requests are waiting and store them
//! in one transaction: one fsync for many records. SQLite has one synchronous writer thread
//! (`sqlite_writer.rs`) whose WAL is synced by a second thread while the next batch is written;
//! PostgreSQL has one sqlx writer per process (`backend.rs`). Deduplication does not depend on
//! them: it is enforced by unique constraints (`ON CONFLICT DO NOTHING`), so concurrent
//! duplicates and several instances sharing a PostgreSQL database are safe too.

use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// One embedded schema migration.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

const SQLITE_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/sqlite/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "draft_id",
        sql: include_str!("migrations/sqlite/0002_draft_id.sql"),
    },
    Migration {
        version: 3,
        name: "relay",
        sql: include_str!("migrations/sqlite/0003_relay.sql"),
    },
];
const POSTGRES_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/postgres/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "draft_id",
        sql: include_str!("migrations/postgres/0002_draft_id.sql"),
    },
    Migration {
        version: 3,
        name: "relay",
        sql: include_str!("migrations/postgres/0003_relay.sql"),
    },
];

mod batch;
mod sqlite_writer;

/// Records stored per writer transaction, at most.
const MAX_BATCH: usize = 256;
/// Attachment bytes per writer transaction, at most (a batch always takes at least one record).
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The end of the contacts upsert: a name given later fills a contact created without one.
const CONTACT_UPSERT_TAIL: &str =
    " ON CONFLICT (address) DO UPDATE SET name = excluded.name, search = excluded.search, \
     sort_key = excluded.sort_key, updated_at = excluded.updated_at \
     WHERE contacts.name IS NULL AND excluded.name IS NOT NULL";
const INSERT_BLOB: &str =
    "INSERT INTO blobs (sha256, size, data, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING";
const INSERT_RECORD_BLOB: &str =
    "INSERT INTO record_blobs (record_id, sha256) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const CONTACT_COLUMNS: &str = "id, address, name, created_at, updated_at";
const RECORD_COLUMNS: &str = "id, idempotency_key, thread_key, received_at, body";
const VANISHED: &str =
    "a conflicting record vanished during the insert (deleted concurrently); retry";

macro_rules! define_backend {
    ($name:ident, $db:ty, $conn:ty, $opts:ty, $is_sqlite:expr, $begin:expr, $migrations:expr) => {
        pub mod $name {
            #[allow(unused_imports)]
            use super::*;
            pub type Db = $db;
            pub type Conn = $conn;
            pub type Options = $opts;
            const IS_SQLITE: bool = $is_sqlite;
            /// Starts a write transaction. SQLite: take the write lock now, so a transaction
            /// that read first never fails to upgrade.
            const BEGIN_WRITE: &str = $begin;
            const MIGRATIONS: &[Migration] = $migrations;
            include!("backend.rs");
            include!("relay.rs");
        }
    };
}

define_backend!(
    sqlite,
    sqlx::Sqlite,
    sqlx::SqliteConnection,
    sqlx::sqlite::SqliteConnectOptions,
    true,
    "BEGIN IMMEDIATE",
    SQLITE_MIGRATIONS
);
define_backend!(
    postgres,
    sqlx::Postgres,
    sqlx::PgConnection,
    sqlx::postgres::PgConnectOptions,
    false,
    "BEGIN",
    POSTGRES_MIGRATIONS
);

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A unique value (contact address) is already taken; carries the existing row's id.
    #[error("already exists")]
    Conflict(i64),
    /// The SQLite record writer's database error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Something the writer relies on did not hold (e.g. a conflicting record was deleted
    /// during the insert); retrying is safe.
    #[error("{0}")]
    Inconsistent(&'static str),
    /// The disk did not confirm a write (fsync failed): the server must be restarted.
    #[error("the disk failed to store the data ({0}); restart the server")]
    NotDurable(String),
    /// The writer task has stopped (shutting down).
    #[error("the server is shutting down")]
    Closed,
}

impl StoreError {
    /// The database refused a value of the request (PostgreSQL's data exceptions, class 22,
    /// and program limits, class 54, such as an index entry too long; SQLite's string or blob
    /// too big, datatype mismatch): sending the same request again fails the same way, so it is
    /// not answered like a database that is down.
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => {
                let code = e.code().unwrap_or_default();
                if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    code.starts_with("22") || code.starts_with("54")
                } else {
                    // SQLite's primary result codes: SQLITE_TOOBIG 18, SQLITE_MISMATCH 20.
                    matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(18) | Ok(20))
                }
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::TooBig | rusqlite::ErrorCode::TypeMismatch
            ),
            StoreError::Sqlite(rusqlite::Error::ToSqlConversionFailure(_)) => true,
            _ => false,
        }
    }

    /// The database's own words about a data error, for the client.
    pub fn database_message(&self) -> String {
        match self {
            StoreError::Db(sqlx::Error::Database(e)) => e.message().to_string(),
            other => other.to_string(),
        }
    }
}

/// A record ready to store: validated, normalised, attachments decoded and hashed.
#[derive(Debug)]
pub struct NewRecord {
    pub idempotency_key: String,
    pub mailbox: String,
    pub message_id: Option<String>,
    pub thread_id: Option<String>,
    /// The compose window's draft id (records queued before the email had a Message-ID).
    pub draft_id: Option<String>,
    /// In-Reply-To and References: earlier messages of the same conversation.
    pub thread_refs: Vec<String>,
    /// The thread key used when no earlier message of the conversation is stored.
    pub default_thread_key: String,
    pub direction: &'static str,
    pub sent_at: i64,
    pub received_at: i64,
    pub subject: String,
    pub from_address: Option<String>,
    pub snippet: String,
    pub summary: String,
    pub body: String,
    pub contacts: Vec<NewContactRef>,
    pub blobs: Vec<NewBlob>,
}

#[derive(Debug, Clone)]
pub struct NewContactRef {
    pub address: String,
    pub name: Option<String>,
    pub create: bool,
}

#[derive(Debug)]
pub struct NewBlob {
    pub sha256: String,
    pub data: Vec<u8>,
}

impl NewRecord {
    fn blob_bytes(&self) -> usize {
        self.blobs.iter().map(|b| b.data.len()).sum()
    }
}

/// A contact as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    pub address: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A contact with its activity, for lists.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSummary {
    #[serde(flatten)]
    pub contact: Contact,
    pub email_count: i64,
    pub last_email_at: Option<i64>,
    #[serde(skip)]
    pub sort_key: String,
}

/// A stored record with its associations.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub id: i64,
    pub idempotency_key: String,
    pub thread_key: String,
    pub received_at: i64,
    /// The record JSON (attachment data removed).
    pub body: String,
    pub contacts: Vec<Contact>,
}

/// What storing a record did.
#[derive(Debug, Clone)]
pub struct InsertOutcome {
    pub duplicate: bool,
    pub record: StoredRecord,
}

/// One email in a contact's timeline.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub id: i64,
    pub idempotency_key: String,
    pub thread_key: String,
    pub direction: String,
    pub sent_at: i64,
    pub subject: String,
    pub snippet: String,
    /// JSON written by `ingest::summary`.
    pub summary: String,
}

/// One thread of a contact's timeline, with its newest emails.
#[derive(Debug, Clone)]
pub struct ThreadRow {
    pub thread_key: String,
    /// Its newest email's time.
    pub latest_at: i64,
    /// Its emails with this contact, all of them (not only those in `emails`).
    pub count: i64,
    /// Its first email's subject.
    pub subject: String,
    /// Its newest emails, newest first.
    pub emails: Vec<TimelineRow>,
}

#[derive(Debug, Clone)]
pub struct WatchRow {
    pub account: String,
    pub status: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub records: i64,
    pub contacts: i64,
    pub blobs: i64,
    pub blob_bytes: i64,
}

/// A record's place in the relay queue (table `relay`, docs/server.md "Relay to HubSpot").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayRow {
    pub record_id: i64,
    pub target: String,
    /// pending, retrying, done or dead.
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    pub maybe_sent: bool,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub last_status: Option<i64>,
    pub last_code: Option<String>,
    pub last_error: Option<String>,
    pub remote_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A relay row with the email it is about, for lists.
#[derive(Debug, Clone)]
pub struct RelayListRow {
    pub relay: RelayRow,
    pub idempotency_key: String,
    pub subject: String,
    pub sent_at: i64,
    pub direction: String,
}

/// A record handed to a relay worker: its attempt number (this one included), whether an
/// earlier attempt may have reached the CRM, and its stored body (`None`: the record is gone).
#[derive(Debug, Clone)]
pub struct RelayClaim {
    pub record_id: i64,
    pub attempts: i64,
    pub maybe_sent: bool,
    pub body: Option<String>,
}

/// The result of a relay attempt, as stored.
#[derive(Debug, Clone)]
pub struct RelayFinish {
    pub state: &'static str,
    pub next_at: i64,
    pub maybe_sent: bool,
    pub last_status: Option<i64>,
    pub last_code: Option<String>,
    pub last_error: Option<String>,
    pub remote_id: Option<String>,
    /// The attempt is not counted (the CRM refused the credentials, not the record).
    pub uncount: bool,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RelayCounts {
    pub pending: i64,
    pub retrying: i64,
    pub done: i64,
    pub dead: i64,
}

/// `last_error` of a record whose worker never reported back.
const RELAY_ABANDONED: &str = "the previous attempt never reported back (the server stopped or \
     crashed while HubSpot was answering); it may have reached HubSpot, so HubSpot is checked for \
     the email before it is created";
/// `last_error` of a record given back at shutdown.
const RELAY_INTERRUPTED: &str = "the server stopped while HubSpot was answering; it may have \
     reached HubSpot, so HubSpot is checked for the email before it is created";

/// A change to a contact (PATCH).
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    /// `Some(None)` clears the name.
    pub name: Option<Option<String>>,
    pub address: Option<String>,
}

pub(crate) struct WriteJob {
    record: NewRecord,
    reply: oneshot::Sender<Result<InsertOutcome, StoreError>>,
}

/// A writer's next batch: `first` and whatever else is already waiting, up to `MAX_BATCH`
/// records and `MAX_BATCH_BYTES` of attachments.
fn gather_batch(first: WriteJob, rx: &mut mpsc::Receiver<WriteJob>, batch: &mut Vec<WriteJob>) {
    let mut bytes = first.record.blob_bytes();
    batch.push(first);
    while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
        match rx.try_recv() {
            Ok(job) => {
                bytes += job.record.blob_bytes();
                batch.push(job);
            }
            Err(_) => break,
        }
    }
}

/// What an acknowledged record survives (SQLite; PostgreSQL follows its own settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync at every commit (`synchronous=FULL`): power cuts and OS crashes too.
    PowerLoss,
    /// fsync at checkpoints only (`synchronous=NORMAL` in WAL mode): a crash or kill of the
    /// server loses nothing acknowledged; a power cut may lose the last moments.
    ProcessCrash,
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }
}

/// The store: a read pool and the record writer, for one backend.
pub enum Store {
    Sqlite(sqlite::Backend),
    Postgres(postgres::Backend),
}

macro_rules! dispatch {
    ($self:expr, $b:ident => $body:expr) => {
        match $self {
            Store::Sqlite($b) => $body,
            Store::Postgres($b) => $body,
        }
    };
}

/// Lower-cased text used for contact search and ordering (full Unicode case folding, which
/// SQLite's `lower()` does not do).
pub fn search_text(address: &str, name: Option<&str>) -> (String, String) {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let search = format!("{} {}", name.unwrap_or(""), address).to_lowercase();
    let sort_key = name.unwrap_or(address).to_lowercase();
    (search, sort_key)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Text from a request as the databases store it: U+0000, which PostgreSQL's text cannot hold,
/// as U+FFFD on both (JSON bodies get the same in `error::parse_json`). Query and path values
/// (a search, a cursor, a key) pass through here, so they never reach the database with one.
fn nul(text: &str) -> std::borrow::Cow<'_, str> {
    super::error::replace_nul(text)
}

impl Store {
    /// Opens (creating if needed) the database named by `url` and brings its schema up to date.
    ///
    /// `sqlite:PATH` or `postgres://…` / `postgresql://…`.
    pub async fn open(url: &str, durability: Durability) -> anyhow::Result<Store> {
        use std::str::FromStr;
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            if path.is_empty() {
                return Err(super::bad_input!("--database sqlite: needs a file path, e.g. sqlite:/var/lib/mailtrail/mailtrail.db"));
            }
            let path = std::path::Path::new(path);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
            }
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                // FULL: an acknowledged record survives a power cut, not only a crash. The
                // writer's batching pays for the fsync once per transaction. NORMAL (WAL):
                // survives a crash of the process, not of the machine.
                .synchronous(match durability {
                    Durability::PowerLoss => sqlx::sqlite::SqliteSynchronous::Full,
                    Durability::ProcessCrash => sqlx::sqlite::SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .pragma("temp_store", "memory");
            let pool = sqlite::Backend::open_pool(opts, 4).await.map_err(|e| {
                anyhow::anyhow!("cannot open SQLite database {}: {e}", path.display())
            })?;
            let (writer, done) = sqlite_writer::start(path, durability).map_err(|e| {
                anyhow::anyhow!("cannot open SQLite database {}: {e}", path.display())
            })?;
            Ok(Store::Sqlite(sqlite::Backend::with_writer(
                pool, writer, done,
            )))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(|e| super::bad_input!("--database {}: {e}", redact_url(url)))?
                .application_name("mailtrail");
            let backend = postgres::Backend::open(opts, 8).await.map_err(|e| {
                anyhow::anyhow!("cannot open PostgreSQL database {}: {e}", redact_url(url))
            })?;
            Ok(Store::Postgres(backend))
        } else {
            Err(super::bad_input!(
                "--database must be sqlite:PATH or postgres://USER@HOST/DB (got {:?})",
                redact_url(url)
            ))
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Store::Sqlite(_) => Kind::Sqlite,
            Store::Postgres(_) => Kind::Postgres,
        }
    }

    /// Stores a record once; a repeat (same key, or same Message-ID in the same mailbox)
    /// returns the stored one.
    pub async fn insert_record(&self, record: NewRecord) -> Result<InsertOutcome, StoreError> {
        dispatch!(self, b => b.insert_record(record).await)
    }

    /// Waits for the writer to finish what it was given, then closes the pools.
    pub async fn close(&self) {
        dispatch!(self, b => b.close().await)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, b => b.ping().await)
    }

    pub async fn lookup_contacts(
        &self,
        addresses: &[String],
    ) -> Result<HashMap<String, Contact>, StoreError> {
        dispatch!(self, b => b.lookup_contacts(addresses).await)
    }

    pub async fn list_contacts(
        &self,
        query: &str,
        limit: i64,
        after: Option<(String, i64)>,
    ) -> Result<Vec<ContactSummary>, StoreError> {
        let query = nul(query);
        let after = after.map(|(k, id)| (nul(&k).into_owned(), id));
        dispatch!(self, b => b.list_contacts(&query, limit, after).await)
    }

    pub async fn contact(&self, id: i64) -> Result<Option<ContactSummary>, StoreError> {
        dispatch!(self, b => b.contact(id).await)
    }

    pub async fn create_contact(
        &self,
        address: &str,
        name: Option<&str>,
    ) -> Result<Contact, StoreError> {
        let (address, name) = (nul(address), name.map(nul));
        dispatch!(self, b => b.create_contact(&address, name.as_deref()).await)
    }

    pub async fn update_contact(
        &self,
        id: i64,
        patch: ContactPatch,
    ) -> Result<Option<Contact>, StoreError> {
        dispatch!(self, b => b.update_contact(id, patch).await)
    }

    /// A contact's emails, newest first; with `thread`, of that thread only.
    pub async fn timeline(
        &self,
        contact_id: i64,
        limit: i64,
        before: Option<(i64, i64)>,
        thread: Option<&str>,
    ) -> Result<Vec<TimelineRow>, StoreError> {
        let thread = thread.map(nul);
        dispatch!(self, b => b.timeline(contact_id, limit, before, thread.as_deref()).await)
    }

    /// The subject of a thread's first email with this contact (the thread page's heading,
    /// the same on every page of it); `None` when the contact has no email in that thread.
    pub async fn thread_subject(
        &self,
        contact_id: i64,
        thread: &str,
    ) -> Result<Option<String>, StoreError> {
        let thread = nul(thread);
        dispatch!(self, b => b.thread_subject(contact_id, &thread).await)
    }

    /// A contact's threads, newest first, paged by thread, each with its newest emails.
    pub async fn timeline_threads(
        &self,
        contact_id: i64,
        limit: i64,
        after: Option<(i64, String)>,
        per_thread: i64,
    ) -> Result<Vec<ThreadRow>, StoreError> {
        let after = after.map(|(at, k)| (at, nul(&k).into_owned()));
        dispatch!(self, b => b.timeline_threads(contact_id, limit, after, per_thread).await)
    }

    pub async fn record_by_id(&self, id: i64) -> Result<Option<StoredRecord>, StoreError> {
        dispatch!(self, b => b.record_where("id", RecordKey::Id(id)).await)
    }

    pub async fn record_by_key(&self, key: &str) -> Result<Option<StoredRecord>, StoreError> {
        let key = nul(key);
        dispatch!(self, b => b.record_where("key", RecordKey::Key(&key)).await)
    }

    /// Records of an email by its Message-ID, from any mailbox (oldest first, at most `limit`).
    pub async fn records_by_message_id(
        &self,
        message_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let message_id = nul(message_id);
        dispatch!(self, b => b.records_by_message_id(&message_id, limit).await)
    }

    /// Records queued from the compose window with this draft id, from any mailbox (oldest
    /// first, at most `limit`).
    pub async fn records_by_draft_id(
        &self,
        draft_id: &str,
        limit: i64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let draft_id = nul(draft_id);
        dispatch!(self, b => b.records_by_draft_id(&draft_id, limit).await)
    }

    pub async fn delete_record(&self, key: &str) -> Result<bool, StoreError> {
        let key = nul(key);
        dispatch!(self, b => b.delete_record(&key).await)
    }

    pub async fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, b => b.blob(sha256).await)
    }

    /// Small blobs by hash, for inlining `cid:` images; larger ones are left out.
    pub async fn small_blobs(
        &self,
        hashes: &[String],
        max_each: i64,
    ) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        dispatch!(self, b => b.small_blobs(hashes, max_each).await)
    }

    /// Which of these blobs are stored (without loading them).
    pub async fn blobs_present(&self, hashes: &[String]) -> Result<Vec<String>, StoreError> {
        dispatch!(self, b => b.blobs_present(hashes).await)
    }

    pub async fn put_watch_status(
        &self,
        account: &str,
        status: &str,
    ) -> Result<WatchRow, StoreError> {
        let (account, status) = (nul(account), nul(status));
        dispatch!(self, b => b.put_watch_status(&account, &status).await)
    }

    pub async fn watch_statuses(&self) -> Result<Vec<WatchRow>, StoreError> {
        dispatch!(self, b => b.watch_statuses().await)
    }

    pub async fn delete_watch_status(&self, account: &str) -> Result<bool, StoreError> {
        let account = nul(account);
        dispatch!(self, b => b.delete_watch_status(&account).await)
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        dispatch!(self, b => b.stats().await)
    }

    pub async fn relay_enable(&self, target: &str, now: i64) -> Result<bool, StoreError> {
        dispatch!(self, b => b.relay_enable(target, now).await)
    }

    pub async fn relay_disable(&self, target: &str) -> Result<bool, StoreError> {
        dispatch!(self, b => b.relay_disable(target).await)
    }

    pub async fn relay_enabled_at(&self, target: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, b => b.relay_enabled_at(target).await)
    }

    pub async fn relay_claim(
        &self,
        target: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<RelayClaim>, StoreError> {
        dispatch!(self, b => b.relay_claim(target, owner, now, lease_until, limit).await)
    }

    pub async fn relay_finish(
        &self,
        target: &str,
        owner: &str,
        record_id: i64,
        finish: &RelayFinish,
        now: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, b => b.relay_finish(target, owner, record_id, finish, now).await)
    }

    pub async fn relay_release(
        &self,
        owner: &str,
        next_at: i64,
        now: i64,
    ) -> Result<u64, StoreError> {
        dispatch!(self, b => b.relay_release(owner, next_at, now).await)
    }

    pub async fn relay_retry_now(
        &self,
        target: &str,
        key: &str,
        now: i64,
    ) -> Result<Option<RelayRow>, StoreError> {
        let key = nul(key);
        dispatch!(self, b => b.relay_retry_now(target, &key, now).await)
    }

    pub async fn relay_backfill(
        &self,
        target: &str,
        since: Option<i64>,
        now: i64,
    ) -> Result<u64, StoreError> {
        dispatch!(self, b => b.relay_backfill(target, since, now).await)
    }

    pub async fn relay_rows(
        &self,
        record_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<RelayRow>>, StoreError> {
        dispatch!(self, b => b.relay_rows(record_ids).await)
    }

    pub async fn relay_list(
        &self,
        target: &str,
        states: &[&str],
        limit: i64,
        before: Option<(i64, i64)>,
    ) -> Result<Vec<RelayListRow>, StoreError> {
        dispatch!(self, b => b.relay_list(target, states, limit, before).await)
    }

    pub async fn relay_counts(&self, target: &str) -> Result<RelayCounts, StoreError> {
        dispatch!(self, b => b.relay_counts(target).await)
    }

    pub async fn relay_next_due(&self, target: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, b => b.relay_next_due(target).await)
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        dispatch!(self, b => b.schema_version().await)
    }
}

/// How a single record is looked up.
#[derive(Debug, Clone, Copy)]
pub enum RecordKey<'a> {
    Id(i64),
    Key(&'a str),
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn search_text_folds_unicode() {
        let (search, sort) = search_text("zofia@x.pl", Some("ŁUKASZ Żak"));
        assert_eq!(search, "łukasz żak zofia@x.pl");
        assert_eq!(sort, "łukasz żak");
        assert_eq!(search_text("a@b.c", Some("  ")).1, "a@b.c");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
