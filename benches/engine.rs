//! Criterion benchmarks of the native engine:
//! - raw message → decision → record over mail-parser's .eml corpus (the Node benchmark,
//!   bench/engine.mjs, runs the WASM build and postal-mime on the same files);
//! - the thread tracker at 100k threads: serialise, reload, match.
//!
//!   cargo bench --bench engine              full run
//!   cargo bench --bench engine -- --test    smoke: every benchmark once (CI)

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mailtrail::email::Email;
use mailtrail::engine::{Engine, ProcessOptions};
use mailtrail::policy::Trigger;
use mailtrail::settings::Settings;
use mailtrail::threads::ThreadTracker;
use std::collections::HashSet;

#[path = "../tests/support/mail_corpus.rs"]
mod mail_corpus;

fn corpus() -> Vec<Vec<u8>> {
    mail_corpus::eml_files()
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

fn raw_to_record(c: &mut Criterion) {
    let inputs = corpus();
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let settings = Settings {
        user_addresses: vec!["me@ourco.example".into()],
        include_attachments: false,
        ..Settings::default()
    };
    let mut engine = Engine::new(&settings).expect("settings");
    let contacts = HashSet::new();
    let options = ProcessOptions {
        dry_run: true,
        ..Default::default()
    };
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("raw→record, {} messages", inputs.len()), |b| {
        b.iter(|| {
            for raw in &inputs {
                let _ = black_box(engine.process_raw(
                    black_box(raw),
                    Trigger::Manual,
                    &contacts,
                    1_700_000_000_000,
                    &options,
                ));
            }
        })
    });
    group.bench_function(format!("parse only, {} messages", inputs.len()), |b| {
        b.iter(|| {
            for raw in &inputs {
                let _ = black_box(Email::from_raw(black_box(raw), Default::default()));
            }
        })
    });
    group.finish();
}

#[path = "../tests/support/sample_threads.rs"]
mod sample_threads;

fn threads(c: &mut Criterion) {
    let tracker = sample_threads::sample_tracker(100_000);
    let bytes = tracker.to_bytes();
    println!(
        "thread tracker: 100k threads serialise to {} bytes",
        bytes.len()
    );
    let reply = Email {
        in_reply_to: vec!["CAF00054321=msg@mail.gmail.com".into()],
        ..Email::default()
    };
    let mut group = c.benchmark_group("threads-100k");
    group.sample_size(20);
    group.bench_function("to_bytes", |b| b.iter(|| black_box(tracker.to_bytes())));
    group.bench_function("from_bytes", |b| {
        b.iter(|| black_box(ThreadTracker::from_bytes(black_box(&bytes))))
    });
    group.bench_function("match_reply", |b| {
        b.iter(|| black_box(tracker.match_reply(black_box(&reply))))
    });
    group.finish();
}

criterion_group!(benches, raw_to_record, threads);
criterion_main!(benches);
