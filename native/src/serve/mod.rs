//! `mailtrail serve`: Mailtrail's own CRM endpoint and timeline web UI.
//!
//! - `api`: the `/v1` JSON API the extension, the add-in and the IMAP watcher call.
//! - `ingest`: validation and preparation of received records.
//! - `db`: SQLite / PostgreSQL storage with one batching record writer.
//! - `ui`: server-rendered pages (en/ja/pl), email HTML sanitised and sandboxed.
//! - `tls`: HTTPS (rustls) for hosting the Outlook add-in.
//! - `relay`: delivers stored records to HubSpot (for the Outlook add-in, which cannot call it).
//!
//! The contract is documented in docs/server.md.

pub mod api;
pub mod db;
pub mod error;
pub mod ingest;
pub mod ratelimit;
pub mod relay;
pub mod tls;
pub mod token;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// A start-up failure caused by what the user gave (an option, `MAILTRAIL_TOKEN`, a file an
/// option names): `mailtrail serve` exits with 2 for it, and with 1 for other failures (the
/// port is taken, the database does not answer).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// `Err(BadInput)` with this message, as an `anyhow::Error`.
macro_rules! bad_input {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::serve::BadInput(format!($($arg)*)))
    };
}
pub(crate) use bad_input;

/// Everything `mailtrail serve` needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `sqlite:PATH` or `postgres://…`; default `sqlite:<data_dir>/mailtrail.db`.
    pub database: Option<String>,
    pub data_dir: PathBuf,
    pub addin_dir: Option<PathBuf>,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Requests per second per token; `None` turns limiting off.
    pub rate_limit: Option<u32>,
    /// Decoded attachments of one record, in bytes (bodies are bounded on their own:
    /// `ingest::MAX_BODY_BYTES` each).
    pub max_record_bytes: u64,
    pub durability: db::Durability,
    /// The HubSpot relay's settings (flags over environment, already checked).
    pub relay: relay::RelaySetting,
}

/// Shared by every request.
pub struct AppState {
    pub token: String,
    pub ui_session: String,
    pub store: db::Store,
    pub limiter: Option<ratelimit::RateLimiter>,
    pub max_record_bytes: u64,
    pub secure_cookies: bool,
    /// Request bodies of `POST /v1/records` held in memory at once, in KiB: each request takes
    /// its declared size before its body is read (`api::BodyBudget`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// The HubSpot relay, when this server runs it.
    pub relay: Option<Arc<relay::Relay>>,
}

impl AppState {
    /// The largest request body accepted on `POST /v1/records`.
    pub fn http_body_limit(&self) -> u64 {
        http_body_limit(self.max_record_bytes)
    }

    /// The whole record body budget, in KiB (see `body_budget`).
    pub fn body_budget_total(&self) -> usize {
        api::body_budget_kib(self.http_body_limit())
    }
}

/// The largest request body accepted on `POST /v1/records` for a record limit: the attachments
/// in base64 (4/3, padded), both bodies at their largest with room for JSON escaping (twice
/// their size), and 8 MiB for everything else (participants, contacts, attachment names).
pub fn http_body_limit(max_record_bytes: u64) -> u64 {
    (max_record_bytes.saturating_add(2) / 3)
        .saturating_mul(4)
        .saturating_add(4 * ingest::MAX_BODY_BYTES)
        .saturating_add(8 * 1024 * 1024)
}

/// Builds the whole application: API, web UI and (optionally) the add-in's static files.
pub fn app(state: Arc<AppState>, addin_dir: Option<&std::path::Path>) -> axum::Router {
    let mut router = api::router().merge(relay::router()).merge(ui::router());
    if let Some(dir) = addin_dir {
        let files = tower_http::services::ServeDir::new(dir)
            .append_index_html_on_directories(true)
            .call_fallback_on_method_not_allowed(false);
        router = router.nest_service("/addin", files);
    }
    router
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::DEBUG),
                )
                .on_request(())
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
        .with_state(state)
}

