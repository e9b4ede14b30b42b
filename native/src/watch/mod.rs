//! `mailtrail watch`: the connected inbox and the logging mailbox, over IMAP.
//!
//! Browsers only see what the user opens; this watches mail on the server so that BCC copies,
//! forwards and replies are logged even when no browser is open. See docs/imap.md.
//!
//! - `config`: the configuration file (accounts, settings, state directory), checked up front.
//! - `imap`, `tls`: the connection (async-imap over rustls), commands with timeouts, errors sorted
//!   by what the user can do about them.
//! - `folders`: finding the Sent folder (`\Sent`, else its name in the user's language).
//! - `ingest`: what happens to each message, per role (the engine decides).
//! - `account`: one account's loop: scan from checkpoints, IDLE or poll, reconnect with backoff.
//! - `store`: state on disk (engine snapshot, outbox journal, checkpoints), written atomically.
//! - `status`: the connection status users see (`--status`, the local endpoint's web UI).
//! - `endpoint`: contact lookups, "was this logged?", delivery, status updates.
//! - `progress`: progress of long scans.
//! - `retry`: `--retry-failed`, also while a watcher runs (a request the watcher answers).
//!
//! Accounts run side by side on one thread: the work is network-bound, and one thread keeps the
//! engine, which is not shared between accounts, simple to own.

pub mod account;
pub mod config;
pub mod endpoint;
pub mod folders;
pub mod imap;
pub mod ingest;
pub mod progress;
pub mod retry;
pub mod status;
pub mod store;
pub mod tls;

use account::{AccountWatcher, Shared};
use config::{Role, WatchConfig};
use endpoint::Endpoint;
use status::{AccountStatus, Reason, State, StatusFile};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

/// Writes every account's status to the status file and, for the local endpoint, sends it to
/// `PUT /v1/watch-status/{account}` (latest value only: a slow endpoint never delays the watch).
pub struct StatusBoard {
    state_dir: PathBuf,
    file: RefCell<StatusFile>,
    endpoint: Rc<Endpoint>,
    senders: RefCell<HashMap<String, tokio::sync::watch::Sender<Option<serde_json::Value>>>>,
}

impl StatusBoard {
    fn new(state_dir: PathBuf, endpoint: Rc<Endpoint>) -> Self {
        let file = StatusFile {
            pid: Some(std::process::id()),
            updated_at: account::now_ms(),
            accounts: Default::default(),
        };
        StatusBoard {
            state_dir,
            file: RefCell::new(file),
            endpoint,
            senders: RefCell::new(HashMap::new()),
        }
    }

    pub fn publish(&self, status: &AccountStatus) {
        let bytes = {
            let mut file = self.file.borrow_mut();
            file.updated_at = account::now_ms();
            file.accounts.insert(status.account.clone(), status.clone());
            serde_json::to_vec_pretty(&*file).unwrap_or_default()
        };
        if let Err(e) = store::write_atomic(&status::status_path(&self.state_dir), &bytes) {
            tracing::error!(
                "cannot write the status file in {}: {e}",
                self.state_dir.display()
            );
        }
        let body = status.server_json();
        let mut senders = self.senders.borrow_mut();
        if let Some(tx) = senders.get(&status.account) {
            tx.send_replace(Some(body));
            return;
        }
        let (tx, rx) = tokio::sync::watch::channel(Some(body));
        senders.insert(status.account.clone(), tx);
        tokio::task::spawn_local(send_statuses(
            self.endpoint.clone(),
            status.account.clone(),
            rx,
        ));
    }

    fn set_pid(&self, pid: Option<u32>) {
        self.file.borrow_mut().pid = pid;
    }

    fn snapshot(&self) -> StatusFile {
        self.file.borrow().clone()
    }
}

