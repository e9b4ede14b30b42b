//! One watched account: connect, scan, wait for mail (IDLE or polling), reconnect with capped
//! exponential backoff, and keep its status current.
//!
//! A folder is scanned from its checkpoint (UIDVALIDITY + last UID handled): new UIDs are found
//! with UID SEARCH, fetched in batches, handed to the engine, and the checkpoint moves only
//! after the batch's records are on disk (see `store`). Mail that arrives while the connection
//! is down has higher UIDs, so it is found after reconnecting; a UIDVALIDITY change makes every
//! UID meaningless, so the folder is scanned again and idempotency keys (the outbox, then the
//! endpoint's deduplication) keep the rescan from logging anything twice.

use super::config::{Account, Backfill, Role};
use super::endpoint::Endpoint;
use super::folders;
use super::imap::{self, Connection, Folder, IdleEnd, ImapError};
use super::ingest::{self, Fetched, Handled, SentVerdict, Stopped, Verdict};
use super::progress::Progress;
use super::status::{AccountStatus, Reason, State};
use super::store::{AccountStore, Checkpoints, FolderCheckpoint, Recheck};
use super::StatusBoard;
use mailtrail::engine::Engine;
use mailtrail::outbox::RetryPolicy;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ClientConfig;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The Sent folder's checkpoint key (whatever the folder is called).
const SENT_KEY: &str = "sent";
/// Header fields the engine needs to decide about an incoming message or a sent one (and the
/// Outlook add-in's `X-Mailtrail-Draft`, which ties a sent copy to the record made at send).
const HEADER_ITEMS: &str = "(UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO CC BCC REPLY-TO SUBJECT DATE MESSAGE-ID IN-REPLY-TO REFERENCES AUTO-SUBMITTED PRECEDENCE X-AUTOREPLY X-AUTORESPOND X-MAILTRAIL-DRAFT)])";
const BODY_ITEMS: &str = "(UID INTERNALDATE RFC822.SIZE BODY.PEEK[])";
const SIZE_ITEMS: &str = "(UID RFC822.SIZE)";
/// Header batches: large, headers are small.
const HEADER_BATCH: usize = 1000;
/// Whole messages per batch, and bytes per batch (a batch may hold one larger message).
const BODY_BATCH: usize = 100;
const BODY_BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// The engine refuses larger messages; they are not even fetched.
const MAX_MESSAGE_BYTES: u64 = 100 * 1024 * 1024;
/// Records waiting for the endpoint beyond which scanning pauses: mail stays on the server
/// rather than piling up in memory and on disk while the CRM is down. Their size counts too
/// (`Shared::max_waiting_bytes`): a record holds its attachments.
const MAX_WAITING_RECORDS: usize = 1000;
/// How long a sent email missing at the endpoint is looked up again (Undo Send windows, slow
/// browsers), and how often.
const RECHECK_WINDOW_MS: i64 = 15 * 60 * 1000;
const RECHECK_EVERY: Duration = Duration::from_secs(20);
/// After the endpoint failed to answer a question a decision depends on, the scan is tried
/// again after this long; the longer it stays down, the longer the wait (a quarter of the
/// time it has been down), up to [`ENDPOINT_RETRY_MAX`].
const ENDPOINT_RETRY: Duration = Duration::from_secs(10);
const ENDPOINT_RETRY_MAX: Duration = Duration::from_secs(120);
const RECHECK_MAX: usize = 500;
/// The longest single IDLE (RFC 2177 asks for less than 29 minutes).
const IDLE_MAX: Duration = Duration::from_secs(10 * 60);
/// Slack when comparing the server's dates with ours (clocks differ; INTERNALDATE has no
/// fractions of a second): mail this close to the window's start is considered inside it.
const WINDOW_MARGIN_MS: i64 = 10 * 60 * 1000;
/// How often a refused password or token is reread to see whether it was changed.
const CREDENTIALS_CHECK: Duration = Duration::from_secs(10);

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How a watch ended without error.
pub enum Ended {
    Stopped,
    /// `--once`: one full sync done.
    Synced,
}

/// What every account shares.
pub struct Shared {
    pub endpoint: Rc<Endpoint>,
    pub board: StatusBoard,
    pub stop: tokio::sync::watch::Receiver<bool>,
    pub once: bool,
    pub unreachable_after: Duration,
    pub max_backoff: Duration,
    /// Bytes of waiting records beyond which scanning pauses.
    pub max_waiting_bytes: u64,
    /// Addresses whose presence on a sent email means it was logged (logging mailboxes).
    pub crm_addresses: Vec<String>,
    /// `--retry-failed` requests from another process while this watcher runs.
    pub retry: Rc<super::retry::RetryDesk>,
}

pub struct AccountWatcher {
    account: Account,
    shared: Rc<Shared>,
    engine: Engine,
    store: AccountStore,
    checkpoints: Checkpoints,
    tls: Arc<ClientConfig>,
    status: AccountStatus,
    attempt: u32,
    unreachable_since: Option<i64>,
    warned_no_sent: bool,
    /// Why the last sync stopped early: the endpoint did not answer a lookup (set by the scan,
    /// cleared when a sync gets through).
    endpoint_error: Option<String>,
    /// Since when syncs stop for the endpoint (spaces the next tries).
    endpoint_down_since: Option<std::time::Instant>,
    /// Changes when a `--retry-failed` request arrives (ends waits early).
    wake: tokio::sync::watch::Receiver<u64>,
}

/// Which folder a scan is about; decides how messages are handled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    LoggingInbox,
    ConnectedInbox,
    Sent,
}

impl AccountWatcher {
    pub fn new(
        account: Account,
        engine: Engine,
        store: AccountStore,
        tls: Arc<ClientConfig>,
        shared: Rc<Shared>,
    ) -> Result<Self, String> {
        let checkpoints = store.load_checkpoints()?;
        let status = AccountStatus::new(&account.name, account.role.as_str(), now_ms());
        let wake = shared.retry.subscribe();
        Ok(AccountWatcher {
            account,
            shared,
            engine,
            store,
            checkpoints,
            tls,
            status,
            attempt: 0,
            unreachable_since: None,
            warned_no_sent: false,
            endpoint_error: None,
            endpoint_down_since: None,
            wake,
        })
    }

