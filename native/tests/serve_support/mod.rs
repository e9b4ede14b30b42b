//! Shared by the `serve_*` integration tests: starts the real `mailtrail serve` binary on a free
//! loopback port against SQLite or a real PostgreSQL, signs records like the extension does.
//!
//! PostgreSQL: `MAILTRAIL_TEST_PG` must hold the URL of a server where the test may create
//! databases (`eval "$(scripts/pg start)"` sets it). Unset is a loud failure, not a skip; only
//! `MAILTRAIL_TEST_PG=skip` skips the PostgreSQL tests, on purpose.

#![allow(dead_code)]

#[macro_use]
pub mod scenarios;

use serde_json::{json, Value};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The binary under test: `MAILTRAIL_SERVE_BIN` (e.g. a release build, much faster with
/// 50 MiB records) or the one cargo built for this test run.
pub fn bin() -> String {
    std::env::var("MAILTRAIL_SERVE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mailtrail").to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database for one test: a SQLite file in the test's directory, or a fresh PostgreSQL
/// database (dropped when the test ends).
pub struct TestDb {
    pub kind: Kind,
    /// `None` for SQLite: the server's default file in its data directory.
    pub url: Option<String>,
    admin_url: Option<String>,
    name: Option<String>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}_{}_{n}_{nanos}", std::process::id())
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailtrail-test-{}", unique(tag)));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The PostgreSQL server to test against, or `None` when explicitly skipped.
pub fn pg_admin_url() -> Option<String> {
    match std::env::var("MAILTRAIL_TEST_PG") {
        Ok(v) if v == "skip" => {
            eprintln!("MAILTRAIL_TEST_PG=skip: PostgreSQL tests skipped on purpose");
            None
        }
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => panic!(
            "MAILTRAIL_TEST_PG is not set. The PostgreSQL tests need a real server: run\n\
             \x20   eval \"$(scripts/pg start)\"\n\
             first (it starts a throwaway cluster on loopback and sets MAILTRAIL_TEST_PG), or set\n\
             MAILTRAIL_TEST_PG=skip to skip them on purpose."
        ),
    }
}

impl TestDb {
    pub async fn new(kind: Kind) -> Option<TestDb> {
        match kind {
            Kind::Sqlite => Some(TestDb {
                kind,
                url: None,
                admin_url: None,
                name: None,
            }),
            Kind::Postgres => {
                let admin = pg_admin_url()?;
                let name = unique("mt").to_lowercase();
                let mut conn = pg_connect(&admin).await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database on {admin}: {e}"));
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin.clone());
                Some(TestDb {
                    kind,
                    url: Some(format!("{base}/{name}")),
                    admin_url: Some(admin),
                    name: Some(name),
                })
            }
        }
    }

    pub async fn drop_db(&self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, &self.name) {
            let mut conn = pg_connect(admin).await;
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    }

    /// The URL a direct connection (for checks behind the API's back) uses.
    pub fn direct_url(&self, data_dir: &Path) -> String {
        match &self.url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", data_dir.join("mailtrail.db").display()),
        }
    }
}

pub async fn pg_connect(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("cannot connect to PostgreSQL at {url}: {e} (is scripts/pg running?)")
    })
}

/// Counts rows behind the API's back: `SELECT COUNT(*) …` on either database.
pub async fn count(db: &TestDb, data_dir: &Path, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    match db.kind {
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.direct_url(data_dir))
                .await
                .expect("open sqlite");
            sqlx::query(sql)
                .fetch_one(&mut c)
                .await
                .expect(sql)
                .get::<i64, _>(0)
        }
        Kind::Postgres => {
            let mut c = pg_connect(&db.direct_url(data_dir)).await;
            sqlx::query(sql)
                .fetch_one(&mut c)
                .await
                .expect(sql)
                .get::<i64, _>(0)
        }
    }
}

/// Runs one statement behind the API's back.
pub async fn execute(db: &TestDb, data_dir: &Path, sql: &str) {
    use sqlx::Connection;
    match db.kind {
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.direct_url(data_dir))
                .await
                .expect("open sqlite");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
        Kind::Postgres => {
            let mut c = pg_connect(&db.direct_url(data_dir)).await;
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
    }
}

/// A running `mailtrail serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub stdout_lines: Vec<String>,
    pub client: reqwest::Client,
}

