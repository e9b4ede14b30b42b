// The relay queue's SQL (docs/server.md, "Relay to HubSpot"). Included by `define_backend!`
// beside backend.rs, once per database: `Db`, `IS_SQLITE` and `BEGIN_WRITE` come from there.
// Records are queued by the writers, in the transaction that stores them (`RELAY_ENQUEUE`).

const RELAY_COLUMNS: &str = "x.record_id, x.target, x.state, x.attempts, x.next_at, x.maybe_sent, \
     x.lease_owner, x.lease_until, x.last_status, x.last_code, x.last_error, x.remote_id, \
     x.created_at, x.updated_at";

/// Records looked at per statement of a backfill.
const BACKFILL_CHUNK: i64 = 500;

fn relay_from_row(row: &<Db as sqlx::Database>::Row) -> Result<RelayRow, sqlx::Error> {
    Ok(RelayRow {
        record_id: row.try_get(0)?,
        target: row.try_get(1)?,
        state: row.try_get(2)?,
        attempts: row.try_get(3)?,
        next_at: row.try_get(4)?,
        maybe_sent: row.try_get(5)?,
        lease_owner: row.try_get(6)?,
        lease_until: row.try_get(7)?,
        last_status: row.try_get(8)?,
        last_code: row.try_get(9)?,
        last_error: row.try_get(10)?,
        remote_id: row.try_get(11)?,
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
    })
}

