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
use mailtrail::threads::{ThreadTracker, TrackerLimits};
use std::collections::HashSet;
use std::path::PathBuf;

fn corpus() -> Vec<Vec<u8>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path", concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")])
        .output()
        .expect("cargo metadata");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let dir = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "mail-parser"))
        .and_then(|p| p["manifest_path"].as_str())
        .map(|m| PathBuf::from(m).parent().expect("dir").join("resources"))
        .expect("mail-parser resources");
    let mut files = Vec::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml") {
                files.push(std::fs::read(&p).expect("read"));
            }
        }
    }
    files
}

fn raw_to_record(c: &mut Criterion) {
    let inputs = corpus();
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    let settings = Settings { user_addresses: vec!["me@ourco.example".into()], include_attachments: false, ..Settings::default() };
    let mut engine = Engine::new(&settings).expect("settings");
    let contacts = HashSet::new();
    let options = ProcessOptions { dry_run: true, ..Default::default() };
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("raw→record, {} messages", inputs.len()), |b| {
        b.iter(|| {
            for raw in &inputs {
                let _ = black_box(engine.process_raw(black_box(raw), Trigger::Manual, &contacts, 1_700_000_000_000, &options));
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

fn tracker_100k() -> ThreadTracker {
    const DAY: i64 = 86_400_000;
    let t0 = 1_772_500_500_000;
    let n = 100_000;
    let mut t = ThreadTracker::new(TrackerLimits { capacity: n, max_age_ms: 400 * DAY });
    for i in 0..n {
        let e = Email {
            message_id: Some(format!("CAF{i:08}=msg@mail.gmail.com")),
            in_reply_to: vec![format!("parent{i}@partner.example")],
            references: vec![format!("root{i}@partner.example"), format!("parent{i}@partner.example")],
            thread_id: Some(format!("18c{i:013x}")),
            subject: format!("Re: Order {i} for the spring catalogue"),
            ..Email::default()
        };
        t.track(&e, t0 - ((i as i64 * 7919) % 365) * DAY - i as i64);
    }
    t
}

fn threads(c: &mut Criterion) {
    let tracker = tracker_100k();
    let bytes = tracker.to_bytes();
    println!("thread tracker: 100k threads serialise to {} bytes", bytes.len());
    let reply = Email { in_reply_to: vec!["CAF00054321=msg@mail.gmail.com".into()], ..Email::default() };
    let mut group = c.benchmark_group("threads-100k");
    group.sample_size(20);
    group.bench_function("to_bytes", |b| b.iter(|| black_box(tracker.to_bytes())));
    group.bench_function("from_bytes", |b| b.iter(|| black_box(ThreadTracker::from_bytes(black_box(&bytes)))));
    group.bench_function("match_reply", |b| b.iter(|| black_box(tracker.match_reply(black_box(&reply)))));
    group.finish();
}

criterion_group!(benches, raw_to_record, threads);
criterion_main!(benches);
