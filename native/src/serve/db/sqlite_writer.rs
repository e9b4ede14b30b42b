//! The SQLite record writer: one thread with one connection of its own (rusqlite, on the same
//! SQLite library as sqlx's read pool), cached prepared statements, one transaction per batch.
//!
//! Why not sqlx here: sqlx runs each SQLite connection on a worker thread and every statement
//! is a round trip to it (two thread wake-ups). A batch took ~7 of them, and on a busy 2-core
//! machine each wake-up waits for a time slice: the writer spent more time being scheduled than
//! storing. Here the whole batch runs on one thread without waiting for anything but the disk,
//! and one row per statement costs nothing extra because there is no network in between.
//!
//! The decisions (repeats, thread keys, contacts) are `batch.rs`'s, shared with the sqlx writer
//! that PostgreSQL uses; deduplication is still the unique constraints' (`ON CONFLICT`).

use super::{
    batch, gather_batch, Contact, Durability, InsertOutcome, NewRecord, StoreError, StoredRecord,
    WriteJob, CONTACT_COLUMNS, CONTACT_UPSERT_TAIL, INSERT_BLOB, INSERT_RECORD_BLOB, MAX_BATCH,
    RECORD_COLUMNS, VANISHED,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// An answer for a request, and where to send it.
type Answer = (
    oneshot::Sender<Result<InsertOutcome, StoreError>>,
    Result<InsertOutcome, StoreError>,
);

/// Opens the writer's connection and starts its thread. Returns where to send records and what
/// resolves once the writer has stored everything it was given and stopped.
pub(super) fn start(
    path: &Path,
    durability: Durability,
) -> anyhow::Result<(mpsc::Sender<WriteJob>, oneshot::Receiver<()>)> {
    let conn = open(path)?;
    // PowerLoss: the syncer thread fsyncs the WAL after each commit and only then answers.
    let syncer = match durability {
        Durability::PowerLoss => {
            let wal = WalFile::new(path);
            let (tx, rx) = std::sync::mpsc::channel::<Vec<Answer>>();
            let handle = std::thread::Builder::new()
                .name("mailtrail-fsync".into())
                .spawn(move || syncer_loop(wal, rx))
                .map_err(|e| anyhow::anyhow!("cannot start the WAL syncer: {e}"))?;
            Some((tx, handle))
        }
        Durability::ProcessCrash => None,
    };
    let (tx, rx) = mpsc::channel::<WriteJob>(4 * MAX_BATCH);
    let (done_tx, done_rx) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("mailtrail-writer".into())
        .spawn(move || {
            match syncer {
                Some((to_syncer, handle)) => {
                    writer_loop(conn, rx, |answers| {
                        // The syncer only stops when this sender is dropped.
                        if let Err(std::sync::mpsc::SendError(answers)) = to_syncer.send(answers) {
                            for (reply, _) in answers {
                                let _ = reply.send(Err(StoreError::Closed));
                            }
                        }
                    });
                    drop(to_syncer);
                    let _ = handle.join();
                }
                None => writer_loop(conn, rx, |answers| {
                    for (reply, result) in answers {
                        let _ = reply.send(result);
                    }
                }),
            }
            let _ = done_tx.send(());
        })
        .map_err(|e| anyhow::anyhow!("cannot start the record writer: {e}"))?;
    Ok((tx, done_rx))
}

fn open(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The read pool created the database in WAL mode (a property of the file); say it again
    // in case this connection came first.
    conn.pragma_update(None, "journal_mode", "wal")?;
    // NORMAL in WAL mode: a commit writes the WAL without syncing it, so it survives a crash
    // or kill of the server. For power cuts (the default) the syncer thread syncs the WAL after
    // the commit and before any answer, which is what FULL does inside the commit, but without
    // holding the write lock: the next batch is written while the disk syncs this one.
    // Checkpoints still sync the WAL before copying it and the database after.
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.pragma_update(None, "foreign_keys", "on")?;
    conn.pragma_update(None, "temp_store", "memory")?;
    // After a checkpoint, a WAL grown by a burst (or a 50 MiB attachment) is cut back to this
    // instead of keeping its largest size on disk.
    conn.pragma_update(None, "journal_size_limit", 32 * 1024 * 1024)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Takes every job waiting (up to a batch), stores them in one transaction, hands the answers
/// to `answer`. While a batch is being stored (and synced), the next one gathers in the channel.
fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteJob>,
    answer: impl Fn(Vec<Answer>),
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        gather_batch(job, &mut rx, &mut batch);
        let started = std::time::Instant::now();
        let size = batch.len();
        let records: Vec<&NewRecord> = batch.iter().map(|j| &j.record).collect();
        let result = write_batch(&mut conn, &records);
        drop(records);
        let answers: Vec<Answer> = match result {
            Ok(outcomes) => batch
                .drain(..)
                .zip(outcomes)
                .map(|(job, outcome)| (job.reply, Ok(outcome)))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, records = size, "batch failed; storing its records one by one");
                // One transaction per record, so one bad record fails alone.
                batch
                    .drain(..)
                    .map(|job| {
                        let result = write_batch(&mut conn, &[&job.record])
                            .and_then(|mut v| v.pop().ok_or(StoreError::Closed));
                        (job.reply, result)
                    })
                    .collect()
            }
        };
        answer(answers);
        tracing::debug!(
            records = size,
            elapsed_us = started.elapsed().as_micros() as u64,
            "batch stored"
        );
    }
}

