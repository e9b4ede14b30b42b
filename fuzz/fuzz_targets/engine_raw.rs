//! The engine's whole path on arbitrary bytes: parse (mail-parser + our conversion), forward
//! recognition, decision and record, for every trigger. Nothing may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::policy::Trigger;
use mailtrail::settings::Settings;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let settings = Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        forwarding_address: Some("fwd@crm.example".into()),
        ..Settings::default()
    };
    let Ok(mut engine) = Engine::new(&settings) else { return };
    let contacts: HashSet<String> = HashSet::new();
    let options = ProcessOptions { dry_run: true, ..Default::default() };
    for trigger in [Trigger::Send { log_checked: true }, Trigger::Manual, Trigger::Incoming, Trigger::BccCopy, Trigger::Forwarded] {
        if let Ok(outcome) = engine.process_raw(data, trigger, &contacts, 1_700_000_000_000, &options) {
            let _ = serde_json::to_string(&outcome);
        }
    }
});
