//! Table-driven forward-extraction tests over `tests/fixtures/forward/<client>/<case>.*`.
//!
//! Each case is an input (`.txt` text body, `.html` HTML body, `.eml` full message) and a
//! `.json` with the forwarding message's subject and the expected output. Every case is run
//! through its typed entry point and through `forward_from_bytes` (auto-detection, as the
//! CLI does); all failures are reported with a field-by-field diff before the test fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailtrail::extract::{
    forward_from_bytes, forward_from_html, forward_from_message, forward_from_text, Forward,
};
use serde_json::Value;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forward")
}

struct Case {
    name: String,
    input: PathBuf,
    subject: Option<String>,
    expected: Value,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(fixture_root())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
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
                .map(|ext| dir.join(format!("{stem}.{ext}")))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("no input next to {}", json.display()));
            let spec: Value =
                serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
            out.push(Case {
                name: format!(
                    "{}/{}",
                    dir.file_name().unwrap().to_string_lossy(),
                    input.file_name().unwrap().to_string_lossy()
                ),
                input,
                subject: spec["subject"].as_str().map(str::to_string),
                expected: spec["expected"].clone(),
            });
        }
    }
    out
}

/// Field-by-field differences between two JSON values.
pub fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<_> = a.keys().chain(b.keys()).collect();
            for k in keys {
                diff(
                    &format!("{path}.{k}"),
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if want != got => out.push(format!(
            "  {path}:\n    expected: {want}\n    actual:   {got}"
        )),
        _ => {}
    }
}

fn run(case: &Case) -> (Forward, Forward) {
    let bytes = std::fs::read(&case.input).unwrap();
    let subject = case.subject.as_deref();
    let typed = match case.input.extension().unwrap().to_str().unwrap() {
        "txt" => forward_from_text(std::str::from_utf8(&bytes).unwrap(), subject),
        "html" => forward_from_html(std::str::from_utf8(&bytes).unwrap(), subject),
        "eml" => forward_from_message(&bytes).unwrap(),
        other => panic!("unknown fixture kind {other}"),
    };
    let auto = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        Forward::default()
    } else {
        forward_from_bytes(&bytes, subject).unwrap()
    };
    (typed, auto)
}

#[test]
fn forward_fixtures() {
    let cases = cases();
    assert!(
        cases.len() >= 200,
        "expected at least 200 forward fixtures, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut per_client: BTreeMap<String, usize> = BTreeMap::new();
    for case in &cases {
        *per_client
            .entry(case.name.split('/').next().unwrap().to_string())
            .or_default() += 1;
        let (typed, auto) = run(case);
        let got = serde_json::to_value(&typed).unwrap();
        let mut lines = Vec::new();
        diff("", &case.expected, &got, &mut lines);
        if typed != auto {
            lines.push(
                "  forward_from_bytes (auto-detection) disagrees with the typed entry point".into(),
            );
        }
        if !lines.is_empty() {
            failures.push(format!("{}:\n{}", case.name, lines.join("\n")));
        }
    }
    eprintln!("{} forward fixtures: {:?}", cases.len(), per_client);
    if !failures.is_empty() {
        panic!(
            "{} of {} forward fixtures failed:\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n\n")
        );
    }
}
