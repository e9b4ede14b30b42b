//! Connection status, a first-class state users can read: connected, reconnecting (attempt,
//! next try), or disconnected with a reason they understand.
//!
//! Written to `STATE_DIR/status.json` on every change (what `mailtrail watch --status` shows)
//! and sent to the local endpoint (`PUT /v1/watch-status/{account}`), whose web UI shows it in
//! English, Japanese and Polish. The `reason` codes below are that contract.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Connected,
    Reconnecting,
    Disconnected,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connected => "connected",
            State::Reconnecting => "reconnecting",
            State::Disconnected => "disconnected",
        }
    }
}

/// Why an account is not (or not fully) connected. Stable codes: the server UI translates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// Password refused: it was probably changed.
    AuthenticationFailed,
    /// OAuth 2.0 token refused: it expired or was revoked.
    TokenExpired,
    /// The login is valid, but the server no longer allows this account or connection.
    ConnectionRevoked,
    /// The server could not be reached for a long time (`unreachableAfterMinutes`).
    ServerUnreachable,
    /// The server's certificate is not trusted.
    CertificateInvalid,
    /// The password or token could not be read on this machine (file or variable missing).
    CredentialsMissing,
    /// The connection dropped or could not be made; reconnecting.
    NetworkError,
    /// The server said it is temporarily unavailable.
    ServerUnavailable,
    /// INBOX (or the Sent folder) could not be opened.
    MailboxNotFound,
    /// The server answered something the watcher cannot work with.
    ProtocolError,
    /// Connected, but the CRM endpoint does not accept records at the moment; mail waits on the
    /// server and in the outbox, nothing is lost.
    EndpointUnreachable,
    /// The watcher is not running (stopped by the user or the system).
    WatcherStopped,
}

impl Reason {
    /// Every reason, for translation-completeness tests (the server's UI shows each one).
    #[cfg_attr(not(test), allow(dead_code))]
    pub const ALL: [Reason; 12] = [
        Reason::AuthenticationFailed,
        Reason::TokenExpired,
        Reason::ConnectionRevoked,
        Reason::ServerUnreachable,
        Reason::CertificateInvalid,
        Reason::CredentialsMissing,
        Reason::NetworkError,
        Reason::ServerUnavailable,
        Reason::MailboxNotFound,
        Reason::ProtocolError,
        Reason::EndpointUnreachable,
        Reason::WatcherStopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AuthenticationFailed => "authentication-failed",
            Reason::TokenExpired => "token-expired",
            Reason::ConnectionRevoked => "connection-revoked",
            Reason::ServerUnreachable => "server-unreachable",
            Reason::CertificateInvalid => "certificate-invalid",
            Reason::CredentialsMissing => "credentials-missing",
            Reason::NetworkError => "network-error",
            Reason::ServerUnavailable => "server-unavailable",
            Reason::MailboxNotFound => "mailbox-not-found",
            Reason::ProtocolError => "protocol-error",
            Reason::EndpointUnreachable => "endpoint-unreachable",
            Reason::WatcherStopped => "watcher-stopped",
        }
    }

    /// The English sentence for people (the CLI; the server translates the code itself).
    pub fn explain(self) -> &'static str {
        match self {
            Reason::AuthenticationFailed => {
                "the server refused the password: it was probably changed. Update it (the watcher rereads a password file by itself)"
            }
            Reason::TokenExpired => {
                "the server refused the OAuth token: it expired or was revoked. Write a fresh one (the watcher rereads the token file by itself)"
            }
            Reason::ConnectionRevoked => "the server no longer allows this account to connect (access revoked or disabled by an administrator)",
            Reason::ServerUnreachable => "the server has been unreachable for a long time; the watcher keeps trying",
            Reason::CertificateInvalid => {
                "the server's certificate is not trusted: check the host name, or give the company CA with caFile"
            }
            Reason::CredentialsMissing => "the password or token cannot be read on this machine",
            Reason::NetworkError => "the connection dropped or could not be made; reconnecting",
            Reason::ServerUnavailable => "the server is temporarily unavailable",
            Reason::MailboxNotFound => "a folder the watcher needs cannot be opened",
            Reason::ProtocolError => "the server answered in a way the watcher does not understand; reconnecting",
            Reason::EndpointUnreachable => "the CRM endpoint does not accept records right now; they wait in the outbox",
            Reason::WatcherStopped => "the watcher is not running",
        }
    }
}

/// Counts since the watcher started.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub logged: u64,
    pub skipped: u64,
    pub failed: u64,
    pub threads_learnt: u64,
}

/// One account's status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub account: String,
    pub role: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Details (the server's own words), English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Reconnection attempt number (1 = first retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_try_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<i64>,
    /// Since when the account is in this state.
    pub since: i64,
    /// "idle" or "polling" while connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default)]
    pub counts: Counts,
    /// Records waiting in the outbox.
    #[serde(default)]
    pub pending: usize,
    /// Records the endpoint refused, or that ran out of attempts: kept in the outbox, not sent
    /// again until `mailtrail watch --retry-failed`.
    #[serde(default)]
    pub dead: usize,
}

impl AccountStatus {
    pub fn new(account: &str, role: &str, now: i64) -> Self {
        AccountStatus {
            account: account.into(),
            role: role.into(),
            state: State::Reconnecting,
            reason: None,
            message: Some("starting".into()),
            attempt: None,
            next_try_at: None,
            last_sync_at: None,
            since: now,
            mode: None,
            counts: Counts::default(),
            pending: 0,
            dead: 0,
        }
    }