    /// Answers a `--retry-failed` request from another process, if one waits for this
    /// account: its refused records are made due again and delivered, and the request learns
    /// what became of them. Called between syncs and while waiting (never in a scan).
    async fn answer_retry_request(&mut self) {
        // Seen: a request from now on wakes the next wait again.
        self.wake.borrow_and_update();
        if !self.shared.retry.asks(&self.account.name) {
            return;
        }
        let keys = super::retry::requeue_dead(&mut self.engine, now_ms());
        if !keys.is_empty() {
            tracing::info!(
                account = %self.account.name,
                "--retry-failed: sending {} refused records again",
                keys.len()
            );
            // Due again on disk first, like any change to the outbox.
            self.persist_quietly();
            self.deliver().await;
        }
        let result = super::retry::outcome(&self.engine, &self.account.name, &keys);
        if keys.is_empty() {
            tracing::info!(account = %self.account.name, "--retry-failed: no refused records");
        } else {
            tracing::info!(account = %self.account.name, "--retry-failed: {}", result.describe());
        }
        self.publish();
        self.shared.retry.answer(&result);
    }

    fn publish(&mut self) {
        self.status.pending = self.waiting_records();
        self.status.dead = self.dead_records();
        self.shared.board.publish(&self.status);
    }

    fn set_state(&mut self, state: State, reason: Option<Reason>, message: Option<String>) {
        self.apply_state(state, reason, message);
        self.publish();
    }

    /// [`Self::set_state`] without publishing, for a caller that adds to the status first (a
    /// reader must never see "disconnected" without the retry it goes with).
    fn apply_state(&mut self, state: State, reason: Option<Reason>, message: Option<String>) {
        if self.status.state != state || self.status.reason != reason {
            self.status.since = now_ms();
        }
        self.status.state = state;
        self.status.reason = reason;
        self.status.message = message;
        if state != State::Reconnecting {
            self.status.attempt = None;
            self.status.next_try_at = None;
        }
        if state != State::Connected {
            self.status.mode = None;
        }
    }

    fn stopped(&self) -> bool {
        *self.shared.stop.borrow()
    }

    fn waiting_records(&self) -> usize {
        let c = self.engine.outbox().counts();
        c.pending + c.sending + c.retrying
    }

    /// The records waiting for the endpoint: how many, and roughly how many bytes they hold.
    fn waiting(&self) -> (usize, u64) {
        use mailtrail::outbox::EntryState;
        self.engine
            .outbox()
            .entries()
            .filter(|e| {
                matches!(
                    e.state,
                    EntryState::Pending | EntryState::Sending { .. } | EntryState::Retrying { .. }
                )
            })
            .fold((0, 0), |(n, bytes), e| {
                (n + 1, bytes + e.record.as_deref().map_or(0, record_bytes))
            })
    }

    /// True when more records may be queued; otherwise delivers what it can first, and says
    /// so when the backlog is still too large (the scan then pauses; the mail stays on the
    /// server).
    async fn room_to_queue(&mut self, name: &str) -> bool {
        if backlog_within(self.waiting(), self.shared.max_waiting_bytes) {
            return true;
        }
        self.deliver().await;
        let (n, bytes) = self.waiting();
        if backlog_within((n, bytes), self.shared.max_waiting_bytes) {
            return true;
        }
        tracing::warn!(
            account = %self.account.name,
            "{n} records ({:.1} MB) wait for the endpoint: pausing the scan of {name} (the mail stays on the server)",
            bytes as f64 / 1_048_576.0
        );
        false
    }

    /// Records the endpoint refused or that ran out of attempts (kept, not sent again).
    fn dead_records(&self) -> usize {
        self.engine.outbox().counts().dead
    }

    /// Runs until stopped (or, with `--once`, until one sync is done or fails).
    pub async fn run(mut self) -> Result<(), String> {
        if self.account.trust_any_certificate {
            tracing::warn!(
                account = %self.account.name,
                "!!! trustAnyCertificate is on: the server's certificate is NOT checked. Anyone on the network path can \
                 impersonate {} and read the password and the mail. Use caFile with the server's CA instead.",
                self.account.host
            );
        }
        self.publish();
        loop {
            if self.stopped() {
                break;
            }
            let result = self.connect_and_watch().await;
            self.persist_quietly();
            match result {
                Ok(Ended::Stopped) => break,
                Ok(Ended::Synced) => {
                    if let Some(e) = &self.endpoint_error {
                        // The messages it stopped at stay on the server, behind the checkpoint.
                        return Err(format!(
                            "{}: the sync stopped early ({e}); the next run carries on from there",
                            self.account.name
                        ));
                    }
                    let waiting = self.waiting_records();
                    if waiting > 0 {
                        // Kept in the outbox: the next run sends them.
                        return Err(format!(
                            "{}: {waiting} records could not be delivered yet; they are kept and sent by the next run",
                            self.account.name
                        ));
                    }
                    let dead = self.dead_records();
                    if dead > 0 {
                        return Err(format!(
                            "{}: {dead} records were refused by the endpoint and are not sent again \
                             (the reasons are in the log); fix the cause, then run with --retry-failed",
                            self.account.name
                        ));
                    }
                    return Ok(());
                }
                Err(e) => {
                    let failed = self.handle_failure(e).await;
                    if let Some(err) = failed {
                        return Err(err);
                    }
                }
            }
        }
        Ok(())
    }

