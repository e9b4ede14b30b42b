//! `mailtrail parse [FILE|-]`: a raw message as the engine's email JSON.

use super::{print_json, read_input, CliError, CliResult};
use mailtrail::email::{Email, ParseOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The message (RFC 5322 / .eml), or `-` for standard input.
    pub file: Option<PathBuf>,
    /// Include attachment contents (base64) in the output.
    #[arg(long)]
    pub attachment_data: bool,
}

pub fn run(args: Args) -> CliResult {
    let raw = read_input(args.file.as_deref())?;
    let options = ParseOptions {
        keep_attachment_data: args.attachment_data,
        ..Default::default()
    };
    let email = Email::from_raw(&raw, options).map_err(|e| CliError::BadInput(e.to_string()))?;
    print_json(&email)
}
