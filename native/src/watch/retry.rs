//! Sending refused records again (`mailtrail watch --retry-failed`), also while a watcher runs.
//!
//! Records the endpoint refused for good (`dead`) stay in the outbox until someone asks for
//! them to be sent again, typically an admin who just fixed a CRM field rule. Without a watcher
//! running, `--retry-failed` does it itself at start. A running watcher holds the state
//! directory's lock and owns the outboxes, so another process must not touch them: the command
//! leaves a request in `STATE_DIR/requests/` instead, and the watcher does the work.
//!
//! The exchange, through files (any two processes of the same user, no socket to secure):
//! 1. the command writes `requests/<id>.request` (atomically);
//! 2. the watcher looks there every second, takes the request by renaming it to
//!    `<id>.claimed` (so the command can tell "taken" from "not taken" when it gives up: it
//!    withdraws a request by deleting `<id>.request`, which fails once it is taken), and wakes
//!    every account, whether it is waiting in IDLE, polling, or waiting to reconnect;
//! 3. each account, between two syncs, makes its refused records due again, delivers them and
//!    answers with what became of them;
//! 4. with every account's answer, the watcher writes `<id>.reply` and removes `<id>.claimed`;
//!    the command reads the reply, deletes it, and reports.
//!
//! A request taken by a watcher that stops before answering stays `.claimed`; the next watcher
//! on the directory handles it when it starts. Replies nobody read are deleted after an hour.

use super::store::{create_private_dir, write_atomic};
use crate::cmd::CliError;
use mailtrail::engine::Engine;
use mailtrail::outbox::EntryState;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

const REQUEST: &str = "request";
const CLAIMED: &str = "claimed";
const REPLY: &str = "reply";
/// How often the watcher looks for requests.
const POLL: Duration = Duration::from_secs(1);
/// Replies older than this were not read by anyone (the command gave up): deleted.
const STALE_REPLY: Duration = Duration::from_secs(3600);
/// The endpoint's reasons kept per account in a reply.
const MAX_ERRORS: usize = 3;

/// Where requests and replies are kept.
pub fn requests_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("requests")
}

/// What one account did with a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRetry {
    pub account: String,
    /// Refused records sent again.
    pub retried: usize,
    /// Of those, accepted by the endpoint now.
    pub delivered: usize,
    /// Refused again: still kept, not sent again.
    pub refused: usize,
    /// Not answered yet (the endpoint is down or asked to wait): sent again with the usual
    /// retries.
    pub waiting: usize,
    /// The endpoint's reasons for the records refused again (the first few).
    #[serde(default)]
    pub errors: Vec<String>,
}

impl AccountRetry {
    /// One line for people.
    pub fn describe(&self) -> String {
        if self.retried == 0 {
            return format!("{}: no refused records", self.account);
        }
        let mut parts = Vec::new();
        if self.delivered > 0 {
            parts.push(format!("{} delivered", self.delivered));
        }
        if self.refused > 0 {
            let why = if self.errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.errors.join("; "))
            };
            parts.push(format!("{} refused again{why}", self.refused));
        }
        if self.waiting > 0 {
            parts.push(format!("{} waiting for the endpoint", self.waiting));
        }
        format!(
            "{}: {} refused records sent again: {}",
            self.account,
            self.retried,
            parts.join(", ")
        )
    }
}

/// The watcher's answer to a request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// The watcher that handled it.
    pub watcher_pid: u32,
    pub accounts: Vec<AccountRetry>,
}

/// Makes every refused record of this engine due again, its attempts reset. Returns their keys.
pub fn requeue_dead(engine: &mut Engine, now: i64) -> Vec<String> {
    let dead: Vec<String> = engine
        .outbox()
        .entries()
        .filter(|e| matches!(e.state, EntryState::Dead { .. }))
        .map(|e| e.key.clone())
        .collect();
    dead.into_iter().filter(|k| engine.retry(k, now)).collect()
}

