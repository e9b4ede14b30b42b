// One backend's implementation. Included twice by `define_backend!` in db/mod.rs, once for
// SQLite and once for PostgreSQL; `Db`, `Conn`, `Options`, `IS_SQLITE`, `BEGIN_WRITE` and
// `MIGRATIONS` come from the macro. Keep the SQL portable (`$N` placeholders, ON CONFLICT,
// RETURNING, CAST) and branch on `IS_SQLITE` where the dialects differ.

use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::mpsc;

pub struct Backend {
    pool: sqlx::Pool<Db>,
    writer: std::sync::Mutex<Option<mpsc::Sender<WriteJob>>>,
    /// Resolves when the writer thread has stored everything it was given and stopped.
    writer_done: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// `$start, $start+1, …` n placeholders.
fn placeholders(start: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 4);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(start + i).to_string());
    }
    s
}

const TIMELINE_COLUMNS: &str =
    "r.id, r.idempotency_key, r.thread_key, r.direction, rc.sent_at, r.subject, r.snippet, r.summary";

fn timeline_row(row: &<Db as sqlx::Database>::Row) -> Result<TimelineRow, sqlx::Error> {
    Ok(TimelineRow {
        id: row.try_get(0)?,
        idempotency_key: row.try_get(1)?,
        thread_key: row.try_get(2)?,
        direction: row.try_get(3)?,
        sent_at: row.try_get(4)?,
        subject: row.try_get(5)?,
        snippet: row.try_get(6)?,
        summary: row.try_get(7)?,
    })
}

fn contact_from_row(row: &<Db as sqlx::Database>::Row) -> Result<Contact, sqlx::Error> {
    Ok(Contact {
        id: row.try_get(0)?,
        address: row.try_get(1)?,
        name: row.try_get(2)?,
        created_at: row.try_get(3)?,
        updated_at: row.try_get(4)?,
    })
}

