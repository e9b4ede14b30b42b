//! `mailtrail serve` as a program: first start, token file, loopback-only default, graceful
//! shutdown, HTTPS and the add-in's static files.

#[macro_use]
mod serve_support;

use serde_json::json;
use serve_support::*;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_creates_a_private_token_and_prints_it_once() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new(Kind::Sqlite).await.unwrap();
    let dir = temp_dir("first");
    let mut s = Server::start(&dir, &db, &[]);
    let banner = s.stdout_lines.join("\n");
    assert!(
        s.stdout_lines[0].starts_with("listening on http://127.0.0.1:"),
        "{banner}"
    );
    let port: u16 = s.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "the real port is printed");
    assert!(
        banner.contains(&s.token),
        "the new token is printed on first start: {banner}"
    );
    assert!(s.token.starts_with("mt_") && s.token.len() == 67);
    let mode = std::fs::metadata(dir.join("token"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        dir.join("mailtrail.db").exists(),
        "default database in the data directory"
    );
    let token = s.token.clone();
    assert!(s.terminate().success());
    // Second start: same token, not printed again.
    let s2 = Server::start(&dir, &db, &[]);
    assert_eq!(s2.token, token);
    let banner = s2.stdout_lines.join("\n");
    assert!(!banner.contains(&token), "{banner}");
    assert!(banner.contains("token file:"), "{banner}");
    drop(s2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn refuses_non_loopback_without_allow_remote() {
    let dir = temp_dir("remote");
    let out = Command::new(bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-remote"), "{err}");
    let out = Command::new(bin())
        .args(["serve", "--rate-limit", "fast", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate-limit"));
    let out = Command::new(bin())
        .args([
            "serve",
            "--database",
            "mysql://x",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad --database URL is bad input"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:PATH or postgres://"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mailtrail serve` with `args`, its exit code and stderr.
fn serve_fails(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin());
    cmd.args(["serve", "--data-dir"])
        .arg(dir)
        .args(args)
        .env_remove("MAILTRAIL_TOKEN")
        .stdout(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit code 2 for what the user gave wrong (options, environment), 1 for what failed around
/// it (the port is taken, the database does not answer), as main.rs promises for every command.
#[test]
fn startup_errors_exit_2_for_bad_input_and_1_for_failures() {
    let dir = temp_dir("exit");
    let local = ["--listen", "127.0.0.1:0"];
    for (args, env, needle) in [
        (
            vec!["--database", "postgres://u@host:notaport/db"],
            vec![],
            "--database",
        ),
        (vec!["--database", "sqlite:"], vec![], "needs a file path"),
        (
            vec![],
            vec![("MAILTRAIL_TOKEN", "short")],
            "MAILTRAIL_TOKEN",
        ),
    ] {
        let all: Vec<&str> = local.iter().copied().chain(args.iter().copied()).collect();
        let (code, err) = serve_fails(&dir, &all, &env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {err}");
        assert!(err.contains(needle), "{err}");
    }
    // A token file that holds no usable token: bad input too.
    let bad_token_dir = temp_dir("exit-token");
    std::fs::write(bad_token_dir.join("token"), "x\n").unwrap();
    let (code, err) = serve_fails(&bad_token_dir, &local, &[]);
    assert_eq!(code, Some(2), "{err}");
    // The port is taken: a failure, not bad input.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = serve_fails(&dir, &["--listen", &addr], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
    // The database does not answer (nothing listens on the port): a failure.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("postgres://mailtrail@127.0.0.1:{port}/mailtrail?connect_timeout=2");
    let (code, err) = serve_fails(&dir, &["--listen", "127.0.0.1:0", "--database", &url], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot open PostgreSQL database"), "{err}");
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&bad_token_dir);
}

/// SIGTERM while records are arriving: every record answered 2xx is stored, nothing else, and
/// the server exits with 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_accepted_records() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let Some(mut env) = Env::start(Kind::Sqlite, &[]).await else {
        return;
    };
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let client = env.server.client.clone();
        let url = env.server.url.clone();
        let token = env.server.token.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..200 {
                let body = record(&format!("m1-term-{w}-{i}"), json!({})).to_string();
                let now = now_secs();
                let r = client
                    .post(format!("{url}/v1/records"))
                    .header("Mailtrail-Timestamp", now.to_string())
                    .header(
                        "Mailtrail-Signature",
                        mailtrail::webhook::sign(token.as_bytes(), now, body.as_bytes()),
                    )
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => break,
                }
            }
        }));
    }
    while acked.load(Ordering::SeqCst) < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &env.server.pid().to_string()])
        .status();
    for t in tasks {
        t.await.unwrap();
    }
    let status = env.server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let acked = acked.load(Ordering::SeqCst) as i64;
    assert!(acked < 1600, "the server stopped taking records");
    let stored = count(&env.db, &env.dir, "SELECT COUNT(*) FROM records").await;
    assert_eq!(
        stored, acked,
        "every acknowledged record is stored, nothing else"
    );
    env.server = Server::start(&env.dir, &env.db, &[]);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_addin_files() {
    let db = TestDb::new(Kind::Sqlite).await.unwrap();
    let dir = temp_dir("tls");
    let addin = dir.join("addin");
    std::fs::create_dir_all(addin.join("assets")).unwrap();
    std::fs::write(
        addin.join("taskpane.html"),
        "<!doctype html><title>Mailtrail</title>",
    )
    .unwrap();
    std::fs::write(addin.join("assets/app.js"), "console.log(1)").unwrap();
    std::fs::write(addin.join("manifest.json"), "{}").unwrap();
    std::fs::write(dir.join("cert.pem"), TEST_CERT).unwrap();
    std::fs::write(dir.join("key.pem"), TEST_KEY).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let s = Server::start(
        &data,
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--addin-dir",
            addin.to_str().unwrap(),
        ],
    );
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(TEST_CERT.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/addin/taskpane.html", s.url))
        .send()
        .await
        .expect("HTTPS with the configured certificate");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        r.text().await.unwrap(),
        "<!doctype html><title>Mailtrail</title>"
    );
    let r = client
        .get(format!("{}/addin/assets/app.js", s.url))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let r = client
        .get(format!("{}/addin/manifest.json", s.url))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // No way out of the add-in folder (the token file is one level up from it in data/..).
    for path in [
        "/addin/../data/token",
        "/addin/%2e%2e/data/token",
        "/addin/..%2fdata%2ftoken",
        "/addin/%2e%2e%2fcert.pem",
    ] {
        let r = client.get(format!("{}{path}", s.url)).send().await.unwrap();
        let st = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("mt_") && !text.contains("BEGIN"),
            "{path} leaked: {st} {text}"
        );
        assert!(st == 404 || st == 400, "{path}: {st}");
    }
    let r = client
        .get(format!("{}/addin/missing.html", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The API over HTTPS; plain HTTP to the TLS port does not work.
    let h: serde_json::Value = client
        .get(format!("{}/v1/health", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let plain = reqwest::Client::new()
        .get(s.url.replace("https://", "http://") + "/v1/health")
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_certificate_is_a_clear_error() {
    let dir = temp_dir("badcert");
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.join("key.pem"), TEST_KEY).unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .arg("--tls-cert")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bad certificate is bad input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cert.pem"), "{err}");
    // A missing key file, and a key that does not match the certificate: bad input too.
    std::fs::write(dir.join("good-cert.pem"), TEST_CERT).unwrap();
    std::fs::write(dir.join("other-key.pem"), OTHER_KEY).unwrap();
    for (key, needle) in [
        ("missing.pem", "missing.pem"),
        ("other-key.pem", "do not go together"),
    ] {
        let out = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .arg("--tls-cert")
            .arg(dir.join("good-cert.pem"))
            .arg("--tls-key")
            .arg(dir.join(key))
            .env_remove("MAILTRAIL_TOKEN")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(needle), "{key}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A key that is not TEST_CERT's (test only).
const OTHER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg3YoRIuRjzRQWCmFN
PkmtlxJZgGkO2g+LdDE+p+ZZBgyhRANCAASp642jMcb4FecvtC8dkZB10T4U1zzs
FFQWwM8K9Rbbfmd9wHiDs0JoYlcR0cm8gPb8CSgUbUx8pcIf/H0QfROe
-----END PRIVATE KEY-----
";

/// Starts `mailtrail serve` on `data_dir`, waits for its banner, stops it; returns its stderr.
fn start_and_stop(data_dir: &std::path::Path) -> String {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("MAILTRAIL_TOKEN")
        .env("MAILTRAIL_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A data directory the server creates is private (0700); one that exists keeps its
/// permissions (`--data-dir /var/lib` must not lock everyone else out of it), with a warning
/// when other users can enter it.
#[test]
fn data_dir_permissions_are_changed_only_when_created() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = temp_dir("datadir");
    let created = root.join("new/mailtrail");
    let err = start_and_stop(&created);
    assert_eq!(mode(&created), 0o700, "created private");
    assert!(!err.contains("open to other users"), "{err}");

    let shared = root.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = start_and_stop(&shared);
    assert_eq!(mode(&shared), 0o755, "an existing directory keeps its mode");
    assert!(err.contains("open to other users"), "{err}");
    assert_eq!(mode(&shared.join("token")), 0o600);

    let private = root.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = start_and_stop(&private);
    assert!(!err.contains("open to other users"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

/// SIGTERM sent the moment the banner is printed stops the server gracefully (exit 0): the
/// signal handlers are installed before the banner, not when the server starts waiting.
#[test]
fn sigterm_right_after_the_banner_is_graceful() {
    let dir = temp_dir("early-term");
    for _ in 0..10 {
        start_and_stop(&dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