    /// The body of `PUT /v1/watch-status/{account}` (`dead`: the refused records, which the
    /// server's UI shows with the way to send them again).
    pub fn server_json(&self) -> serde_json::Value {
        serde_json::json!({
            "state": self.state.as_str(),
            "reason": self.reason.map(Reason::as_str),
            "message": self.message,
            "attempt": self.attempt,
            "nextTryAt": self.next_try_at,
            "lastSyncAt": self.last_sync_at,
            "dead": self.dead,
        })
    }

    /// One line for people.
    pub fn describe(&self, now: i64) -> String {
        let mut s = format!("{}  ({})  {}", self.account, self.role, self.state.as_str());
        match self.state {
            State::Connected => {
                if let Some(m) = &self.mode {
                    s.push_str(&format!(", {m}"));
                }
                if let Some(at) = self.last_sync_at {
                    s.push_str(&format!(", last sync {}", ago(now, at)));
                }
            }
            State::Reconnecting => {
                if let Some(a) = self.attempt {
                    s.push_str(&format!(", attempt {a}"));
                }
                if let Some(at) = self.next_try_at {
                    s.push_str(&format!(", next try {}", until(now, at)));
                }
            }
            State::Disconnected => {}
        }
        if let Some(r) = self.reason {
            s.push_str(&format!("\n    {}: {}", r.as_str(), r.explain()));
        }
        if let Some(m) = self.message.as_deref().filter(|m| !m.is_empty()) {
            s.push_str(&format!("\n    detail: {m}"));
        }
        s.push_str(&format!(
            "\n    logged {}, skipped {}, failed {}, threads learnt {}, waiting to send {}",
            self.counts.logged,
            self.counts.skipped,
            self.counts.failed,
            self.counts.threads_learnt,
            self.pending
        ));
        if self.dead > 0 {
            s.push_str(&format!(
                "\n    {} records were refused by the endpoint and are not sent again: see the watcher's log \
                 for why, fix it, then run `mailtrail watch --config … --once --retry-failed` (a running watcher is asked to send them)",
                self.dead
            ));
        }
        s
    }
}

fn ago(now: i64, at: i64) -> String {
    let s = (now - at).max(0) / 1000;
    format!("{} ago", human_secs(s))
}

fn until(now: i64, at: i64) -> String {
    let s = (at - now).max(0) / 1000;
    format!("in {}", human_secs(s))
}

fn human_secs(s: i64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// The status file: every account, plus the watcher's pid.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusFile {
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountStatus>,
}

pub fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join("status.json")
}

pub fn read_status(state_dir: &Path) -> Result<Option<StatusFile>, String> {
    let path = status_path(state_dir);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{} is damaged: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("watch.lock")
}

/// Why the state directory's lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another `mailtrail watch` holds it (its pid, when the lock file names it).
    Held { pid: Option<u32>, message: String },
    /// The lock file cannot be opened or locked.
    Failed(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { message, .. } | LockError::Failed(message) => f.write_str(message),
        }
    }
}

/// The pid the lock file names (the watcher that took it last).
pub fn lock_holder(state_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(lock_path(state_dir))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
}

/// Takes the state directory's lock (an exclusive `flock` on `watch.lock`, released by the
/// system when the process ends, however it ends), or says which watcher holds it. Tried for
/// two seconds: `--status` holds a shared lock for an instant while it looks.
pub fn lock_state_dir(state_dir: &Path) -> Result<std::fs::File, LockError> {
    use std::io::Write;
    let path = lock_path(state_dir);
    let mut file = super::store::private_file(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
    .open(&path)
    .map_err(|e| LockError::Failed(format!("cannot open {}: {e}", path.display())))?;
    for _ in 0..10 {
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for people and for `--status`.
                let _ = file.set_len(0);
                let _ = writeln!(file, "{}", std::process::id());
                return Ok(file);
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(200))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Failed(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
    }
    let pid = lock_holder(state_dir);
    let holder = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
    Err(LockError::Held {
        pid,
        message: format!(
            "another `mailtrail watch`{holder} uses {}; stop it first, or give this one another stateDir",
            state_dir.display()
        ),
    })
}

/// True when a watcher holds the state directory's lock. Without a lock file to ask (written by
/// an older version, or not readable here), the status file's pid says.
pub fn watcher_running(state_dir: &Path, pid: Option<u32>) -> bool {
    let path = lock_path(state_dir);
    match std::fs::File::open(&path) {
        Ok(f) => match f.try_lock_shared() {
            Ok(()) => {
                let _ = f.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => pid.is_some_and(process_alive),
        },
        Err(_) => pid.is_some_and(process_alive),
    }
}

/// True when a process with this pid is running (Linux: /proc; elsewhere assumed running).
pub fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_body_matches_the_contract() {
        let mut s = AccountStatus::new("alice@example.com", "connected-inbox", 1_000);
        s.state = State::Disconnected;
        s.reason = Some(Reason::AuthenticationFailed);
        s.attempt = Some(3);
        let v = s.server_json();
        assert_eq!(v["state"], "disconnected");
        assert_eq!(v["reason"], "authentication-failed");
        assert_eq!(v["attempt"], 3);
        assert!(v["nextTryAt"].is_null());
        assert_eq!(v["dead"], 0);
        s.dead = 3;
        assert_eq!(
            s.server_json()["dead"],
            3,
            "refused records reach the server's UI"
        );
        let line = s.describe(5_000);
        assert!(line.contains("refused the password"), "{line}");
    }

    #[test]
    fn reason_codes_are_kebab_case_in_json() {
        for r in [
            Reason::ConnectionRevoked,
            Reason::ServerUnreachable,
            Reason::WatcherStopped,
            Reason::TokenExpired,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