impl Backend {
    /// The read pool (migrations applied) and the sqlx record writer on a thread of its own.
    #[allow(dead_code)] // not for SQLite, which uses `sqlite_writer`
    pub async fn open(opts: Options, pool_size: u32) -> Result<Backend, sqlx::Error> {
        let pool = Backend::open_pool(opts.clone(), pool_size).await?;
        // The writer gets a thread (and a single-threaded runtime) of its own: its many short
        // waits on the database must not queue behind request handling for a worker thread.
        let (tx, rx) = mpsc::channel::<WriteJob>(4 * MAX_BATCH);
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), sqlx::Error>>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("mailtrail-writer".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(sqlx::Error::Io(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match opts.connect().await {
                        Ok(conn) => {
                            let _ = ready_tx.send(Ok(()));
                            writer_loop(opts, conn, rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                let _ = done_tx.send(());
            })
            .map_err(sqlx::Error::Io)?;
        ready_rx.await.map_err(|_| sqlx::Error::PoolClosed)??;
        Ok(Backend::with_writer(pool, tx, done_rx))
    }

    /// The pool for everything but record writes, with the schema brought up to date.
    pub async fn open_pool(opts: Options, pool_size: u32) -> Result<sqlx::Pool<Db>, sqlx::Error> {
        let pool = sqlx::pool::PoolOptions::<Db>::new()
            .max_connections(pool_size)
            .min_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        migrate(&pool).await?;
        Ok(pool)
    }

    /// A backend whose records go to `writer`; `done` resolves when that writer has stored
    /// everything it was given and stopped.
    pub fn with_writer(pool: sqlx::Pool<Db>, writer: mpsc::Sender<WriteJob>, done: oneshot::Receiver<()>) -> Backend {
        Backend {
            pool,
            writer: std::sync::Mutex::new(Some(writer)),
            writer_done: tokio::sync::Mutex::new(Some(done)),
        }
    }

    pub async fn close(&self) {
        // Dropping the sender lets the writer finish the jobs already queued, then stop.
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(done) = self.writer_done.lock().await.take() {
            let _ = done.await;
        }
        self.pool.close().await;
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn insert_record(&self, record: NewRecord) -> Result<InsertOutcome, StoreError> {
        let sender = match self.writer.lock() {
            Ok(w) => w.clone(),
            Err(_) => None,
        };
        let sender = sender.ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender.send(WriteJob { record, reply }).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub async fn lookup_contacts(&self, addresses: &[String]) -> Result<HashMap<String, Contact>, StoreError> {
        let mut found = HashMap::with_capacity(addresses.len());
        for chunk in addresses.chunks(500) {
            let sql = format!(
                "SELECT {CONTACT_COLUMNS} FROM contacts WHERE address IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q.bind(a.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                let c = contact_from_row(&row)?;
                found.insert(c.address.clone(), c);
            }
        }
        Ok(found)
    }

    pub async fn list_contacts(
        &self,
        query: &str,
        limit: i64,
        after: Option<(String, i64)>,
    ) -> Result<Vec<ContactSummary>, StoreError> {
        let (after_key, after_id) = after.unwrap_or_default();
        let pattern = like_pattern(query.trim());
        let rows = sqlx::query(
            "SELECT c.id, c.address, c.name, c.created_at, c.updated_at, c.sort_key, \
               (SELECT COUNT(*) FROM record_contacts rc WHERE rc.contact_id = c.id), \
               (SELECT MAX(rc.sent_at) FROM record_contacts rc WHERE rc.contact_id = c.id) \
             FROM contacts c \
             WHERE c.search LIKE $1 ESCAPE '\\' \
               AND (c.sort_key > $2 OR (c.sort_key = $2 AND c.id > $3)) \
             ORDER BY c.sort_key, c.id LIMIT $4",
        )
        .bind(pattern)
        .bind(after_key)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(ContactSummary {
                contact: contact_from_row(&row)?,
                sort_key: row.try_get(5)?,
                email_count: row.try_get(6)?,
                last_email_at: row.try_get(7)?,
            });
        }
        Ok(out)
    }

    pub async fn contact(&self, id: i64) -> Result<Option<ContactSummary>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.address, c.name, c.created_at, c.updated_at, c.sort_key, \
               (SELECT COUNT(*) FROM record_contacts rc WHERE rc.contact_id = c.id), \
               (SELECT MAX(rc.sent_at) FROM record_contacts rc WHERE rc.contact_id = c.id) \
             FROM contacts c WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(ContactSummary {
                contact: contact_from_row(&row)?,
                sort_key: row.try_get(5)?,
                email_count: row.try_get(6)?,
                last_email_at: row.try_get(7)?,
            })),
        }
    }

    pub async fn create_contact(&self, address: &str, name: Option<&str>) -> Result<Contact, StoreError> {
        let now = now_ms();
        let (search, sort_key) = search_text(address, name);
        let sql = format!(
            "INSERT INTO contacts (address, name, search, sort_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (address) DO NOTHING RETURNING {CONTACT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(address)
            .bind(name)
            .bind(search)
            .bind(sort_key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(contact_from_row(&row)?),
            None => {
                let existing: i64 = sqlx::query("SELECT id FROM contacts WHERE address = $1")
                    .bind(address)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get(0)?;
                Err(StoreError::Conflict(existing))
            }
        }
    }

    pub async fn update_contact(&self, id: i64, patch: ContactPatch) -> Result<Option<Contact>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let current = contact_from_row(&row)?;
        let address = patch.address.unwrap_or(current.address.clone());
        let name = match patch.name {
            Some(n) => n,
            None => current.name.clone(),
        };
        if address != current.address {
            if let Some(other) = sqlx::query("SELECT id FROM contacts WHERE address = $1")
                .bind(&address)
                .fetch_optional(&mut *tx)
                .await?
            {
                return Err(StoreError::Conflict(other.try_get(0)?));
            }
        }
        let (search, sort_key) = search_text(&address, name.as_deref());
        let sql = format!(
            "UPDATE contacts SET address = $1, name = $2, search = $3, sort_key = $4, updated_at = $5 \
             WHERE id = $6 RETURNING {CONTACT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&address)
            .bind(&name)
            .bind(search)
            .bind(sort_key)
            .bind(now_ms())
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let updated = contact_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(updated))
    }

    /// A contact's emails, newest first (of one thread only with `thread`).
    pub async fn timeline(
        &self,
        contact_id: i64,
        limit: i64,
        before: Option<(i64, i64)>,
        thread: Option<&str>,
    ) -> Result<Vec<TimelineRow>, StoreError> {
        let (before_at, before_id) = before.unwrap_or((i64::MAX, i64::MAX));
        let sql = format!(
            "SELECT {TIMELINE_COLUMNS} \
             FROM record_contacts rc JOIN records r ON r.id = rc.record_id \
             WHERE rc.contact_id = $1 AND (rc.sent_at < $2 OR (rc.sent_at = $2 AND rc.record_id < $3)){} \
             ORDER BY rc.sent_at DESC, rc.record_id DESC LIMIT $4",
            if thread.is_some() { " AND r.thread_key = $5" } else { "" }
        );
        let mut q = sqlx::query(&sql).bind(contact_id).bind(before_at).bind(before_id).bind(limit);
        if let Some(t) = thread {
            q = q.bind(t);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(timeline_row).collect::<Result<_, _>>().map_err(StoreError::from)
    }

    /// The subject of the thread's first email with this contact.
    pub async fn thread_subject(
        &self,
        contact_id: i64,
        thread: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT r.subject FROM record_contacts rc JOIN records r ON r.id = rc.record_id \
             WHERE rc.contact_id = $1 AND r.thread_key = $2 \
             ORDER BY rc.sent_at, rc.record_id LIMIT 1",
        )
        .bind(contact_id)
        .bind(thread)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get(0)?),
            None => None,
        })
    }

    /// A contact's threads, the one with the newest email first (ties by key), each with its
    /// `per_thread` newest emails, its number of emails and its first email's subject. Paged by
    /// thread: `after` is the last thread's (newest email's time, key) on the previous page.
    pub async fn timeline_threads(
        &self,
        contact_id: i64,
        limit: i64,
        after: Option<(i64, String)>,
        per_thread: i64,
    ) -> Result<Vec<ThreadRow>, StoreError> {
        let (after_at, after_key) = after.unwrap_or((i64::MAX, String::new()));
        let heads = sqlx::query(
            "SELECT r.thread_key, MAX(rc.sent_at), COUNT(*) \
             FROM record_contacts rc JOIN records r ON r.id = rc.record_id \
             WHERE rc.contact_id = $1 \
             GROUP BY r.thread_key \
             HAVING MAX(rc.sent_at) < $2 OR (MAX(rc.sent_at) = $2 AND r.thread_key > $3) \
             ORDER BY MAX(rc.sent_at) DESC, r.thread_key LIMIT $4",
        )
        .bind(contact_id)
        .bind(after_at)
        .bind(after_key)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut threads = Vec::with_capacity(heads.len());
        for row in &heads {
            threads.push(ThreadRow {
                thread_key: row.try_get(0)?,
                latest_at: row.try_get(1)?,
                count: row.try_get(2)?,
                subject: String::new(),
                emails: Vec::new(),
            });
        }
        if threads.is_empty() {
            return Ok(threads);
        }
        let sql = format!(
            "SELECT id, idempotency_key, thread_key, direction, sent_at, subject, snippet, summary, first_subject FROM (\
               SELECT {TIMELINE_COLUMNS}, \
                 ROW_NUMBER() OVER (PARTITION BY r.thread_key ORDER BY rc.sent_at DESC, rc.record_id DESC) AS n, \
                 FIRST_VALUE(r.subject) OVER (PARTITION BY r.thread_key ORDER BY rc.sent_at, rc.record_id) AS first_subject \
               FROM record_contacts rc JOIN records r ON r.id = rc.record_id \
               WHERE rc.contact_id = $1 AND r.thread_key IN ({})\
             ) t WHERE n <= $2 ORDER BY sent_at DESC, id DESC",
            placeholders(3, threads.len())
        );
        let mut q = sqlx::query(&sql).bind(contact_id).bind(per_thread);
        for t in &threads {
            q = q.bind(t.thread_key.as_str());
        }
        let index: HashMap<String, usize> = threads.iter().enumerate().map(|(i, t)| (t.thread_key.clone(), i)).collect();
        for row in q.fetch_all(&self.pool).await? {
            let email = timeline_row(&row)?;
            if let Some(&i) = index.get(&email.thread_key) {
                threads[i].subject = row.try_get(8)?;
                threads[i].emails.push(email);
            }
        }
        Ok(threads)
    }

    pub async fn record_where(&self, _what: &str, key: RecordKey<'_>) -> Result<Option<StoredRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(find_record(&mut conn, key).await?)
    }

    pub async fn records_by_message_id(&self, message_id: &str, limit: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE message_id = $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql).bind(message_id).bind(limit).fetch_all(&mut *conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(stored_from_row(&mut conn, row).await?);
        }
        Ok(out)
    }

    pub async fn records_by_draft_id(&self, draft_id: &str, limit: i64) -> Result<Vec<StoredRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE draft_id = $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql).bind(draft_id).bind(limit).fetch_all(&mut *conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(stored_from_row(&mut conn, row).await?);
        }
        Ok(out)
    }

    pub async fn delete_record(&self, key: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let Some(row) = sqlx::query("SELECT id FROM records WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let id: i64 = row.try_get(0)?;
        let hashes: Vec<String> = sqlx::query("SELECT sha256 FROM record_blobs WHERE record_id = $1")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        // Cascades to record_contacts and record_blobs.
        sqlx::query("DELETE FROM records WHERE id = $1").bind(id).execute(&mut *tx).await?;
        for sha in hashes {
            // Keep the blob while another record still uses it.
            sqlx::query(
                "DELETE FROM blobs WHERE sha256 = $1 \
                 AND NOT EXISTS (SELECT 1 FROM record_blobs WHERE sha256 = $1)",
            )
            .bind(sha)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT data FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    pub async fn small_blobs(&self, hashes: &[String], max_each: i64) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let mut out = HashMap::new();
        if hashes.is_empty() {
            return Ok(out);
        }
        for chunk in hashes.chunks(100) {
            let sql = format!(
                "SELECT sha256, data FROM blobs WHERE size <= $1 AND sha256 IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(max_each);
            for h in chunk {
                q = q.bind(h.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.insert(row.try_get(0)?, row.try_get(1)?);
            }
        }
        Ok(out)
    }

    pub async fn blobs_present(&self, hashes: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in hashes.chunks(100) {
            let sql = format!("SELECT sha256 FROM blobs WHERE sha256 IN ({})", placeholders(1, chunk.len()));
            let mut q = sqlx::query(&sql);
            for h in chunk {
                q = q.bind(h.as_str());
            }
            for row in q.fetch_all(&self.pool).await? {
                out.push(row.try_get(0)?);
            }
        }
        Ok(out)
    }

    pub async fn put_watch_status(&self, account: &str, status: &str) -> Result<WatchRow, StoreError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO watch_status (account, status, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(status)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(WatchRow { account: account.to_string(), status: status.to_string(), updated_at: now })
    }

    pub async fn watch_statuses(&self) -> Result<Vec<WatchRow>, StoreError> {
        let rows = sqlx::query("SELECT account, status, updated_at FROM watch_status ORDER BY account")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(WatchRow { account: row.try_get(0)?, status: row.try_get(1)?, updated_at: row.try_get(2)? });
        }
        Ok(out)
    }

    pub async fn delete_watch_status(&self, account: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM watch_status WHERE account = $1")
            .bind(account)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM records), (SELECT COUNT(*) FROM contacts), \
                    (SELECT COUNT(*) FROM blobs), \
                    (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            records: row.try_get(0)?,
            contacts: row.try_get(1)?,
            blobs: row.try_get(2)?,
            blob_bytes: row.try_get(3)?,
        })
    }

    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM mailtrail_schema")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Applies the embedded migrations not yet applied, in one transaction, under a lock so that
/// several instances starting together against one PostgreSQL apply each migration once.
async fn migrate(pool: &sqlx::Pool<Db>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    if !IS_SQLITE {
        // Any constant shared by all instances; released at commit.
        sqlx::query("SELECT pg_advisory_xact_lock(7216354090)").execute(&mut *tx).await?;
    }
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS mailtrail_schema (\
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM mailtrail_schema")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.iter().map(|m| m.version).max().unwrap_or(0);
    if let Some(newer) = applied.iter().copied().filter(|v| *v > known).max() {
        return Err(sqlx::Error::Protocol(format!(
            "the database is at schema version {newer}, newer than this mailtrail understands ({known}): \
             upgrade mailtrail, or point it at another database"
        )));
    }
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        tracing::info!(version = m.version, name = m.name, "applying schema migration");
        sqlx::raw_sql(m.sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO mailtrail_schema (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// The single writer: takes every job waiting, stores them in one transaction, answers each.
async fn writer_loop(opts: Options, conn: Conn, mut rx: mpsc::Receiver<WriteJob>) {
    let mut conn = Some(conn);
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.recv().await {
        gather_batch(job, &mut rx, &mut batch);
        if conn.is_none() {
            match opts.connect().await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "record writer cannot reconnect to the database");
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(StoreError::Db(sqlx::Error::PoolTimedOut)));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let started = std::time::Instant::now();
        let size = batch.len();
        match write_batch(c, &batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, records = size, "batch failed; storing its records one by one");
                // One transaction per record, so one bad record fails alone.
                for job in batch.drain(..) {
                    let result = write_batch(c, std::slice::from_ref(&job)).await;
                    let result = result.map_err(StoreError::from).and_then(|mut v| v.pop().ok_or(StoreError::Closed));
                    let _ = job.reply.send(result);
                }
                if c.ping().await.is_err() {
                    tracing::warn!("record writer lost its database connection; reconnecting");
                    conn = None;
                }
            }
        }
        tracing::debug!(records = size, elapsed_us = started.elapsed().as_micros() as u64, "batch stored");
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

async fn write_batch(conn: &mut Conn, batch: &[WriteJob]) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    let t0 = std::time::Instant::now();
    let mut tx = conn.begin_with(BEGIN_WRITE).await?;
    let t1 = t0.elapsed();
    let records: Vec<&NewRecord> = batch.iter().map(|j| &j.record).collect();
    let outcomes = insert_many(&mut tx, &records).await?;
    let t2 = t0.elapsed();
    tx.commit().await?;
    let t3 = t0.elapsed();
    tracing::debug!(begin_us = t1.as_micros() as u64, insert_us = (t2 - t1).as_micros() as u64, commit_us = (t3 - t2).as_micros() as u64, "batch phases");
    Ok(outcomes)
}

/// Rows per multi-row statement (13 columns × 200 stays far below both databases' limits on
/// bound parameters).
const ROWS_PER_STATEMENT: usize = 200;

/// Stores a batch of records with a handful of statements, whatever its size: thread lookup,
/// one multi-row insert, contacts, associations. Round trips to the database, not rows, are
/// what costs.
async fn insert_many(conn: &mut Conn, recs: &[&NewRecord]) -> Result<Vec<InsertOutcome>, sqlx::Error> {
    // 1. Repeats inside the batch take the outcome of their first occurrence.
    let first_of = batch::first_occurrences(recs);
    let candidates: Vec<usize> = (0..recs.len()).filter(|&i| first_of[i] == i).collect();

    // 2. Threads: what stored messages the candidates refer to.
    let (refs, thread_ids) = batch::thread_lookups(recs, &candidates);
    let mut threads = batch::ThreadIndex::default();
    for chunk in refs.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT message_id, thread_key, sent_at FROM records WHERE message_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q.bind(*r);
        }
        for row in q.fetch_all(&mut *conn).await? {
            threads.add_message(row.try_get(0)?, row.try_get(2)?, row.try_get(1)?);
        }
    }
    for chunk in thread_ids.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT mailbox, thread_id, thread_key, sent_at FROM records WHERE thread_id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for t in chunk {
            q = q.bind(*t);
        }
        for row in q.fetch_all(&mut *conn).await? {
            threads.add_thread(row.try_get(0)?, row.try_get(1)?, row.try_get(3)?, row.try_get(2)?);
        }
    }
    let thread_keys = threads.resolve(recs, &candidates);

    // 3. One multi-row insert; rows that conflict with stored ones are not returned.
    let mut inserted: HashMap<String, i64> = HashMap::new();
    for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO records (idempotency_key, mailbox, message_id, thread_id, thread_key, direction, \
               sent_at, received_at, subject, from_address, snippet, summary, body, draft_id) VALUES ",
        );
        for n in 0..chunk.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders(n * 14 + 1, 14));
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING id, idempotency_key");
        let mut q = sqlx::query(&sql);
        for &i in chunk {
            let r = recs[i];
            q = q
                .bind(&r.idempotency_key)
                .bind(&r.mailbox)
                .bind(&r.message_id)
                .bind(&r.thread_id)
                .bind(thread_keys.get(&i).map(String::as_str).unwrap_or(""))
                .bind(r.direction)
                .bind(r.sent_at)
                .bind(r.received_at)
                .bind(&r.subject)
                .bind(&r.from_address)
                .bind(&r.snippet)
                .bind(&r.summary)
                .bind(&r.body)
                .bind(&r.draft_id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get(1)?, row.try_get(0)?);
        }
    }

    // 4. Contacts of the inserted records: create the new ones, associate all known ones.
    let new_recs: Vec<(usize, i64)> = candidates
        .iter()
        .filter_map(|&i| inserted.get(&recs[i].idempotency_key).map(|id| (i, *id)))
        .collect();
    let (to_create, addresses) = batch::contacts_of(recs, &new_recs);
    let now = recs.first().map(|r| r.received_at).unwrap_or_else(now_ms);
    for chunk in to_create.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from("INSERT INTO contacts (address, name, search, sort_key, created_at, updated_at) VALUES ");
        for n in 0..chunk.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            let b = n * 5;
            sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 5));
        }
        sql.push_str(CONTACT_UPSERT_TAIL);
        let mut q = sqlx::query(&sql);
        for c in chunk {
            let (search, sort_key) = search_text(&c.address, c.name.as_deref());
            q = q.bind(&c.address).bind(&c.name).bind(search).bind(sort_key).bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    let mut contacts_by_address: HashMap<String, Contact> = HashMap::new();
    for chunk in addresses.chunks(ROWS_PER_STATEMENT) {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE address IN ({})", placeholders(1, chunk.len()));
        let mut q = sqlx::query(&sql);
        for a in chunk {
            q = q.bind(*a);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let c = contact_from_row(&row)?;
            contacts_by_address.insert(c.address.clone(), c);
        }
    }
    let mut links: Vec<(i64, i64, i64)> = Vec::new();
    let mut record_contacts: HashMap<usize, Vec<Contact>> = HashMap::new();
    for &(i, id) in &new_recs {
        let list = batch::record_contacts(recs[i], &contacts_by_address);
        for c in &list {
            links.push((c.id, id, recs[i].sent_at));
        }
        record_contacts.insert(i, list);
    }
    for chunk in links.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from("INSERT INTO record_contacts (contact_id, record_id, sent_at) VALUES ");
        for n in 0..chunk.len() {
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            sql.push_str(&placeholders(n * 3 + 1, 3));
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        let mut q = sqlx::query(&sql);
        for (c, r, at) in chunk {
            q = q.bind(*c).bind(*r).bind(*at);
        }
        q.execute(&mut *conn).await?;
    }

    // 5. Attachment blobs, stored once by content.
    for &(i, id) in &new_recs {
        for blob in &recs[i].blobs {
            let exists = sqlx::query("SELECT 1 FROM blobs WHERE sha256 = $1")
                .bind(&blob.sha256)
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            if !exists {
                sqlx::query(INSERT_BLOB)
                    .bind(&blob.sha256)
                    .bind(blob.data.len() as i64)
                    .bind(&blob.data[..])
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query(INSERT_RECORD_BLOB).bind(id).bind(&blob.sha256).execute(&mut *conn).await?;
        }
    }

    // Queued for the relay, when it is on (db/relay.rs).
    let new_ids: Vec<i64> = new_recs.iter().map(|&(_, id)| id).collect();
    relay_enqueue(conn, &new_ids, now).await?;

    // 6. Outcomes, in the batch's order.
    let mut outcomes = batch::created(recs, &new_recs, thread_keys, record_contacts);
    for &i in &candidates {
        if outcomes[i].is_some() {
            continue;
        }
        // Same key, or same Message-ID in the same mailbox, already stored.
        let r = recs[i];
        let existing = match find_record(conn, RecordKey::Key(&r.idempotency_key)).await? {
            Some(e) => Some(e),
            None => match &r.message_id {
                Some(mid) => find_record_by_message_id(conn, &r.mailbox, mid).await?,
                None => None,
            },
        };
        match existing {
            Some(record) => outcomes[i] = Some(InsertOutcome { duplicate: true, record }),
            None => return Err(sqlx::Error::Protocol(VANISHED.into())),
        }
    }
    batch::in_batch_order(&first_of, outcomes).ok_or_else(|| sqlx::Error::Protocol("record outcome missing".into()))
}

async fn find_record(conn: &mut Conn, key: RecordKey<'_>) -> Result<Option<StoredRecord>, sqlx::Error> {
    let row = match key {
        RecordKey::Id(id) => {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE id = $1");
            sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?
        }
        RecordKey::Key(k) => {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE idempotency_key = $1");
            sqlx::query(&sql).bind(k).fetch_optional(&mut *conn).await?
        }
    };
    match row {
        Some(row) => Ok(Some(stored_from_row(conn, &row).await?)),
        None => Ok(None),
    }
}

async fn find_record_by_message_id(
    conn: &mut Conn,
    mailbox: &str,
    message_id: &str,
) -> Result<Option<StoredRecord>, sqlx::Error> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE mailbox = $1 AND message_id = $2");
    let row = sqlx::query(&sql).bind(mailbox).bind(message_id).fetch_optional(&mut *conn).await?;
    match row {
        Some(row) => Ok(Some(stored_from_row(conn, &row).await?)),
        None => Ok(None),
    }
}

async fn stored_from_row(conn: &mut Conn, row: &<Db as sqlx::Database>::Row) -> Result<StoredRecord, sqlx::Error> {
    let id: i64 = row.try_get(0)?;
    let rows = sqlx::query(
        "SELECT c.id, c.address, c.name, c.created_at, c.updated_at \
         FROM record_contacts rc JOIN contacts c ON c.id = rc.contact_id \
         WHERE rc.record_id = $1 ORDER BY c.address",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut contacts = Vec::with_capacity(rows.len());
    for r in &rows {
        contacts.push(contact_from_row(r)?);
    }
    Ok(StoredRecord {
        id,
        idempotency_key: row.try_get(1)?,
        thread_key: row.try_get(2)?,
        received_at: row.try_get(3)?,
        body: row.try_get(4)?,
        contacts,
    })
}
