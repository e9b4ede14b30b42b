//! What JS and config files hand the engine as JSON: compose data, settings, triggers, delivery
//! outcomes, and saved state (snapshot + outbox entries). Errors are fine; panics are not.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailtrail::email::{ComposeData, Email};
use mailtrail::engine::Engine;
use mailtrail::settings::Settings;

fuzz_target!(|data: &[u8]| {
    if let Ok(compose) = serde_json::from_slice::<ComposeData>(data) {
        let _ = Email::from_compose(&compose);
    }
    if let Ok(settings) = serde_json::from_slice::<Settings>(data) {
        let _ = settings.validate();
    }
    let _ = serde_json::from_slice::<mailtrail::policy::Trigger>(data);
    let _ = serde_json::from_slice::<mailtrail::outbox::DeliveryOutcome>(data);
    if let Ok(mut engine) = Engine::new(&Settings::default()) {
        let _ = engine.import_state(data, Vec::new());
    }
    let _ = mailtrail::threads::ThreadTracker::from_bytes(data);
    let _ = mailtrail::outbox::Outbox::from_json(&String::from_utf8_lossy(data));
});
