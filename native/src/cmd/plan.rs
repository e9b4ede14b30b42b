//! `mailtrail plan FILE --config FILE`: the decision, with its reasons, and the record that
//! would be sent. Nothing is queued or sent; `--state` is read as a snapshot, without waiting
//! for a `push` that is using it.

use super::engine_input::{load_engine, EngineArgs, Input, StateUse};
use super::{print_json, CliResult};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: Args) -> CliResult {
    let (mut engine, input) = load_engine(&args.engine, StateUse::Read)?;
    let contacts = args.engine.contact_set();
    let options = mailtrail::engine::ProcessOptions {
        dry_run: true,
        ..Default::default()
    };
    let now = args.engine.now();
    let outcome = match &input {
        Input::Raw(raw) => engine
            .process_raw(raw, args.engine.trigger(), &contacts, now, &options)
            .map_err(|e| super::CliError::BadInput(e.to_string()))?,
        Input::Email(email) => {
            engine.process(email, args.engine.trigger(), &contacts, now, &options)
        }
    };
    print_json(&outcome)
}