    /// Decides what to do after a failure and waits accordingly. Returns an error to end the
    /// watch (`--once`).
    async fn handle_failure(&mut self, e: ImapError) -> Option<String> {
        let now = now_ms();
        let text = e.to_string();
        let permanent = match &e {
            ImapError::AuthFailed(_)
                if matches!(
                    self.account.credentials,
                    super::config::Credentials::OAuth2(_)
                ) =>
            {
                Some(Reason::TokenExpired)
            }
            ImapError::AuthFailed(_) => Some(Reason::AuthenticationFailed),
            ImapError::AccessRevoked(_) => Some(Reason::ConnectionRevoked),
            ImapError::Credentials(_) => Some(Reason::CredentialsMissing),
            _ => None,
        };
        if let Some(reason) = permanent {
            // Trying the same refused password again only risks locking the account: wait
            // until the password or token changes.
            tracing::error!(account = %self.account.name, "disconnected: {text}");
            self.set_state(State::Disconnected, Some(reason), Some(text.clone()));
            if self.shared.once {
                return Some(format!("{}: {text}", self.account.name));
            }
            self.wait_for_new_credentials().await;
            self.attempt = 0;
            self.unreachable_since = None;
            return None;
        }
        self.attempt += 1;
        let since = *self.unreachable_since.get_or_insert(now);
        let policy = RetryPolicy {
            base_ms: 1_000,
            max_ms: self.shared.max_backoff.as_millis() as u64,
            ..Default::default()
        };
        let delay =
            Duration::from_millis(policy.backoff_ms(self.attempt, super::endpoint::jitter()));
        let long = now - since >= self.shared.unreachable_after.as_millis() as i64;
        let (state, reason) = match &e {
            ImapError::Certificate(_) => (State::Disconnected, Reason::CertificateInvalid),
            _ if long => (State::Disconnected, Reason::ServerUnreachable),
            ImapError::Unavailable(_) => (State::Reconnecting, Reason::ServerUnavailable),
            ImapError::Mailbox(_) => (State::Reconnecting, Reason::MailboxNotFound),
            ImapError::Protocol(_) => (State::Reconnecting, Reason::ProtocolError),
            _ => (State::Reconnecting, Reason::NetworkError),
        };
        tracing::warn!(
            account = %self.account.name,
            "{}: {text}; attempt {} in {:.1} s",
            state.as_str(),
            self.attempt,
            delay.as_secs_f64()
        );
        self.apply_state(state, Some(reason), Some(text.clone()));
        // Disconnected for a long time, still retrying: say when (published together).
        self.status.attempt = Some(self.attempt);
        self.status.next_try_at = Some(now + delay.as_millis() as i64);
        self.publish();
        if self.shared.once {
            return Some(format!("{}: {text}", self.account.name));
        }
        let mut stop = self.shared.stop.clone();
        let until = tokio::time::Instant::now() + delay;
        loop {
            // Refused records can be sent again while the mail server is away.
            self.answer_retry_request().await;
            let woken = tokio::select! {
                _ = tokio::time::sleep_until(until) => false,
                _ = stop.wait_for(|s| *s) => false,
                _ = super::retry::woken(&mut self.wake) => true,
            };
            if !woken {
                break;
            }
        }
        None
    }

    async fn wait_for_new_credentials(&mut self) {
        let source = self.account.credentials.source().clone();
        let before = super::config::read_secret(&source).ok();
        let mut stop = self.shared.stop.clone();
        loop {
            self.answer_retry_request().await;
            tokio::select! {
                _ = tokio::time::sleep(CREDENTIALS_CHECK) => {}
                _ = stop.wait_for(|s| *s) => return,
                _ = super::retry::woken(&mut self.wake) => continue,
            }
            let now = super::config::read_secret(&source).ok();
            if now.is_some() && now != before {
                tracing::info!(account = %self.account.name, "the credentials changed: reconnecting");
                return;
            }
        }
    }

