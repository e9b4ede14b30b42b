//! mail-parser's own test messages, found through `cargo metadata` (never a hard-coded registry
//! path), for the tests and benchmarks that run a real-mail corpus through Mailtrail.
//! Included with `#[path]` by tests/corpus.rs, tests/extract_robustness.rs and benches/engine.rs.

#![allow(dead_code)] // each includer uses what it needs

use std::path::{Path, PathBuf};

/// mail-parser's package directory.
pub fn mail_parser_dir() -> PathBuf {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let pkg = meta["packages"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "mail-parser"))
        .expect("mail-parser is a dependency");
    let manifest = pkg["manifest_path"].as_str().expect("a manifest path");
    Path::new(manifest)
        .parent()
        .expect("the manifest's directory")
        .to_path_buf()
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// mail-parser's `.eml` test messages, sorted.
pub fn eml_files() -> Vec<PathBuf> {
    files_under(&mail_parser_dir().join("resources"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect()
}
