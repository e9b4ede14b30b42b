//! Every message in mail-parser's own test resources goes through parse → decide → record with
//! every trigger, natively, without a panic, and produces well-formed records.
//! (The same corpus runs through the WASM build in tests/js/engine_parity.test.mjs.)

use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::policy::Trigger;
use mailtrail::settings::Settings;
use std::collections::HashSet;

#[path = "support/mail_corpus.rs"]
mod mail_corpus;

#[test]
fn mail_parser_corpus_goes_through_every_trigger() {
    let files = mail_corpus::eml_files();
    assert!(
        files.len() >= 50,
        "expected mail-parser's .eml resources, found {}",
        files.len()
    );
    let settings = Settings {
        user_addresses: vec!["me@ourco.example".into()],
        internal_domains: vec!["ourco.example".into()],
        forwarding_address: Some("fwd@crm.example".into()),
        ..Settings::default()
    };
    let triggers = [
        Trigger::Send { log_checked: true },
        Trigger::Manual,
        Trigger::Incoming,
        Trigger::BccCopy,
        Trigger::Forwarded,
    ];
    let mut logged = 0;
    let mut parsed = 0;
    for file in &files {
        let raw = std::fs::read(file).expect("readable");
        let mut engine = Engine::new(&settings).expect("settings");
        let email = match engine.parse(&raw) {
            Ok(e) => e,
            Err(_) => continue, // a clear error is an acceptable answer to a broken file
        };
        parsed += 1;
        // Everyone on it is a contact, and the thread is logged, so every path is exercised.
        let contacts: HashSet<String> =
            email.participants().map(|m| m.normalized.clone()).collect();
        engine.track_thread(&email, 0);
        for trigger in triggers {
            let outcome = engine
                .process_raw(
                    &raw,
                    trigger,
                    &contacts,
                    1_700_000_000_000,
                    &ProcessOptions {
                        dry_run: true,
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert!(
                !outcome.decision.reasons.is_empty(),
                "{}: a decision without reasons",
                file.display()
            );
            if let Some(record) = &outcome.record {
                logged += 1;
                let key = &record.idempotency_key;
                assert!(
                    key.len() == 35 && (key.starts_with("m1-") || key.starts_with("c1-")),
                    "{key}"
                );
                for c in &record.contacts {
                    assert_eq!(
                        c.address,
                        mailtrail::normalize_address(&c.address).unwrap(),
                        "contacts are normalised"
                    );
                }
                serde_json::to_string(record).expect("record serialises");
            }
        }
    }
    assert!(
        parsed * 10 >= files.len() * 9,
        "only {parsed} of {} parsed",
        files.len()
    );
    assert!(logged > parsed, "some emails should be logged ({logged})");
}
