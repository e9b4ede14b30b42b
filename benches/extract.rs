//! Criterion benchmarks of forward and reply extraction (native):
//! - every text and HTML fixture of tests/fixtures/{forward,reply} (the Node benchmark,
//!   bench/extract.mjs, runs the WASM build and the npm peers on the same files);
//! - 1 MB inputs: a forward with a long body, and deeply nested HTML.
//!
//!   cargo bench --bench extract              full run
//!   cargo bench --bench extract -- --test    smoke: every benchmark once (CI)

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use mailtrail::extract::{
    forward_from_html, forward_from_text, split_reply_html, split_reply_text,
};
use std::path::Path;

struct Case {
    input: String,
    subject: Option<String>,
}

fn cases(kind: &str, ext: &str) -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixture dir")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
        {
            let spec: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(f.with_extension("json")).expect("json"),
            )
            .expect("valid json");
            out.push(Case {
                input: std::fs::read_to_string(f).expect("fixture"),
                subject: spec["subject"].as_str().map(str::to_string),
            });
        }
    }
    out
}

fn bytes(cases: &[Case]) -> u64 {
    cases.iter().map(|c| c.input.len() as u64).sum()
}

fn fixtures(c: &mut Criterion) {
    let fwd_text = cases("forward", "txt");
    let fwd_html = cases("forward", "html");
    let rep_text = cases("reply", "txt");
    let rep_html = cases("reply", "html");

    let mut g = c.benchmark_group("forward");
    g.throughput(Throughput::Bytes(bytes(&fwd_text)));
    g.bench_function(format!("text fixtures ({})", fwd_text.len()), |b| {
        b.iter(|| {
            fwd_text
                .iter()
                .filter(|c| forward_from_text(black_box(&c.input), c.subject.as_deref()).forwarded)
                .count()
        })
    });
    g.throughput(Throughput::Bytes(bytes(&fwd_html)));
    g.bench_function(format!("html fixtures ({})", fwd_html.len()), |b| {
        b.iter(|| {
            fwd_html
                .iter()
                .filter(|c| forward_from_html(black_box(&c.input), c.subject.as_deref()).forwarded)
                .count()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("reply");
    g.throughput(Throughput::Bytes(bytes(&rep_text)));
    g.bench_function(format!("text fixtures ({})", rep_text.len()), |b| {
        b.iter(|| {
            rep_text
                .iter()
                .map(|c| split_reply_text(black_box(&c.input)).reply.len())
                .sum::<usize>()
        })
    });
    g.throughput(Throughput::Bytes(bytes(&rep_html)));
    g.bench_function(format!("html fixtures ({})", rep_html.len()), |b| {
        b.iter(|| {
            rep_html
                .iter()
                .map(|c| split_reply_html(black_box(&c.input)).reply.len())
                .sum::<usize>()
        })
    });
    g.finish();
}

fn large(c: &mut Criterion) {
    let mut body = String::from(
        "FYI\n\n---------- Forwarded message ---------\nFrom: Ann Lee <ann@acme.com>\nDate: Mon, Oct 25, 2021 at 11:17 AM\nSubject: Logs\nTo: <bob@example.com>\n\n",
    );
    while body.len() < 1 << 20 {
        body.push_str(
            "> 2021-10-25 11:17:00 INFO request served in 12 ms, status 200, bytes 5120\n",
        );
    }
    let html = "<div><blockquote type=\"cite\">".repeat((1 << 20) / 30);
    let mut g = c.benchmark_group("1 MB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("forward text, long quoted body", |b| {
        b.iter(|| forward_from_text(black_box(&body), Some("Fwd: Logs")).forwarded)
    });
    g.bench_function("reply text, long quoted body", |b| {
        b.iter(|| split_reply_text(black_box(&body)).reply.len())
    });
    g.throughput(Throughput::Bytes(html.len() as u64));
    g.bench_function("forward html, nested blockquotes", |b| {
        b.iter(|| forward_from_html(black_box(&html), None).forwarded)
    });
    g.finish();
}

criterion_group!(benches, fixtures, large);
criterion_main!(benches);
