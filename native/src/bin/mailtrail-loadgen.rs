//! Load generator for `mailtrail serve`: signed records over loopback, bounded in count and time.
//!
//! ```text
//! mailtrail-loadgen --spawn target/release/mailtrail [--database sqlite|postgres://…] \
//!     [--records 20000] [--concurrency 32] [--duplicates 0.3] [--max-seconds 120] [--json]
//! mailtrail-loadgen --url http://127.0.0.1:8787 --token-file ~/.local/share/mailtrail/token …
//! mailtrail-loadgen --spawn … --crash-after 3000 --ack-log acked.txt --data-dir DIR
//! mailtrail-loadgen --spawn … --smoke          # a few seconds, for CI
//! ```
//!
//! Reports records/s and latency percentiles per status. With `--crash-after N` it SIGKILLs the
//! server once N records were acknowledged, restarts it on the same data, and checks that every
//! record acknowledged with 2xx is there exactly once (and that re-sending it is a duplicate).
//! Exit code 0 only when every check passed.

use mailtrail::webhook;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Opts {
    url: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    spawn: Option<PathBuf>,
    database: String,
    data_dir: Option<PathBuf>,
    records: usize,
    concurrency: usize,
    duplicates: f64,
    max_seconds: u64,
    contacts: usize,
    attachment_bytes: usize,
    crash_after: Option<usize>,
    ack_log: Option<PathBuf>,
    json: bool,
    label: String,
    /// Extra arguments for the spawned server (`--serve-arg --sqlite-sync --serve-arg normal`).
    serve_args: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: mailtrail-loadgen (--spawn MAILTRAIL_BIN [--database sqlite|URL] [--data-dir DIR] | --url URL (--token T | --token-file F))\n\
         \x20      [--records N] [--concurrency C] [--duplicates 0..1] [--max-seconds S] [--contacts K]\n\
         \x20      [--attachment-bytes B] [--crash-after N] [--ack-log FILE] [--smoke] [--json] [--label TEXT]\n\
         \x20      [--serve-arg ARG]…  (passed to the spawned server, e.g. --serve-arg --sqlite-sync --serve-arg normal)"
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let mut o = Opts {
        url: None,
        token: None,
        token_file: None,
        spawn: None,
        database: "sqlite".into(),
        data_dir: None,
        records: 20_000,
        concurrency: 32,
        duplicates: 0.0,
        max_seconds: 120,
        contacts: 500,
        attachment_bytes: 0,
        crash_after: None,
        ack_log: None,
        json: false,
        label: String::new(),
        serve_args: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--url" => o.url = Some(val()),
            "--token" => o.token = Some(val()),
            "--token-file" => o.token_file = Some(val().into()),
            "--spawn" => o.spawn = Some(val().into()),
            "--database" => o.database = val(),
            "--data-dir" => o.data_dir = Some(val().into()),
            "--records" => o.records = val().parse().unwrap_or_else(|_| usage()),
            "--concurrency" => o.concurrency = val().parse().unwrap_or_else(|_| usage()),
            "--duplicates" => o.duplicates = val().parse().unwrap_or_else(|_| usage()),
            "--max-seconds" => o.max_seconds = val().parse().unwrap_or_else(|_| usage()),
            "--contacts" => o.contacts = val().parse().unwrap_or_else(|_| usage()),
            "--attachment-bytes" => o.attachment_bytes = val().parse().unwrap_or_else(|_| usage()),
            "--crash-after" => o.crash_after = Some(val().parse().unwrap_or_else(|_| usage())),
            "--ack-log" => o.ack_log = Some(val().into()),
            "--label" => o.label = val(),
            "--serve-arg" => o.serve_args.push(val()),
            "--json" => o.json = true,
            "--smoke" => {
                o.records = 400;
                o.concurrency = 8;
                o.max_seconds = 20;
            }
            _ => usage(),
        }
    }
    if o.url.is_none() == o.spawn.is_none() {
        eprintln!("mailtrail-loadgen: give exactly one of --url or --spawn");
        usage();
    }
    if !(0.0..1.0).contains(&o.duplicates) || o.concurrency == 0 || o.records == 0 {
        eprintln!("mailtrail-loadgen: --duplicates must be in [0, 1), --concurrency and --records positive");
        usage();
    }
    o
}