async fn send_statuses(
    endpoint: Rc<Endpoint>,
    account: String,
    mut rx: tokio::sync::watch::Receiver<Option<serde_json::Value>>,
) {
    let mut warned = false;
    loop {
        let latest = rx.borrow_and_update().clone();
        if let Some(body) = latest {
            if let Err(e) = endpoint.put_status(&account, &body).await {
                if !warned {
                    tracing::warn!(account = %account, "cannot show the status at the endpoint ({e}); retrying");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
                rx.mark_changed();
            } else {
                warned = false;
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// `mailtrail watch --config FILE [--once] [--retry-failed [--wait SECONDS]]`. With
/// `--retry-failed` while another watcher runs on the state directory, that watcher is asked
/// to send the refused records again (waiting up to `wait` for its answer; see `retry`).
pub fn run(
    config_path: &Path,
    once: bool,
    retry_failed: bool,
    wait: Duration,
) -> Result<(), crate::cmd::CliError> {
    use crate::cmd::CliError;
    let load = |check_secrets: bool| {
        config::load(config_path, check_secrets).map_err(|errs| {
            CliError::BadInput(format!(
                "{} has problems:\n{}",
                config_path.display(),
                config::describe(&errs)
            ))
        })
    };
    // Asking a running watcher to send refused records again needs no IMAP secrets: an admin's
    // shell may not have the service's environment. They are checked once this process is
    // the watcher.
    let cfg = load(!retry_failed)?;
    init_logging();
    let open = store::create_private_dir(&cfg.state_dir, false).map_err(|e| {
        CliError::Failed(format!(
            "cannot create the state directory {}: {e}",
            cfg.state_dir.display()
        ))
    })?;
    if open {
        tracing::warn!(
            "other users can enter the state directory {} (it holds whole emails): make it readable by this user only (chmod 700)",
            cfg.state_dir.display()
        );
    }
    // One watcher per state directory, for as long as this process lives (the lock goes with
    // the process, however it ends: no stale pid can block the next start).
    let _lock = match status::lock_state_dir(&cfg.state_dir) {
        Ok(lock) => lock,
        // The running watcher owns the outboxes: it is asked to do it.
        Err(status::LockError::Held { pid, .. }) if retry_failed => {
            match retry::ask_running_watcher(&cfg.state_dir, pid, wait)? {
                retry::Asked::Answered(result) => return result,
                retry::Asked::WatcherGone => {
                    eprintln!(
                        "mailtrail: the watcher stopped before it took the request: sending the refused records here"
                    );
                    status::lock_state_dir(&cfg.state_dir)
                        .map_err(|e| CliError::Failed(e.to_string()))?
                }
            }
        }
        Err(e) => return Err(CliError::Failed(e.to_string())),
    };
    let cfg = if retry_failed { load(true)? } else { cfg };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let started = std::time::Instant::now();
    let result = local.block_on(&runtime, watch_all(cfg, once, retry_failed));
    if once {
        // For benchmarks and cron logs: how long the sync took and the memory it needed.
        let peak = peak_memory_mb()
            .map(|mb| format!(", peak memory {mb:.1} MB"))
            .unwrap_or_default();
        tracing::info!(
            "sync finished in {:.2} s{peak}",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

/// The process's peak resident memory (Linux: VmHWM in /proc/self/status), in MB.
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn watch_all(
    cfg: WatchConfig,
    once: bool,
    retry_failed: bool,
) -> Result<(), crate::cmd::CliError> {
    use crate::cmd::CliError;
    let endpoint =
        Rc::new(Endpoint::new(cfg.settings.endpoint_or_default()).map_err(CliError::Failed)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::task::spawn_local(async move {
        wait_for_signal().await;
        tracing::info!("stopping: finishing the current batch");
        let _ = stop_tx.send(true);
    });
    let crm_addresses: Vec<String> = cfg
        .accounts
        .iter()
        .filter(|a| a.role == Role::LoggingMailbox)
        .map(|a| a.address.clone())
        .collect();
    let retry_desk = Rc::new(retry::RetryDesk::new(
        &cfg.state_dir,
        cfg.accounts.iter().map(|a| a.name.clone()).collect(),
    ));
    if !once {
        // A `--once` run ends after one sync: a request could go unanswered. The command then
        // waits for the lock instead (see retry::ask_running_watcher).
        tokio::task::spawn_local(retry::serve_requests(retry_desk.clone(), stop_rx.clone()));
    }
    let shared = Rc::new(Shared {
        endpoint: endpoint.clone(),
        retry: retry_desk,
        board: StatusBoard::new(cfg.state_dir.clone(), endpoint.clone()),
        stop: stop_rx,
        once,
        unreachable_after: cfg.unreachable_after,
        max_backoff: cfg.max_backoff,
        max_waiting_bytes: cfg.max_waiting_bytes,
        crm_addresses,
    });
    let mut tasks = Vec::new();
    for account in cfg.accounts.clone() {
        let name = account.name.clone();
        let watcher = prepare(&cfg, account, shared.clone(), retry_failed)
            .map_err(|e| CliError::Failed(format!("{name}: {e}")))?;
        tasks.push(tokio::task::spawn_local(watcher.run()));
    }
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("an account task failed: {e}")),
        }
    }
    // Say so where users look: the watcher is not running any more.
    shared.board.set_pid(None);
    let last = shared.board.snapshot();
    for (name, mut s) in last.accounts {
        s.state = State::Disconnected;
        if s.reason.is_none() || s.reason == Some(Reason::EndpointUnreachable) || !once {
            s.reason = Some(Reason::WatcherStopped);
        }
        s.attempt = None;
        s.next_try_at = None;
        s.mode = None;
        shared.board.publish(&s);
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            endpoint.put_status(&name, &s.server_json()),
        )
        .await;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(failures.join("\n")))
    }
}

/// Builds one account's watcher: its engine (settings adjusted to the role), its state.
fn prepare(
    cfg: &WatchConfig,
    account: config::Account,
    shared: Rc<Shared>,
    retry_failed: bool,
) -> Result<AccountWatcher, String> {
    let mut settings = cfg.settings.clone();
    match account.role {
        Role::ConnectedInbox => {
            // The owner is the user: never a contact, and their own messages are not replies.
            if !settings.user_addresses.contains(&account.address) {
                settings.user_addresses.push(account.address.clone());
            }
        }
        Role::LoggingMailbox => {
            // The mailbox is one of the CRM's addresses: never associated as a contact.
            if !settings.is_crm_address(&account.address) {
                if settings.forwarding_address.is_none() {
                    settings.forwarding_address = Some(account.address.clone());
                } else if settings.bcc_address.is_none() {
                    settings.bcc_address = Some(account.address.clone());
                } else {
                    tracing::warn!(
                        account = %account.name,
                        "{} is neither settings.bccAddress nor settings.forwardingAddress: when it appears on an email it may be taken for a contact",
                        account.address
                    );
                }
            }
            if settings.user_addresses.is_empty() && settings.internal_domains.is_empty() {
                tracing::warn!(
                    account = %account.name,
                    "settings have neither userAddresses nor internalDomains: mail from ANY sender that reaches {} is logged. \
                     Set them so only your team's mail is",
                    account.address
                );
            }
        }
    }
    let mut engine = mailtrail::engine::Engine::new(&settings).map_err(|e| e.to_string())?;
    let mut store = store::AccountStore::open(cfg.state_dir.join(&account.name)).map_err(|e| {
        format!(
            "cannot open the state directory {}: {e}",
            cfg.state_dir.join(&account.name).display()
        )
    })?;
    store.load_engine(&mut engine)?;
    if retry_failed {
        let retried = retry::requeue_dead(&mut engine, account::now_ms()).len();
        if retried > 0 {
            tracing::info!(account = %account.name, "--retry-failed: sending {retried} refused records again");
            store
                .save(&mut engine, false)
                .map_err(|e| format!("cannot save the state: {e}"))?;
        }
    } else {
        let dead = engine.outbox().counts().dead;
        if dead > 0 {
            tracing::warn!(
                account = %account.name,
                "{dead} records in the outbox were refused by the endpoint and are not sent again; \
                 `mailtrail watch --config … --once --retry-failed` sends them (also while this watcher runs)"
            );
        }
    }
    let tls = tls::client_config(account.ca_file.as_deref(), account.trust_any_certificate)?;
    AccountWatcher::new(account, engine, store, tls, shared)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs to standard error at `MAILTRAIL_LOG` (default `info`). The IMAP library's own output is
/// capped at info whatever `MAILTRAIL_LOG` says: at debug and trace it writes every command and
/// answer, the LOGIN or AUTHENTICATE line with the password included, and whole emails.
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("MAILTRAIL_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "info,async_imap=warn,rustls=warn,reqwest=warn,hyper=warn",
            )
        });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !is_secret_bearing(meta.target()) || *meta.level() <= tracing::Level::INFO
        }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// Log targets whose debug and trace output carries the IMAP conversation (passwords, tokens,
/// mail).
fn is_secret_bearing(target: &str) -> bool {
    ["async_imap", "imap_proto"].iter().any(|t| {
        target == *t
            || target
                .strip_prefix(t)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

/// `mailtrail watch --config FILE --status`.
pub fn print_status(config_path: &Path, json: bool) -> Result<(), crate::cmd::CliError> {
    use crate::cmd::CliError;
    use std::io::IsTerminal;
    let cfg = config::load(config_path, false).map_err(|errs| {
        CliError::BadInput(format!(
            "{} has problems:\n{}",
            config_path.display(),
            config::describe(&errs)
        ))
    })?;
    let file = status::read_status(&cfg.state_dir)
        .map_err(CliError::Failed)?
        .unwrap_or_default();
    let running = status::watcher_running(&cfg.state_dir, file.pid);
    let now = account::now_ms();
    let mut accounts = Vec::new();
    for a in &cfg.accounts {
        let mut s = file.accounts.get(&a.name).cloned().unwrap_or_else(|| {
            AccountStatus::new(&a.name, a.role.as_str(), file.updated_at.max(0))
        });
        if !running {
            // Whatever the file says, nothing is watching now.
            s.state = State::Disconnected;
            if s.reason.is_none()
                || matches!(
                    s.reason,
                    Some(Reason::NetworkError | Reason::EndpointUnreachable)
                )
            {
                s.reason = Some(Reason::WatcherStopped);
            }
            s.attempt = None;
            s.next_try_at = None;
            s.mode = None;
            if !file.accounts.contains_key(&a.name) {
                s.message = Some("never started".into());
            }
        }
        accounts.push(s);
    }
    if json || !std::io::stdout().is_terminal() {
        crate::cmd::print_json(&serde_json::json!({
            "running": running,
            "pid": if running { file.pid } else { None },
            "stateDir": cfg.state_dir,
            "accounts": accounts,
        }))?;
    } else {
        if running {
            println!("mailtrail watch is running (pid {})", file.pid.unwrap_or(0));
        } else {
            println!(
                "mailtrail watch is not running (state in {})",
                cfg.state_dir.display()
            );
        }
        for s in &accounts {
            println!("{}", s.describe(now));
        }
    }
    let down = accounts
        .iter()
        .filter(|s| s.state != State::Connected)
        .count();
    let dead: usize = accounts.iter().map(|s| s.dead).sum();
    let mut problems = Vec::new();
    if down > 0 {
        problems.push(format!(
            "{down} of {} accounts are not connected",
            accounts.len()
        ));
    }
    if dead > 0 {
        problems.push(format!(
            "{dead} records were refused by the endpoint (`mailtrail watch --config … --once --retry-failed` sends them again, also while the watcher runs)"
        ));
    }
    if !problems.is_empty() {
        return Err(CliError::Failed(problems.join("; ")));
    }
    Ok(())
}