/// The database's WAL file, opened for syncing. SQLite keeps it while a connection is open (the
/// writer's is); if it was replaced all the same, the new one is opened (and its directory
/// entry synced, as SQLite does when it creates one).
struct WalFile {
    path: std::path::PathBuf,
    dir: std::path::PathBuf,
    open: Option<(std::fs::File, u64, u64)>,
}

impl WalFile {
    fn new(db: &Path) -> WalFile {
        let mut name = db.as_os_str().to_owned();
        name.push("-wal");
        let dir = match db.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => std::path::PathBuf::from("."),
        };
        WalFile {
            path: name.into(),
            dir,
            open: None,
        }
    }

    fn sync(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let now = std::fs::metadata(&self.path)?;
        let current =
            matches!(&self.open, Some((_, dev, ino)) if *dev == now.dev() && *ino == now.ino());
        if !current {
            let file = std::fs::File::open(&self.path)?;
            let meta = file.metadata()?;
            std::fs::File::open(&self.dir)?.sync_all()?;
            self.open = Some((file, meta.dev(), meta.ino()));
        }
        match &self.open {
            Some((file, _, _)) => file.sync_data(),
            None => Err(std::io::Error::other("WAL file not open")),
        }
    }
}

/// Syncs the WAL once for everything committed since the last sync, then answers. After a
/// failed sync nothing more is acknowledged (the kernel may have dropped the unwritten pages,
/// so a later sync that succeeds proves nothing): the server must be restarted.
fn syncer_loop(mut wal: WalFile, rx: std::sync::mpsc::Receiver<Vec<Answer>>) {
    let mut failed: Option<String> = None;
    while let Ok(mut answers) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            answers.extend(more);
        }
        if failed.is_none() {
            if let Err(e) = wal.sync() {
                tracing::error!(error = %e, "cannot sync the database's WAL to disk; no further record will be acknowledged until restart");
                failed = Some(e.to_string());
            }
        }
        for (reply, result) in answers {
            let result = match &failed {
                None => result,
                Some(e) => Err(StoreError::NotDurable(e.clone())),
            };
            let _ = reply.send(result);
        }
    }
}

fn write_batch(
    conn: &mut Connection,
    recs: &[&NewRecord],
) -> Result<Vec<InsertOutcome>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = insert_many(&tx, recs)?;
    tx.commit()?;
    Ok(outcomes)
}

