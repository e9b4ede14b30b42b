//! `mailtrail forward`: print the original email found in a forwarded message.
//!
//! The input may be a plain-text body, an HTML body or a full RFC 5322 message; which one is
//! detected from its content (see `mailtrail::extract::detect_input`). Output is one JSON
//! object: `{"forwarded", "message", "email": {"subject", "date", "timestamp", "body",
//! "from", "to", "cc"}, "chain"}`; `email` is null when the input is not a forward.

use super::{print_json, read_input, CliError, CliResult};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input file (text, HTML or .eml), or `-` for standard input.
    pub file: Option<PathBuf>,
    /// Subject of the forwarding message (helps detection; overrides a message's own subject).
    #[arg(long)]
    pub subject: Option<String>,
}

pub fn run(args: Args) -> CliResult {
    let input = read_input(args.file.as_deref())?;
    let forward = mailtrail::extract::forward_from_bytes(&input, args.subject.as_deref())
        .map_err(|e| CliError::BadInput(format!("cannot extract a forward: {e}")))?;
    print_json(&forward)
}
