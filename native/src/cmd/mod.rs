//! One module per subcommand, plus the shared error type that maps to exit codes.

pub mod bench_engine;
pub mod engine_input;
pub mod forward;
pub mod outlook;
pub mod parse;
pub mod plan;
pub mod push;
pub mod reply;
pub mod serve;
pub mod watch;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

/// Why a command failed, and therefore which exit code it ends with.
#[derive(Debug)]
pub enum CliError {
    /// The input was wrong (unreadable file, malformed message or config): exit code 2.
    BadInput(String),
    /// Something outside the input failed (network, disk): exit code 1.
    Failed(String),
}

impl CliError {
    pub fn report(&self) -> ExitCode {
        match self {
            CliError::BadInput(msg) => {
                eprintln!("mailtrail: {msg}");
                ExitCode::from(2)
            }
            CliError::Failed(msg) => {
                eprintln!("mailtrail: {msg}");
                ExitCode::from(1)
            }
        }
    }
}

pub type CliResult = Result<(), CliError>;

/// Reads a file, or stdin when the path is `-` or absent.
pub fn read_input(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    match path {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p)
            .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", p.display()))),
    }
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(|e| CliError::BadInput(format!("cannot read standard input: {e}")))?;
    Ok(buf)
}

/// Prints one JSON value on stdout, pretty when stdout is a terminal.
///
/// A reader that stops early (`mailtrail parse big.eml | head`) closes the pipe: that is not an
/// error of ours, so the command ends quietly with exit code 0, like `git log | head`. Any other
/// write failure (a full disk) is exit code 1.
pub fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    use std::io::{IsTerminal, Write};
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| CliError::Failed(format!("cannot encode JSON: {e}")))?;
    let mut out = std::io::stdout().lock();
    match out
        .write_all(text.as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::Failed(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}