impl Server {
    /// Starts the binary; panics with its stderr when it does not come up.
    pub fn start(data_dir: &Path, db: &TestDb, extra: &[&str]) -> Server {
        Self::try_start(data_dir, db, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(data_dir: &Path, db: &TestDb, extra: &[&str]) -> Result<Server, String> {
        Self::try_start_with_env(data_dir, db, extra, &[])
    }

    /// [`Server::start`] with environment variables too (the HubSpot relay's settings).
    pub fn start_with_env(
        data_dir: &Path,
        db: &TestDb,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        Self::try_start_with_env(data_dir, db, extra, env).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start_with_env(
        data_dir: &Path,
        db: &TestDb,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let bin = bin();
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("MAILTRAIL_TOKEN")
            .env("MAILTRAIL_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &db.url {
            cmd.args(["--database", url]);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {bin}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut reader = std::io::BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let Some(url) = first
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_string)
        else {
            let _ = child.kill();
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "mailtrail serve did not start (status {:?}); stdout: {first:?}; stderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        };
        // The rest of the banner (a few lines) is already written: read what is there.
        let mut stdout_lines = vec![first.trim().to_string()];
        std::thread::sleep(Duration::from_millis(20));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            stdout_lines.push(line);
        }
        // Keep stderr flowing into the test output without blocking the server.
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr)
                    .lines()
                    .map_while(Result::ok)
                {
                    eprintln!("[serve] {line}");
                }
            });
        }
        let token = std::fs::read_to_string(data_dir.join("token"))
            .map_err(|e| format!("no token file: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Server {
            child,
            url,
            token: token.trim().to_string(),
            data_dir: data_dir.to_path_buf(),
            stdout_lines,
            client,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        for _ in 0..300 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("mailtrail serve did not stop within 15 s of SIGTERM");
    }

    /// Signs and posts a record body exactly as the extension does.
    pub async fn post_record(&self, body: &str) -> (u16, Value) {
        let now = now_secs();
        self.post_signed(body, now, &self.token.clone()).await
    }

    pub async fn post_signed(&self, body: &str, timestamp: i64, secret: &str) -> (u16, Value) {
        let sig = mailtrail::webhook::sign(secret.as_bytes(), timestamp, body.as_bytes());
        let resp = self
            .client
            .post(format!("{}/v1/records", self.url))
            .header("content-type", "application/json")
            .header("Mailtrail-Timestamp", timestamp.to_string())
            .header("Mailtrail-Signature", sig)
            .body(body.to_string())
            .send()
            .await
            .expect("POST /v1/records");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The id of the contact with this (normalised) address, found with the lookup API.
    pub async fn contact_id(&self, address: &str) -> i64 {
        let (st, v) = self
            .send_json(
                reqwest::Method::POST,
                "/v1/contacts/lookup",
                &serde_json::json!({"addresses": [address]}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v["contacts"][address]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no contact {address}: {v}"))
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let resp = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn stats(&self) -> Value {
        let (s, v) = self.get("/v1/stats").await;
        assert_eq!(s, 200, "{v}");
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A valid record, as the core builds them; `patch` overrides top-level fields.
pub fn record(key: &str, patch: Value) -> Value {
    let mut r = json!({
        "schema": "mailtrail.record/1",
        "idempotencyKey": key,
        "direction": "outgoing",
        "timestamp": 1_767_225_600_000i64,
        "subject": "Quote for 20 chairs",
        "from": {"address": "sales@ourco.example", "name": "Sam Sales"},
        "to": [{"address": "jane@customer.example", "name": "Jane Doe"}],
        "cc": [], "bcc": [],
        "text": "Hello Jane, here is the quote.",
        "html": null,
        "bodyTruncated": false,
        "attachments": [], "droppedAttachments": [],
        "messageId": format!("{key}@mail.ourco.example"),
        "inReplyTo": [], "references": [],
        "threadId": null,
        "contacts": [{"address": "jane@customer.example", "name": "Jane Doe", "create": true}],
        "reasons": ["log-checked", "contact-created"],
        "mailbox": "sales@ourco.example",
        "source": "gmail",
        "client": "mailtrail/test"
    });
    if let (Some(obj), Some(p)) = (r.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            obj.insert(k.clone(), v.clone());
        }
    }
    r
}

/// Everything a test needs: a database, a data directory and a running server.
pub struct Env {
    pub db: TestDb,
    pub dir: PathBuf,
    pub server: Server,
}

impl Env {
    pub async fn start(kind: Kind, extra: &[&str]) -> Option<Env> {
        let db = TestDb::new(kind).await?;
        let dir = temp_dir(match kind {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "pg",
        });
        let server = Server::start(&dir, &db, extra);
        Some(Env { db, dir, server })
    }

    pub async fn finish(mut self) {
        self.server.terminate();
        self.db.drop_db().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBuTCCAV6gAwIBAgIUCIp8VKRUBlIG0fJISMialix7UacwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwObWFpbHRyYWlsIHRlc3QwIBcNMjYxMTIzMDgzNTQ3WhgPMjEy
NjEwMzAwODM1NDdaMBkxFzAVBgNVBAMMDm1haWx0cmFpbCB0ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAE5b9/ryCrzFOqfuP3L/J/QvD9s/gq5piGA3vKmnzA
Q7iEjYkzE53SoYwpwEAWLtc9IFfuQq2nnu9IJfQwrME+vaOBgTB/MB0GA1UdDgQW
BBTOcEq3AMDZFmdUS6FHRasiTdg7qDAfBgNVHSMEGDAWgBTOcEq3AMDZFmdUS6FH
RasiTdg7qDAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIw
ADATBgNVHSUEDDAKBggrBgEFBQcDATAKBggqhkjOPQQDAgNJADBGAiEA1YXHBVPo
k0Y9VFX4+hCcGBJlpMwCzeFXVKOW2D/1X7MCIQDDA0CMELy1Kw43dhyt1urG2O8R
Wuo7sZlgdNcdSxdWrg==
-----END CERTIFICATE-----
";

/// Test-only key for TEST_CERT (self-signed, 127.0.0.1 and localhost). Never use elsewhere.
pub const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgm2vptDLMt1frdl2S
JlJPATmzno2lGQE6UED8sC6tlMihRANCAATlv3+vIKvMU6p+4/cv8n9C8P2z+Crm
mIYDe8qafMBDuISNiTMTndKhjCnAQBYu1z0gV+5Craee70gl9DCswT69
-----END PRIVATE KEY-----
";
