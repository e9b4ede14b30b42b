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

/// `plan --state` only reads the state: it answers at once while a `push` holds the state's
/// lock (here a push stuck on an endpoint that accepts the connection and never answers), and
/// it decides with what the state holds (before, it waited behind the push's lock, up to the
/// push's 30 s HTTP timeout per record, saying "waiting for another command").
#[test]
fn plan_reads_the_state_while_a_push_holds_its_lock() {
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(format!("mailtrail-plan-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let settings = |port: u16| {
        serde_json::json!({
            "userAddresses": ["me@ourco.example"],
            "endpoint": {"type": "local", "url": format!("http://127.0.0.1:{port}"),
                         "token": "mt_0123456789abcdef0123"}
        })
        .to_string()
    };
    let state = dir.join("cli-state.json");
    let push = |email: &std::path::Path, config: &std::path::Path| {
        Command::new(bin())
            .arg("push")
            .arg(email)
            .arg("--config")
            .arg(config)
            .arg("--state")
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // First push, endpoint down: the state now holds jane's thread (a logged thread).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = dir.join("down.json");
    std::fs::write(&down, settings(closed.local_addr().unwrap().port())).unwrap();
    drop(closed);
    let sent = dir.join("sent.json");
    std::fs::write(
        &sent,
        serde_json::json!({
            "from": "me@ourco.example", "to": ["jane@customer.example"],
            "subject": "Quote", "text": "hello", "messageId": "<quote-1@ourco.example>"
        })
        .to_string(),
    )
    .unwrap();
    let out = push(&sent, &down).wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second push to an endpoint that never answers: it holds the lock meanwhile.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hanging = dir.join("hanging.json");
    std::fs::write(&hanging, settings(silent.local_addr().unwrap().port())).unwrap();
    let other = dir.join("other.json");
    std::fs::write(
        &other,
        serde_json::json!({
            "from": "me@ourco.example", "to": ["joe@customer.example"],
            "subject": "Other", "text": "hi", "messageId": "<other-1@ourco.example>"
        })
        .to_string(),
    )
    .unwrap();
    let mut stuck = push(&other, &hanging);
    let lock = std::fs::File::open(dir.join("cli-state.json.lock")).unwrap();
    let start = Instant::now();
    loop {
        match lock.try_lock() {
            Ok(()) => {
                let _ = lock.unlock();
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "the push never took the state's lock"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => break,
            Err(e) => panic!("{e:?}"),
        }
    }

    // Jane's reply, planned with the state while the push is stuck.
    let reply = dir.join("reply.eml");
    std::fs::write(
        &reply,
        "From: Jane <jane@customer.example>\r\nTo: me@ourco.example\r\nSubject: Re: Quote\r\n\
         Message-ID: <reply-1@customer.example>\r\nIn-Reply-To: <quote-1@ourco.example>\r\n\
         References: <quote-1@ourco.example>\r\n\r\nThanks!\r\n",
    )
    .unwrap();
    let mut plan = Command::new(bin())
        .arg("plan")
        .arg(&reply)
        .arg("--config")
        .arg(&hanging)
        .arg("--state")
        .arg(&state)
        .args([
            "--trigger",
            "incoming",
            "--contacts",
            "jane@customer.example",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let finished = loop {
        if plan.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = plan.kill();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = plan.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let still_stuck = stuck.try_wait().unwrap().is_none();
    let _ = stuck.kill();
    let _ = stuck.wait();
    drop(silent);
    assert!(
        finished,
        "plan waited behind the push's lock for 10 s: {err}"
    );
    assert!(
        still_stuck,
        "the push ended before the plan: the test proves nothing"
    );
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("waiting for another command"), "{err}");
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Without the state's thread this would be thread-not-logged.
    assert_eq!(outcome["thread"]["by"], "in-reply-to", "{outcome}");
    assert_eq!(outcome["decision"]["log"], true, "{outcome}");
    assert!(
        outcome["decision"]["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["code"] == "reply-in-logged-thread")),
        "{outcome}"
    );
    // plan wrote nothing: the state still has the first push's record only.
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(snapshot["outbox"].as_array().map_or(0, Vec::len), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