    async fn connect_and_watch(&mut self) -> Result<Ended, ImapError> {
        tracing::debug!(account = %self.account.name, "connecting to {}:{}", self.account.host, self.account.port);
        let mut conn = imap::connect(&self.account, self.tls.clone()).await?;
        let use_idle = self.account.idle && conn.caps.idle;
        tracing::info!(
            account = %self.account.name,
            "connected to {}:{} ({})",
            self.account.host,
            self.account.port,
            if use_idle { "IDLE" } else { "polling" }
        );
        self.status.mode = Some(if use_idle { "idle" } else { "polling" }.into());
        self.set_state(State::Connected, None, None);
        let sent = if self.account.role == Role::ConnectedInbox {
            self.find_sent(&mut conn).await?
        } else {
            None
        };
        let mut quick_resyncs = 0;
        loop {
            let paused = self.sync_all(&mut conn, sent.as_ref()).await?;
            // A full sync worked: the connection is good again.
            self.attempt = 0;
            self.unreachable_since = None;
            self.status.last_sync_at = Some(now_ms());
            if let Some(e) = self.endpoint_error.clone() {
                self.endpoint_down_since
                    .get_or_insert_with(std::time::Instant::now);
                if self.status.reason != Some(Reason::EndpointUnreachable) {
                    tracing::warn!(
                        account = %self.account.name,
                        "{e}: the scan stopped there (the mail stays on the server) and is tried again shortly"
                    );
                }
                self.status.state = State::Connected;
                self.status.reason = Some(Reason::EndpointUnreachable);
                self.status.message = Some(format!(
                    "{e}; the scan resumes from the same message when the endpoint answers"
                ));
            } else if paused {
                let n = self.waiting_records();
                self.status.state = State::Connected;
                self.status.reason = Some(Reason::EndpointUnreachable);
                self.status.message = Some(format!(
                    "{n} records wait for the endpoint; scanning resumes when it accepts them"
                ));
            } else if self.status.reason.is_some() {
                if self.status.reason == Some(Reason::EndpointUnreachable) {
                    tracing::info!(account = %self.account.name, "the endpoint answers again: scanning resumed");
                }
                self.status.reason = None;
                self.status.message = None;
            }
            if self.endpoint_error.is_none() {
                self.endpoint_down_since = None;
            }
            self.publish();
            if self.shared.once {
                conn.logout().await;
                return Ok(Ended::Synced);
            }
            if self.stopped() {
                conn.logout().await;
                return Ok(Ended::Stopped);
            }
            if conn.new_mail_hint() && quick_resyncs < 3 {
                // Mail arrived during the sync: look again now (bounded, in case a server keeps
                // sending such notices).
                quick_resyncs += 1;
                continue;
            }
            quick_resyncs = 0;
            // Between syncs: the moment to send refused records again when asked.
            self.answer_retry_request().await;
            let wait = self.next_wait(use_idle);
            if use_idle {
                // IDLE watches the selected folder: INBOX (the last folder synced).
                let (c, end) = imap::idle(conn, wait, &self.shared.stop, &mut self.wake).await?;
                conn = c;
                match end {
                    IdleEnd::Stopped => {
                        conn.logout().await;
                        return Ok(Ended::Stopped);
                    }
                    IdleEnd::Woken => self.answer_retry_request().await,
                    IdleEnd::Changed | IdleEnd::Timeout => {}
                }
            } else {
                let mut stop = self.shared.stop.clone();
                let woken = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop.wait_for(|s| *s) => {
                        conn.logout().await;
                        return Ok(Ended::Stopped);
                    }
                    _ = super::retry::woken(&mut self.wake) => true,
                };
                if woken {
                    self.answer_retry_request().await;
                }
            }
        }
    }

    /// How long to wait for mail before looking again on our own: the poll interval (or the
    /// IDLE limit), shortened when records are due for a retry or sent emails wait for a
    /// recheck.
    fn next_wait(&self, idle: bool) -> Duration {
        let mut wait = if idle {
            IDLE_MAX
        } else {
            self.account.poll_interval
        };
        if let Some(at) = self.engine.next_wakeup() {
            // Nothing is sent while the endpoint's rate limit lasts (after a 429).
            let now = now_ms();
            let at = at.max(self.shared.endpoint.paused_until(now).unwrap_or(at));
            let ms = (at - now).max(500) as u64;
            wait = wait.min(Duration::from_millis(ms));
        }
        if self
            .checkpoints
            .folders
            .values()
            .any(|f| !f.recheck.is_empty())
        {
            wait = wait.min(RECHECK_EVERY);
        }
        if let Some(since) = self.endpoint_down_since {
            let retry = (since.elapsed() / 4).clamp(ENDPOINT_RETRY, ENDPOINT_RETRY_MAX);
            wait = wait.min(retry);
        }
        wait.max(Duration::from_millis(500))
    }

    async fn find_sent(&mut self, conn: &mut Connection) -> Result<Option<Folder>, ImapError> {
        let list = conn.list().await?;
        let found = folders::find_sent(&list, self.account.sent_folder.as_deref()).cloned();
        match &found {
            Some(f) => tracing::info!(
                account = %self.account.name,
                "Sent folder: {:?}{}",
                f.name,
                if f.sent { " (special-use \\Sent)" } else { " (by its name)" }
            ),
            None if !self.warned_no_sent => {
                self.warned_no_sent = true;
                tracing::warn!(
                    account = %self.account.name,
                    "no Sent folder found{}: threads logged from other devices are not known, only replies to \
                     emails this watcher logged are followed (set sentFolder to name it)",
                    self.account.sent_folder.as_deref().map(|n| format!(" (sentFolder {n:?} does not exist)")).unwrap_or_default()
                );
            }
            None => {}
        }
        Ok(found)
    }

    /// One pass over the account's folders, then delivery. Returns true when scanning paused
    /// because the endpoint is not taking records.
    async fn sync_all(
        &mut self,
        conn: &mut Connection,
        sent: Option<&Folder>,
    ) -> Result<bool, ImapError> {
        self.endpoint_error = None;
        let inbox_kind = match self.account.role {
            Role::LoggingMailbox => Kind::LoggingInbox,
            Role::ConnectedInbox => {
                // Sent first: a reply can only be matched once its thread is known.
                if let Some(f) = sent {
                    if self.scan(conn, &f.raw, &f.name, Kind::Sent, false).await? {
                        // The endpoint could not say which sent emails were logged: replies
                        // to them would be taken for replies in unlogged threads. INBOX waits
                        // (only its first checkpoint is set: mail from now on is new mail),
                        // and stays selected for IDLE.
                        let inbox = self.account.inbox.clone();
                        self.scan(conn, &inbox, &inbox, Kind::ConnectedInbox, true)
                            .await?;
                        self.deliver().await;
                        self.persist_quietly();
                        return Ok(true);
                    }
                }
                Kind::ConnectedInbox
            }
        };
        let inbox = self.account.inbox.clone();
        let paused = self.scan(conn, &inbox, &inbox, inbox_kind, false).await?;
        self.deliver().await;
        self.persist_quietly();
        Ok(paused)
    }

    /// Sends what is due and saves the outcome.
    async fn deliver(&mut self) {
        let dead_before = self.dead_records();
        let report = self.shared.endpoint.flush(&mut self.engine, now_ms).await;
        self.engine.compact(now_ms());
        if let Err(e) = self.store.save(&mut self.engine, false) {
            tracing::error!(account = %self.account.name, "cannot save the state in {}: {e}", self.store.dir().display());
        }
        if report.delivered + report.duplicates > 0 {
            tracing::debug!(account = %self.account.name, "delivered {} records ({} were already there)", report.delivered + report.duplicates, report.duplicates);
        }
        let dead_now = self.dead_records();
        for (key, e) in report.errors.iter().take(3) {
            if self.is_dead(key) {
                tracing::error!(account = %self.account.name, "record {key} refused by the endpoint, not sent again: {}", e.message);
            } else {
                tracing::warn!(account = %self.account.name, "record {key} not delivered yet: {}", e.message);
            }
        }
        if dead_now > dead_before {
            tracing::error!(
                account = %self.account.name,
                "{} records were refused by the endpoint ({dead_now} in all); they stay in the outbox: fix the cause, then \
                 run `mailtrail watch --config … --once --retry-failed` (the running watcher is asked; no need to stop it)",
                dead_now - dead_before
            );
        }
        self.status.pending = self.waiting_records();
        self.status.dead = dead_now;
    }

    fn is_dead(&self, key: &str) -> bool {
        self.engine
            .outbox()
            .get(key)
            .is_some_and(|e| matches!(e.state, mailtrail::outbox::EntryState::Dead { .. }))
    }

    fn persist(&mut self) -> Result<(), ImapError> {
        self.store.save(&mut self.engine, false).map_err(|e| {
            ImapError::Protocol(format!(
                "cannot save the state in {}: {e}",
                self.store.dir().display()
            ))
        })
    }

    /// Saves everything, the engine snapshot included.
    fn persist_quietly(&mut self) {
        if let Err(e) = self.store.save(&mut self.engine, true) {
            tracing::error!(account = %self.account.name, "cannot save the state in {}: {e}", self.store.dir().display());
        }
    }

    /// Saves a folder's checkpoint, after what it stands for: the Sent folder's checkpoint
    /// stands for the threads learnt from it, which live in the engine snapshot (written at
    /// most every few seconds otherwise), so the snapshot is written first; a crash between
    /// the two then only means reading some sent emails again.
    fn save_checkpoint(&mut self, key: &str, cp: FolderCheckpoint) -> Result<(), ImapError> {
        if key == SENT_KEY {
            self.store.save(&mut self.engine, true).map_err(|e| {
                ImapError::Protocol(format!(
                    "cannot save the state in {}: {e}",
                    self.store.dir().display()
                ))
            })?;
        }
        self.checkpoints.folders.insert(key.to_string(), cp);
        self.store.save_checkpoints(&self.checkpoints).map_err(|e| {
            ImapError::Protocol(format!(
                "cannot save the checkpoint in {}: {e}",
                self.store.dir().display()
            ))
        })
    }

    /// Scans one folder from its checkpoint. Returns true when it paused for the endpoint.
    /// `init_only`: only open the folder and set its first checkpoint (if it has none).
    async fn scan(
        &mut self,
        conn: &mut Connection,
        raw: &str,
        name: &str,
        kind: Kind,
        init_only: bool,
    ) -> Result<bool, ImapError> {
        let opened = conn.examine(raw).await?;
        let key = if kind == Kind::Sent {
            SENT_KEY.to_string()
        } else {
            raw.to_string()
        };
        let now = now_ms();
        let mut cp = match self.checkpoints.folders.get(&key).cloned() {
            None => {
                let backfill = match kind {
                    Kind::Sent => Backfill::Days(self.account.sent_lookback_days),
                    _ => self.account.backfill,
                };
                let since_ms = match backfill {
                    Backfill::All => None,
                    Backfill::Days(d) => Some(now - i64::from(d) * DAY_MS),
                };
                let mut cp = FolderCheckpoint {
                    uid_validity: opened.uid_validity,
                    last_uid: 0,
                    since_ms,
                    ..Default::default()
                };
                if since_ms.is_some() {
                    cp.window_end_uid = Some(current_max_uid(conn, &opened).await?);
                }
                if backfill == Backfill::Days(0) {
                    // Only mail from now on: everything already there is behind the checkpoint.
                    cp.last_uid = current_max_uid(conn, &opened).await?;
                    cp.window_end_uid = None;
                    tracing::info!(account = %self.account.name, "{name}: watching new mail from UID {}", cp.last_uid + 1);
                    self.save_checkpoint(&key, cp)?;
                    return Ok(false);
                }
                cp
            }
            Some(mut cp) if cp.uid_validity != opened.uid_validity => {
                tracing::warn!(
                    account = %self.account.name,
                    "{name}: UIDVALIDITY changed ({} -> {}): the server renumbered the folder; scanning it again \
                     (records already sent are recognised and not logged twice)",
                    cp.uid_validity,
                    opened.uid_validity
                );
                cp.uid_validity = opened.uid_validity;
                cp.last_uid = 0;
                cp.recheck.clear();
                cp.rescans += 1;
                if cp.since_ms.is_some() {
                    cp.window_end_uid = Some(current_max_uid(conn, &opened).await?);
                }
                cp
            }
            Some(cp) => cp,
        };
        if init_only {
            self.save_checkpoint(&key, cp)?;
            return Ok(false);
        }

        if kind == Kind::Sent {
            if let Some(stop) = self.recheck_sent(conn, &mut cp, name).await? {
                self.endpoint_error = Some(stop.error);
                self.save_checkpoint(&key, cp)?;
                return Ok(true);
            }
        }

        let uids = self.new_uids(conn, &cp).await?;
        if uids.is_empty() {
            self.save_checkpoint(&key, cp)?;
            return Ok(false);
        }
        let total = uids.len() as u64;
        let label = format!("{} {name}", self.account.name);
        let mut progress = Progress::start(&label, total);
        let live = total < super::progress::MIN_TOTAL;
        if !live {
            self.status.message = Some(format!("scanning {name}: {total} messages"));
            self.publish();
        }
        let mut paused = false;
        let chunk = match kind {
            Kind::LoggingInbox => HEADER_BATCH * 2,
            _ => HEADER_BATCH,
        };
        for batch in uids.chunks(chunk) {
            if self.stopped() {
                break;
            }
            if kind != Kind::Sent && !self.room_to_queue(name).await {
                paused = true;
                break;
            }
            let stop = match kind {
                Kind::LoggingInbox => {
                    match self
                        .logging_batch(conn, batch, &key, &mut cp, name, live, &mut progress)
                        .await?
                    {
                        BatchEnd::Done => None,
                        BatchEnd::Stopped(s) => Some(s),
                        BatchEnd::Backlog => {
                            paused = true;
                            break;
                        }
                    }
                }
                Kind::ConnectedInbox => {
                    let stop = self.inbox_batch(conn, batch, &cp, name, live).await?;
                    if let Some(p) = progress.as_mut() {
                        p.advance(batch.len() as u64);
                    }
                    stop
                }
                Kind::Sent => {
                    let stop = self.sent_batch(conn, batch, &mut cp, name, live).await?;
                    if let Some(p) = progress.as_mut() {
                        p.advance(batch.len() as u64);
                    }
                    stop
                }
            };
            if kind != Kind::LoggingInbox {
                self.persist()?;
                // Past the batch, or up to the message the endpoint could not answer about.
                let done = match &stop {
                    Some(s) => s.at_uid.saturating_sub(1),
                    None => batch.last().copied().unwrap_or(0),
                };
                cp.last_uid = cp.last_uid.max(done);
                self.save_checkpoint(&key, cp.clone())?;
                if kind == Kind::ConnectedInbox {
                    self.deliver().await;
                }
            }
            if let Some(s) = stop {
                tracing::debug!(account = %self.account.name, "{name}: stopped before uid {}: {}", s.at_uid, s.error);
                self.endpoint_error = Some(s.error);
                paused = true;
                self.publish();
                break;
            }
            self.publish();
        }
        if let Some(p) = progress {
            p.finish();
        }
        if !live {
            self.status.message = None;
        }
        self.save_checkpoint(&key, cp)?;
        Ok(paused)
    }

    /// The UIDs after the checkpoint. UIDs of the first scan (or of a rescan after a UIDVALIDITY
    /// change) are limited to the scan's window by date; later UIDs are new mail whatever their
    /// date says (a filter may move old mail into INBOX, a server's clock may be off).
    async fn new_uids(
        &mut self,
        conn: &mut Connection,
        cp: &FolderCheckpoint,
    ) -> Result<Vec<u32>, ImapError> {
        let from = cp.last_uid.saturating_add(1);
        let mut uids = Vec::new();
        let mut plain_from = from;
        if let (Some(end), Some(since)) = (cp.window_end_uid, cp.since_ms) {
            if from <= end {
                let q = format!(
                    "UID {from}:{end} SINCE {}",
                    imap_date(since - WINDOW_MARGIN_MS)
                );
                uids.extend(conn.uid_search(&q).await?);
            }
            plain_from = plain_from.max(end.saturating_add(1));
        }
        uids.extend(conn.uid_search(&format!("UID {plain_from}:*")).await?);
        uids.retain(|u| *u > cp.last_uid);
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// Logging mailbox: sizes first (to batch whole messages by bytes), then whole messages.
    #[allow(clippy::too_many_arguments)]
    async fn logging_batch(
        &mut self,
        conn: &mut Connection,
        uids: &[u32],
        key: &str,
        cp: &mut FolderCheckpoint,
        name: &str,
        live: bool,
        progress: &mut Option<Progress>,
    ) -> Result<BatchEnd, ImapError> {
        let sizes = conn.uid_fetch(uids, SIZE_ITEMS).await?;
        let mut sized: Vec<(u32, u64)> = sizes
            .iter()
            .filter_map(|f| f.uid.map(|u| (u, u64::from(f.size.unwrap_or(0)))))
            .collect();
        sized.sort_unstable();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        let mut current: Vec<u32> = Vec::new();
        let mut bytes = 0u64;
        for (uid, size) in &sized {
            if *size > MAX_MESSAGE_BYTES {
                self.report(name, live, &Handled {
                    uid: *uid,
                    subject: String::new(),
                    from: String::new(),
                    verdict: Verdict::Failed { error: format!("the message is {size} bytes, over the {MAX_MESSAGE_BYTES} byte limit; it was not fetched") },
                });
                continue;
            }
            if !current.is_empty()
                && (current.len() >= BODY_BATCH || bytes + size > BODY_BATCH_BYTES)
            {
                groups.push(std::mem::take(&mut current));
                bytes = 0;
            }
            current.push(*uid);
            bytes += size;
        }
        if !current.is_empty() {
            groups.push(current);
        }
        // UIDs the server no longer has (expunged meanwhile) are simply passed.
        let mut done_up_to = cp.last_uid;
        for group in groups {
            if !self.room_to_queue(name).await {
                // Up to the group before; this one is fetched again when there is room.
                cp.last_uid = cp.last_uid.max(done_up_to);
                self.persist()?;
                self.save_checkpoint(key, cp.clone())?;
                return Ok(BatchEnd::Backlog);
            }
            let t0 = std::time::Instant::now();
            let fetched = to_fetched(conn.uid_fetch(&group, BODY_ITEMS).await?, true);
            let t1 = std::time::Instant::now();
            let (handled, stop) = ingest::logging_batch(
                &mut self.engine,
                &self.shared.endpoint,
                &self.account,
                &fetched,
                now_ms(),
            )
            .await;
            for h in &handled {
                self.report(name, live, h);
            }
            let t2 = std::time::Instant::now();
            // Records on disk first, then the checkpoint past them.
            self.persist()?;
            if let Some(stop) = stop {
                // Not decided without the endpoint's answer: the next pass starts there.
                cp.last_uid = cp.last_uid.max(stop.at_uid.saturating_sub(1));
                self.save_checkpoint(key, cp.clone())?;
                return Ok(BatchEnd::Stopped(stop));
            }
            if let Some(last) = group.last() {
                done_up_to = done_up_to.max(*last);
            }
            cp.last_uid = cp.last_uid.max(done_up_to);
            self.save_checkpoint(key, cp.clone())?;
            let t3 = std::time::Instant::now();
            self.deliver().await;
            tracing::debug!(
                account = %self.account.name,
                "{name}: batch of {}: fetch {} ms, decide {} ms, save {} ms, deliver {} ms",
                group.len(),
                (t1 - t0).as_millis(),
                (t2 - t1).as_millis(),
                (t3 - t2).as_millis(),
                t3.elapsed().as_millis()
            );
            if let Some(p) = progress.as_mut() {
                p.advance(group.len() as u64);
            }
        }
        cp.last_uid = cp.last_uid.max(uids.last().copied().unwrap_or(0));
        self.persist()?;
        self.save_checkpoint(key, cp.clone())?;
        Ok(BatchEnd::Done)
    }

    async fn inbox_batch(
        &mut self,
        conn: &mut Connection,
        uids: &[u32],
        cp: &FolderCheckpoint,
        name: &str,
        live: bool,
    ) -> Result<Option<Stopped>, ImapError> {
        let headers = to_fetched(conn.uid_fetch(uids, HEADER_ITEMS).await?, false);
        let window = cp
            .window_end_uid
            .zip(cp.since_ms.map(|s| s - WINDOW_MARGIN_MS));
        let screen = ingest::inbox_screen(
            &mut self.engine,
            &self.shared.endpoint,
            &headers,
            window,
            now_ms(),
        )
        .await;
        for h in &screen.skipped {
            self.report(name, live, h);
        }
        for group in screen.fetch.chunks(BODY_BATCH) {
            let whole = to_fetched(conn.uid_fetch(group, BODY_ITEMS).await?, true);
            let handled = ingest::inbox_log(
                &mut self.engine,
                &self.account,
                &whole,
                &screen.contacts,
                now_ms(),
            );
            for h in &handled {
                // Replies are few and matter: always at info.
                self.report(name, true, h);
            }
        }
        Ok(screen.stopped)
    }

    async fn sent_batch(
        &mut self,
        conn: &mut Connection,
        uids: &[u32],
        cp: &mut FolderCheckpoint,
        name: &str,
        live: bool,
    ) -> Result<Option<Stopped>, ImapError> {
        let headers = to_fetched(conn.uid_fetch(uids, HEADER_ITEMS).await?, false);
        let now = now_ms();
        let (verdicts, stop) = ingest::sent_batch(
            &mut self.engine,
            &self.shared.endpoint,
            &headers,
            &self.shared.crm_addresses,
            now,
        )
        .await;
        for (uid, v) in verdicts {
            let recent = headers
                .iter()
                .find(|h| h.uid == uid)
                .and_then(|h| h.internal_date_ms)
                .is_none_or(|at| now - at < RECHECK_WINDOW_MS);
            self.note_sent(name, live, uid, &v);
            if v == SentVerdict::NotLogged && recent && cp.recheck.len() < RECHECK_MAX {
                cp.recheck.push_back(Recheck {
                    uid,
                    first_seen_ms: now,
                });
            }
        }
        Ok(stop)
    }

    /// Looks again at recent sent emails the endpoint did not have yet. Returns where it
    /// stopped when the endpoint did not answer (the entries not answered are kept, however
    /// old: only an answer "not logged" expires).
    async fn recheck_sent(
        &mut self,
        conn: &mut Connection,
        cp: &mut FolderCheckpoint,
        name: &str,
    ) -> Result<Option<Stopped>, ImapError> {
        if cp.recheck.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let uids: Vec<u32> = cp.recheck.iter().map(|r| r.uid).collect();
        let headers = to_fetched(conn.uid_fetch(&uids, HEADER_ITEMS).await?, false);
        let (verdicts, stop) = ingest::sent_batch(
            &mut self.engine,
            &self.shared.endpoint,
            &headers,
            &self.shared.crm_addresses,
            now,
        )
        .await;
        let on_server: std::collections::HashSet<u32> = headers.iter().map(|h| h.uid).collect();
        let answered: std::collections::HashMap<u32, SentVerdict> = verdicts.into_iter().collect();
        let mut kept = std::collections::VecDeque::new();
        for r in std::mem::take(&mut cp.recheck) {
            if !on_server.contains(&r.uid) {
                continue; // gone from the server
            }
            match answered.get(&r.uid) {
                // Not asked: the endpoint stopped answering first.
                None => kept.push_back(r),
                Some(SentVerdict::NotLogged) => {
                    if now - r.first_seen_ms < RECHECK_WINDOW_MS {
                        kept.push_back(r);
                    }
                }
                Some(v) => self.note_sent(name, true, r.uid, v),
            }
        }
        cp.recheck = kept;
        self.persist()?;
        Ok(stop)
    }

    fn note_sent(&mut self, name: &str, live: bool, uid: u32, v: &SentVerdict) {
        match v {
            SentVerdict::Tracked(why) => {
                self.status.counts.threads_learnt += 1;
                if live {
                    tracing::info!(account = %self.account.name, "{name} uid {uid}: thread is logged ({why})");
                } else {
                    tracing::debug!(account = %self.account.name, "{name} uid {uid}: thread is logged ({why})");
                }
            }
            other => tracing::debug!(account = %self.account.name, "{name} uid {uid}: {other:?}"),
        }
    }

    /// Logs one message's verdict and counts it.
    fn report(&mut self, folder: &str, live: bool, h: &Handled) {
        let who = if h.from.is_empty() {
            String::new()
        } else {
            format!(" from {}", h.from)
        };
        match &h.verdict {
            Verdict::Logged {
                key,
                direction,
                contacts,
            } => {
                self.status.counts.logged += 1;
                let line = format!(
                    "{folder} uid {}: logged {direction} {:?}{who} for {} [{key}]",
                    h.uid,
                    h.subject,
                    contacts.join(", ")
                );
                if live {
                    tracing::info!(account = %self.account.name, "{line}");
                } else {
                    tracing::debug!(account = %self.account.name, "{line}");
                }
            }
            Verdict::Skipped { reasons } => {
                self.status.counts.skipped += 1;
                let line = format!(
                    "{folder} uid {}: not logged {:?}{who}: {reasons}",
                    h.uid, h.subject
                );
                if live {
                    tracing::info!(account = %self.account.name, "{line}");
                } else {
                    tracing::debug!(account = %self.account.name, "{line}");
                }
            }
            Verdict::Failed { error } => {
                self.status.counts.failed += 1;
                tracing::warn!(account = %self.account.name, "{folder} uid {}: cannot be logged{who}: {error}", h.uid);
            }
        }
    }
}

