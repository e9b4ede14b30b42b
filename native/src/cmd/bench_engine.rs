//! `mailtrail bench-engine DIR…` (hidden): raw → record throughput of the native engine, for
//! bench/engine.mjs, which runs the WASM build and postal-mime on the same files in the same run.

use super::{print_json, CliError, CliResult};
use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::policy::Trigger;
use mailtrail::settings::Settings;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Files (raw messages) to process, repeatedly.
    pub files: Vec<PathBuf>,
    /// How long to measure.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    messages: u64,
    bytes: u64,
    seconds: f64,
    messages_per_second: f64,
    megabytes_per_second: f64,
}

pub fn run(args: Args) -> CliResult {
    let inputs: Vec<Vec<u8>> = args
        .files
        .iter()
        .map(|f| std::fs::read(f).map_err(|e| CliError::BadInput(format!("{}: {e}", f.display()))))
        .collect::<Result<_, _>>()?;
    if inputs.is_empty() {
        return Err(CliError::BadInput("no files given".into()));
    }
    let settings = Settings {
        user_addresses: vec!["me@ourco.example".into()],
        include_attachments: false,
        ..Settings::default()
    };
    let mut engine = Engine::new(&settings).map_err(|e| CliError::BadInput(e.to_string()))?;
    let contacts = HashSet::new();
    let options = ProcessOptions {
        dry_run: true,
        ..Default::default()
    };
    let budget = Duration::from_secs_f64(args.seconds.max(0.05));
    let (mut messages, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < budget {
        for raw in &inputs {
            // Errors (non-messages) are part of the work; ignore them like the JS side does.
            let _ =
                engine.process_raw(raw, Trigger::Manual, &contacts, 1_700_000_000_000, &options);
            messages += 1;
            bytes += raw.len() as u64;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    print_json(&Report {
        messages,
        bytes,
        seconds,
        messages_per_second: messages as f64 / seconds,
        megabytes_per_second: bytes as f64 / seconds / 1e6,
    })
}
