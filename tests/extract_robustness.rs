//! Robustness of the extraction entry points: mail-parser's own test messages (including its
//! malformed corpus), fuzz regressions, and pathological inputs up to 1 MB that must finish
//! in linear time (well under 100 ms each in release builds).

use std::path::Path;
use std::time::{Duration, Instant};

use mailtrail::extract::*;

/// Runs every entry point on `bytes`; a panic fails the test.
fn run_all(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let mut found = 0;
    found += forward_from_text(&text, Some("Fwd: x")).forwarded as usize;
    found += forward_from_text(&text, None).forwarded as usize;
    found += forward_from_html(&text, Some("Re: x")).forwarded as usize;
    found += split_reply_text(&text).quoted.is_some() as usize;
    found += split_reply_html(&text).quoted.is_some() as usize;
    if let Ok(f) = forward_from_message(bytes) {
        found += f.forwarded as usize;
    }
    if let Ok(f) = forward_from_bytes(bytes, None) {
        found += f.forwarded as usize;
    }
    let _ = split_reply_message(bytes);
    let _ = split_reply_bytes(bytes);
    let _ = detect_input(bytes);
    let _ = parse_date(&text[..text.len().min(300)]);
    found
}

#[path = "support/mail_corpus.rs"]
mod mail_corpus;

#[test]
fn mail_parser_corpus_never_panics() {
    let resources = mail_corpus::mail_parser_dir().join("resources");
    let files = mail_corpus::files_under(&resources);
    assert!(
        files.len() > 100,
        "expected mail-parser's test messages under {}",
        resources.display()
    );
    let mut emls = 0;
    let mut messages = 0;
    let mut rejected = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        run_all(&bytes);
        if f.extension().is_some_and(|e| e == "eml") && !f.to_string_lossy().contains("malformed") {
            emls += 1;
            match forward_from_message(&bytes) {
                Ok(_) => messages += 1,
                Err(e) => rejected.push(format!("{}: {e}", f.display())),
            }
        }
    }
    // The well-formed part of the corpus is real messages: they must be read as messages.
    eprintln!(
        "{messages} of {emls} well-formed .eml files read as messages; rejected: {rejected:#?}"
    );
    assert!(
        messages * 100 >= emls * 95,
        "only {messages} of {emls} .eml files were read as messages: {rejected:#?}"
    );
}

#[test]
fn fuzz_regressions_never_panic() {
    let mut files = Vec::new();
    for d in ["tests/fixtures/forward/fuzz", "tests/fixtures/reply/fuzz"] {
        files.extend(mail_corpus::files_under(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(d),
        ));
    }
    for f in files {
        run_all(&std::fs::read(f).unwrap());
    }
}

/// Pathological inputs of about `size` bytes.
fn pathological(size: usize) -> Vec<(&'static str, Vec<u8>)> {
    fn fill(unit: &str, size: usize) -> Vec<u8> {
        unit.repeat(size / unit.len() + 1).into_bytes()[..size].to_vec()
    }
    vec![
        ("one long line", fill("a", size)),
        ("long line of colons", fill("From: a@b.c To: ", size)),
        ("long line of brackets", fill("<<[[((@", size)),
        ("header-like lines", fill("From: Ann <a@x.com>\nSent: Monday, October 25, 2021 11:17 AM\nTo: b@x.com\n", size)),
        ("repeated forward blocks", fill("---------- Forwarded message ---------\nFrom: A <a@x.com>\nDate: Mon, Oct 25, 2021 at 11:17 AM\nSubject: x\n\n", size)),
        ("original message separators", fill("-----Original Message-----\n", size)),
        ("attribution-like lines", fill("On Mon, Oct 25, 2021 at 11:17 AM Ann <a@x.com>\n", size)),
        ("attribution lines ending in colon", fill("On Mon 25 Oct 2021 11:17 Ann <a@x.com> wrote:\n", size)),
        ("deep quoting per line", fill(&(">".repeat(500) + " text\n"), size)),
        ("one line of quote markers", fill("> ", size)),
        ("continuation lines", [b"To: a@x.com,\n".to_vec(), fill("b@x.com,\n", size)].concat()),
        ("glued headers", [b"----- Forwarded Message -----".to_vec(), fill("From: a@x.comTo: b@x.comSent: 1:2:3Subject: x", size)].concat()),
        ("nested divs", fill("<div>", size)),
        ("nested blockquotes", fill("<blockquote type=\"cite\">", size)),
        ("unmatched closing tags", [fill("<div>", size / 2), fill("</span>", size / 2)].concat()),
        ("unterminated comment", [b"<!--".to_vec(), fill("x", size)].concat()),
        ("unterminated attribute", [b"<div class=\"".to_vec(), fill("x", size)].concat()),
        ("entities", fill("&amp;&#x41;&nbsp;&bogus;&", size)),
        ("gmail quote containers", fill("<div class=\"gmail_quote\">On x wrote:<blockquote class=\"gmail_quote\">a", size)),
        ("signature delimiters", fill("-- \nSent from my iPhone\n", size)),
        ("dates", fill("Date: 2021年10月25日(月) 11:17 25.10.2021 klo 11.17 Mon, 25 Oct 2021 11:17:00 +0300\n", size)),
        ("blank lines", fill("\n", size)),
        ("crlf", fill("\r\n", size)),
        ("multibyte", fill("差出人：山田 <y@x.jp>\n件名：見積もり\n", size)),
    ]
}

fn time_all(input: &[u8]) -> Duration {
    let start = Instant::now();
    run_all(input);
    start.elapsed()
}

#[test]
fn pathological_inputs_are_linear() {
    let release = !cfg!(debug_assertions);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let small = pathological(100 * 1024);
    let large = pathological(1024 * 1024);
    for ((name, s), (_, l)) in small.iter().zip(&large) {
        // Best of two runs on the small input, to keep a busy machine from failing the test.
        let ts = time_all(s).min(time_all(s));
        let tl = time_all(l);
        report.push(format!("{name:34} 100 KB {:>8.2?}   1 MB {:>8.2?}", ts, tl));
        // Every entry point runs once on the input inside `run_all` (11 calls).
        let per_call = tl / 11;
        if release && per_call > Duration::from_millis(100) {
            failures.push(format!(
                "{name}: {per_call:?} per call on 1 MB (limit 100 ms)"
            ));
        }
        // Linear: ten times the input may take at most ~30 times as long (cache effects and
        // noise); quadratic work would take ~100 times as long.
        if tl > ts * 30 + Duration::from_millis(100) {
            failures.push(format!(
                "{name}: 100 KB took {ts:?} but 1 MB took {tl:?} (not linear)"
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
