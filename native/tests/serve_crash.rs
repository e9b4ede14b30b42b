//! Crash safety: SIGKILL `mailtrail serve` in the middle of a load run, restart it, and check
//! that every record acknowledged with 2xx is stored exactly once. The load generator does the
//! kill, the restart and its own API-level check; this test checks the database directly too.

#[macro_use]
mod serve_support;

use serve_support::*;
use std::collections::HashMap;
use std::process::Command;

async fn crash_and_verify(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = temp_dir("crash");
    let acks = dir.join("acked.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailtrail-loadgen"));
    cmd.arg("--spawn")
        .arg(bin())
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "--records",
            "3000",
            "--concurrency",
            "16",
            "--duplicates",
            "0.2",
            "--crash-after",
            "400",
            "--max-seconds",
            "60",
            "--json",
        ])
        .arg("--ack-log")
        .arg(&acks);
    if let Some(url) = &db.url {
        cmd.args(["--database", url]);
    }
    let out = cmd.output().expect("run mailtrail-loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the load generator's own check failed: {stdout}"
    );
    let verdict: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("crash").is_some())
        .expect("crash verdict line");
    assert_eq!(verdict["problems"], 0, "{verdict}");

    // Behind the API's back: each acknowledged key is in the table exactly once.
    let acked: Vec<String> = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        acked.len() >= 400,
        "the kill came after 400 acknowledgements ({})",
        acked.len()
    );
    let rows = count(&db, &dir, "SELECT COUNT(*) FROM records").await;
    let distinct = count(
        &db,
        &dir,
        "SELECT COUNT(DISTINCT idempotency_key) FROM records",
    )
    .await;
    assert_eq!(rows, distinct, "no key stored twice");
    let mut wanted: HashMap<&str, ()> = HashMap::new();
    for k in &acked {
        wanted.insert(k.as_str(), ());
    }
    for key in wanted.keys() {
        let n = count(
            &db,
            &dir,
            &format!(
                "SELECT COUNT(*) FROM records WHERE idempotency_key = '{}'",
                key.replace('\'', "''")
            ),
        )
        .await;
        assert_eq!(n, 1, "{key}: acknowledged, stored {n} times");
    }
    assert!(rows as usize >= wanted.len());
    db.drop_db().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_acknowledged_sqlite() {
    crash_and_verify(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_nothing_acknowledged_postgres() {
    crash_and_verify(Kind::Postgres).await
}
