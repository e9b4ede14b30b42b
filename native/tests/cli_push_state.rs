//! `mailtrail push`'s state file (its outbox): concurrent pushes and crashes lose nothing.

use std::process::{Command, Stdio};

fn bin() -> String {
    std::env::var("MAILTRAIL_SERVE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mailtrail").to_string())
}

/// Eight `mailtrail push` at once with one state file and an endpoint that is down: every
/// record ends up queued in the state (before the lock, each push read the state, added its
/// record and wrote it back, dropping what the others added meanwhile), and no temp file is
/// left behind.
#[test]
fn concurrent_pushes_keep_every_record() {
    let dir = std::env::temp_dir().join(format!("mailtrail-push-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Nothing listens there: every record stays in the outbox.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let config = dir.join("settings.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "userAddresses": ["me@ourco.example"],
            "endpoint": {"type": "local", "url": format!("http://127.0.0.1:{port}"),
                         "token": "mt_0123456789abcdef0123"}
        })
        .to_string(),
    )
    .unwrap();
    let state = dir.join("state/cli-state.json");
    let mut expected = 0;
    for round in 0..3 {
        let mut children = Vec::new();
        for i in 0..8 {
            let email = dir.join(format!("email-{round}-{i}.json"));
            std::fs::write(
                &email,
                serde_json::json!({
                    "from": "me@ourco.example", "to": ["jane@customer.example"],
                    "subject": format!("Quote {round}.{i}"), "text": "hello",
                    "messageId": format!("<q{round}-{i}@ourco.example>")
                })
                .to_string(),
            )
            .unwrap();
            children.push(
                Command::new(bin())
                    .arg("push")
                    .arg(&email)
                    .arg("--config")
                    .arg(&config)
                    .arg("--state")
                    .arg(&state)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
        for c in children {
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            // Queued, not delivered (the endpoint is down): exit code 1, said on stderr.
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(err.contains("queued but not delivered"), "{err}");
        }
        expected += 8;
        let snapshot: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        let queued = snapshot["outbox"].as_array().map_or(0, Vec::len);
        assert_eq!(
            queued, expected,
            "round {round}: every push's record is queued"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