/// What became of the records sent again (`keys`), after a delivery.
pub fn outcome(engine: &Engine, account: &str, keys: &[String]) -> AccountRetry {
    let mut out = AccountRetry {
        account: account.to_string(),
        retried: keys.len(),
        ..Default::default()
    };
    for key in keys {
        match engine.outbox().get(key).map(|e| (&e.state, &e.last_error)) {
            // Compacted away after delivery, or withdrawn meanwhile: nothing left to send.
            None | Some((EntryState::Done { .. }, _)) | Some((EntryState::Cancelled { .. }, _)) => {
                out.delivered += 1
            }
            Some((EntryState::Dead { .. }, error)) => {
                out.refused += 1;
                if let Some(e) = error {
                    if out.errors.len() < MAX_ERRORS && !out.errors.contains(&e.message) {
                        out.errors.push(e.message.clone());
                    }
                }
            }
            Some(_) => out.waiting += 1,
        }
    }
    out
}

// ---------------------------------------------------------------- the watcher's side

/// A request taken, waiting for some accounts' answers.
struct Open {
    id: String,
    waiting: BTreeSet<String>,
    answers: Vec<AccountRetry>,
}

/// The running watcher's side: takes requests, wakes the accounts, collects their answers.
pub struct RetryDesk {
    dir: PathBuf,
    accounts: Vec<String>,
    open: RefCell<Vec<Open>>,
    wake: tokio::sync::watch::Sender<u64>,
    /// Requests taken by an earlier watcher are picked up at the first look only.
    looked: Cell<bool>,
    /// A problem with the directory is logged once, not every second.
    warned: Cell<bool>,
}

impl RetryDesk {
    pub fn new(state_dir: &Path, accounts: Vec<String>) -> Self {
        RetryDesk {
            dir: requests_dir(state_dir),
            accounts,
            open: RefCell::new(Vec::new()),
            wake: tokio::sync::watch::channel(0).0,
            looked: Cell::new(false),
            warned: Cell::new(false),
        }
    }

    /// A receiver that changes whenever a request arrives.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.wake.subscribe()
    }

    /// True when a request waits for this account's answer.
    pub fn asks(&self, account: &str) -> bool {
        self.open
            .borrow()
            .iter()
            .any(|o| o.waiting.contains(account))
    }

    /// Records an account's answer to every request waiting for it, and writes the reply of
    /// each request every account has now answered.
    pub fn answer(&self, result: &AccountRetry) {
        let done: Vec<Open> = {
            let mut open = self.open.borrow_mut();
            for o in open.iter_mut() {
                if o.waiting.remove(&result.account) {
                    o.answers.push(result.clone());
                }
            }
            let (done, rest): (Vec<Open>, Vec<Open>) = std::mem::take(&mut *open)
                .into_iter()
                .partition(|o| o.waiting.is_empty());
            *open = rest;
            done
        };
        for mut o in done {
            o.answers.sort_by(|a, b| a.account.cmp(&b.account));
            let reply = Reply {
                watcher_pid: std::process::id(),
                accounts: o.answers,
            };
            let bytes = serde_json::to_vec_pretty(&reply).unwrap_or_default();
            if let Err(e) = write_atomic(&self.path(&o.id, REPLY), &bytes) {
                tracing::error!(
                    "cannot write the answer to `mailtrail watch --retry-failed` in {}: {e}",
                    self.dir.display()
                );
            }
            let _ = std::fs::remove_file(self.path(&o.id, CLAIMED));
        }
    }

    fn path(&self, id: &str, kind: &str) -> PathBuf {
        self.dir.join(format!("{id}.{kind}"))
    }

    /// Looks for new requests once: takes them and wakes the accounts.
    fn look(&self) {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                if !self.warned.replace(true) {
                    tracing::error!(
                        "cannot read {} (requests of `mailtrail watch --retry-failed`): {e}",
                        self.dir.display()
                    );
                }
                return;
            }
        };
        let first = !self.looked.replace(true);
        let mut taken = 0;
        for entry in entries.map_while(Result::ok) {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some((id, kind)) = name.rsplit_once('.') else {
                continue;
            };
            if id.is_empty() || id.starts_with('.') {
                continue; // a temporary file of write_atomic
            }
            match kind {
                REQUEST => match std::fs::rename(entry.path(), self.path(id, CLAIMED)) {
                    Ok(()) => taken += self.open(id),
                    // Withdrawn by the command that gave up meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        if !self.warned.replace(true) {
                            tracing::error!(
                                "cannot take the request {}: {e}",
                                entry.path().display()
                            );
                        }
                    }
                },
                // Taken by a watcher that stopped before answering.
                CLAIMED if first => taken += self.open(id),
                REPLY => {
                    let stale = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > STALE_REPLY);
                    if stale {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
                _ => {}
            }
        }
        if taken > 0 {
            tracing::info!(
                "`mailtrail watch --retry-failed` asks to send the refused records again: every account does it after its current step"
            );
            self.wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Opens a request (unless it is open already). Returns 1 when it is new.
    fn open(&self, id: &str) -> usize {
        let mut open = self.open.borrow_mut();
        if open.iter().any(|o| o.id == id) {
            return 0;
        }
        open.push(Open {
            id: id.to_string(),
            waiting: self.accounts.iter().cloned().collect(),
            answers: Vec::new(),
        });
        1
    }
}

