//! `mailtrail forward` (not implemented yet).

use super::{CliError, CliResult};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Input file, or `-` for standard input.
    pub file: Option<PathBuf>,
}

pub fn run(_args: Args) -> CliResult {
    Err(CliError::Failed("`mailtrail forward` is not implemented yet".into()))
}