/// How a logging mailbox's batch ended.
enum BatchEnd {
    Done,
    /// The endpoint did not answer a lookup; the checkpoint is before `Stopped::at_uid`.
    Stopped(Stopped),
    /// Too much waits for the endpoint; the checkpoint is before the messages not handled.
    Backlog,
}

/// Roughly the memory a queued record holds: its bodies and attachment data.
fn record_bytes(r: &mailtrail::Record) -> u64 {
    let text = r.text.as_ref().map_or(0, String::len) + r.html.as_ref().map_or(0, String::len);
    let attachments: usize = r
        .attachments
        .iter()
        .map(|a| a.data.as_ref().map_or(0, String::len))
        .sum();
    (1024 + r.subject.len() + text + attachments) as u64
}

/// Whether a backlog of `(records, bytes)` leaves room to queue more.
fn backlog_within((records, bytes): (usize, u64), max_bytes: u64) -> bool {
    records < MAX_WAITING_RECORDS && bytes < max_bytes
}

/// The highest UID in the opened folder (0 when empty).
async fn current_max_uid(conn: &mut Connection, opened: &imap::Opened) -> Result<u32, ImapError> {
    Ok(match opened.uid_next {
        Some(n) => n.saturating_sub(1),
        None => conn.uid_search("ALL").await?.last().copied().unwrap_or(0),
    })
}

