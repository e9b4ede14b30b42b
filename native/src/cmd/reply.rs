//! `mailtrail reply`: split a reply into new text, quoted history and signature.
//!
//! The input may be a plain-text body, an HTML body or a full RFC 5322 message. Output is
//! one JSON object: `{"reply", "quoted", "signature"}`.

use super::{print_json, read_input, CliError, CliResult};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input file (text, HTML or .eml), or `-` for standard input.
    pub file: Option<PathBuf>,
}

pub fn run(args: Args) -> CliResult {
    let input = read_input(args.file.as_deref())?;
    let parts = mailtrail::extract::split_reply_bytes(&input)
        .map_err(|e| CliError::BadInput(format!("cannot split the reply: {e}")))?;
    print_json(&parts)
}
