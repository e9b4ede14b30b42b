//! `mailtrail watch --config FILE`: watch IMAP accounts (connected inbox, logging mailbox) and
//! log BCC copies, forwards and replies; `--status` shows each account's connection state.
//! The configuration is documented in docs/imap.md.

use super::CliResult;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The watch configuration (accounts, Mailtrail settings, state directory): docs/imap.md.
    #[arg(long)]
    pub config: PathBuf,
    /// Show each account's connection state (from the running watcher) and exit; exit code 1
    /// when an account is not connected or has records the endpoint refused.
    #[arg(long)]
    pub status: bool,
    /// With --status: print JSON even on a terminal.
    #[arg(long, requires = "status")]
    pub json: bool,
    /// Connect, scan every account once, deliver, and exit (for cron jobs and benchmarks);
    /// exit code 1 if an account could not be synced, records still wait for the endpoint, or
    /// the endpoint refused records.
    #[arg(long, conflicts_with = "status")]
    pub once: bool,
    /// Send the records the endpoint refused (or that ran out of attempts) again. Fix the
    /// cause first (the error is in the log and in `--status`). When a watcher is running on
    /// the state directory, it is asked to do it (without stopping it), and this reports what
    /// became of them and exits: code 1 if some were refused again or still wait. Otherwise,
    /// they are sent, then this watches as usual (with --once: syncs once and exits).
    #[arg(long, conflicts_with = "status")]
    pub retry_failed: bool,
    /// With --retry-failed and a running watcher: how long to wait for its answer, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120, requires = "retry_failed",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub wait: u64,
}

pub fn run(args: Args) -> CliResult {
    if args.status {
        crate::watch::print_status(&args.config, args.json)
    } else {
        crate::watch::run(
            &args.config,
            args.once,
            args.retry_failed,
            std::time::Duration::from_secs(args.wait),
        )
    }
}