/// Runs the server until SIGINT or SIGTERM, then finishes the requests in flight and stores
/// every record already accepted before exiting.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    use std::io::Write;

    prepare_data_dir(&cfg.data_dir)?;
    let (token, source) = token::load_or_create(&cfg.data_dir)?;
    let database = cfg
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", cfg.data_dir.join("mailtrail.db").display()));
    let tls = match &cfg.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key)?),
        None => None,
    };
    let store = db::Store::open(&database, cfg.durability).await?;
    tracing::info!(database = %db::redact_url(&database), "database ready");
    let relay = start_relay(&store, cfg.relay.clone()).await?;

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let host = match local {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    };
    let url = format!("{scheme}://{host}");

    let state = Arc::new(AppState {
        ui_session: token::ui_session(&token),
        token: token.clone(),
        store,
        limiter: cfg.rate_limit.map(ratelimit::RateLimiter::new),
        max_record_bytes: cfg.max_record_bytes,
        secure_cookies: tls.is_some(),
        body_budget: Arc::new(tokio::sync::Semaphore::new(api::body_budget_kib(
            http_body_limit(cfg.max_record_bytes),
        ))),
        relay: relay.clone(),
    });
    let relay_worker = relay.as_ref().map(|r| r.start(state.clone()));
    let app = app(state.clone(), cfg.addin_dir.as_deref());

    let shutdown = shutdown_signal();
    // The banner: the first line is machine-readable (tests and scripts wait for it).
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {url}");
    let _ = writeln!(out, "web UI: {url}/ (sign in with the API token)");
    match &source {
        token::TokenSource::Created(path) => {
            let _ = writeln!(out, "new API token (stored in {}):", path.display());
            let _ = writeln!(out, "  {token}");
            let _ = writeln!(out, "paste the URL and this token into the extension's settings (endpoint: Mailtrail local endpoint)");
        }
        token::TokenSource::File(path) => {
            let _ = writeln!(out, "token file: {}", path.display());
        }
        token::TokenSource::Environment => {
            let _ = writeln!(out, "token: from MAILTRAIL_TOKEN");
        }
    }
    if let Some(dir) = &cfg.addin_dir {
        let _ = writeln!(out, "add-in files: {url}/addin/ (from {})", dir.display());
    }
    if let Some(r) = &relay {
        let _ = writeln!(
            out,
            "relaying records to HubSpot at {}",
            r.config.base_url()
        );
    }
    let _ = out.flush();
    drop(out);
    tracing::info!(%url, tls = tls.is_some(), "mailtrail serve started");

    let result = match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(anyhow::Error::from),
        Some(acceptor) => tls::serve(listener, acceptor, app, shutdown).await,
    };
    if let (Some(r), Some(worker)) = (&relay, relay_worker) {
        tracing::info!("stopping the HubSpot relay");
        r.stop(&state, worker, std::time::Duration::from_secs(5))
            .await;
    }
    tracing::info!("stopping: storing the records already accepted");
    state.store.close().await;
    tracing::info!("stopped");
    result
}

/// Switches queuing for HubSpot on or off in the database as the environment says, and builds
/// the relay when it is configured. Queuing is the database's: every server sharing it queues
/// the records it stores while it is on, whether or not that server relays itself.
async fn start_relay(
    store: &db::Store,
    setting: relay::RelaySetting,
) -> anyhow::Result<Option<Arc<relay::Relay>>> {
    let queued = |e: db::StoreError| anyhow::anyhow!("cannot set up the HubSpot relay queue: {e}");
    match setting {
        relay::RelaySetting::On(config) => {
            if store
                .relay_enable(relay::TARGET, db::now_ms())
                .await
                .map_err(queued)?
            {
                tracing::info!(
                    "HubSpot relay switched on: records stored from now on are sent to HubSpot \
                     (earlier ones with \"Send earlier emails\" on the web UI's relay page, or \
                     POST /v1/relay/backfill)"
                );
            }
            tracing::info!(
                base_url = config.base_url(),
                lookups = config.lookups,
                "relaying records to HubSpot"
            );
            Ok(Some(Arc::new(relay::Relay::new(config)?)))
        }
        relay::RelaySetting::Off => {
            if store.relay_disable(relay::TARGET).await.map_err(queued)? {
                tracing::info!("HubSpot relay switched off (--relay off or MAILTRAIL_HUBSPOT_RELAY=off): records are no longer queued for HubSpot");
            }
            warn_waiting(store).await;
            Ok(None)
        }
        relay::RelaySetting::Unset => {
            if store
                .relay_enabled_at(relay::TARGET)
                .await
                .map_err(queued)?
                .is_some()
            {
                tracing::warn!(
                    "records are queued for HubSpot in this database, but this server does not relay \
                     (no HubSpot token): another server sharing the database must, or give it one here \
                     (--hubspot-token-file or MAILTRAIL_HUBSPOT_TOKEN); --relay off stops the queuing"
                );
            }
            warn_waiting(store).await;
            Ok(None)
        }
    }
}

/// Says so when records wait for a relay this server does not run.
async fn warn_waiting(store: &db::Store) {
    if let Ok(c) = store.relay_counts(relay::TARGET).await {
        let waiting = c.pending + c.retrying;
        if waiting > 0 {
            tracing::warn!(
                records = waiting,
                "records wait to be sent to HubSpot and this server does not relay them"
            );
        }
    }
}

/// Creates the data directory private to its user (0700), or, when it exists, leaves its
/// permissions alone (it may be `/var/lib` or a shared folder the user chose) and warns when
/// other users can enter it. The token file in it is 0600 either way.
fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %dir.display(),
                    mode = format!("{mode:o}"),
                    "the data directory is open to other users; its token file is private (0600), \
                     but the database beside it may not be: use a directory of its own (chmod 700)"
                );
            }
            Ok(())
        }
        Ok(_) => Err(bad_input!(
            "the data directory {} is not a directory",
            dir.display()
        )),
        Err(_) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                anyhow::anyhow!("cannot create the data directory {}: {e}", dir.display())
            }),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called (not
/// when the future is first polled), so a signal sent right after the banner stops the server
/// gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(int) => {},
            _ = wait(term) => {},
        }
        tracing::info!("shutdown requested");
    }
}
