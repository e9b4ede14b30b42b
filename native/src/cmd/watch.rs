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
    /// Send the records the endpoint refused (or that ran out of attempts) again, then watch
    /// as usual (with --once: send them, sync once, exit). Fix the cause first (the error is
    /// in the log and in `--status`).
    #[arg(long, conflicts_with = "status")]
    pub retry_failed: bool,
}

pub fn run(args: Args) -> CliResult {
    if args.status {
        crate::watch::print_status(&args.config, args.json)
    } else {
        crate::watch::run(&args.config, args.once, args.retry_failed)
    }
}