fn insert_many(c: &Connection, recs: &[&NewRecord]) -> Result<Vec<InsertOutcome>, StoreError> {
    // 1. Repeats inside the batch take the outcome of their first occurrence.
    let first_of = batch::first_occurrences(recs);
    let candidates: Vec<usize> = (0..recs.len()).filter(|&i| first_of[i] == i).collect();

    // 2. Threads: what stored messages the candidates refer to.
    let (refs, thread_ids) = batch::thread_lookups(recs, &candidates);
    let mut threads = batch::ThreadIndex::default();
    if !refs.is_empty() {
        let mut st =
            c.prepare_cached("SELECT thread_key, sent_at FROM records WHERE message_id = $1")?;
        for m in refs {
            let mut rows = st.query([m])?;
            while let Some(row) = rows.next()? {
                threads.add_message(m.to_string(), row.get(1)?, row.get(0)?);
            }
        }
    }
    if !thread_ids.is_empty() {
        let mut st = c.prepare_cached(
            "SELECT mailbox, thread_key, sent_at FROM records WHERE thread_id = $1",
        )?;
        for t in thread_ids {
            let mut rows = st.query([t])?;
            while let Some(row) = rows.next()? {
                threads.add_thread(row.get(0)?, t.to_string(), row.get(2)?, row.get(1)?);
            }
        }
    }
    let thread_keys = threads.resolve(recs, &candidates);

    // 3. The records; one that conflicts with a stored one returns no id.
    let mut new_recs: Vec<(usize, i64)> = Vec::with_capacity(candidates.len());
    {
        let mut st = c.prepare_cached(
            "INSERT INTO records (idempotency_key, mailbox, message_id, thread_id, thread_key, direction, \
               sent_at, received_at, subject, from_address, snippet, summary, body, draft_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING RETURNING id",
        )?;
        for &i in &candidates {
            let r = recs[i];
            let thread_key = thread_keys.get(&i).map(String::as_str).unwrap_or("");
            let id: Option<i64> = st
                .query_row(
                    params![
                        r.idempotency_key,
                        r.mailbox,
                        r.message_id,
                        r.thread_id,
                        thread_key,
                        r.direction,
                        r.sent_at,
                        r.received_at,
                        r.subject,
                        r.from_address,
                        r.snippet,
                        r.summary,
                        r.body,
                        r.draft_id
                    ],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(id) = id {
                new_recs.push((i, id));
            }
        }
    }

    // 4. Contacts of the inserted records: create the new ones, associate all known ones.
    let (to_create, addresses) = batch::contacts_of(recs, &new_recs);
    let now = recs
        .first()
        .map(|r| r.received_at)
        .unwrap_or_else(super::now_ms);
    if !to_create.is_empty() {
        let sql = format!(
            "INSERT INTO contacts (address, name, search, sort_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5){CONTACT_UPSERT_TAIL}"
        );
        let mut st = c.prepare_cached(&sql)?;
        for contact in to_create {
            let (search, sort_key) = super::search_text(&contact.address, contact.name.as_deref());
            st.execute(params![
                contact.address,
                contact.name,
                search,
                sort_key,
                now
            ])?;
        }
    }
    let mut by_address: HashMap<String, Contact> = HashMap::with_capacity(addresses.len());
    if !addresses.is_empty() {
        let mut st = c.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts WHERE address = $1"
        ))?;
        for a in addresses {
            if let Some(contact) = st.query_row([a], contact_from_row).optional()? {
                by_address.insert(contact.address.clone(), contact);
            }
        }
    }
    let mut record_contacts: HashMap<usize, Vec<Contact>> = HashMap::with_capacity(new_recs.len());
    {
        let mut st = c.prepare_cached(
            "INSERT INTO record_contacts (contact_id, record_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )?;
        for &(i, id) in &new_recs {
            let list = batch::record_contacts(recs[i], &by_address);
            for contact in &list {
                st.execute(params![contact.id, id, recs[i].sent_at])?;
            }
            record_contacts.insert(i, list);
        }
    }

    // 5. Attachment blobs, stored once by content.
    for &(i, id) in &new_recs {
        for blob in &recs[i].blobs {
            let exists = c
                .prepare_cached("SELECT 1 FROM blobs WHERE sha256 = $1")?
                .query_row([&blob.sha256], |_| Ok(()))
                .optional()?
                .is_some();
            if !exists {
                c.prepare_cached(INSERT_BLOB)?.execute(params![
                    blob.sha256,
                    blob.data.len() as i64,
                    blob.data,
                    now
                ])?;
            }
            c.prepare_cached(INSERT_RECORD_BLOB)?
                .execute(params![id, blob.sha256])?;
        }
    }

    // Queued for the relay, when it is on (db/relay.rs).
    relay_enqueue(c, &new_recs, now)?;

    // 6. Outcomes, in the batch's order.
    let mut outcomes = batch::created(recs, &new_recs, thread_keys, record_contacts);
    for &i in &candidates {
        if outcomes[i].is_some() {
            continue;
        }
        // Same key, or same Message-ID in the same mailbox, already stored.
        let r = recs[i];
        let existing = match find_record(c, "idempotency_key = $1", &[&r.idempotency_key])? {
            Some(e) => Some(e),
            None => match &r.message_id {
                Some(mid) => {
                    find_record(c, "mailbox = $1 AND message_id = $2", &[&r.mailbox, mid])?
                }
                None => None,
            },
        };
        match existing {
            Some(record) => {
                outcomes[i] = Some(InsertOutcome {
                    duplicate: true,
                    record,
                })
            }
            None => return Err(StoreError::Inconsistent(VANISHED)),
        }
    }
    batch::in_batch_order(&first_of, outcomes)
        .ok_or(StoreError::Inconsistent("record outcome missing"))
}