/// Looks for requests every second until the watcher stops. The directory is made here, by
/// the watcher's user, so a request left by another user (an admin's root shell) can still
/// be taken.
pub async fn serve_requests(desk: Rc<RetryDesk>, mut stop: tokio::sync::watch::Receiver<bool>) {
    if let Err(e) = create_private_dir(&desk.dir, false) {
        tracing::error!(
            "cannot create {} (requests of `mailtrail watch --retry-failed`): {e}",
            desk.dir.display()
        );
        desk.warned.set(true);
    }
    loop {
        desk.look();
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Resolves when a request arrives; never, once nothing can send one.
pub async fn woken(wake: &mut tokio::sync::watch::Receiver<u64>) {
    if wake.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

// ---------------------------------------------------------------- the command's side

/// How asking the running watcher ended.
pub enum Asked {
    /// It answered; the command's result.
    Answered(Result<(), CliError>),
    /// It stopped before taking the request (withdrawn): the command can do the work itself.
    WatcherGone,
}

/// `--retry-failed` while a watcher holds the state directory: asks it, waits up to `wait` for
/// its answer, and reports (one line per account on stderr, the reply as JSON on stdout).
pub fn ask_running_watcher(
    state_dir: &Path,
    pid: Option<u32>,
    wait: Duration,
) -> Result<Asked, CliError> {
    let dir = requests_dir(state_dir);
    let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    create_private_dir(&dir, false).map_err(|e| {
        CliError::Failed(format!(
            "cannot create {} to ask the running watcher{who}: {e} (run this as the user the watcher runs as)",
            dir.display()
        ))
    })?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = format!("retry-failed-{}-{nanos}", std::process::id());
    let request = dir.join(format!("{id}.{REQUEST}"));
    let reply_path = dir.join(format!("{id}.{REPLY}"));
    let body = serde_json::json!({
        "kind": "retry-failed",
        "pid": std::process::id(),
        "requestedAt": super::account::now_ms(),
    });
    write_atomic(&request, body.to_string().as_bytes()).map_err(|e| {
        CliError::Failed(format!(
            "cannot write the request {}: {e} (run this as the user the watcher runs as)",
            request.display()
        ))
    })?;
    eprintln!(
        "mailtrail: `mailtrail watch`{who} is running on {}: asking it to send the refused records again…",
        state_dir.display()
    );
    let start = std::time::Instant::now();
    loop {
        match std::fs::read(&reply_path) {
            Ok(bytes) => {
                let _ = std::fs::remove_file(&reply_path);
                let reply: Reply = serde_json::from_slice(&bytes).map_err(|e| {
                    CliError::Failed(format!(
                        "the watcher's answer {} is damaged: {e}",
                        reply_path.display()
                    ))
                })?;
                return Ok(Asked::Answered(report(&reply)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::Failed(format!(
                    "cannot read the watcher's answer {}: {e}",
                    reply_path.display()
                )))
            }
        }
        let gone = !super::status::watcher_running(state_dir, None);
        if gone || start.elapsed() >= wait {
            // Withdraw the request; if that fails, the watcher took it.
            let withdrawn = match std::fs::remove_file(&request) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    return Err(CliError::Failed(format!(
                        "cannot withdraw the request {}: {e}",
                        request.display()
                    )))
                }
            };
            if reply_path.exists() {
                continue; // answered just now
            }
            return match (gone, withdrawn) {
                (true, true) => Ok(Asked::WatcherGone),
                (true, false) => Err(CliError::Failed(format!(
                    "the watcher{who} took the request but stopped before answering; the next \
                     `mailtrail watch` on {} sends the refused records again when it starts",
                    state_dir.display()
                ))),
                (false, true) => Err(CliError::Failed(format!(
                    "the running watcher{who} did not take the request within {} s (a version \
                     without this, or stuck); nothing was changed. Stop it, run `mailtrail watch \
                     --config … --retry-failed --once`, then start it again",
                    wait.as_secs()
                ))),
                (false, false) => Err(CliError::Failed(format!(
                    "the running watcher{who} took the request but has not finished within {} s \
                     (an account is in the middle of a long scan, or the endpoint is slow); it \
                     sends the refused records again as soon as it can: `mailtrail watch --status` \
                     shows how many are still refused",
                    wait.as_secs()
                ))),
            };
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Prints the watcher's answer: a line per account (stderr), the reply as JSON (stdout). An
/// error when records were refused again or still wait for the endpoint.
fn report(reply: &Reply) -> Result<(), CliError> {
    for a in &reply.accounts {
        eprintln!("mailtrail: {}", a.describe());
    }
    crate::cmd::print_json(reply)?;
    let refused: usize = reply.accounts.iter().map(|a| a.refused).sum();
    let waiting: usize = reply.accounts.iter().map(|a| a.waiting).sum();
    let mut problems = Vec::new();
    if refused > 0 {
        problems.push(format!(
            "{refused} records were refused again: fix the cause (the endpoint's reasons are above \
             and in the watcher's log), then run this again"
        ));
    }
    if waiting > 0 {
        problems.push(format!(
            "{waiting} records wait for the endpoint: the watcher keeps sending them \
             (`mailtrail watch --status` shows them)"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mt-retry-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_request_is_taken_answered_by_every_account_then_replied() {
        let dir = temp("desk");
        let desk = RetryDesk::new(&dir, vec!["a".into(), "b".into()]);
        let mut wake = desk.subscribe();
        wake.borrow_and_update();
        std::fs::create_dir_all(requests_dir(&dir)).unwrap();
        let req = requests_dir(&dir).join("r1.request");
        std::fs::write(&req, "{}").unwrap();
        // A temporary file being written is not a request.
        std::fs::write(requests_dir(&dir).join(".r2.request.tmp-1"), "{}").unwrap();
        desk.look();
        assert!(!req.exists(), "taken");
        assert!(requests_dir(&dir).join("r1.claimed").exists());
        assert!(wake.has_changed().unwrap(), "the accounts are woken");
        assert!(desk.asks("a") && desk.asks("b"));
        // Looking again takes nothing new.
        desk.look();
        assert_eq!(desk.open.borrow().len(), 1);
        desk.answer(&AccountRetry {
            account: "b".into(),
            retried: 1,
            refused: 1,
            errors: vec!["schema rejected".into()],
            ..Default::default()
        });
        assert!(!desk.asks("b") && desk.asks("a"));
        assert!(
            !requests_dir(&dir).join("r1.reply").exists(),
            "a still owes its answer"
        );
        desk.answer(&AccountRetry {
            account: "a".into(),
            ..Default::default()
        });
        let reply: Reply =
            serde_json::from_slice(&std::fs::read(requests_dir(&dir).join("r1.reply")).unwrap())
                .unwrap();
        assert_eq!(reply.watcher_pid, std::process::id());
        assert_eq!(reply.accounts.len(), 2);
        assert_eq!(reply.accounts[0].account, "a");
        assert_eq!(
            reply.accounts[1].describe(),
            "b: 1 refused records sent again: 1 refused again (schema rejected)"
        );
        assert!(!requests_dir(&dir).join("r1.claimed").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_request_taken_by_a_watcher_that_stopped_is_handled_by_the_next() {
        let dir = temp("leftover");
        std::fs::create_dir_all(requests_dir(&dir)).unwrap();
        std::fs::write(requests_dir(&dir).join("old.claimed"), "{}").unwrap();
        let desk = RetryDesk::new(&dir, vec!["a".into()]);
        desk.look();
        assert!(desk.asks("a"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
