//! Table-driven reply-splitting tests over `tests/fixtures/reply/<client>/<case>.*`.
//!
//! Each case is an input (`.txt`, `.html`, `.eml`) and a `.json` with the expected
//! `{"reply", "quoted", "signature"}`. Cases run through their typed entry point and through
//! `split_reply_bytes` (auto-detection); all failures are listed with a field diff.

use std::path::{Path, PathBuf};

use mailtrail::extract::{
    split_reply_bytes, split_reply_html, split_reply_message, split_reply_text, ReplyParts,
};
use serde_json::Value;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reply")
}

fn run(input: &Path) -> (ReplyParts, ReplyParts) {
    let bytes = std::fs::read(input).unwrap();
    let typed = match input.extension().unwrap().to_str().unwrap() {
        "txt" => split_reply_text(std::str::from_utf8(&bytes).unwrap()),
        "html" => split_reply_html(std::str::from_utf8(&bytes).unwrap()),
        "eml" => split_reply_message(&bytes).unwrap(),
        other => panic!("unknown fixture kind {other}"),
    };
    (typed, split_reply_bytes(&bytes).unwrap())
}

#[test]
fn reply_fixtures() {
    let mut dirs: Vec<_> = std::fs::read_dir(fixture_root())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    for dir in dirs {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for json in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let stem = json.file_stem().unwrap().to_string_lossy().to_string();
            let input = ["txt", "html", "eml"]
                .iter()
                .map(|e| dir.join(format!("{stem}.{e}")))
                .find(|p| p.exists())
                .unwrap();
            let spec: Value =
                serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
            let (typed, auto) = run(&input);
            let got = serde_json::to_value(&typed).unwrap();
            total += 1;
            let mut lines = Vec::new();
            for key in ["reply", "quoted", "signature"] {
                if spec["expected"][key] != got[key] {
                    lines.push(format!(
                        "  .{key}:\n    expected: {}\n    actual:   {}",
                        spec["expected"][key], got[key]
                    ));
                }
            }
            if typed != auto {
                lines.push(
                    "  split_reply_bytes (auto-detection) disagrees with the typed entry point"
                        .into(),
                );
            }
            if !lines.is_empty() {
                let name = format!(
                    "{}/{}",
                    dir.file_name().unwrap().to_string_lossy(),
                    input.file_name().unwrap().to_string_lossy()
                );
                failures.push(format!("{name}:\n{}", lines.join("\n")));
            }
        }
    }
    assert!(
        total >= 100,
        "expected at least 100 reply fixtures, found {total}"
    );
    eprintln!("{total} reply fixtures");
    if !failures.is_empty() {
        panic!(
            "{} of {} reply fixtures failed:\n\n{}",
            failures.len(),
            total,
            failures.join("\n\n")
        );
    }
}