impl Backend {
    /// Records stored from now on are queued for `target` (a no-op when they already are).
    /// Returns whether it was newly switched on.
    pub async fn relay_enable(&self, target: &str, now: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO relay_targets (target, enabled_at) VALUES ($1, $2) ON CONFLICT (target) DO NOTHING",
        )
        .bind(target)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stops queuing records for `target` (those queued stay, with their state).
    pub async fn relay_disable(&self, target: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM relay_targets WHERE target = $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// When records started being queued for `target`, if they are.
    pub async fn relay_enabled_at(&self, target: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT enabled_at FROM relay_targets WHERE target = $1")
            .bind(target)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Takes up to `limit` due records for `owner` until `lease_until`, oldest due first, with
    /// their stored bodies. One whose earlier lease ran out (its worker stopped or crashed
    /// mid-attempt) is handed out again marked `maybe_sent`. Several servers sharing a
    /// PostgreSQL database never take the same record at once (`SKIP LOCKED`); SQLite has one
    /// writer at a time.
    pub async fn relay_claim(
        &self,
        target: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<RelayClaim>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let pick = format!(
            "SELECT record_id FROM relay WHERE target = $1 AND state IN ('pending', 'retrying') \
               AND next_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
             ORDER BY next_at, record_id LIMIT $3{}",
            if IS_SQLITE { "" } else { " FOR UPDATE SKIP LOCKED" }
        );
        let ids: Vec<i64> = sqlx::query(&pick)
            .bind(target)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // SET reads the row's values from before the update: a lease still set means the
        // previous attempt never reported back.
        let sql = format!(
            "UPDATE relay SET attempts = attempts + 1, \
               maybe_sent = (maybe_sent OR lease_owner IS NOT NULL), \
               last_code = CASE WHEN lease_owner IS NOT NULL THEN 'no-result' ELSE last_code END, \
               last_status = CASE WHEN lease_owner IS NOT NULL THEN NULL ELSE last_status END, \
               last_error = CASE WHEN lease_owner IS NOT NULL THEN $4 ELSE last_error END, \
               lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE target = $5 AND record_id IN ({}) \
             RETURNING record_id, attempts, maybe_sent",
            placeholders(6, ids.len())
        );
        let mut q = sqlx::query(&sql)
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(RELAY_ABANDONED)
            .bind(target);
        for id in &ids {
            q = q.bind(*id);
        }
        let mut claims: Vec<RelayClaim> = Vec::with_capacity(ids.len());
        for row in q.fetch_all(&mut *tx).await? {
            claims.push(RelayClaim {
                record_id: row.try_get(0)?,
                attempts: row.try_get(1)?,
                maybe_sent: row.try_get(2)?,
                body: None,
            });
        }
        let sql = format!("SELECT id, body FROM records WHERE id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        let mut bodies: HashMap<i64, String> = HashMap::with_capacity(ids.len());
        for row in q.fetch_all(&mut *tx).await? {
            bodies.insert(row.try_get(0)?, row.try_get(1)?);
        }
        tx.commit().await?;
        for c in &mut claims {
            c.body = bodies.remove(&c.record_id);
        }
        claims.sort_by_key(|c| c.record_id);
        Ok(claims)
    }

    /// Records an attempt's result. A success is always kept; any other result only while
    /// `owner` still holds the record (a late answer after another worker took it over is
    /// dropped, that worker's own answer counts). Returns whether the row changed.
    pub async fn relay_finish(
        &self,
        target: &str,
        owner: &str,
        record_id: i64,
        f: &RelayFinish,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE relay SET state = $1, next_at = $2, maybe_sent = $3, last_status = $4, \
               last_code = $5, last_error = $6, remote_id = COALESCE($7, remote_id), \
               lease_owner = NULL, lease_until = NULL, updated_at = $8, \
               attempts = CASE WHEN $13 AND attempts > 0 THEN attempts - 1 ELSE attempts END \
             WHERE target = $9 AND record_id = $10 AND state <> 'done' \
               AND (lease_owner = $11 OR $12)",
        )
        .bind(f.state)
        .bind(f.next_at)
        .bind(f.maybe_sent)
        .bind(f.last_status)
        .bind(&f.last_code)
        .bind(&f.last_error)
        .bind(&f.remote_id)
        .bind(now)
        .bind(target)
        .bind(record_id)
        .bind(owner)
        .bind(f.state == "done")
        .bind(f.uncount)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives back what `owner` still holds (a shutdown that could not wait for HubSpot's
    /// answers): each may have reached the CRM, so it is due again at `next_at`, marked
    /// `maybe_sent`.
    pub async fn relay_release(&self, owner: &str, next_at: i64, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE relay SET state = 'retrying', maybe_sent = TRUE, next_at = $1, last_status = NULL, \
               last_code = 'no-result', last_error = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3 \
             WHERE lease_owner = $4 AND state <> 'done'",
        )
        .bind(next_at)
        .bind(RELAY_INTERRUPTED)
        .bind(now)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The user's "retry": a dead, retrying or pending record is due now with its attempts
    /// reset (`maybe_sent` and the last error are kept). A record stored before the relay was
    /// switched on is queued. Done or in flight: left alone. `None`: no such record.
    pub async fn relay_retry_now(&self, target: &str, key: &str, now: i64) -> Result<Option<RelayRow>, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let Some(row) = sqlx::query("SELECT id FROM records WHERE idempotency_key = $1")
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let id: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO relay (record_id, target, state, attempts, next_at, maybe_sent, created_at, updated_at) \
             VALUES ($1, $2, 'pending', 0, $3, FALSE, $3, $3) ON CONFLICT (record_id, target) DO NOTHING",
        )
        .bind(id)
        .bind(target)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE relay SET state = 'pending', attempts = 0, next_at = $1, updated_at = $1 \
             WHERE record_id = $2 AND target = $3 AND state IN ('pending', 'retrying', 'dead') \
               AND (lease_until IS NULL OR lease_until <= $1)",
        )
        .bind(now)
        .bind(id)
        .bind(target)
        .execute(&mut *tx)
        .await?;
        let sql = format!("SELECT {RELAY_COLUMNS} FROM relay x WHERE x.record_id = $1 AND x.target = $2");
        let row = sqlx::query(&sql).bind(id).bind(target).fetch_one(&mut *tx).await?;
        let out = relay_from_row(&row)?;
        tx.commit().await?;
        Ok(Some(out))
    }

    /// Queues for `target` every stored record that never was (stored before the relay was
    /// switched on, or while it was off), the email dated `since` or later when given: each
    /// once, whatever its number of runs (a record already queued, in any state, is left
    /// alone). Works through the records in chunks of [`BACKFILL_CHUNK`], a short write
    /// transaction each, so the record writer is never held up long. Returns how many were
    /// queued.
    pub async fn relay_backfill(&self, target: &str, since: Option<i64>, now: i64) -> Result<u64, StoreError> {
        let since = since.unwrap_or(i64::MIN);
        let mut after = i64::MIN;
        let mut queued = 0u64;
        loop {
            let ids: Vec<i64> = sqlx::query(
                "SELECT r.id FROM records r WHERE r.id > $1 AND r.sent_at >= $2 \
                 AND NOT EXISTS (SELECT 1 FROM relay x WHERE x.record_id = r.id AND x.target = $3) \
                 ORDER BY r.id LIMIT $4",
            )
            .bind(after)
            .bind(since)
            .bind(target)
            .bind(BACKFILL_CHUNK)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
            let Some(last) = ids.last() else {
                break;
            };
            after = *last;
            let sql = format!(
                "INSERT INTO relay (record_id, target, state, attempts, next_at, maybe_sent, created_at, updated_at) \
                 SELECT r.id, $1, 'pending', 0, $2, FALSE, $2, $2 FROM records r WHERE r.id IN ({}) \
                 ON CONFLICT (record_id, target) DO NOTHING",
                placeholders(3, ids.len())
            );
            let mut q = sqlx::query(&sql).bind(target).bind(now);
            for id in &ids {
                q = q.bind(*id);
            }
            queued += q.execute(&self.pool).await?.rows_affected();
            if (ids.len() as i64) < BACKFILL_CHUNK {
                break;
            }
        }
        Ok(queued)
    }

    /// The relay rows of these records, by record id.
    pub async fn relay_rows(&self, record_ids: &[i64]) -> Result<HashMap<i64, Vec<RelayRow>>, StoreError> {
        let mut out: HashMap<i64, Vec<RelayRow>> = HashMap::new();
        for chunk in record_ids.chunks(200) {
            let sql = format!(
                "SELECT {RELAY_COLUMNS} FROM relay x WHERE x.record_id IN ({}) ORDER BY x.target",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.pool).await? {
                let r = relay_from_row(&row)?;
                out.entry(r.record_id).or_default().push(r);
            }
        }
        Ok(out)
    }

    /// Records of `target` in one of `states`, most recently changed first, with the email's
    /// key, subject and time; `before` is the last row's (updated_at, record_id) of the
    /// previous page.
    pub async fn relay_list(
        &self,
        target: &str,
        states: &[&str],
        limit: i64,
        before: Option<(i64, i64)>,
    ) -> Result<Vec<RelayListRow>, StoreError> {
        let (before_at, before_id) = before.unwrap_or((i64::MAX, i64::MAX));
        let sql = format!(
            "SELECT {RELAY_COLUMNS}, r.idempotency_key, r.subject, r.sent_at, r.direction \
             FROM relay x JOIN records r ON r.id = x.record_id \
             WHERE x.target = $1 AND (x.updated_at < $2 OR (x.updated_at = $2 AND x.record_id < $3)) \
               AND x.state IN ({}) \
             ORDER BY x.updated_at DESC, x.record_id DESC LIMIT $4",
            placeholders(5, states.len())
        );
        let mut q = sqlx::query(&sql).bind(target).bind(before_at).bind(before_id).bind(limit);
        for s in states {
            q = q.bind(*s);
        }
        let mut out = Vec::new();
        for row in q.fetch_all(&self.pool).await? {
            out.push(RelayListRow {
                relay: relay_from_row(&row)?,
                idempotency_key: row.try_get(14)?,
                subject: row.try_get(15)?,
                sent_at: row.try_get(16)?,
                direction: row.try_get(17)?,
            });
        }
        Ok(out)
    }

    /// How many records of `target` are in each state.
    pub async fn relay_counts(&self, target: &str) -> Result<RelayCounts, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM relay WHERE target = $1 GROUP BY state")
            .bind(target)
            .fetch_all(&self.pool)
            .await?;
        let mut c = RelayCounts::default();
        for row in rows {
            let state: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            match state.as_str() {
                "pending" => c.pending = n,
                "retrying" => c.retrying = n,
                "done" => c.done = n,
                "dead" => c.dead = n,
                _ => {}
            }
        }
        Ok(c)
    }