/// Queues newly stored records for every target the relay is on for (none: nothing).
fn relay_enqueue(c: &Connection, new_recs: &[(usize, i64)], now: i64) -> Result<(), StoreError> {
    if new_recs.is_empty() {
        return Ok(());
    }
    let mut st = c.prepare_cached(
        "INSERT INTO relay (record_id, target, state, attempts, next_at, maybe_sent, created_at, updated_at) \
         SELECT $1, target, 'pending', 0, $2, FALSE, $2, $2 FROM relay_targets WHERE true \
         ON CONFLICT DO NOTHING",
    )?;
    for &(_, id) in new_recs {
        st.execute(params![id, now])?;
    }
    Ok(())
}

fn contact_from_row(row: &rusqlite::Row<'_>) -> Result<Contact, rusqlite::Error> {
    Ok(Contact {
        id: row.get(0)?,
        address: row.get(1)?,
        name: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

/// A stored record with its contacts, found by `condition` (`$1`, `$2` for `args`).
fn find_record(
    c: &Connection,
    condition: &str,
    args: &[&String],
) -> Result<Option<StoredRecord>, rusqlite::Error> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE {condition}");
    let found = c
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(args.iter()), |row| {
            Ok(StoredRecord {
                id: row.get(0)?,
                idempotency_key: row.get(1)?,
                thread_key: row.get(2)?,
                received_at: row.get(3)?,
                body: row.get(4)?,
                contacts: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut record) = found else {
        return Ok(None);
    };
    let mut st = c.prepare_cached(
        "SELECT c.id, c.address, c.name, c.created_at, c.updated_at \
         FROM record_contacts rc JOIN contacts c ON c.id = rc.contact_id \
         WHERE rc.record_id = $1 ORDER BY c.address",
    )?;
    let contacts = st.query_map([record.id], contact_from_row)?;
    for contact in contacts {
        record.contacts.push(contact?);
    }
    Ok(Some(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "mailtrail-writer-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn wal_sync_follows_a_replaced_file_and_fails_without_one() {
        use std::os::unix::fs::MetadataExt;
        let dir = temp_dir("wal");
        let db = dir.join("m.db");
        let mut wal = WalFile::new(&db);
        assert!(
            wal.sync().is_err(),
            "no WAL file yet: nothing can be confirmed"
        );
        std::fs::write(dir.join("m.db-wal"), b"one").unwrap();
        wal.sync().unwrap();
        let first = wal.open.as_ref().map(|(_, _, ino)| *ino).unwrap();
        std::fs::remove_file(dir.join("m.db-wal")).unwrap();
        std::fs::write(dir.join("m.db-wal"), b"two").unwrap();
        wal.sync().unwrap();
        let second = wal.open.as_ref().map(|(_, _, ino)| *ino).unwrap();
        assert_eq!(
            second,
            std::fs::metadata(dir.join("m.db-wal")).unwrap().ino()
        );
        assert_ne!(first, second, "the new file is the one synced");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn outcome(key: &str) -> InsertOutcome {
        InsertOutcome {
            duplicate: false,
            record: StoredRecord {
                id: 1,
                idempotency_key: key.into(),
                thread_key: String::new(),
                received_at: 0,
                body: "{}".into(),
                contacts: Vec::new(),
            },
        }
    }

    #[test]
    fn nothing_is_acknowledged_after_a_failed_sync() {
        let dir = temp_dir("syncer");
        let db = dir.join("m.db");
        std::fs::write(dir.join("m.db-wal"), b"x").unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Vec<Answer>>();
        let syncer = std::thread::spawn({
            let wal = WalFile::new(&db);
            move || syncer_loop(wal, rx)
        });
        let send = |key: &str| {
            let (reply, answer) = oneshot::channel();
            tx.send(vec![(reply, Ok(outcome(key)))]).unwrap();
            answer.blocking_recv().unwrap()
        };
        assert_eq!(
            send("a").unwrap().record.idempotency_key,
            "a",
            "synced, then answered"
        );
        std::fs::remove_file(dir.join("m.db-wal")).unwrap();
        assert!(
            matches!(send("b"), Err(StoreError::NotDurable(_))),
            "the sync failed: not acknowledged"
        );
        std::fs::write(dir.join("m.db-wal"), b"y").unwrap();
        assert!(
            matches!(send("c"), Err(StoreError::NotDurable(_))),
            "a later sync that works proves nothing"
        );
        drop(tx);
        syncer.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