/// A tiny deterministic RNG (xorshift64*): same plan for every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }
}

const WORDS: &[&str] = &[
    "order",
    "invoice",
    "meeting",
    "quote",
    "delivery",
    "contract",
    "renewal",
    "support",
    "question",
    "proposal",
    "schedule",
    "update",
    "zamówienie",
    "faktura",
    "spotkanie",
    "見積もり",
    "請求書",
    "打ち合わせ",
];

/// One record's JSON (about 1.5 KB, like a short business email), and its key.
fn record_body(
    run: &str,
    i: usize,
    contacts: usize,
    attachment: &Option<(String, String, usize)>,
) -> (String, String) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
    let key = format!("lg-{run}-{i}");
    let w = |rng: &mut Rng| WORDS[rng.below(WORDS.len())];
    let subject = format!("Re: {} {} #{i}", w(&mut rng), w(&mut rng));
    let mut text = String::with_capacity(700);
    while text.len() < 600 {
        text.push_str(w(&mut rng));
        text.push(' ');
    }
    let html = format!(
        "<div><p>{}</p><p style=\"color:#333\">--<br>Sales team</p></div>",
        text
    );
    let c1 = rng.below(contacts);
    let c2 = rng.below(contacts);
    let attachments = match attachment {
        Some((data, sha, size)) => serde_json::json!([{
            "name": "terms.pdf", "contentType": "application/pdf", "size": size, "sha256": sha,
            "inline": false, "data": data
        }]),
        None => serde_json::json!([]),
    };
    let record = serde_json::json!({
        "schema": "mailtrail.record/1",
        "idempotencyKey": key,
        "direction": if i % 3 == 0 { "incoming" } else { "outgoing" },
        "timestamp": 1_767_225_600_000i64 + i as i64 * 1000,
        "subject": subject,
        "from": {"address": "seller@ourco.example", "name": "Seller"},
        "to": [{"address": format!("customer{c1}@client{}.example", c1 % 50), "name": format!("Customer {c1}")}],
        "cc": [{"address": format!("customer{c2}@client{}.example", c2 % 50)}],
        "bcc": [],
        "text": text,
        "html": html,
        "attachments": attachments,
        "droppedAttachments": [],
        "messageId": format!("{key}@loadgen.example"),
        "inReplyTo": [],
        "references": if i % 4 == 0 && i > 0 { serde_json::json!([format!("lg-{run}-{}@loadgen.example", i - 1)]) } else { serde_json::json!([]) },
        "threadId": null,
        "contacts": [
            {"address": format!("customer{c1}@client{}.example", c1 % 50), "name": format!("Customer {c1}"), "create": true},
            {"address": format!("customer{c2}@client{}.example", c2 % 50), "create": false}
        ],
        "reasons": ["log-checked"],
        "mailbox": "seller@ourco.example",
        "source": "gmail",
        "client": "mailtrail-loadgen"
    });
    (key, record.to_string())
}

struct Server {
    child: Child,
    url: String,
    token: String,
}

fn spawn_server(
    bin: &Path,
    data_dir: &Path,
    database: &str,
    extra: &[String],
) -> Result<Server, String> {
    let mut cmd = Command::new(bin);
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--rate-limit",
        "off",
        "--data-dir",
    ])
    .arg(data_dir)
    .args(extra)
    .env("MAILTRAIL_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if database != "sqlite" {
        cmd.args(["--database", database]);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let url = first
        .strip_prefix("listening on ")
        .ok_or_else(|| format!("the server did not start (first line: {first:?})"))?
        .to_string();
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(data_dir.join("token"))
        .map_err(|e| format!("no token file: {e}"))?;
    Ok(Server {
        child,
        url,
        token: token.trim().to_string(),
    })
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    created: usize,
    duplicate: usize,
    rate_limited: usize,
    client_errors: usize,
    server_errors: usize,
    connection_errors: usize,
}