    /// The earliest time a queued record of `target` is due (in flight ones when their lease
    /// ends), for the relay worker's sleep.
    pub async fn relay_next_due(&self, target: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_at THEN lease_until ELSE next_at END) \
             FROM relay WHERE target = $1 AND state IN ('pending', 'retrying')",
        )
        .bind(target)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }
}

/// Queues the records just stored (`$1`: now, then their ids from `$2`) for every target the
/// relay is on for; nothing when it is off. Run by both writers inside their transaction.
#[allow(dead_code)] // the SQLite writer has its own copy of the statement
fn relay_enqueue_sql(n: usize) -> String {
    format!(
        "INSERT INTO relay (record_id, target, state, attempts, next_at, maybe_sent, created_at, updated_at) \
         SELECT r.id, t.target, 'pending', 0, $1, FALSE, $1, $1 FROM records r CROSS JOIN relay_targets t \
         WHERE r.id IN ({}) ON CONFLICT DO NOTHING",
        placeholders(2, n)
    )
}

/// The sqlx writer's part: queue these newly stored records.
#[allow(dead_code)] // not for SQLite, which uses `sqlite_writer`
async fn relay_enqueue(conn: &mut Conn, ids: &[i64], now: i64) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let sql = relay_enqueue_sql(chunk.len());
        let mut q = sqlx::query(&sql).bind(now);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
