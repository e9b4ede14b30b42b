//! `mailtrail push FILE --config FILE`: decide, queue in the outbox (persisted in the state
//! file), and send everything due to the configured endpoint.

use super::engine_input::{load_engine, now_ms, save_state, EngineArgs, Input, StateUse};
use super::{print_json, CliError, CliResult};
use mailtrail::engine::ProcessOptions;
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PushReport {
    outcome: mailtrail::engine::Outcome,
    flush: mailtrail::delivery::FlushReport,
    /// Records still waiting (this one or earlier ones), with their state.
    pending: Vec<mailtrail::engine::QueueItem>,
    state_file: PathBuf,
}

pub fn run(mut args: Args) -> CliResult {
    let state_path = args.engine.state.clone().unwrap_or_else(default_state_path);
    args.engine.state = Some(state_path.clone());
    let (mut engine, input) = load_engine(&args.engine, StateUse::Update)?;
    let transport = crate::transport::Native::new().map_err(CliError::Failed)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    let now = args.engine.now();
    let trigger = args.engine.trigger();
    let endpoint = engine.settings().endpoint_or_default();

    // `--now` is the time the decision is made at (reproducible output), not a delivery time:
    // the record may be sent from the clock's now on, by this command's flush, which runs on
    // the clock. (Queued for a future `--now`, it waited until then, and the command said
    // "queued but not delivered yet".)
    let options = ProcessOptions {
        not_before_ms: Some(now.min(now_ms())),
        ..Default::default()
    };
    // Ask the endpoint who is a contact; without an answer, go on with what is known locally.
    // The people the decision will be about: for a forward, the original's, not the forwarder's.
    let addresses = match &input {
        Input::Raw(raw) => engine
            .addresses_to_check_raw(raw, trigger, &options)
            .map_err(|e| CliError::BadInput(e.to_string()))?,
        Input::Email(e) => engine.addresses_to_check(e),
    };
    let mut contacts = args.engine.contact_set();
    match runtime.block_on(mailtrail::delivery::lookup_contacts(
        &endpoint, &addresses, &transport,
    )) {
        Ok(Some(found)) => contacts.extend(found),
        Ok(None) => {}
        Err(e) => eprintln!(
            "mailtrail: warning: contact lookup failed ({}); using known contacts only",
            e.message
        ),
    }

    let outcome = match &input {
        Input::Raw(raw) => engine
            .process_raw(raw, trigger, &contacts, now, &options)
            .map_err(|e| CliError::BadInput(e.to_string()))?,
        Input::Email(email) => engine.process(email, trigger, &contacts, now, &options),
    };
    // Persist the queued record before sending: if we crash now, the next run sends it.
    engine.take_changes();
    save_state(&mut engine, &state_path)?;

    let flush = runtime.block_on(mailtrail::delivery::flush(
        &mut engine,
        &transport,
        now_ms,
        rand_unit,
    ));
    engine.take_changes();
    save_state(&mut engine, &state_path)?;

    let pending = engine.status().queue;
    let failed_now = outcome
        .record
        .as_ref()
        .and_then(|r| pending.iter().find(|p| p.key == r.idempotency_key))
        .map(|p| p.last_error.clone());
    print_json(&PushReport {
        outcome,
        flush,
        pending,
        state_file: state_path,
    })?;
    match failed_now {
        Some(err) => Err(CliError::Failed(format!(
            "the record is queued but not delivered yet{} (run `mailtrail push` again, or it is retried by the next push)",
            err.map(|e| format!(": {}", e.message)).unwrap_or_default()
        ))),
        None => Ok(()),
    }
}

fn default_state_path() -> PathBuf {
    data_dir().join("cli-state.json")
}

/// `$MAILTRAIL_DATA_DIR`, else `~/.local/share/mailtrail`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MAILTRAIL_DATA_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/mailtrail")
}

/// A number in [0, 1) for retry jitter, from the OS clock's low bits mixed (good enough for
/// spreading retries; not for anything secret).
fn rand_unit() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut x = u64::from(nanos) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
