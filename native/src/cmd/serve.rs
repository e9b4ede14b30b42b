//! `mailtrail serve`: run the local CRM endpoint and its web UI (see docs/server.md).

use super::{CliError, CliResult};
use crate::serve;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// `sqlite:PATH` or `postgres://USER@HOST/DB` [default: sqlite:<data-dir>/mailtrail.db]
    #[arg(long)]
    pub database: Option<String>,
    /// Token file and default database [default: $MAILTRAIL_DATA_DIR, else ~/.local/share/mailtrail]
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Serve these static files (the built Outlook add-in) under /addin/.
    #[arg(long)]
    pub addin_dir: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (needed to host the Outlook add-in).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Requests per second per token (`N/s`), or `off`.
    #[arg(long, default_value = "1000/s")]
    pub rate_limit: String,
    /// Largest record accepted: its attachments' decoded size, in MiB (larger gets 413). The
    /// default takes every record the extension sends with its default 50 MiB attachment limit.
    #[arg(long, default_value_t = 50)]
    pub max_record_mb: u64,
    /// SQLite durability: `full` (an acknowledged record survives a power cut) or `normal`
    /// (survives a crash of the server, not of the machine). The WAL is synced beside the
    /// writer, so `full` costs no throughput in the load test (BENCHMARKS.md).
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub sqlite_sync: String,
    /// Allow listening on a non-loopback address (use with --tls-cert on untrusted networks).
    #[arg(long)]
    pub allow_remote: bool,

    /// The HubSpot relay's flags (boxed: they would make every command's arguments larger).
    #[command(flatten)]
    pub relay: Box<RelayArgs>,
}

/// The HubSpot relay (docs/server.md, "Relay to HubSpot"). Each flag overrides its
/// MAILTRAIL_HUBSPOT_* variable; the values are checked with the environment's, in one place
/// (`serve::relay::RelaySetting::resolve`).
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "HubSpot relay")]
pub struct RelayArgs {
    /// HubSpot relay: `off` stops queuing records for HubSpot (those queued keep their state);
    /// `on` insists on it (refused without a token). [env: MAILTRAIL_HUBSPOT_RELAY]
    #[arg(long, value_name = "on|off")]
    pub relay: Option<String>,
    /// File holding the HubSpot private app's access token; giving a token switches the relay
    /// on. There is deliberately no flag for the token itself: a command line is visible to
    /// every user of the machine (`ps`). [env: MAILTRAIL_HUBSPOT_TOKEN_FILE, or the token in
    /// MAILTRAIL_HUBSPOT_TOKEN]
    #[arg(long, value_name = "PATH")]
    pub hubspot_token_file: Option<PathBuf>,
    /// HubSpot's API: https://, or http:// to this machine only. [default:
    /// https://api.hubapi.com] [env: MAILTRAIL_HUBSPOT_BASE_URL]
    #[arg(long, value_name = "URL")]
    pub hubspot_base_url: Option<String>,
    /// Path of HubSpot's emails object. [default: /crm/v3/objects/emails] [env:
    /// MAILTRAIL_HUBSPOT_EMAILS_PATH]
    #[arg(long, value_name = "PATH")]
    pub hubspot_emails_path: Option<String>,
    /// Path of HubSpot's contacts object. [default: /crm/v3/objects/contacts] [env:
    /// MAILTRAIL_HUBSPOT_CONTACTS_PATH]
    #[arg(long, value_name = "PATH")]
    pub hubspot_contacts_path: Option<String>,
    /// Seconds one delivery to HubSpot may take, 1 to 86400. [default: 240] [env:
    /// MAILTRAIL_HUBSPOT_TIMEOUT]
    #[arg(long, value_name = "SECS")]
    pub hubspot_timeout: Option<String>,
    /// Seconds HubSpot's search is given to show an email that may have been created before
    /// the relay looks for it, 0 to 86400. [default: 60] [env: MAILTRAIL_HUBSPOT_SETTLE]
    #[arg(long, value_name = "SECS")]
    pub hubspot_settle: Option<String>,
    /// Answer contact lookups from HubSpot's contacts too. [default: on] [env:
    /// MAILTRAIL_HUBSPOT_LOOKUPS]
    #[arg(long, value_name = "on|off")]
    pub hubspot_lookups: Option<String>,
}

pub fn run(args: Args) -> CliResult {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        CliError::BadInput(format!(
            "--listen must be IP:PORT such as 127.0.0.1:8787, not {:?}",
            args.listen
        ))
    })?;
    if !listen.ip().is_loopback() && !args.allow_remote {
        return Err(CliError::BadInput(format!(
            "refusing to listen on {listen}: that is reachable from other machines. Pass --allow-remote \
             to mean it (and --tls-cert/--tls-key on a network you do not trust)"
        )));
    }
    let rate_limit = serve::ratelimit::parse_rate(&args.rate_limit).map_err(CliError::BadInput)?;
    if args.max_record_mb == 0 {
        return Err(CliError::BadInput(
            "--max-record-mb must be at least 1".into(),
        ));
    }
    let data_dir =
        match args.data_dir.or_else(default_data_dir) {
            Some(d) => d,
            None => return Err(CliError::BadInput(
                "no data directory: pass --data-dir or set MAILTRAIL_DATA_DIR (HOME is not set)"
                    .into(),
            )),
        };
    let r = *args.relay;
    let relay_flags = serve::relay::RelayFlags {
        relay: r.relay,
        token_file: r.hubspot_token_file,
        base_url: r.hubspot_base_url,
        emails_path: r.hubspot_emails_path,
        contacts_path: r.hubspot_contacts_path,
        timeout: r.hubspot_timeout,
        settle: r.hubspot_settle,
        lookups: r.hubspot_lookups,
    };
    let relay = serve::relay::RelaySetting::resolve(&relay_flags, serve::relay::env_var)
        .map_err(|e| CliError::BadInput(format!("{e:#}")))?;
    let cfg = serve::Config {
        listen,
        database: args.database,
        data_dir,
        addin_dir: args.addin_dir,
        tls: args.tls_cert.zip(args.tls_key),
        rate_limit,
        max_record_bytes: args.max_record_mb.saturating_mul(1024 * 1024),
        durability: if args.sqlite_sync == "normal" {
            serve::db::Durability::ProcessCrash
        } else {
            serve::db::Durability::PowerLoss
        },
        relay,
    };
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mailtrail-serve")
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(serve::run(cfg)).map_err(|e| {
        // Bad options or environment (a malformed --database URL, an unreadable certificate, a
        // short MAILTRAIL_TOKEN): 2, like every command's bad input. Anything else (the port is
        // taken, the database does not answer): 1.
        if e.downcast_ref::<serve::BadInput>().is_some() {
            CliError::BadInput(format!("{e:#}"))
        } else {
            CliError::Failed(format!("{e:#}"))
        }
    })
}

fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MAILTRAIL_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("mailtrail"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/mailtrail"))
}

/// Logs on stderr (stdout carries the banner); `MAILTRAIL_LOG` or `RUST_LOG` set the filter.
fn init_logging() {
    let filter = std::env::var("MAILTRAIL_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn,html5ever=error".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
