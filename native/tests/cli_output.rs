//! The CLI's standard output: a reader that stops early is not a crash.

use std::io::Read;
use std::process::{Command, Stdio};

fn bin() -> String {
    std::env::var("MAILTRAIL_SERVE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mailtrail").to_string())
}

/// `mailtrail parse big.eml | head -c 100`: the reader closes the pipe after a few bytes. The
/// command ends quietly with exit code 0 (no "failed printing to stdout" panic, no 101).
#[test]
fn a_closed_stdout_pipe_ends_the_command_quietly() {
    let dir = std::env::temp_dir().join(format!("mailtrail-cli-epipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let eml = dir.join("big.eml");
    // About 2 MiB of JSON: far more than a pipe holds, so the writer meets the closed pipe.
    let body = "The quote for twenty chairs, line after line.\r\n".repeat(45_000);
    std::fs::write(
        &eml,
        format!(
            "From: Sam <sam@ourco.example>\r\nTo: jane@customer.example\r\nSubject: Big\r\n\
             Message-ID: <big@ourco.example>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n{body}"
        ),
    )
    .unwrap();
    for _ in 0..3 {
        let mut child = Command::new(bin())
            .args(["parse"])
            .arg(&eml)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 100];
        stdout.read_exact(&mut first).unwrap();
        assert_eq!(first[0], b'{');
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.is_empty(), "quiet: {err}");
    }
    // Output read to the end: the whole JSON, as before.
    let out = Command::new(bin())
        .args(["parse"])
        .arg(&eml)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["subject"], "Big");
    let _ = std::fs::remove_dir_all(&dir);
}
