//! `mailtrail`: the native command line.
//!
//! Every subcommand prints JSON on stdout. Bad input gets a clear message on stderr and
//! exit code 2; an unexpected failure (I/O, network) exit code 1.

mod cmd;
mod serve;
mod transport;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mailtrail",
    version,
    about = "Log email to your CRM: CLI, local endpoint and IMAP watcher"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse a raw RFC 5322 message (file or `-` for stdin) and print it as JSON.
    Parse(cmd::parse::Args),
    /// Show the logging decision (with reasons) and the records that would be sent.
    Plan(cmd::plan::Args),
    /// Decide, queue and send the records through the outbox.
    Push(cmd::push::Args),
    /// Measure the native engine's raw → record throughput (used by bench/engine.mjs).
    #[command(hide = true)]
    BenchEngine(cmd::bench_engine::Args),
    /// Extract the original email from a forwarded message.
    Forward(cmd::forward::Args),
    /// Split a reply into new text, quoted history and signature.
    Reply(cmd::reply::Args),
    /// Run the local CRM endpoint and its timeline web UI.
    Serve(cmd::serve::Args),
    /// Write the Outlook add-in's manifests (XML and unified JSON) for the URL it is served from.
    OutlookManifest(cmd::outlook::Args),
    /// Watch IMAP accounts (connected inbox, logging mailbox) and log BCC copies, forwards and
    /// replies; `--status` shows each account's connection state.
    Watch(cmd::watch::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => cmd::parse::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Push(args) => cmd::push::run(args),
        Command::BenchEngine(args) => cmd::bench_engine::run(args),
        Command::Forward(args) => cmd::forward::run(args),
        Command::Reply(args) => cmd::reply::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::OutlookManifest(args) => cmd::outlook::run(args),
        Command::Watch(args) => cmd::watch::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => err.report(),
    }
}
