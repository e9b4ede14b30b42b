//! `mailtrail watch` against a real Dovecot (started by scripts/dovecot on loopback) and a real
//! `mailtrail serve`: messages are appended over IMAP, records are asserted at the endpoint.
//!
//! Dovecot must be installed (Debian: dovecot-imapd, which scripts/setup installs). A missing
//! Dovecot fails every test here with an explanation: it is never a silent skip.
//!
//! Each test starts its own Dovecot, endpoint and watcher, in its own temporary directory, so
//! tests run in parallel and one test restarting its server disturbs no other.

use futures_util::TryStreamExt;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- fixtures

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("native/ has a parent")
        .to_path_buf()
}

fn mailtrail() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mailtrail"))
}

fn temp_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("MAILTRAIL_TEST_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "mt-watch-{name}-{}-{}",
        std::process::id(),
        unique()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test directory");
    dir
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Dovecot started by scripts/dovecot; stopped when dropped.
struct Dovecot {
    dir: PathBuf,
    imaps_port: u16,
    imap_port: u16,
    ca: PathBuf,
}

impl Dovecot {
    fn start(dir: &Path) -> Dovecot {
        if Command::new("sh")
            .args(["-c", "command -v dovecot || test -x /usr/sbin/dovecot"])
            .stdout(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            panic!(
                "Dovecot is not installed: the IMAP watcher tests need a real IMAP server. \
                 Install it with `apt-get install dovecot-imapd` (scripts/setup does it), then run the tests again."
            );
        }
        let out = Command::new(repo_root().join("scripts/dovecot"))
            .arg("start")
            .arg(dir)
            .output()
            .expect("run scripts/dovecot");
        assert!(
            out.status.success(),
            "scripts/dovecot start failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("scripts/dovecot printed no {k}:\n{text}"))
                .to_string()
        };
        Dovecot {
            dir: dir.to_path_buf(),
            imaps_port: get("DOVECOT_IMAPS_PORT").parse().expect("port"),
            imap_port: get("DOVECOT_IMAP_PORT").parse().expect("port"),
            ca: PathBuf::from(get("DOVECOT_CA")),
        }
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(repo_root().join("scripts/dovecot"))
            .args(args)
            .output()
            .expect("run scripts/dovecot");
        assert!(
            out.status.success(),
            "scripts/dovecot {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn add_user(&self, user: &str, password: &str) {
        self.script(&[
            "adduser",
            self.dir.to_str().expect("utf-8 path"),
            user,
            password,
        ]);
    }

    /// An OAuth 2.0 access token for `user`, valid for `seconds` (negative: expired).
    fn token(&self, user: &str, seconds: i64) -> String {
        let out = Command::new(repo_root().join("scripts/dovecot"))
            .args([
                "token",
                self.dir.to_str().expect("utf-8 path"),
                user,
                &seconds.to_string(),
            ])
            .output()
            .expect("scripts/dovecot token");
        assert!(
            out.status.success(),
            "scripts/dovecot token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn add_user_line(&self, line: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("users"))
            .expect("users file");
        writeln!(f, "{line}").expect("write users");
    }

    fn stop(&self) {
        self.script(&["stop", self.dir.to_str().expect("utf-8 path")]);
    }

    fn start_again(&self) {
        self.script(&["start", self.dir.to_str().expect("utf-8 path")]);
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.join("home").join(user).join("Maildir")
    }

    fn url(&self, user: &str) -> String {
        format!("imaps://{user}@127.0.0.1:{}", self.imaps_port)
    }

    /// Appends a message over IMAP (creating the folder if needed).
    fn append(&self, user: &str, password: &str, folder: &str, raw: &str) {
        self.append_dated(user, password, folder, raw, None);
    }

    /// [`Dovecot::append`] with the message's arrival time (INTERNALDATE), in ms since 1970.
    fn append_dated(&self, user: &str, password: &str, folder: &str, raw: &str, at: Option<i64>) {
        let date = at.map(|ms| {
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let t = mailtrail::time::utc_parts(ms);
            format!(
                "\"{:02}-{}-{} {:02}:{:02}:{:02} +0000\"",
                t.day,
                MONTHS[usize::from(t.month - 1)],
                t.year,
                t.hour,
                t.minute,
                t.second
            )
        });
        let rt = runtime();
        rt.block_on(async {
            let mut s = self.session(user, password).await;
            if folder != "INBOX" {
                let _ = s.create(folder).await;
            }
            s.append(folder, None, date.as_deref(), raw.as_bytes())
                .await
                .expect("APPEND");
            let _ = s.logout().await;
        });
    }

    fn create_folder(&self, user: &str, password: &str, folder: &str) {
        runtime().block_on(async {
            let mut s = self.session(user, password).await;
            let _ = s.create(folder).await;
            let _ = s.logout().await;
        });
    }

    /// The flags of every message in a folder.
    fn flags(&self, user: &str, password: &str, folder: &str) -> Vec<Vec<String>> {
        runtime().block_on(async {
            let mut s = self.session(user, password).await;
            s.examine(folder).await.expect("EXAMINE");
            let fetches: Vec<_> = s
                .fetch("1:*", "FLAGS")
                .await
                .expect("FETCH")
                .try_collect()
                .await
                .expect("FETCH");
            let out = fetches
                .iter()
                .map(|f| f.flags().map(|fl| format!("{fl:?}")).collect())
                .collect();
            let _ = s.logout().await;
            out
        })
    }

    async fn session(
        &self,
        user: &str,
        password: &str,
    ) -> async_imap::Session<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        use tokio_rustls::rustls::{
            self, pki_types::pem::PemObject, pki_types::CertificateDer, pki_types::ServerName,
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(&self.ca).expect("CA file") {
            roots.add(c.expect("CA cert")).expect("add CA");
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imaps_port))
            .await
            .expect("connect to Dovecot");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
            .await
            .expect("TLS to Dovecot");
        let mut client = async_imap::Client::new(tls);
        client.read_response().await.expect("greeting");
        client
            .login(user, password)
            .await
            .map_err(|(e, _)| e)
            .expect("test login")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/dovecot"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

/// `mailtrail serve` on a free port.
struct Serve {
    child: Child,
    url: String,
    token: String,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        Serve::start_at(dir, "127.0.0.1:0")
    }

    fn start_at(dir: &Path, listen: &str) -> Serve {
        let data = dir.join("serve");
        let mut child = mailtrail()
            .args([
                "serve",
                "--listen",
                listen,
                "--rate-limit",
                "off",
                "--data-dir",
            ])
            .arg(&data)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(dir.join("serve.log"))
                    .expect("serve log"),
            )
            .spawn()
            .expect("start mailtrail serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(WAIT)
            .expect("mailtrail serve did not say where it listens");
        let token = std::fs::read_to_string(data.join("token"))
            .expect("token file")
            .trim()
            .to_string();
        Serve { child, url, token }
    }

    /// Stops the endpoint (the watcher's lookups and deliveries then fail).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again at the same address, with the same data.
    fn start_again(&mut self, dir: &Path) {
        let listen = self
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let again = wait_for("the endpoint's port to be free again", WAIT, || {
            std::net::TcpListener::bind(&listen).ok().map(drop)?;
            Some(Serve::start_at(dir, &listen))
        });
        assert_eq!(again.url, self.url);
        let old = std::mem::replace(self, again);
        drop(old);
    }

    fn get(&self, path: &str) -> (u16, Value) {
        runtime().block_on(async {
            let resp = reqwest::Client::new()
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("GET endpoint");
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            (status, serde_json::from_str(&body).unwrap_or(Value::Null))
        })
    }

    fn record(&self, key: &str) -> Option<Value> {
        match self.get(&format!("/v1/records/{key}")) {
            (200, v) => Some(v),
            _ => None,
        }
    }

    fn wait_record(&self, key: &str) -> Value {
        wait_for(&format!("record {key} at the endpoint"), WAIT, || {
            self.record(key)
        })
    }

    /// Stores a record as a client would (signed with the endpoint's token).
    fn post_record(&self, record: &Value) -> u16 {
        let record: mailtrail::Record =
            serde_json::from_value(record.clone()).expect("a valid record");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let req = mailtrail::webhook::request(
            &format!("{}/v1/records", self.url),
            &self.token,
            &record,
            now,
        )
        .expect("request");
        runtime().block_on(async {
            let mut b = reqwest::Client::new().post(&req.url).body(req.body.clone());
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            b.send().await.expect("POST record").status().as_u16()
        })
    }

    /// Adds a contact the way the web UI does (`POST /v1/contacts`).
    fn create_contact(&self, address: &str) {
        let status = runtime().block_on(async {
            reqwest::Client::new()
                .post(format!("{}/v1/contacts", self.url))
                .bearer_auth(&self.token)
                .json(&json!({ "address": address }))
                .send()
                .await
                .expect("POST contact")
                .status()
                .as_u16()
        });
        assert_eq!(status, 201, "creating the contact {address}");
    }

    fn record_count(&self) -> u64 {
        self.get("/v1/stats").1["records"]
            .as_u64()
            .expect("stats.records")
    }

    fn contact_timeline(&self, address: &str) -> Option<Value> {
        let (_, list) = self.get(&format!("/v1/contacts?q={address}"));
        let id = list["contacts"]
            .as_array()?
            .iter()
            .find(|c| c["address"] == address)?["id"]
            .as_i64()?;
        Some(self.get(&format!("/v1/contacts/{id}/timeline")).1)
    }

    fn watch_status(&self, account: &str) -> Option<Value> {
        let (_, v) = self.get("/v1/watch-status");
        v["accounts"]
            .as_array()?
            .iter()
            .find(|a| a["account"] == account)
            .cloned()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mailtrail watch` with its log captured.
struct Watcher {
    child: Option<Child>,
    config: PathBuf,
    log: PathBuf,
}

impl Watcher {
    fn start(dir: &Path, config: &Value, env: &[(&str, &str)]) -> Watcher {
        let path = dir.join("watch.json");
        std::fs::write(&path, serde_json::to_vec_pretty(config).expect("json"))
            .expect("write config");
        let log = dir.join(format!("watch-{}.log", unique()));
        let mut cmd = mailtrail();
        cmd.args(["watch", "--config"]).arg(&path);
        cmd.env("MAILTRAIL_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("watch log"))
            .spawn()
            .expect("start mailtrail watch");
        Watcher {
            child: Some(child),
            config: path,
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, what: &str) -> String {
        wait_for(&format!("{what:?} in the watcher's log"), WAIT, || {
            let t = self.log_text();
            t.contains(what).then_some(t)
        })
    }

    /// `mailtrail watch --status --json`: (exit code, JSON).
    fn status(&self) -> (i32, Value) {
        let out = mailtrail()
            .args(["watch", "--status", "--json", "--config"])
            .arg(&self.config)
            .output()
            .expect("watch --status");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), v)
    }

    fn account_status(&self, account: &str) -> Value {
        let (_, v) = self.status();
        v["accounts"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["account"] == account).cloned())
            .unwrap_or(Value::Null)
    }

    /// Waits until the running watcher reports this state for the account.
    fn wait_state(&self, account: &str, state: &str) -> Value {
        wait_for(&format!("{account} to be {state}"), WAIT, || {
            let (_, v) = self.status();
            let s = v["accounts"]
                .as_array()?
                .iter()
                .find(|s| s["account"] == account)?
                .clone();
            (v["running"] == true && s["state"] == state).then_some(s)
        })
    }

    /// Stops it the way a service manager does (SIGTERM) and waits.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("watcher running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if start.elapsed() > WAIT {
                let _ = child.kill();
                panic!(
                    "the watcher did not stop within {WAIT:?} of SIGTERM:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An RFC 5322 message with CRLF line ends.
fn message(headers: &[(&str, &str)], body: &str) -> String {
    let mut s = String::new();
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    s.push_str(&body.replace("\r\n", "\n").replace('\n', "\r\n"));
    s.push_str("\r\n");
    s
}

/// The idempotency key of a message (what the endpoint stores it under).
fn key_of(raw: &str) -> String {
    let email = mailtrail::Email::from_raw(raw.as_bytes(), Default::default())
        .expect("test message parses");
    mailtrail::record::idempotency_key(&email, mailtrail::Direction::Outgoing)
}

fn contact_addresses(record: &Value) -> Vec<String> {
    let mut v: Vec<String> = record["record"]["contacts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Everything one test needs.
struct World {
    dir: PathBuf,
    dovecot: Dovecot,
    serve: Serve,
}

impl Drop for World {
    fn drop(&mut self) {
        // Kept when the test failed, for its logs.
        let _ = self.serve.child.kill();
        let _ = self.serve.child.wait();
        let _ = Command::new(repo_root().join("scripts/dovecot"))
            .arg("stop")
            .arg(&self.dovecot.dir)
            .output();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl World {
    fn new(name: &str) -> World {
        let dir = temp_dir(name);
        let dovecot = Dovecot::start(&dir.join("dovecot"));
        let serve = Serve::start(&dir);
        World {
            dir,
            dovecot,
            serve,
        }
    }

    fn settings(&self) -> Value {
        json!({
            "endpoint": {"type": "local", "url": self.serve.url, "token": self.serve.token},
            "internalDomains": ["ours.test"],
        })
    }

    fn account(&self, user: &str, role: &str, address: &str, password_env: &str) -> Value {
        json!({
            "url": self.dovecot.url(user),
            "role": role,
            "address": address,
            "passwordEnv": password_env,
            "caFile": self.dovecot.ca,
        })
    }

    fn config(&self, accounts: Vec<Value>) -> Value {
        json!({
            "stateDir": self.dir.join("watch-state"),
            "settings": self.settings(),
            "maxBackoffSeconds": 2,
            "accounts": accounts,
        })
    }
}

// ---------------------------------------------------------------- logging mailbox

#[test]
fn bcc_copy_is_logged_with_recipients() {
    let w = World::new("bcc");
    w.dovecot.add_user("log", "log-secret");
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "log",
            "logging-mailbox",
            "log@crm.test",
            "MT_LOG_PW",
        )]),
        &[("MT_LOG_PW", "log-secret")],
    );
    watcher.wait_state("log@crm.test", "connected");

    // A BCC copy: the logging address is on no visible header.
    let copy = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Cc", "carol@client.test, dave@ours.test"),
            ("Subject", "Quote for 40 licences"),
            ("Date", "Mon, 02 Mar 2026 10:00:00 +0000"),
            ("Message-ID", "<quote-1@ours.test>"),
        ],
        "Hello Bob,\nhere is the quote.\nAlice",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &copy);
    let rec = w.serve.wait_record(&key_of(&copy));
    assert_eq!(rec["record"]["direction"], "outgoing");
    assert_eq!(rec["record"]["from"]["address"], "alice@ours.test");
    // Recipients associated; the colleague (internal) is not.
    assert_eq!(
        contact_addresses(&rec),
        vec!["bob@client.test", "carol@client.test"]
    );
    assert_eq!(rec["record"]["mailbox"], "alice@ours.test");
    assert!(
        rec["record"]["reasons"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("bcc-copy"))),
        "{rec}"
    );

    // Mail from outside the team reaching the logging address is not logged.
    let spam = message(
        &[
            ("From", "spammer@evil.test"),
            ("To", "victim@client.test"),
            ("Subject", "Cheap watches"),
            ("Message-ID", "<spam-1@evil.test>"),
        ],
        "buy now",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &spam);
    watcher.wait_log("sender-not-a-user (spammer@evil.test)");
    assert!(w.serve.record(&key_of(&spam)).is_none());
    assert_eq!(w.serve.record_count(), 1);

    // BODY.PEEK: the watcher marked nothing as read.
    let flags = w.dovecot.flags("log", "log-secret", "INBOX");
    assert_eq!(flags.len(), 2);
    assert!(
        flags.iter().all(|f| !f.iter().any(|x| x.contains("Seen"))),
        "{flags:?}"
    );

    // The status is shown at the endpoint too (for its web UI).
    let shown = wait_for("the status at the endpoint", WAIT, || {
        w.serve.watch_status("log@crm.test")
    });
    assert_eq!(shown["state"], "connected");
}

/// The original as Dana sent it to Alice.
fn danas_question() -> String {
    message(
        &[
            ("From", "Dana Client <dana@client.test>"),
            ("To", "Alice Seller <alice@ours.test>"),
            ("Subject", "Pricing question"),
            ("Date", "Mon, 02 Mar 2026 16:05:00 +0000"),
            ("Message-ID", "<question-1@client.test>"),
        ],
        "Hi Alice,\nwhat would 40 licences cost?\nDana",
    )
}

fn assert_forward_logged(w: &World) {
    let timeline = wait_for("dana's timeline", WAIT, || {
        w.serve
            .contact_timeline("dana@client.test")
            .filter(|t| t["threads"].as_array().is_some_and(|a| !a.is_empty()))
    });
    let email = &timeline["threads"][0]["emails"][0];
    assert_eq!(email["direction"], "forwarded", "{timeline}");
    assert_eq!(email["from"]["address"], "dana@client.test", "{timeline}");
    assert_eq!(email["subject"], "Pricing question", "{timeline}");
    // The forwarder is not the contact, nor is the logging mailbox; the original sender is.
    assert!(w.serve.contact_timeline("log@crm.test").is_none());
    assert!(w.serve.contact_timeline("alice@ours.test").is_none());
    assert_eq!(w.serve.record_count(), 1);
}

#[test]
fn forward_as_attachment_is_logged_with_the_original_sender() {
    let w = World::new("fwd-attached");
    w.dovecot.add_user("log", "log-secret");
    let mut account = w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW");
    // STARTTLS on the plain IMAP port, and polling instead of IDLE: the other ways of
    // connecting and of waiting for mail are exercised here.
    account["url"] = json!(format!("imap://log@127.0.0.1:{}", w.dovecot.imap_port));
    account["idle"] = json!(false);
    account["pollIntervalSeconds"] = json!(1);
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![account]),
        &[("MT_LOG_PW", "log-secret")],
    );
    let status = watcher.wait_state("log@crm.test", "connected");
    assert_eq!(status["mode"], "polling");

    // Outlook's "Forward as attachment": the original travels as message/rfc822.
    let forward = format!(
        "From: Alice Seller <alice@ours.test>\r\nTo: log@crm.test\r\nSubject: Fwd: Pricing question\r\n\
         Date: Tue, 03 Mar 2026 09:30:00 +0000\r\nMessage-ID: <fwd-att-1@ours.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         FYI, please log this.\r\n--b1\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"Pricing question.eml\"\r\n\r\n\
         {}\r\n--b1--\r\n",
        danas_question()
    );
    w.dovecot.append("log", "log-secret", "INBOX", &forward);
    assert_forward_logged(&w);
    watcher.wait_log(
        "logged forwarded \"Fwd: Pricing question\" from alice@ours.test for dana@client.test",
    );
}

#[test]
fn inline_forward_is_logged_with_the_original_sender() {
    let w = World::new("fwd-inline");
    w.dovecot.add_user("log", "log-secret");
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "log",
            "logging-mailbox",
            "log@crm.test",
            "MT_LOG_PW",
        )]),
        &[("MT_LOG_PW", "log-secret")],
    );
    watcher.wait_state("log@crm.test", "connected");
    // Gmail's "Forward": the original pasted under a header block.
    let forward = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "log@crm.test"),
            ("Subject", "Fwd: Pricing question"),
            ("Date", "Tue, 03 Mar 2026 09:30:00 +0000"),
            ("Message-ID", "<fwd-1@ours.test>"),
        ],
        "FYI, please log this.\n\n---------- Forwarded message ---------\nFrom: Dana Client <dana@client.test>\nDate: Mon, 2 Mar 2026 at 16:05\nSubject: Pricing question\nTo: Alice Seller <alice@ours.test>\n\nHi Alice,\nwhat would 40 licences cost?\nDana\n",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &forward);
    assert_forward_logged(&w);
}

/// With `createContacts` off, only people who are already contacts are logged against: the
/// watcher must ask the endpoint about the people on the email (for a forward, the original's).
/// It used to pick them from a dry run without contacts, whose decision with `createContacts`
/// off names nobody: nothing was looked up, and a BCC copy to an existing contact, or a forward
/// of a contact's email, was skipped as `no-loggable-recipients`.
#[test]
fn existing_contacts_are_looked_up_when_contacts_are_not_created() {
    let w = World::new("no-create");
    w.dovecot.add_user("log", "log-secret");
    w.serve.create_contact("bob@client.test");
    w.serve.create_contact("dana@client.test");
    let mut config = w.config(vec![w.account(
        "log",
        "logging-mailbox",
        "log@crm.test",
        "MT_LOG_PW",
    )]);
    config["settings"]["createContacts"] = json!(false);
    let watcher = Watcher::start(&w.dir, &config, &[("MT_LOG_PW", "log-secret")]);
    watcher.wait_state("log@crm.test", "connected");

    // A BCC copy to bob (a contact) and carol (not one): logged against bob only.
    let copy = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>, carol@client.test"),
            ("Subject", "Quote for 40 licences"),
            ("Date", "Mon, 02 Mar 2026 10:00:00 +0000"),
            ("Message-ID", "<no-create-1@ours.test>"),
        ],
        "Hello Bob,\nhere is the quote.\nAlice",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &copy);
    let rec = w.serve.wait_record(&key_of(&copy));
    assert_eq!(contact_addresses(&rec), vec!["bob@client.test"], "{rec}");
    assert_eq!(rec["record"]["contacts"][0]["create"], false, "{rec}");

    // Dana's email, forwarded by alice: logged against dana, the original sender.
    let forward = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "log@crm.test"),
            ("Subject", "Fwd: Pricing question"),
            ("Date", "Tue, 03 Mar 2026 09:30:00 +0000"),
            ("Message-ID", "<no-create-fwd@ours.test>"),
        ],
        "FYI\n\n---------- Forwarded message ---------\nFrom: Dana Client <dana@client.test>\nDate: Mon, 2 Mar 2026 at 16:05\nSubject: Pricing question\nTo: Alice Seller <alice@ours.test>\n\nHi Alice,\nwhat would 40 licences cost?\nDana\n",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &forward);
    let timeline = wait_for("dana's timeline", WAIT, || {
        w.serve
            .contact_timeline("dana@client.test")
            .filter(|t| t["threads"].as_array().is_some_and(|a| !a.is_empty()))
    });
    let email = &timeline["threads"][0]["emails"][0];
    assert_eq!(email["direction"], "forwarded", "{timeline}");
    assert_eq!(email["from"]["address"], "dana@client.test", "{timeline}");

    // Nobody on it is a contact: not logged, with the reason, and nobody created.
    let stranger = message(
        &[
            ("From", "alice@ours.test"),
            ("To", "erin@prospect.test"),
            ("Subject", "Intro"),
            ("Message-ID", "<no-create-2@ours.test>"),
        ],
        "Nice to meet you.",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &stranger);
    watcher.wait_log("recipient-not-contact (erin@prospect.test)");
    assert!(w.serve.record(&key_of(&stranger)).is_none());
    assert!(w.serve.contact_timeline("erin@prospect.test").is_none());
    assert!(w.serve.contact_timeline("carol@client.test").is_none());
    assert_eq!(w.serve.record_count(), 2);
}

// ---------------------------------------------------------------- connected inbox

/// alice's connected inbox plus the team's logging mailbox; alice sent "Quote" to bob with the
/// logging mailbox in BCC, so the thread is logged and bob is a contact.
struct Inbox {
    w: World,
    watcher: Watcher,
    original: String,
}

impl Inbox {
    fn new(name: &str) -> Inbox {
        let w = World::new(name);
        w.dovecot.add_user("alice", "alice-secret");
        w.dovecot.add_user("log", "log-secret");
        // No special-use Sent folder for alice: hers is found by its (Polish) name.
        w.dovecot
            .create_folder("alice", "alice-secret", "Wys&AUI-ane");
        w.dovecot
            .create_folder("alice", "alice-secret", "INBOX/Clients");
        let watcher = Watcher::start(
            &w.dir,
            &w.config(vec![
                w.account("alice", "connected-inbox", "alice@ours.test", "MT_ALICE_PW"),
                w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW"),
            ]),
            &[("MT_ALICE_PW", "alice-secret"), ("MT_LOG_PW", "log-secret")],
        );
        watcher.wait_state("alice@ours.test", "connected");
        watcher.wait_state("log@crm.test", "connected");
        watcher.wait_log("Sent folder: \"Wysłane\" (by its name)");
        let original = message(
            &[
                ("From", "Alice Seller <alice@ours.test>"),
                ("To", "Bob Buyer <bob@client.test>"),
                ("Subject", "Quote"),
                ("Date", "Mon, 02 Mar 2026 10:00:00 +0000"),
                ("Message-ID", "<thread-1@ours.test>"),
            ],
            "Hello Bob, here is the quote.",
        );
        // The copy in alice's Sent folder (without the Bcc header, as many clients store it)
        // and the BCC copy that reached the logging mailbox.
        w.dovecot
            .append("alice", "alice-secret", "Wys&AUI-ane", &original);
        w.dovecot.append("log", "log-secret", "INBOX", &original);
        w.serve.wait_record(&key_of(&original));
        Inbox {
            w,
            watcher,
            original,
        }
    }

    fn reply(&self, from: &str, id: &str, subject: &str) -> String {
        message(
            &[
                ("From", from),
                ("To", "Alice Seller <alice@ours.test>"),
                ("Subject", subject),
                ("Date", "Tue, 03 Mar 2026 08:00:00 +0000"),
                ("Message-ID", &format!("<{id}@client.test>")),
                ("In-Reply-To", "<thread-1@ours.test>"),
                ("References", "<thread-1@ours.test>"),
            ],
            "Thanks Alice, looks good.\n\n> Hello Bob, here is the quote.",
        )
    }
}

#[test]
fn reply_from_a_contact_in_a_logged_thread_is_logged() {
    let t = Inbox::new("reply");
    let reply = t.reply("Bob Buyer <bob@client.test>", "reply-1", "Re: Quote");
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    let rec = t.w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["direction"], "incoming");
    assert_eq!(rec["record"]["from"]["address"], "bob@client.test");
    assert_eq!(contact_addresses(&rec), vec!["bob@client.test"]);
    assert_eq!(rec["record"]["mailbox"], "alice@ours.test");
    // Same thread as the original at the endpoint.
    let original = t.w.serve.wait_record(&key_of(&t.original));
    assert_eq!(rec["threadKey"], original["threadKey"]);
    t.watcher
        .wait_log("thread is logged (the endpoint has its record)");
    assert_eq!(t.w.serve.record_count(), 2);
}

#[test]
fn reply_to_an_email_logged_from_the_browser_is_logged() {
    // The browser queued this email at send time, before Gmail gave it a Message-ID: its record
    // has a content key (c1-), so only the Message-ID lookup can tell that the thread is logged.
    let t = Inbox::new("browser");
    let browser_record = json!({
        "schema": "mailtrail.record/1", "idempotencyKey": "c1-0123456789abcdef0123456789abcdef",
        "direction": "outgoing", "timestamp": 1_772_532_000_000i64, "subject": "Pricing",
        "from": {"address": "alice@ours.test"}, "to": [{"address": "bob@client.test"}], "cc": [], "bcc": [],
        "text": "Hello Bob, the pricing.", "html": null, "attachments": [], "messageId": "browser-1@ours.test",
        "threadId": "18c2f0", "contacts": [{"address": "bob@client.test", "create": true}], "reasons": ["log-checked"],
        "mailbox": "alice@ours.test", "source": "gmail", "client": "mailtrail/test"
    });
    assert_eq!(t.w.serve.post_record(&browser_record), 201);
    let sent = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Subject", "Pricing"),
            ("Date", "Tue, 03 Mar 2026 10:00:00 +0000"),
            ("Message-ID", "<browser-1@ours.test>"),
        ],
        "Hello Bob, the pricing.",
    );
    t.w.dovecot
        .append("alice", "alice-secret", "Wys&AUI-ane", &sent);
    let reply = message(
        &[
            ("From", "Bob Buyer <bob@client.test>"),
            ("To", "Alice Seller <alice@ours.test>"),
            ("Subject", "Re: Pricing"),
            ("Date", "Tue, 03 Mar 2026 12:00:00 +0000"),
            ("Message-ID", "<reply-pricing@client.test>"),
            ("In-Reply-To", "<browser-1@ours.test>"),
        ],
        "Thanks, we accept.",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    let rec = t.w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["direction"], "incoming");
    assert_eq!(rec["record"]["from"]["address"], "bob@client.test");
}

#[test]
fn reply_to_a_new_email_logged_from_outlook_is_logged() {
    // Outlook records a brand-new email at send time, before it has a Message-ID: the record
    // carries only the compose window's id (draftId), and the send handler puts that id on the
    // message in X-Mailtrail-Draft. Neither the key nor the Message-ID finds the record; the
    // draft id does.
    let t = Inbox::new("outlook-draft");
    let outlook_record = json!({
        "schema": "mailtrail.record/1", "idempotencyKey": "c1-fedcba9876543210fedcba9876543210",
        "direction": "outgoing", "timestamp": 1_772_532_000_000i64, "subject": "Proposal",
        "from": {"address": "alice@ours.test"}, "to": [{"address": "bob@client.test"}], "cc": [], "bcc": [],
        "text": "Hello Bob, our proposal.", "html": null, "attachments": [], "messageId": null,
        "threadId": null, "draftId": "ol-5d1c0e7a9b", "contacts": [{"address": "bob@client.test", "create": true}],
        "reasons": ["log-checked"], "mailbox": "alice@ours.test", "source": "outlook", "client": "mailtrail/test"
    });
    assert_eq!(t.w.serve.post_record(&outlook_record), 201);
    let sent = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Subject", "Proposal"),
            ("Date", "Tue, 03 Mar 2026 10:00:00 +0000"),
            ("Message-ID", "<AM0PR01MB1234.outlook-1@ours.test>"),
            ("X-Mailtrail-Draft", "ol-5d1c0e7a9b"),
        ],
        "Hello Bob, our proposal.",
    );
    // Another new email from Outlook whose record the endpoint does not have (discarded in the
    // add-in's outbox, say): the header alone does not make its thread a logged one.
    let sent_unknown = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Subject", "Private note"),
            ("Date", "Tue, 03 Mar 2026 10:05:00 +0000"),
            ("Message-ID", "<AM0PR01MB1234.outlook-2@ours.test>"),
            ("X-Mailtrail-Draft", "ol-never-recorded"),
        ],
        "Bob, a private note.",
    );
    for m in [&sent, &sent_unknown] {
        t.w.dovecot
            .append("alice", "alice-secret", "Wys&AUI-ane", m);
    }
    let reply_to = |id: &str, subject: &str, to: &str| {
        message(
            &[
                ("From", "Bob Buyer <bob@client.test>"),
                ("To", "Alice Seller <alice@ours.test>"),
                ("Subject", subject),
                ("Date", "Tue, 03 Mar 2026 12:00:00 +0000"),
                ("Message-ID", &format!("<{id}@client.test>")),
                ("In-Reply-To", to),
            ],
            "Thanks, we accept.",
        )
    };
    let reply = reply_to(
        "reply-proposal",
        "Re: Proposal",
        "<AM0PR01MB1234.outlook-1@ours.test>",
    );
    let reply_unknown = reply_to(
        "reply-note",
        "Re: Private note",
        "<AM0PR01MB1234.outlook-2@ours.test>",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    t.w.dovecot
        .append("alice", "alice-secret", "INBOX", &reply_unknown);
    let rec = t.w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["direction"], "incoming");
    assert_eq!(rec["record"]["from"]["address"], "bob@client.test");
    t.watcher.wait_log(
        "thread is logged (the endpoint has the record Outlook made at send time (X-Mailtrail-Draft))",
    );
    t.watcher
        .wait_log("not logged \"Re: Private note\" from bob@client.test: thread-not-logged");
    assert!(t.w.serve.record(&key_of(&reply_unknown)).is_none());
}

#[test]
fn reply_to_an_unlogged_follow_up_in_a_logged_thread_is_logged() {
    // Alice answers in the logged thread from her phone, without logging; Bob's answer names
    // only her follow-up (In-Reply-To, no References).
    let t = Inbox::new("follow-up");
    let follow_up = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Subject", "Re: Quote"),
            ("Date", "Mon, 02 Mar 2026 16:00:00 +0000"),
            ("Message-ID", "<phone-1@ours.test>"),
            ("In-Reply-To", "<thread-1@ours.test>"),
            ("References", "<thread-1@ours.test>"),
        ],
        "Bob, one more thing: delivery is in May.",
    );
    t.w.dovecot
        .append("alice", "alice-secret", "Wys&AUI-ane", &follow_up);
    let reply = message(
        &[
            ("From", "Bob Buyer <bob@client.test>"),
            ("To", "Alice Seller <alice@ours.test>"),
            ("Subject", "Re: Quote"),
            ("Date", "Tue, 03 Mar 2026 08:00:00 +0000"),
            ("Message-ID", "<reply-may@client.test>"),
            ("In-Reply-To", "<phone-1@ours.test>"),
        ],
        "May is fine.",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    let rec = t.w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["direction"], "incoming");
    t.watcher
        .wait_log("thread is logged (a reply in a logged thread)");
    // The follow-up itself is not logged: learning its thread logs nothing.
    assert!(t.w.serve.record(&key_of(&follow_up)).is_none());
    assert_eq!(t.w.serve.record_count(), 2);
}

#[test]
fn reply_from_a_non_contact_is_skipped_with_the_reason() {
    let t = Inbox::new("noncontact");
    // Carol replies in the logged thread but is not a contact.
    let reply = t.reply(
        "Carol Alias <carol@client.test>",
        "reply-carol",
        "Re: Quote",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    t.watcher.wait_log(
        "not logged \"Re: Quote\" from carol@client.test: sender-not-contact (carol@client.test)",
    );
    // A message in no logged thread gets its own reason.
    let other = message(
        &[
            ("From", "bob@client.test"),
            ("To", "alice@ours.test"),
            ("Subject", "Lunch?"),
            ("Message-ID", "<lunch@client.test>"),
        ],
        "Lunch on Friday?",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &other);
    t.watcher
        .wait_log("not logged \"Lunch?\" from bob@client.test: thread-not-logged");
    assert!(t.w.serve.record(&key_of(&reply)).is_none());
    assert!(t.w.serve.record(&key_of(&other)).is_none());
    assert!(
        t.w.serve.contact_timeline("carol@client.test").is_none(),
        "a reply from a non-contact creates no contact"
    );
    assert_eq!(t.w.serve.record_count(), 1);
    let status = t.watcher.account_status("alice@ours.test");
    assert!(
        status["counts"]["skipped"].as_u64().is_some_and(|n| n >= 2),
        "{status}"
    );
}

#[test]
fn reply_waits_while_the_contact_lookup_fails_and_is_logged_when_it_answers() {
    let mut t = Inbox::new("lookup-down");
    // Let alice's watcher learn the thread first (any new mail makes it read the Sent folder).
    let nudge = message(
        &[
            ("From", "news@vendor.test"),
            ("To", "alice@ours.test"),
            ("Subject", "Newsletter"),
            ("Message-ID", "<news-1@vendor.test>"),
        ],
        "News.",
    );
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &nudge);
    t.watcher
        .wait_log("thread is logged (the endpoint has its record)");
    t.watcher
        .wait_log("not logged \"Newsletter\" from news@vendor.test: thread-not-logged");

    // The endpoint goes away; bob's reply arrives. Without an answer to "is bob a contact?",
    // the reply must not be decided (it would be skipped for good as sender-not-contact).
    t.w.serve.stop();
    let reply = t.reply("Bob Buyer <bob@client.test>", "reply-down", "Re: Quote");
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    let s = wait_for("alice to show endpoint-unreachable", WAIT, || {
        let s = t.watcher.account_status("alice@ours.test");
        (s["reason"] == "endpoint-unreachable").then_some(s)
    });
    assert_eq!(s["state"], "connected", "{s}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("contact lookup failed")),
        "{s}"
    );
    let log = t.watcher.log_text();
    assert!(
        !log.contains("not logged \"Re: Quote\""),
        "the reply was decided without the endpoint:\n{log}"
    );

    // The endpoint is back: the next pass starts again from the reply, and logs it.
    t.w.serve.start_again(&t.w.dir);
    let rec = t.w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["from"]["address"], "bob@client.test");
    let back = wait_for("alice to be connected without a reason", WAIT, || {
        let s = t.watcher.account_status("alice@ours.test");
        (s["state"] == "connected" && s["reason"].is_null()).then_some(s)
    });
    assert!(back["message"].is_null(), "{back}");
}

#[test]
fn sent_folder_is_learnt_once_the_endpoint_is_back() {
    // At boot the watcher may start before `mailtrail serve`: the Sent folder's first scan
    // cannot ask which sent emails were logged. They must be asked about again later, however
    // old they are, and replies must wait for the threads.
    let mut w = World::new("sent-down");
    w.dovecot.add_user("alice", "alice-secret");
    w.dovecot
        .create_folder("alice", "alice-secret", "Wys&AUI-ane");
    let browser_record = json!({
        "schema": "mailtrail.record/1", "idempotencyKey": "c1-00000000000000000000000000000abc",
        "direction": "outgoing", "timestamp": 1_772_532_000_000i64, "subject": "Offer",
        "from": {"address": "alice@ours.test"}, "to": [{"address": "bob@client.test"}], "cc": [], "bcc": [],
        "text": "Hello Bob, the offer.", "html": null, "attachments": [], "messageId": "offer-1@ours.test",
        "threadId": null, "contacts": [{"address": "bob@client.test", "create": true}], "reasons": ["log-checked"],
        "mailbox": "alice@ours.test", "source": "gmail", "client": "mailtrail/test"
    });
    assert_eq!(w.serve.post_record(&browser_record), 201);
    let sent = message(
        &[
            ("From", "Alice Seller <alice@ours.test>"),
            ("To", "Bob Buyer <bob@client.test>"),
            ("Subject", "Offer"),
            ("Message-ID", "<offer-1@ours.test>"),
        ],
        "Hello Bob, the offer.",
    );
    // Sent two days ago: well inside the Sent lookback, well outside any "recent" window.
    let two_days_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 2 * 24 * 3600 * 1000;
    w.dovecot.append_dated(
        "alice",
        "alice-secret",
        "Wys&AUI-ane",
        &sent,
        Some(two_days_ago),
    );
    w.serve.stop();
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "alice",
            "connected-inbox",
            "alice@ours.test",
            "MT_ALICE_PW",
        )]),
        &[("MT_ALICE_PW", "alice-secret")],
    );
    let s = wait_for("alice to show endpoint-unreachable", WAIT, || {
        let s = watcher.account_status("alice@ours.test");
        (s["reason"] == "endpoint-unreachable").then_some(s)
    });
    assert_eq!(s["state"], "connected", "{s}");
    // Bob's reply arrives while the endpoint is still down.
    let reply = message(
        &[
            ("From", "Bob Buyer <bob@client.test>"),
            ("To", "Alice Seller <alice@ours.test>"),
            ("Subject", "Re: Offer"),
            ("Message-ID", "<offer-reply@client.test>"),
            ("In-Reply-To", "<offer-1@ours.test>"),
        ],
        "Accepted.",
    );
    w.dovecot.append("alice", "alice-secret", "INBOX", &reply);
    std::thread::sleep(Duration::from_secs(2));
    let log = watcher.log_text();
    assert!(
        !log.contains("not logged \"Re: Offer\""),
        "the reply was decided before its thread could be learnt:\n{log}"
    );
    w.serve.start_again(&w.dir);
    watcher.wait_log("thread is logged (the endpoint has its record)");
    let rec = w.serve.wait_record(&key_of(&reply));
    assert_eq!(rec["record"]["direction"], "incoming");
    assert_eq!(contact_addresses(&rec), vec!["bob@client.test"]);
}

#[test]
fn reply_filtered_into_a_sub_folder_is_not_logged() {
    let t = Inbox::new("subfolder");
    let filtered = t.reply("Bob Buyer <bob@client.test>", "reply-filtered", "Re: Quote");
    t.w.dovecot
        .append("alice", "alice-secret", "INBOX/Clients", &filtered);
    // A later reply in INBOX is logged: the watcher was awake, and still ignored the sub-folder.
    let later = t.reply("Bob Buyer <bob@client.test>", "reply-later", "Re: Quote");
    t.w.dovecot.append("alice", "alice-secret", "INBOX", &later);
    t.w.serve.wait_record(&key_of(&later));
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        t.w.serve.record(&key_of(&filtered)).is_none(),
        "replies filtered out of INBOX are not logged"
    );
    assert_eq!(t.w.serve.record_count(), 2);
}

// ---------------------------------------------------------------- connection

#[test]
fn dovecot_restart_mid_idle_misses_nothing_and_logs_nothing_twice() {
    let w = World::new("restart");
    w.dovecot.add_user("log", "log-secret");
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "log",
            "logging-mailbox",
            "log@crm.test",
            "MT_LOG_PW",
        )]),
        &[("MT_LOG_PW", "log-secret")],
    );
    let status = watcher.wait_state("log@crm.test", "connected");
    assert_eq!(status["mode"], "idle");
    let mail = |n: u32| {
        message(
            &[
                ("From", "alice@ours.test"),
                ("To", "bob@client.test"),
                ("Subject", &format!("Update {n}")),
                ("Message-ID", &format!("<update-{n}@ours.test>")),
            ],
            &format!("Update number {n}"),
        )
    };
    w.dovecot.append("log", "log-secret", "INBOX", &mail(1));
    w.serve.wait_record(&key_of(&mail(1)));
    // Let the watcher go back to IDLE, then pull the server away.
    std::thread::sleep(Duration::from_millis(500));
    w.dovecot.stop();
    let down = watcher.wait_state("log@crm.test", "reconnecting");
    assert!(down["attempt"].as_u64().is_some_and(|a| a >= 1), "{down}");
    assert!(down["nextTryAt"].as_i64().is_some(), "{down}");
    assert_eq!(down["reason"], "network-error");
    // Mail delivered while the watcher cannot connect (written the way a delivery agent does).
    let maildir = w.dovecot.maildir("log");
    for n in 2..=3 {
        let name = format!("{}.M{n}P1.mailtrail-test", 1_772_000_000 + n);
        std::fs::write(maildir.join("new").join(name), mail(n)).expect("deliver into the maildir");
    }
    std::thread::sleep(Duration::from_secs(2));
    w.dovecot.start_again();
    watcher.wait_state("log@crm.test", "connected");
    for n in 2..=3 {
        w.serve.wait_record(&key_of(&mail(n)));
    }
    // And mail after the reconnect, under IDLE again.
    w.dovecot.append("log", "log-secret", "INBOX", &mail(4));
    w.serve.wait_record(&key_of(&mail(4)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.serve.record_count(), 4, "every message exactly once");
    let log = watcher.log_text();
    assert_eq!(
        log.matches("logged outgoing \"Update 1\"").count(),
        1,
        "{log}"
    );
}

#[test]
fn long_outage_shows_server_unreachable_then_recovers() {
    let w = World::new("outage");
    w.dovecot.add_user("log", "log-secret");
    let mut config = w.config(vec![w.account(
        "log",
        "logging-mailbox",
        "log@crm.test",
        "MT_LOG_PW",
    )]);
    config["unreachableAfterMinutes"] = json!(0.05); // 3 s
    let watcher = Watcher::start(&w.dir, &config, &[("MT_LOG_PW", "log-secret")]);
    watcher.wait_state("log@crm.test", "connected");
    w.dovecot.stop();
    let first = watcher.wait_state("log@crm.test", "reconnecting");
    assert_eq!(first["reason"], "network-error", "{first}");
    let long = watcher.wait_state("log@crm.test", "disconnected");
    assert_eq!(long["reason"], "server-unreachable", "{long}");
    // Still trying, and says when.
    assert!(
        long["nextTryAt"].as_i64().is_some() && long["attempt"].as_u64().is_some_and(|a| a >= 2),
        "{long}"
    );
    w.dovecot.start_again();
    let back = watcher.wait_state("log@crm.test", "connected");
    assert!(back["reason"].is_null(), "{back}");
}

#[test]
fn wrong_password_disconnects_with_authentication_failed() {
    let w = World::new("badpw");
    w.dovecot.add_user("alice", "the-real-one");
    let pw_file = w.dir.join("alice.password");
    std::fs::write(&pw_file, "an-old-password\n").expect("write password file");
    let mut account = w.account("alice", "connected-inbox", "alice@ours.test", "UNUSED");
    account
        .as_object_mut()
        .expect("object")
        .remove("passwordEnv");
    account["passwordFile"] = json!(pw_file);
    let watcher = Watcher::start(&w.dir, &w.config(vec![account]), &[]);
    let s = watcher.wait_state("alice@ours.test", "disconnected");
    assert_eq!(s["reason"], "authentication-failed", "{s}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("Authentication failed")),
        "{s}"
    );
    let (code, _) = watcher.status();
    assert_eq!(
        code, 1,
        "--status exits 1 while an account is not connected"
    );
    let shown = wait_for("the status at the endpoint", WAIT, || {
        w.serve
            .watch_status("alice@ours.test")
            .filter(|s| s["state"] == "disconnected")
    });
    assert_eq!(shown["reason"], "authentication-failed");
    // No retry storm with the refused password: one login attempt, until the file changes.
    std::thread::sleep(Duration::from_secs(3));
    let dovecot_log =
        std::fs::read_to_string(w.dovecot.dir.join("dovecot.log")).unwrap_or_default();
    let failures = dovecot_log.matches("auth failed").count()
        + dovecot_log.matches("Authentication failed").count();
    assert!(
        failures <= 2,
        "the watcher kept retrying a refused password:\n{dovecot_log}"
    );
    // The user fixes the password file: the watcher notices and connects.
    std::fs::write(&pw_file, "the-real-one\n").expect("write password file");
    watcher.wait_state("alice@ours.test", "connected");
}

#[test]
fn xoauth2_expired_token_disconnects_and_a_fresh_token_reconnects() {
    let w = World::new("xoauth2");
    let token_file = w.dir.join("log.token");
    std::fs::write(&token_file, w.dovecot.token("log", -120)).expect("write token");
    let mut account = w.account("log", "logging-mailbox", "log@crm.test", "UNUSED");
    account
        .as_object_mut()
        .expect("object")
        .remove("passwordEnv");
    account["oauth2TokenFile"] = json!(token_file);
    let watcher = Watcher::start(&w.dir, &w.config(vec![account]), &[]);
    let s = watcher.wait_state("log@crm.test", "disconnected");
    assert_eq!(
        s["reason"], "token-expired",
        "an expired token is its own reason: {s}"
    );
    // The token tool writes a fresh token: the watcher picks it up by itself.
    std::fs::write(&token_file, w.dovecot.token("log", 3600)).expect("write token");
    watcher.wait_state("log@crm.test", "connected");
    let copy = message(
        &[
            ("From", "alice@ours.test"),
            ("To", "bob@client.test"),
            ("Subject", "Via OAuth"),
            ("Message-ID", "<oauth-1@ours.test>"),
        ],
        "Logged through a connection authenticated with XOAUTH2.",
    );
    w.dovecot.add_user("log", "log-secret"); // the test itself appends with a password
    w.dovecot.append("log", "log-secret", "INBOX", &copy);
    w.serve.wait_record(&key_of(&copy));
    let dovecot_log =
        std::fs::read_to_string(w.dovecot.dir.join("dovecot.log")).unwrap_or_default();
    assert!(
        dovecot_log.contains("method=XOAUTH2"),
        "the watcher logged in with XOAUTH2:\n{dovecot_log}"
    );
}

#[test]
fn revoked_access_disconnects_with_connection_revoked() {
    let w = World::new("revoked");
    w.dovecot.add_user_line(
        "alice:{PLAIN}alice-secret::::::nologin reason=Access_disabled_by_your_administrator",
    );
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "alice",
            "connected-inbox",
            "alice@ours.test",
            "MT_ALICE_PW",
        )]),
        &[("MT_ALICE_PW", "alice-secret")],
    );
    let s = watcher.wait_state("alice@ours.test", "disconnected");
    assert_eq!(s["reason"], "connection-revoked", "{s}");
    assert!(
        s["message"]
            .as_str()
            .is_some_and(|m| m.contains("Access_disabled_by_your_administrator")),
        "{s}"
    );
}

#[test]
fn untrusted_certificate_is_refused_unless_explicitly_trusted() {
    let w = World::new("cert");
    w.dovecot.add_user("log", "log-secret");
    let mut strict = w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW");
    strict.as_object_mut().expect("object").remove("caFile");
    strict["name"] = json!("strict");
    let mut trusting = w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW");
    trusting.as_object_mut().expect("object").remove("caFile");
    trusting["name"] = json!("trusting");
    trusting["trustAnyCertificate"] = json!(true);
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![strict, trusting]),
        &[("MT_LOG_PW", "log-secret")],
    );
    let s = watcher.wait_state("strict", "disconnected");
    assert_eq!(s["reason"], "certificate-invalid", "{s}");
    watcher.wait_state("trusting", "connected");
    let log = watcher.wait_log("trustAnyCertificate is on");
    assert!(
        log.contains("WARN"),
        "the trust-any warning is loud:\n{log}"
    );
}

#[test]
fn uidvalidity_reset_rescans_without_duplicates() {
    let w = World::new("uidvalidity");
    w.dovecot.add_user("log", "log-secret");
    let mut watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "log",
            "logging-mailbox",
            "log@crm.test",
            "MT_LOG_PW",
        )]),
        &[("MT_LOG_PW", "log-secret")],
    );
    watcher.wait_state("log@crm.test", "connected");
    let mail = |n: u32| {
        message(
            &[
                ("From", "alice@ours.test"),
                ("To", "bob@client.test"),
                ("Subject", &format!("Note {n}")),
                ("Message-ID", &format!("<note-{n}@ours.test>")),
            ],
            &format!("Note {n}"),
        )
    };
    for n in 1..=3 {
        w.dovecot.append("log", "log-secret", "INBOX", &mail(n));
    }
    for n in 1..=3 {
        w.serve.wait_record(&key_of(&mail(n)));
    }
    // Stop the watcher and make the server renumber the folder: the UID list and indexes are
    // rebuilt, with a new UIDVALIDITY and UIDs starting again at 1.
    assert!(watcher.stop().success());
    let checkpoints = w.dir.join("watch-state/log@crm.test/checkpoints.json");
    let before: Value =
        serde_json::from_slice(&std::fs::read(&checkpoints).expect("checkpoints")).expect("json");
    assert_eq!(before["folders"]["INBOX"]["lastUid"], 3);
    w.dovecot.stop();
    let maildir = w.dovecot.maildir("log");
    for f in std::fs::read_dir(&maildir).expect("maildir").flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        if name.starts_with("dovecot") {
            let _ = std::fs::remove_file(f.path());
        }
    }
    std::thread::sleep(Duration::from_millis(1100)); // UIDVALIDITY is time-based: make it differ
    w.dovecot.start_again();
    w.dovecot.append("log", "log-secret", "INBOX", &mail(4));
    let watcher = Watcher::start(
        &w.dir,
        &w.config(vec![w.account(
            "log",
            "logging-mailbox",
            "log@crm.test",
            "MT_LOG_PW",
        )]),
        &[("MT_LOG_PW", "log-secret")],
    );
    watcher.wait_log("UIDVALIDITY changed");
    // The new message has a UID below the old checkpoint and is still found.
    w.serve.wait_record(&key_of(&mail(4)));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(w.serve.record_count(), 4, "the rescan logged nothing twice");
    let after: Value =
        serde_json::from_slice(&std::fs::read(&checkpoints).expect("checkpoints")).expect("json");
    assert_ne!(
        after["folders"]["INBOX"]["uidValidity"],
        before["folders"]["INBOX"]["uidValidity"]
    );
    assert_eq!(after["folders"]["INBOX"]["rescans"], 1);
}

#[test]
fn trace_logging_never_shows_the_password() {
    // MAILTRAIL_LOG=trace turns on every library's trace output; the IMAP library's includes
    // the LOGIN / AUTHENTICATE line and whole emails. It stays capped at info.
    let w = World::new("trace-log");
    let password = "Zq8-very-secret-pw";
    w.dovecot.add_user("log", password);
    // Two ways of logging in: AUTHENTICATE PLAIN (imaps) and LOGIN (after STARTTLS).
    let mut tls = w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW");
    tls["name"] = json!("implicit-tls");
    let mut starttls = w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW");
    starttls["name"] = json!("starttls");
    starttls["url"] = json!(format!("imap://log@127.0.0.1:{}", w.dovecot.imap_port));
    let mut watcher = Watcher::start(
        &w.dir,
        &w.config(vec![tls, starttls]),
        &[("MT_LOG_PW", password), ("MAILTRAIL_LOG", "trace")],
    );
    watcher.wait_state("implicit-tls", "connected");
    watcher.wait_state("starttls", "connected");
    let copy = message(
        &[
            ("From", "alice@ours.test"),
            ("To", "bob@client.test"),
            ("Subject", "Traced"),
            ("Message-ID", "<traced-1@ours.test>"),
        ],
        "Body text that should not be in the log: confidential-figures-123",
    );
    w.dovecot.append("log", password, "INBOX", &copy);
    w.serve.wait_record(&key_of(&copy));
    assert!(watcher.stop().success());
    let log = watcher.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is at trace level:\n{log}"
    );
    assert!(
        !log.contains(password),
        "the password is in the log:\n{log}"
    );
    let plain = mailtrail::base64::encode(format!("\0log\0{password}").as_bytes());
    assert!(
        !log.contains(&plain),
        "the AUTHENTICATE PLAIN payload is in the log:\n{log}"
    );
    assert!(
        !log.contains("confidential-figures-123"),
        "a message body is in the log:\n{log}"
    );
}

/// A webhook receiver on loopback answering every request with the status it is set to, and
/// counting the requests.
struct Hook {
    url: String,
    status: Arc<std::sync::atomic::AtomicU16>,
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl Hook {
    fn start(status: u16) -> Hook {
        use std::io::{BufRead, Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the webhook");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let answer = Arc::new(std::sync::atomic::AtomicU16::new(status));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (a, n) = (answer.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = std::io::BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                n.fetch_add(1, Ordering::SeqCst);
                let status = a.load(Ordering::SeqCst);
                let text = if status < 300 {
                    "{}"
                } else {
                    "{\"error\":{\"message\":\"schema rejected\"}}"
                };
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Hook {
            url,
            status: answer,
            requests,
        }
    }

    fn set(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn refused_records_are_counted_fail_once_and_can_be_retried() {
    let w = World::new("dead");
    w.dovecot.add_user("log", "log-secret");
    let hook = Hook::start(400);
    let mut config = w.config(vec![w.account(
        "log",
        "logging-mailbox",
        "log@crm.test",
        "MT_LOG_PW",
    )]);
    config["settings"]["endpoint"] =
        json!({"type": "webhook", "url": hook.url, "secret": "hook-secret"});
    let path = w.dir.join("watch.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("json")).expect("config");
    let copy = message(
        &[
            ("From", "alice@ours.test"),
            ("To", "bob@client.test"),
            ("Subject", "Refused"),
            ("Message-ID", "<refused-1@ours.test>"),
        ],
        "The CRM refuses this one.",
    );
    w.dovecot.append("log", "log-secret", "INBOX", &copy);
    let once = |extra: &[&str]| {
        let out = mailtrail()
            .args(["watch", "--once", "--config"])
            .arg(&path)
            .args(extra)
            .env("MT_LOG_PW", "log-secret")
            .env("MAILTRAIL_LOG", "info")
            .output()
            .expect("watch --once");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let status = || {
        let out = mailtrail()
            .args(["watch", "--status", "--json", "--config"])
            .arg(&path)
            .output()
            .expect("watch --status");
        let v: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        (out.status.code().unwrap_or(-1), v["accounts"][0].clone())
    };

    // The endpoint refuses the record: --once says so with its exit code, --status counts it.
    let (code, err) = once(&[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused by the endpoint"), "{err}");
    assert!(
        err.contains("schema rejected"),
        "the endpoint's reason is logged:\n{err}"
    );
    assert_eq!(hook.requests(), 1);
    let (code, s) = status();
    assert_eq!(code, 1, "{s}");
    assert_eq!(s["dead"], 1, "{s}");
    assert_eq!(s["pending"], 0, "{s}");

    // Fixed at the endpoint. A plain run does not send it again (it stays dead, and visible)...
    hook.set(200);
    let (code, err) = once(&[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(hook.requests(), 1, "a dead record is not retried by itself");
    // ...--retry-failed does.
    let (code, err) = once(&["--retry-failed"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("sending 1 refused records again"), "{err}");
    assert_eq!(hook.requests(), 2);
    let (_, s) = status();
    assert_eq!(s["dead"], 0, "{s}");
}

/// `mailtrail watch --retry-failed` while the watcher runs (as a service): the running
/// watcher is asked, sends the refused records again at once (woken from IDLE, and from the
/// reconnect backoff of an account whose server is away), and the command reports what became
/// of them, without the watcher stopping. Before, the command refused to run ("another
/// `mailtrail watch` uses …; stop it first").
#[test]
fn refused_records_are_sent_again_while_the_watcher_runs() {
    let w = World::new("dead-live");
    w.dovecot.add_user("log", "log-secret");
    let hook = Hook::start(400);
    let mut config = w.config(vec![
        w.account("log", "logging-mailbox", "log@crm.test", "MT_LOG_PW"),
        // Nothing listens there: this account waits to reconnect, longer and longer.
        json!({"url": "imaps://bob@127.0.0.1:1", "role": "connected-inbox",
               "address": "bob@ours.test", "passwordEnv": "MT_LOG_PW"}),
    ]);
    config["settings"]["endpoint"] =
        json!({"type": "webhook", "url": hook.url, "secret": "hook-secret"});
    config["maxBackoffSeconds"] = json!(300);
    let watcher = Watcher::start(&w.dir, &config, &[("MT_LOG_PW", "log-secret")]);
    watcher.wait_state("log@crm.test", "connected");
    let pid = watcher.child.as_ref().expect("running").id();
    let refused = |id: &str| {
        message(
            &[
                ("From", "alice@ours.test"),
                ("To", "bob@client.test"),
                ("Subject", "Refused"),
                ("Message-ID", &format!("<{id}@ours.test>")),
            ],
            "The CRM refuses this one.",
        )
    };
    let wait_dead = |n: u64| {
        wait_for(&format!("{n} refused records"), WAIT, || {
            let s = watcher.account_status("log@crm.test");
            (s["dead"] == n).then_some(s)
        })
    };
    w.dovecot
        .append("log", "log-secret", "INBOX", &refused("live-1"));
    wait_dead(1);
    assert_eq!(hook.requests(), 1);
    // The other account's next try is far enough away that only a wake-up answers in time.
    wait_for(
        "bob's next try to be 12 s away or more",
        Duration::from_secs(60),
        || {
            let s = watcher.account_status("bob@ours.test");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis() as i64;
            (s["nextTryAt"].as_i64()? - now >= 12_000).then_some(())
        },
    );

    let retry = || {
        let start = Instant::now();
        let out = mailtrail()
            .args(["watch", "--config"])
            .arg(&watcher.config)
            // The command the web UI shows, from a shell without the service's environment
            // (no MT_LOG_PW: asking needs no IMAP password).
            .args(["--once", "--retry-failed", "--wait", "30"])
            .output()
            .expect("watch --retry-failed");
        let stdout: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).to_string(),
            stdout,
            start.elapsed(),
        )
    };

    // Fixed at the endpoint: sent again by the running watcher.
    hook.set(200);
    let (code, err, reply, took) = retry();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("(pid {pid}) is running")), "{err}");
    assert!(
        err.contains("log@crm.test: 1 refused records sent again: 1 delivered"),
        "{err}"
    );
    assert!(err.contains("bob@ours.test: no refused records"), "{err}");
    assert!(
        took < Duration::from_secs(10),
        "answered in {took:?}: the accounts were not woken"
    );
    assert_eq!(reply["watcherPid"], pid, "{reply}");
    assert_eq!(reply["accounts"][1]["account"], "log@crm.test", "{reply}");
    assert_eq!(reply["accounts"][1]["delivered"], 1, "{reply}");
    assert_eq!(hook.requests(), 2);
    assert_eq!(watcher.account_status("log@crm.test")["dead"], 0);
    watcher.wait_log("--retry-failed: sending 1 refused records again");
    let (_, status) = watcher.status();
    assert_eq!(
        status["running"], true,
        "the watcher kept running: {status}"
    );
    assert_eq!(status["pid"], pid, "{status}");

    // Refused again: said, with the endpoint's reason, and exit code 1.
    hook.set(400);
    w.dovecot
        .append("log", "log-secret", "INBOX", &refused("live-2"));
    wait_dead(1);
    let (code, err, reply, _) = retry();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("1 refused records sent again: 1 refused again ("),
        "{err}"
    );
    assert!(
        err.contains("schema rejected"),
        "the endpoint's reason: {err}"
    );
    assert!(err.contains("were refused again: fix the cause"), "{err}");
    assert_eq!(reply["accounts"][1]["refused"], 1, "{reply}");
    assert_eq!(watcher.account_status("log@crm.test")["dead"], 1);

    // Nothing left behind in the state directory.
    let left: Vec<_> = std::fs::read_dir(w.dir.join("watch-state/requests"))
        .expect("requests directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A watcher that does not take the request (an older version, or stuck) gets the request
/// withdrawn after `--wait`, with a clear message; one that stops while the command waits
/// leaves the work to the command itself.
#[test]
fn retry_request_not_taken_is_withdrawn_or_done_here() {
    let dir = temp_dir("retry-not-taken");
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let config = json!({
        "stateDir": state,
        "settings": {"endpoint": {"type": "local", "url": "http://127.0.0.1:9", "token": "t"}},
        "accounts": [{"url": "imaps://alice@127.0.0.1:1", "role": "connected-inbox",
                      "address": "alice@ours.test", "passwordEnv": "MT_PW"}],
    });
    let path = dir.join("watch.json");
    std::fs::write(&path, config.to_string()).expect("config");
    // Something that holds the lock like a watcher and never answers.
    let hold = || {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(state.join("watch.lock"))
            .expect("lock file");
        f.lock().expect("lock");
        std::fs::write(state.join("watch.lock"), "4242\n").expect("pid");
        f
    };
    let requests = || -> Vec<String> {
        std::fs::read_dir(state.join("requests"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let lock = hold();
    let out = mailtrail()
        .args(["watch", "--config"])
        .arg(&path)
        .args(["--retry-failed", "--wait", "1"])
        .env("MT_PW", "pw")
        .output()
        .expect("watch --retry-failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("(pid 4242) did not take the request within 1 s"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(requests().is_empty(), "withdrawn: {:?}", requests());

    // The lock holder goes away while the command waits: the command does it itself.
    let child = mailtrail()
        .args(["watch", "--config"])
        .arg(&path)
        .args(["--retry-failed", "--once", "--wait", "60"])
        .env("MT_PW", "pw")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch --retry-failed");
    wait_for("the request", WAIT, || {
        requests()
            .iter()
            .any(|n| n.ends_with(".request"))
            .then_some(())
    });
    drop(lock);
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "the watcher stopped before it took the request: sending the refused records here"
        ),
        "{err}"
    );
    assert!(!err.contains("another `mailtrail watch`"), "{err}");
    // It then ran as `--once` itself: the account's server is not there.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(requests().is_empty(), "{:?}", requests());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_watcher_per_state_dir_and_a_stale_pid_does_not_block_the_next() {
    // No IMAP server needed: an account that cannot connect keeps its watcher running.
    let dir = temp_dir("lock");
    let config = json!({
        "stateDir": dir.join("state"),
        "settings": {"endpoint": {"type": "local", "url": "http://127.0.0.1:9", "token": "t"}},
        "maxBackoffSeconds": 1,
        "accounts": [{"url": "imaps://alice@127.0.0.1:1", "role": "connected-inbox",
                      "address": "alice@ours.test", "passwordEnv": "MT_PW"}],
    });
    let first = Watcher::start(&dir, &config, &[("MT_PW", "pw")]);
    first.wait_state("alice@ours.test", "reconnecting");

    // A second watcher on the same state directory refuses to start, and says why.
    let out = mailtrail()
        .args(["watch", "--config"])
        .arg(&first.config)
        .env("MT_PW", "pw")
        .output()
        .expect("second watcher");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another `mailtrail watch`"), "{err}");
    assert!(
        err.contains(&first.child.as_ref().expect("running").id().to_string()),
        "names the running watcher's pid: {err}"
    );
    first.wait_state("alice@ours.test", "reconnecting");

    // The first one dies without cleaning up (kill -9, power loss), and its pid is reused by
    // an unrelated process.
    let mut first = first;
    let mut child = first.child.take().expect("running");
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    let mut unrelated = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("an unrelated process");
    let status_path = dir.join("state/status.json");
    let mut status: Value =
        serde_json::from_slice(&std::fs::read(&status_path).expect("status.json")).expect("json");
    status["pid"] = json!(unrelated.id());
    std::fs::write(&status_path, status.to_string()).expect("write status.json");

    // Not taken for a running watcher, and not in the way of the next one.
    let (_, v) = first.status();
    assert_eq!(v["running"], false, "{v}");
    let next = Watcher::start(&dir, &config, &[("MT_PW", "pw")]);
    let pid = next.child.as_ref().expect("running").id();
    wait_for("the next watcher to run and say so", WAIT, || {
        let (_, v) = next.status();
        (v["running"] == true && v["pid"] == pid && v["accounts"][0]["attempt"].as_u64().is_some())
            .then_some(())
    });
    let _ = unrelated.kill();
    let _ = unrelated.wait();
    drop(next);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scanning_pauses_when_waiting_records_exceed_the_byte_budget() {
    // The endpoint keeps answering 503: records wait in the outbox (in memory, whole). With a
    // 1 MiB budget, three records of 600 KB are enough to pause the scan, however few they are.
    let w = World::new("budget");
    w.dovecot.add_user("log", "log-secret");
    let hook = Hook::start(503);
    let mut config = w.config(vec![w.account(
        "log",
        "logging-mailbox",
        "log@crm.test",
        "MT_LOG_PW",
    )]);
    config["settings"]["endpoint"] =
        json!({"type": "webhook", "url": hook.url, "secret": "hook-secret"});
    config["maxWaitingMegabytes"] = json!(1);
    let path = w.dir.join("watch.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("json")).expect("config");
    let big = |n: u32| {
        message(
            &[
                ("From", "alice@ours.test"),
                ("To", "bob@client.test"),
                ("Subject", &format!("Big {n}")),
                ("Message-ID", &format!("<big-{n}@ours.test>")),
            ],
            &format!("{n}").repeat(600 * 1024),
        )
    };
    let once = || {
        let out = mailtrail()
            .args(["watch", "--once", "--config"])
            .arg(&path)
            .env("MT_LOG_PW", "log-secret")
            .env("MAILTRAIL_LOG", "info")
            .output()
            .expect("watch --once");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let last_uid = || {
        let v: Value = serde_json::from_slice(
            &std::fs::read(w.dir.join("watch-state/log@crm.test/checkpoints.json"))
                .expect("checkpoints"),
        )
        .expect("json");
        v["folders"]["INBOX"]["lastUid"].as_u64().unwrap_or(0)
    };
    w.dovecot.append("log", "log-secret", "INBOX", &big(1));
    once();
    assert_eq!(last_uid(), 1);
    for n in 2..=3 {
        w.dovecot.append("log", "log-secret", "INBOX", &big(n));
    }
    let log = once();
    assert_eq!(last_uid(), 3, "{log}");
    // 1.8 MB wait now: the fourth message stays on the server.
    w.dovecot.append("log", "log-secret", "INBOX", &big(4));
    let log = once();
    assert!(log.contains("pausing the scan of INBOX"), "{log}");
    assert_eq!(last_uid(), 3, "{log}");
    let out = mailtrail()
        .args(["watch", "--status", "--json", "--config"])
        .arg(&path)
        .output()
        .expect("watch --status");
    let v: Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(v["accounts"][0]["pending"], 3, "{v}");
}

#[test]
fn pop3_url_is_rejected_with_an_explanation() {
    let dir = temp_dir("pop3");
    let config = json!({
        "stateDir": dir.join("state"),
        "accounts": [{"url": "pop3://alice@pop.example.com:110", "role": "connected-inbox", "passwordEnv": "HOME"}],
    });
    let path = dir.join("watch.json");
    std::fs::write(&path, config.to_string()).expect("write config");
    let out = mailtrail()
        .args(["watch", "--config"])
        .arg(&path)
        .output()
        .expect("run watch");
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad configuration is exit code 2"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("accounts[0].url: POP3 is not supported"),
        "{err}"
    );
    assert!(err.contains("stays on the server"), "{err}");
    assert!(err.contains("imaps://"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn status_without_a_running_watcher_says_so() {
    let dir = temp_dir("status");
    let config = json!({
        "stateDir": dir.join("state"),
        "accounts": [{"url": "imaps://alice@imap.example.com", "role": "connected-inbox", "address": "alice@example.com", "passwordEnv": "MT_SURELY_UNSET"}],
    });
    let path = dir.join("watch.json");
    std::fs::write(&path, config.to_string()).expect("write config");
    // --status needs no password: it only reads the state.
    let out = mailtrail()
        .args(["watch", "--status", "--json", "--config"])
        .arg(&path)
        .output()
        .expect("run watch --status");
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["running"], false);
    assert_eq!(v["accounts"][0]["state"], "disconnected");
    assert_eq!(v["accounts"][0]["reason"], "watcher-stopped");
    assert_eq!(v["accounts"][0]["message"], "never started");
    let _ = std::fs::remove_dir_all(&dir);
}