/// The messages of a fetch answer. `whole`: BODY[] (else the header fields).
fn to_fetched(fetches: Vec<async_imap::types::Fetch>, whole: bool) -> Vec<Fetched> {
    let mut out: Vec<Fetched> = fetches
        .iter()
        .filter_map(|f| {
            let uid = f.uid?;
            let bytes = if whole { f.body() } else { f.header() };
            Some(Fetched {
                uid,
                bytes: bytes.map(<[u8]>::to_vec).unwrap_or_default(),
                internal_date_ms: f.internal_date().map(|d| d.timestamp_millis()),
            })
        })
        .collect();
    out.sort_by_key(|f| f.uid);
    out.dedup_by_key(|f| f.uid);
    out
}

/// An IMAP date (`2-Mar-2026`) for SEARCH SINCE, in UTC.
pub fn imap_date(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = mailtrail::time::utc_parts(ms);
    format!("{}-{}-{}", t.day, MONTHS[usize::from(t.month - 1)], t.year)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watcher with no connection, for what can be checked without one.
    fn offline_watcher(dir: &std::path::Path) -> AccountWatcher {
        let settings = mailtrail::Settings {
            user_addresses: vec!["alice@ours.example".into()],
            ..Default::default()
        };
        use super::super::config::{Credentials, SecretSource, Security};
        let account = Account {
            name: "alice".into(),
            role: Role::ConnectedInbox,
            host: "127.0.0.1".into(),
            port: 9,
            security: Security::Implicit,
            user: "alice".into(),
            address: "alice@ours.example".into(),
            credentials: Credentials::Password(SecretSource::Env("MT_UNSET".into())),
            trust_any_certificate: false,
            ca_file: None,
            idle: true,
            poll_interval: Duration::from_secs(60),
            backfill: Backfill::Days(0),
            sent_lookback_days: 90,
            sent_folder: None,
            inbox: "INBOX".into(),
        };
        let endpoint = Rc::new(
            Endpoint::new(mailtrail::settings::EndpointConfig::Local {
                url: "http://127.0.0.1:9".into(),
                token: "t".into(),
            })
            .unwrap(),
        );
        let (_tx, stop) = tokio::sync::watch::channel(false);
        let shared = Rc::new(Shared {
            endpoint: endpoint.clone(),
            board: StatusBoard::new(dir.to_path_buf(), endpoint),
            stop,
            once: true,
            unreachable_after: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60),
            max_waiting_bytes: 512 * 1024 * 1024,
            crm_addresses: Vec::new(),
            retry: Rc::new(super::super::retry::RetryDesk::new(
                dir,
                vec!["alice".into()],
            )),
        });
        let mut engine = Engine::new(&settings).unwrap();
        let mut store = AccountStore::open(dir.join("alice")).unwrap();
        store.load_engine(&mut engine).unwrap();
        let tls = super::super::tls::client_config(None, false).unwrap();
        AccountWatcher::new(account, engine, store, tls, shared).unwrap()
    }

    fn sent_email(engine: &Engine, id: &str) -> mailtrail::email::Email {
        let raw = format!(
            "From: alice@ours.example\r\nTo: bob@client.example\r\nSubject: Quote {id}\r\nMessage-ID: <{id}@ours.example>\r\n\r\nHello\r\n"
        );
        engine.parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn sent_checkpoint_is_never_ahead_of_the_threads_it_stands_for() {
        let dir = std::env::temp_dir().join(format!("mt-sent-cp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut w = offline_watcher(&dir);
        // A first thread, saved: the snapshot was just written (the next one is not due for a
        // few seconds).
        let first = sent_email(&w.engine, "one");
        w.engine.track_thread(&first, now_ms());
        w.persist().unwrap();
        // A thread learnt from the Sent folder, and its checkpoint saved.
        let second = sent_email(&w.engine, "two");
        w.engine.track_thread(&second, now_ms());
        w.persist().unwrap();
        w.save_checkpoint(
            SENT_KEY,
            FolderCheckpoint {
                uid_validity: 1,
                last_uid: 2,
                ..Default::default()
            },
        )
        .unwrap();
        // A crash now: what a restart finds must hold both threads.
        let settings = w.engine.settings().clone();
        let mut again = Engine::new(&settings).unwrap();
        AccountStore::open(dir.join("alice"))
            .unwrap()
            .load_engine(&mut again)
            .unwrap();
        assert_eq!(again.threads().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn imap_dates() {
        assert_eq!(imap_date(0), "1-Jan-1970");
        assert_eq!(imap_date(1_772_445_600_000), "2-Mar-2026");
        assert_eq!(imap_date(951_782_400_000), "29-Feb-2000");
        assert_eq!(imap_date(-DAY_MS), "31-Dec-1969");
    }
}