struct Shared {
    bodies: Vec<(String, String)>,
    plan: Vec<usize>,
    next: AtomicUsize,
    acked: AtomicUsize,
    stop: AtomicBool,
    acked_keys: Mutex<Vec<String>>,
    crash_after: Option<usize>,
    deadline: Instant,
}

async fn worker(client: reqwest::Client, url: String, token: String, shared: Arc<Shared>) -> Tally {
    let mut t = Tally::default();
    let endpoint = format!("{url}/v1/records");
    loop {
        if shared.stop.load(Ordering::Relaxed) || Instant::now() > shared.deadline {
            break;
        }
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(&idx) = shared.plan.get(n) else {
            break;
        };
        let (key, body) = &shared.bodies[idx];
        let mut attempts = 0;
        loop {
            attempts += 1;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let sig = webhook::sign(token.as_bytes(), now, body.as_bytes());
            let started = Instant::now();
            let result = client
                .post(&endpoint)
                .header("content-type", "application/json")
                .header(webhook::HEADER_IDEMPOTENCY_KEY, key.as_str())
                .header(webhook::HEADER_TIMESTAMP, now.to_string())
                .header(webhook::HEADER_SIGNATURE, sig)
                .body(body.clone())
                .send()
                .await;
            let status = match result {
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    let _ = resp.bytes().await;
                    Some(s)
                }
                Err(_) => None,
            };
            let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
            match status {
                Some(200) | Some(201) => {
                    t.latencies_us.push(us);
                    if status == Some(201) {
                        t.created += 1;
                    } else {
                        t.duplicate += 1;
                    }
                    if let Ok(mut k) = shared.acked_keys.lock() {
                        k.push(key.clone());
                    }
                    let acked = shared.acked.fetch_add(1, Ordering::Relaxed) + 1;
                    if shared.crash_after.is_some_and(|c| acked >= c) {
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                    break;
                }
                Some(429) => {
                    t.rate_limited += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Some(s) if (400..500).contains(&s) => {
                    t.client_errors += 1;
                    break;
                }
                Some(_) => {
                    t.server_errors += 1;
                    if attempts >= 3 || shared.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => {
                    t.connection_errors += 1;
                    if attempts >= 3 || shared.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    t
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

struct RunResult {
    tally: Tally,
    elapsed: Duration,
    acked_keys: Vec<String>,
    sent_keys: usize,
}

async fn run_load(
    o: &Opts,
    url: &str,
    token: &str,
    run_id: &str,
    stop_hook: Option<Arc<AtomicBool>>,
) -> RunResult {
    let attachment = (o.attachment_bytes > 0).then(|| {
        use sha2::{Digest, Sha256};
        let bytes: Vec<u8> = (0..o.attachment_bytes)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (mailtrail::base64::encode(&bytes), sha, bytes.len())
    });
    let unique = ((o.records as f64) * (1.0 - o.duplicates)).ceil().max(1.0) as usize;
    let bodies: Vec<(String, String)> = (0..unique)
        .map(|i| record_body(run_id, i, o.contacts, &attachment))
        .collect();
    // The send plan: every record once, plus repeats of recent ones (some will be in flight
    // at the same moment: concurrent duplicates).
    let mut rng = Rng(42);
    let mut plan = Vec::with_capacity(o.records);
    let mut fresh = 0;
    while plan.len() < o.records {
        if fresh < unique && (fresh == 0 || !rng.chance(o.duplicates)) {
            plan.push(fresh);
            fresh += 1;
        } else {
            let window = fresh.min(2 * o.concurrency).max(1);
            plan.push(fresh - 1 - rng.below(window));
        }
    }
    let shared = Arc::new(Shared {
        bodies,
        plan,
        next: AtomicUsize::new(0),
        acked: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        acked_keys: Mutex::new(Vec::new()),
        crash_after: o.crash_after,
        deadline: Instant::now() + Duration::from_secs(o.max_seconds),
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..o.concurrency {
        handles.push(tokio::spawn(worker(
            client.clone(),
            url.to_string(),
            token.to_string(),
            shared.clone(),
        )));
    }
    if let Some(hook) = stop_hook {
        let s = shared.clone();
        tokio::spawn(async move {
            while !s.stop.load(Ordering::Relaxed) && s.next.load(Ordering::Relaxed) < s.plan.len() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            hook.store(true, Ordering::Relaxed);
        });
    }
    let mut tally = Tally::default();
    for h in handles {
        if let Ok(t) = h.await {
            tally.latencies_us.extend(t.latencies_us);
            tally.created += t.created;
            tally.duplicate += t.duplicate;
            tally.rate_limited += t.rate_limited;
            tally.client_errors += t.client_errors;
            tally.server_errors += t.server_errors;
            tally.connection_errors += t.connection_errors;
        }
    }
    let elapsed = started.elapsed();
    tally.latencies_us.sort_unstable();
    let acked_keys = shared
        .acked_keys
        .lock()
        .map(|k| k.clone())
        .unwrap_or_default();
    let sent_keys = shared.next.load(Ordering::Relaxed).min(shared.plan.len());
    RunResult {
        tally,
        elapsed,
        acked_keys,
        sent_keys,
    }
}

fn report(o: &Opts, r: &RunResult, db: &str) -> serde_json::Value {
    let acked = r.tally.created + r.tally.duplicate;
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let l = &r.tally.latencies_us;
    serde_json::json!({
        "label": o.label, "database": db, "records": o.records, "concurrency": o.concurrency,
        "duplicates": o.duplicates, "attachmentBytes": o.attachment_bytes,
        "acked": acked, "created": r.tally.created, "duplicate": r.tally.duplicate,
        "rateLimited": r.tally.rate_limited, "clientErrors": r.tally.client_errors,
        "serverErrors": r.tally.server_errors, "connectionErrors": r.tally.connection_errors,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "recordsPerSecond": (acked as f64 / secs).round(),
        "p50Ms": percentile(l, 0.50), "p95Ms": percentile(l, 0.95), "p99Ms": percentile(l, 0.99),
        "maxMs": percentile(l, 1.0), "sent": r.sent_keys,
    })
}

fn print_report(v: &serde_json::Value, json: bool) {
    if json {
        println!("{v}");
        return;
    }
    println!(
        "{:<28} {:>8} acked ({} new, {} dup) in {:>7.2} s = {:>7} records/s  p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors: {} 4xx, {} 5xx, {} conn, {} 429",
        format!("{} [{}]", v["label"].as_str().unwrap_or(""), v["database"].as_str().unwrap_or("")),
        v["acked"], v["created"], v["duplicate"], v["seconds"].as_f64().unwrap_or(0.0), v["recordsPerSecond"],
        v["p50Ms"].as_f64().unwrap_or(0.0), v["p95Ms"].as_f64().unwrap_or(0.0), v["p99Ms"].as_f64().unwrap_or(0.0),
        v["maxMs"].as_f64().unwrap_or(0.0), v["clientErrors"], v["serverErrors"], v["connectionErrors"], v["rateLimited"],
    );
    if let Some(cpu) = v.get("serverCpuUsPerRecord") {
        println!(
            "{:<28} CPU per record: server {} µs, load generator {} µs",
            "",
            cpu,
            v.get("loadgenCpuUsPerRecord").cloned().unwrap_or_default()
        );
    }
}

/// After a crash and restart: every acknowledged key is stored, once, and re-sending it is a
/// duplicate. Returns the problems found.
async fn verify_after_crash(
    url: &str,
    token: &str,
    acked: &[String],
    bodies: &[(String, String)],
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut problems = Vec::new();
    let mut unique: Vec<&String> = acked.iter().collect();
    unique.sort();
    unique.dedup();
    for key in &unique {
        let resp = client
            .get(format!("{url}/v1/records/{key}"))
            .bearer_auth(token)
            .send()
            .await;
        match resp {
            Ok(r) if r.status().as_u16() == 200 => {
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                if v["idempotencyKey"].as_str() != Some(key.as_str()) {
                    problems.push(format!("{key}: GET returned another record"));
                }
            }
            Ok(r) => problems.push(format!("{key}: acknowledged but GET says {}", r.status())),
            Err(e) => problems.push(format!("{key}: GET failed: {e}")),
        }
    }
    // Re-sending acknowledged records must not create anything.
    let stats_before: serde_json::Value = match client
        .get(format!("{url}/v1/stats"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    for key in unique.iter().take(200) {
        let Some((_, body)) = bodies.iter().find(|(k, _)| k == *key) else {
            continue;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let r = client
            .post(format!("{url}/v1/records"))
            .header(webhook::HEADER_TIMESTAMP, now.to_string())
            .header(
                webhook::HEADER_SIGNATURE,
                webhook::sign(token.as_bytes(), now, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() == 200 => {}
            Ok(r) => problems.push(format!(
                "{key}: re-send answered {} instead of 200 duplicate",
                r.status()
            )),
            Err(e) => problems.push(format!("{key}: re-send failed: {e}")),
        }
    }
    let stats_after: serde_json::Value = match client
        .get(format!("{url}/v1/stats"))
        .bearer_auth(token)
        .send()
        .await
    {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    if stats_before["records"] != stats_after["records"] {
        problems.push(format!(
            "re-sending changed the record count: {} -> {}",
            stats_before["records"], stats_after["records"]
        ));
    }
    if stats_after["records"].as_u64().unwrap_or(0) < unique.len() as u64 {
        problems.push(format!(
            "{} records stored but {} distinct keys were acknowledged",
            stats_after["records"],
            unique.len()
        ));
    }
    problems
}

/// CPU seconds (user + system) a process has used so far, from /proc (Linux).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "mailtrail-loadgen-{tag}-{}-{nanos}",
        std::process::id()
    ))
}

fn main() -> std::process::ExitCode {
    let o = parse_args();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailtrail-loadgen: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    rt.block_on(real_main(o))
}

async fn real_main(o: Opts) -> std::process::ExitCode {
    let run_id = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let db_label = if o.database == "sqlite" {
        "sqlite".to_string()
    } else {
        "postgres".to_string()
    };

    let Some(bin) = o.spawn.clone() else {
        // Against a running server.
        let url = o.url.clone().unwrap_or_default();
        let token = match (&o.token, &o.token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .unwrap_or_default()
                .trim()
                .to_string(),
            _ => {
                eprintln!("mailtrail-loadgen: --url needs --token or --token-file");
                return std::process::ExitCode::from(2);
            }
        };
        let r = run_load(&o, &url, &token, &run_id, None).await;
        write_ack_log(&o, &r.acked_keys);
        let v = report(&o, &r, &db_label);
        print_report(&v, o.json);
        return exit_for(&r);
    };

    let owned_dir = o.data_dir.is_none();
    let data_dir = o.data_dir.clone().unwrap_or_else(|| temp_dir("data"));
    if let Err(e) = std::fs::create_dir_all(&data_dir) {
        eprintln!(
            "mailtrail-loadgen: cannot create {}: {e}",
            data_dir.display()
        );
        return std::process::ExitCode::from(1);
    }
    let mut server = match spawn_server(&bin, &data_dir, &o.database, &o.serve_args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailtrail-loadgen: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let (url, token) = (server.url.clone(), server.token.clone());

    let code = if o.crash_after.is_some() {
        // Kill the server with SIGKILL while the load is running.
        let kill_now = Arc::new(AtomicBool::new(false));
        let killer = kill_now.clone();
        let mut child = server.child;
        let killer_thread = std::thread::spawn(move || {
            while !killer.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_micros(200));
            }
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        });
        let mut o2 = o.clone();
        o2.crash_after = o.crash_after;
        let r = run_load(&o2, &url, &token, &run_id, Some(kill_now.clone())).await;
        kill_now.store(true, Ordering::Relaxed);
        let _ = killer_thread.join();
        write_ack_log(&o, &r.acked_keys);
        let v = report(&o, &r, &db_label);
        print_report(&v, o.json);
        // Restart on the same data and check.
        let restarted = match spawn_server(&bin, &data_dir, &o.database, &o.serve_args) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("mailtrail-loadgen: restart failed: {e}");
                return std::process::ExitCode::from(1);
            }
        };
        let attachment = None;
        let unique = ((o.records as f64) * (1.0 - o.duplicates)).ceil().max(1.0) as usize;
        let bodies: Vec<(String, String)> = (0..unique)
            .map(|i| record_body(&run_id, i, o.contacts, &attachment))
            .collect();
        let problems =
            verify_after_crash(&restarted.url, &restarted.token, &r.acked_keys, &bodies).await;
        let mut distinct = r.acked_keys.clone();
        distinct.sort();
        distinct.dedup();
        let verdict = serde_json::json!({
            "crash": true, "ackedBeforeKill": r.acked_keys.len(), "distinctAcked": distinct.len(),
            "problems": problems.len(), "firstProblems": problems.iter().take(10).collect::<Vec<_>>(),
        });
        if o.json {
            println!("{verdict}");
        } else {
            println!(
                "crash check: server SIGKILLed after {} acknowledgements; after restart all {} distinct acknowledged records present exactly once: {}",
                r.acked_keys.len(),
                distinct.len(),
                if problems.is_empty() { "yes".to_string() } else { format!("NO ({} problems: {:?})", problems.len(), problems.iter().take(5).collect::<Vec<_>>()) }
            );
        }
        server = restarted;
        if problems.is_empty() && !r.acked_keys.is_empty() {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(1)
        }
    } else {
        let pid = server.child.id().to_string();
        let (server_before, self_before) = (cpu_seconds(&pid), cpu_seconds("self"));
        let r = run_load(&o, &url, &token, &run_id, None).await;
        let (server_after, self_after) = (cpu_seconds(&pid), cpu_seconds("self"));
        write_ack_log(&o, &r.acked_keys);
        let mut v = report(&o, &r, &db_label);
        let acked = (r.tally.created + r.tally.duplicate).max(1) as f64;
        if let (Some(a), Some(b)) = (server_before, server_after) {
            v["serverCpuUsPerRecord"] = serde_json::json!(((b - a) * 1e6 / acked).round());
        }
        if let (Some(a), Some(b)) = (self_before, self_after) {
            v["loadgenCpuUsPerRecord"] = serde_json::json!(((b - a) * 1e6 / acked).round());
        }
        print_report(&v, o.json);
        exit_for(&r)
    };
    let _ = server.child.kill();
    let _ = server.child.wait();
    if owned_dir {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    code
}

fn write_ack_log(o: &Opts, keys: &[String]) {
    let Some(path) = &o.ack_log else { return };
    let result = std::fs::File::create(path).and_then(|f| {
        let mut w = std::io::BufWriter::new(f);
        for k in keys {
            writeln!(w, "{k}")?;
        }
        w.flush()
    });
    if let Err(e) = result {
        eprintln!("mailtrail-loadgen: cannot write {}: {e}", path.display());
    }
}

fn exit_for(r: &RunResult) -> std::process::ExitCode {
    let t = &r.tally;
    if t.client_errors + t.server_errors + t.connection_errors > 0 || t.created + t.duplicate == 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    }
}
