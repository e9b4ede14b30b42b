//! `mailtrail serve` relaying stored records to HubSpot (docs/server.md, "Relay to HubSpot"):
//! the real binary, real SQLite and PostgreSQL, and a fake HubSpot CRM v3 API on loopback.

#[macro_use]
mod serve_support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{json, Value};
use serve_support::{record, Kind, Server, TestDb};
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "pat-test-relay";

/// What the fake HubSpot holds and how it misbehaves.
#[derive(Default)]
struct Hub {
    contacts: HashMap<String, String>,
    /// (id, properties, associated contact ids)
    emails: Vec<(String, Value, Vec<String>)>,
    next_id: u64,
    /// Email creates answered 429 before one is accepted.
    rate_limited: u32,
    /// Emails with this subject are refused (400).
    refuse_subject: Option<String>,
    /// Email creates are stored, then answered this late.
    hold_ms: u64,
    searches: u32,
    contact_creates: u32,
    bad_auth: u32,
}

type Fake = Arc<Mutex<Hub>>;

fn authorized(h: &HeaderMap, hub: &Fake) -> bool {
    let ok = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if !ok {
        hub.lock().unwrap().bad_auth += 1;
    }
    ok
}

fn unauthorized() -> axum::response::Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"status": "error", "message": "Authentication credentials not found", "category": "INVALID_AUTHENTICATION"})),
    )
        .into_response()
}

async fn read_contacts(
    State(hub): State<Fake>,
    h: HeaderMap,
    body: String,
) -> axum::response::Response {
    if !authorized(&h, &hub) {
        return unauthorized();
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["idProperty"], "email");
    let hub = hub.lock().unwrap();
    let results: Vec<Value> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| {
            let email = i["id"].as_str()?;
            hub.contacts
                .get(email)
                .map(|id| json!({"id": id, "properties": {"email": email}}))
        })
        .collect();
    let status = if results.len() == v["inputs"].as_array().unwrap().len() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    (
        status,
        axum::Json(json!({"status": "COMPLETE", "results": results})),
    )
        .into_response()
}

async fn create_contacts(
    State(hub): State<Fake>,
    h: HeaderMap,
    body: String,
) -> axum::response::Response {
    if !authorized(&h, &hub) {
        return unauthorized();
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut hub = hub.lock().unwrap();
    hub.contact_creates += 1;
    let inputs = v["inputs"].as_array().unwrap();
    // As HubSpot does: a batch naming a contact that exists (another server created it a moment
    // ago) is refused whole with 409, naming the existing id; nothing in it is created.
    for i in inputs {
        let email = i["properties"]["email"].as_str().unwrap_or_default();
        if let Some(id) = hub.contacts.get(email) {
            return (
                StatusCode::CONFLICT,
                axum::Json(json!({"status": "error", "category": "CONFLICT",
                    "message": format!("Contact already exists. Existing ID: {id}")})),
            )
                .into_response();
        }
    }
    let mut results = Vec::new();
    for i in inputs {
        let email = i["properties"]["email"].as_str().unwrap().to_string();
        hub.next_id += 1;
        let id = format!("{}", 900 + hub.next_id);
        hub.contacts.insert(email.clone(), id.clone());
        results.push(json!({"id": id, "properties": {"email": email}}));
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"status": "COMPLETE", "results": results})),
    )
        .into_response()
}

async fn create_email(
    State(hub): State<Fake>,
    h: HeaderMap,
    body: String,
) -> axum::response::Response {
    if !authorized(&h, &hub) {
        return unauthorized();
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let props = v["properties"].clone();
    let hold = {
        let mut hub = hub.lock().unwrap();
        if hub.rate_limited > 0 {
            hub.rate_limited -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                axum::Json(json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "policyName": "TEN_SECONDLY_ROLLING"})),
            )
                .into_response();
        }
        if hub.refuse_subject.as_deref() == props["hs_email_subject"].as_str() {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"})),
            )
                .into_response();
        }
        let assoc: Vec<String> = v["associations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["to"]["id"].as_str().unwrap().to_string())
            .collect();
        hub.next_id += 1;
        let id = format!("{}", 7000 + hub.next_id);
        hub.emails.push((id.clone(), props, assoc));
        (hub.hold_ms, id)
    };
    if hold.0 > 0 {
        tokio::time::sleep(Duration::from_millis(hold.0)).await;
    }
    (StatusCode::CREATED, axum::Json(json!({"id": hold.1}))).into_response()
}

async fn search_emails(
    State(hub): State<Fake>,
    h: HeaderMap,
    body: String,
) -> axum::response::Response {
    if !authorized(&h, &hub) {
        return unauthorized();
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    let filters = v["filterGroups"][0]["filters"].as_array().unwrap().clone();
    let mut hub = hub.lock().unwrap();
    hub.searches += 1;
    let results: Vec<Value> = hub
        .emails
        .iter()
        .filter(|(_, props, assoc)| {
            filters.iter().all(|f| {
                let name = f["propertyName"].as_str().unwrap();
                match (name, f["operator"].as_str()) {
                    ("associations.contact", _) => assoc
                        .iter()
                        .any(|a| Some(a.as_str()) == f["value"].as_str()),
                    (_, Some("NOT_HAS_PROPERTY")) => props[name].is_null(),
                    _ => props[name].as_str() == f["value"].as_str(),
                }
            })
        })
        .map(|(id, _, _)| json!({"id": id}))
        .collect();
    axum::Json(json!({"total": results.len(), "results": results})).into_response()
}

/// Starts the fake HubSpot on a free loopback port; returns its base URL.
async fn fake_hubspot(hub: Fake) -> String {
    let app = axum::Router::new()
        .route("/crm/v3/objects/contacts/batch/read", post(read_contacts))
        .route(
            "/crm/v3/objects/contacts/batch/create",
            post(create_contacts),
        )
        .route("/crm/v3/objects/emails", post(create_email))
        .route("/crm/v3/objects/emails/search", post(search_emails))
        .with_state(hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// `mailtrail serve` with the relay's environment.
fn start_relaying(dir: &std::path::Path, db: &TestDb, hub_url: &str) -> Server {
    start_with(
        dir,
        db,
        &[],
        &[
            ("MAILTRAIL_HUBSPOT_TOKEN", TOKEN),
            ("MAILTRAIL_HUBSPOT_BASE_URL", hub_url),
            ("MAILTRAIL_HUBSPOT_TIMEOUT", "3"),
            ("MAILTRAIL_HUBSPOT_SETTLE", "1"),
        ],
    )
}

/// `mailtrail serve` with these arguments and environment variables.
fn start_with(dir: &std::path::Path, db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Server {
    Server::start_with_env(dir, db, args, env)
}

/// Waits until the record's relay state is `state`; returns the record's JSON.
async fn wait_relay(s: &Server, key: &str, state: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let (st, v) = s.get(&format!("/v1/records/{key}")).await;
        assert_eq!(st, 200, "{v}");
        if v["relay"]["hubspot"]["state"] == state {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{key} never reached {state}: {}", last["relay"]);
}

async fn ui_page(s: &Server, path: &str) -> String {
    let resp = s
        .client
        .get(format!("{}{path}", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    resp.text().await.unwrap()
}

async fn relays_records_to_hubspot(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = serve_support::temp_dir("relay");
    let hub: Fake = Arc::default();
    hub.lock()
        .unwrap()
        .contacts
        .insert("jane@customer.example".into(), "501".into());
    hub.lock()
        .unwrap()
        .contacts
        .insert("only-in-hubspot@customer.example".into(), "502".into());
    let hub_url = fake_hubspot(hub.clone()).await;
    let mut s = start_relaying(&dir, &db, &hub_url);
    assert!(
        s.stdout_lines
            .iter()
            .any(|l| l.contains("relaying records to HubSpot")),
        "{:?}",
        s.stdout_lines
    );

    // Two records, one of them posted three times (the add-in retrying, a colleague's copy).
    let a = record("relay-a", json!({}));
    let b = record(
        "relay-b",
        json!({"subject": "New customer", "to": [{"address": "bob@new.example", "name": "Bob Newman"}],
               "contacts": [{"address": "bob@new.example", "name": "Bob Newman", "create": true}]}),
    );
    for body in [&a, &b, &a, &a] {
        let (st, v) = s.post_record(&body.to_string()).await;
        assert!(st == 201 || st == 200, "{st} {v}");
    }
    let va = wait_relay(&s, "relay-a", "done").await;
    let vb = wait_relay(&s, "relay-b", "done").await;
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.emails.len(), 2, "one HubSpot email per record");
        let (id_a, props_a, assoc_a) = &hub
            .emails
            .iter()
            .find(|e| e.1["hs_email_subject"] == "Quote for 20 chairs")
            .unwrap();
        assert_eq!(
            assoc_a,
            &vec!["501".to_string()],
            "associated with the existing contact"
        );
        assert_eq!(props_a["hs_email_direction"], "EMAIL");
        assert_eq!(
            va["relay"]["hubspot"]["remoteId"].as_str(),
            Some(id_a.as_str())
        );
        let bob = hub
            .contacts
            .get("bob@new.example")
            .expect("bob created in HubSpot")
            .clone();
        let (id_b, _, assoc_b) = hub
            .emails
            .iter()
            .find(|e| e.1["hs_email_subject"] == "New customer")
            .unwrap();
        assert_eq!(assoc_b, &vec![bob]);
        assert_eq!(
            vb["relay"]["hubspot"]["remoteId"].as_str(),
            Some(id_b.as_str())
        );
        assert_eq!(hub.bad_auth, 0);
    }
    assert_eq!(va["relay"]["hubspot"]["attempts"], 1);
    assert_eq!(va["relay"]["hubspot"]["lastError"], Value::Null);

    // Lookups: HubSpot's contacts count as known, like the browser asking HubSpot directly.
    let (st, v) = s
        .send_json(
            reqwest::Method::POST,
            "/v1/contacts/lookup",
            &json!({"addresses": ["Only-In-HubSpot@customer.example", "jane@customer.example", "nobody@x.example"]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["contacts"]["only-in-hubspot@customer.example"]["source"], "hubspot",
        "{v}"
    );
    assert!(v["contacts"]["jane@customer.example"]["id"].is_i64(), "{v}");
    assert_eq!(
        v["contacts"]["jane@customer.example"]["inHubspot"], true,
        "{v}"
    );
    assert!(v["contacts"]["nobody@x.example"].is_null(), "{v}");
    assert_eq!(v["hubspot"]["complete"], true, "{v}");

    // HubSpot refuses a record: dead with HubSpot's words; sent again once the cause is fixed.
    hub.lock().unwrap().refuse_subject = Some("Refuse me".into());
    let c = record("relay-c", json!({"subject": "Refuse me"}));
    assert_eq!(s.post_record(&c.to_string()).await.0, 201);
    let vc = wait_relay(&s, "relay-c", "dead").await;
    let err = &vc["relay"]["hubspot"]["lastError"];
    assert_eq!(err["status"], 400, "{vc}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("Property values were not valid"),
        "{err}"
    );
    let (st, v) = s.get("/v1/relay?state=dead").await;
    assert_eq!((st, v["counts"]["dead"].as_i64()), (200, Some(1)), "{v}");
    assert_eq!(v["records"][0]["idempotencyKey"], "relay-c");
    let html = ui_page(&s, "/relay?state=dead&lang=pl").await;
    assert!(
        html.contains("data-key=\"relay-c\"") && html.contains("Odrzucony"),
        "{html}"
    );
    hub.lock().unwrap().refuse_subject = None;
    let (st, v) = s
        .send_json(
            reqwest::Method::POST,
            "/v1/records/relay-c/relay",
            &json!({}),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    let vc = wait_relay(&s, "relay-c", "done").await;
    assert_eq!(vc["relay"]["hubspot"]["lastError"], Value::Null);

    // Rate limited: retried after HubSpot's Retry-After, with the attempt visible.
    hub.lock().unwrap().rate_limited = 1;
    let d = record("relay-d", json!({"subject": "Busy day"}));
    assert_eq!(s.post_record(&d.to_string()).await.0, 201);
    let vd = wait_relay(&s, "relay-d", "done").await;
    assert_eq!(vd["relay"]["hubspot"]["attempts"], 2, "{vd}");

    // The web UI shows where an email is, in the user's language.
    let id = va["id"].as_i64().unwrap();
    let html = ui_page(&s, &format!("/emails/{id}?lang=ja")).await;
    assert!(html.contains("data-relay-state=\"done\""), "{html}");
    assert!(html.contains("HubSpot に登録済み"), "{html}");
    let html = ui_page(&s, "/relay?lang=en").await;
    assert!(
        html.contains("data-count-state=\"done\" data-count=\"4\""),
        "{html}"
    );

    // A restart sends nothing again.
    assert!(s.terminate().success());
    let s = start_relaying(&dir, &db, &hub_url);
    assert_eq!(s.post_record(&a.to_string()).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hub.lock().unwrap().emails.len(), 4);
    let (_, v) = s.get("/v1/relay?state=done").await;
    assert_eq!(
        v["counts"],
        json!({"pending": 0, "retrying": 0, "done": 4, "dead": 0})
    );
    drop(s);
    db.drop_db().await;
}

/// The server dies while HubSpot is creating the email: after a restart the relay looks for the
/// email in HubSpot, finds it, and does not create it again.
async fn a_crash_mid_create_does_not_create_twice(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = serve_support::temp_dir("relay-crash");
    let hub: Fake = Arc::default();
    hub.lock().unwrap().hold_ms = 60_000;
    let hub_url = fake_hubspot(hub.clone()).await;
    let mut s = start_relaying(&dir, &db, &hub_url);
    let r = record("relay-crash", json!({}));
    assert_eq!(s.post_record(&r.to_string()).await.0, 201);
    for _ in 0..100 {
        if !hub.lock().unwrap().emails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        hub.lock().unwrap().emails.len(),
        1,
        "HubSpot got the create"
    );
    s.child.kill().unwrap();
    let _ = s.child.wait();
    hub.lock().unwrap().hold_ms = 0;

    let s = start_relaying(&dir, &db, &hub_url);
    let v = wait_relay(&s, "relay-crash", "done").await;
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.emails.len(), 1, "not created twice");
        assert!(
            hub.searches >= 1,
            "HubSpot was searched before creating again"
        );
        assert_eq!(
            v["relay"]["hubspot"]["remoteId"].as_str(),
            Some(hub.emails[0].0.as_str())
        );
    }
    assert_eq!(v["relay"]["hubspot"]["maybeSent"], true);
    drop(s);
    db.drop_db().await;
}

/// A team: two servers share one PostgreSQL database and both relay. Every record reaches
/// HubSpot once, whichever server received it, however often.
async fn a_team_sharing_a_database_creates_each_email_once(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let hub: Fake = Arc::default();
    let hub_url = fake_hubspot(hub.clone()).await;
    let (d1, d2) = (
        serve_support::temp_dir("team1"),
        serve_support::temp_dir("team2"),
    );
    let s1 = start_relaying(&d1, &db, &hub_url);
    let s2 = start_relaying(&d2, &db, &hub_url);
    for i in 0..12 {
        let r = record(
            &format!("team-{i}"),
            json!({"subject": format!("Team email {i}")}),
        )
        .to_string();
        let (a, b) = tokio::join!(s1.post_record(&r), s2.post_record(&r));
        assert!(a.0 == 201 || a.0 == 200, "{a:?}");
        assert!(b.0 == 201 || b.0 == 200, "{b:?}");
    }
    for i in 0..12 {
        wait_relay(&s1, &format!("team-{i}"), "done").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.emails.len(), 12, "each email once");
        assert_eq!(hub.contact_creates, 1, "jane created once");
    }
    drop((s1, s2));
    db.drop_db().await;
}

/// Without the relay's environment nothing is queued and the API says how to switch it on.
async fn without_the_relay_nothing_is_queued(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = serve_support::temp_dir("norelay");
    let s = Server::start(&dir, &db, &[]);
    assert_eq!(
        s.post_record(&record("nr-1", json!({})).to_string())
            .await
            .0,
        201
    );
    let (_, v) = s.get("/v1/records/nr-1").await;
    assert_eq!(v["relay"], json!({}), "{v}");
    let (st, v) = s
        .send_json(reqwest::Method::POST, "/v1/records/nr-1/relay", &json!({}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("relay_off")),
        "{v}"
    );
    let (_, v) = s.get("/v1/relay").await;
    assert_eq!(v["configured"], false);
    assert!(v["queuingSince"].is_null());
    drop(s);
    db.drop_db().await;
}

/// The relay configured by `mailtrail serve`'s flags alone, and flags over the environment:
/// a wrong token, URL and lookups setting in the environment are overridden by the flags.
async fn flags_configure_the_relay(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = serve_support::temp_dir("relay-flags");
    let hub: Fake = Arc::default();
    hub.lock()
        .unwrap()
        .contacts
        .insert("only-in-hubspot@customer.example".into(), "502".into());
    let hub_url = fake_hubspot(hub.clone()).await;
    let token_file = dir.join("hubspot-token");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let token_file = token_file.to_str().unwrap();
    let flags = [
        "--hubspot-token-file",
        token_file,
        "--hubspot-base-url",
        &hub_url,
        "--hubspot-timeout",
        "3",
        "--hubspot-settle",
        "1",
        "--hubspot-lookups",
        "off",
    ];
    let mut s = start_with(
        &dir,
        &db,
        &flags,
        &[
            ("MAILTRAIL_HUBSPOT_TOKEN", "pat-wrong"),
            ("MAILTRAIL_HUBSPOT_BASE_URL", "https://hubspot.invalid"),
            ("MAILTRAIL_HUBSPOT_LOOKUPS", "on"),
        ],
    );
    assert!(
        s.stdout_lines
            .iter()
            .any(|l| l.contains(&format!("relaying records to HubSpot at {hub_url}"))),
        "{:?}",
        s.stdout_lines
    );
    let (st, v) = s.get("/v1/relay").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["configured"], true, "{v}");
    assert_eq!(v["baseUrl"], hub_url.as_str(), "{v}");
    assert_eq!(v["lookups"], false, "{v}");
    assert_eq!(
        s.post_record(&record("flag-1", json!({})).to_string())
            .await
            .0,
        201
    );
    let v = wait_relay(&s, "flag-1", "done").await;
    assert_eq!(v["relay"]["hubspot"]["attempts"], 1, "{v}");
    // --hubspot-lookups off: HubSpot's contacts are not asked about.
    let (st, v) = s
        .send_json(
            reqwest::Method::POST,
            "/v1/contacts/lookup",
            &json!({"addresses": ["only-in-hubspot@customer.example"]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        v["contacts"]["only-in-hubspot@customer.example"].is_null(),
        "{v}"
    );
    {
        let hub = hub.lock().unwrap();
        assert_eq!(hub.emails.len(), 1);
        assert_eq!(
            hub.bad_auth, 0,
            "the token file's token, not the environment's"
        );
    }

    // --relay off over a token in the environment: nothing queued any more.
    assert!(s.terminate().success());
    let s = start_with(
        &dir,
        &db,
        &["--relay", "off"],
        &[
            ("MAILTRAIL_HUBSPOT_TOKEN", TOKEN),
            ("MAILTRAIL_HUBSPOT_BASE_URL", &hub_url),
        ],
    );
    assert_eq!(
        s.post_record(&record("flag-2", json!({})).to_string())
            .await
            .0,
        201
    );
    let (_, v) = s.get("/v1/records/flag-2").await;
    assert_eq!(v["relay"], json!({}), "{v}");
    let (_, v) = s.get("/v1/relay").await;
    assert_eq!(v["configured"], false, "{v}");
    assert!(v["queuingSince"].is_null(), "{v}");
    drop(s);
    db.drop_db().await;
}

/// A bad relay flag: exit code 2 and a message naming the flag, before anything is started.
/// The help lists the flags and says why the token has none.
#[test]
fn bad_relay_flags_exit_2() {
    let dir = serve_support::temp_dir("relay-badflag");
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("hubspot-token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_file = token_file.to_str().unwrap();
    for (args, says) in [
        (
            vec![
                "--hubspot-token-file",
                token_file,
                "--hubspot-lookups",
                "maybe",
            ],
            "--hubspot-lookups must be on or off",
        ),
        (vec!["--relay", "yes"], "--relay must be on or off"),
        (
            vec!["--relay", "on"],
            "--relay on needs the private app's token",
        ),
        (
            vec!["--hubspot-token-file", "/nonexistent/hubspot-token"],
            "--hubspot-token-file /nonexistent/hubspot-token",
        ),
        (
            vec!["--hubspot-token-file", "/dev/null"],
            "the HubSpot token is empty",
        ),
        (
            vec!["--hubspot-base-url", "https://api.hubapi.com"],
            "--hubspot-base-url configures the HubSpot relay, which needs",
        ),
        (
            vec![
                "--hubspot-token-file",
                token_file,
                "--hubspot-base-url",
                "http://hubspot.example",
            ],
            "--hubspot-base-url \"http://hubspot.example\": plain http",
        ),
        (
            vec!["--hubspot-token-file", token_file, "--hubspot-timeout", "0"],
            "--hubspot-timeout must be a number of seconds",
        ),
        (vec!["--hubspot-token", "pat-x"], "unexpected argument"),
    ] {
        let out = Command::new(serve_support::bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .args(&args)
            .env_remove("MAILTRAIL_HUBSPOT_TOKEN")
            .env_remove("MAILTRAIL_HUBSPOT_TOKEN_FILE")
            .env_remove("MAILTRAIL_HUBSPOT_RELAY")
            .env_remove("MAILTRAIL_TOKEN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: not started");
    }
    let out = Command::new(serve_support::bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--relay <on|off>",
        "--hubspot-token-file <PATH>",
        "--hubspot-base-url <URL>",
        "--hubspot-emails-path <PATH>",
        "--hubspot-contacts-path <PATH>",
        "--hubspot-timeout <SECS>",
        "--hubspot-settle <SECS>",
        "--hubspot-lookups <on|off>",
        "MAILTRAIL_HUBSPOT_TOKEN",
        "(`ps`)",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// Records stored before the relay was switched on are sent with a backfill: those dated from
/// `since`, then the rest; each once, however often it runs; HubSpot gets each email once.
async fn backfill_sends_earlier_records_once(kind: Kind) {
    let Some(db) = TestDb::new(kind).await else {
        return;
    };
    let dir = serve_support::temp_dir("relay-backfill");
    let hub: Fake = Arc::default();
    let hub_url = fake_hubspot(hub.clone()).await;

    // Before the relay: three records, one of them from 2025.
    let mut s = Server::start(&dir, &db, &[]);
    let old = record(
        "bf-old",
        json!({"subject": "Old quote", "timestamp": 1_748_736_000_000i64}),
    );
    let new1 = record("bf-new-1", json!({"subject": "New quote 1"}));
    let new2 = record("bf-new-2", json!({"subject": "New quote 2"}));
    for r in [&old, &new1, &new2] {
        assert_eq!(s.post_record(&r.to_string()).await.0, 201);
    }
    // Without the relay, a backfill says how to switch it on.
    let (st, v) = s
        .send_json(reqwest::Method::POST, "/v1/relay/backfill", &json!({}))
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("relay_off")),
        "{v}"
    );
    assert!(s.terminate().success());

    let s = start_relaying(&dir, &db, &hub_url);
    // A record stored with the relay on is queued by itself.
    assert_eq!(
        s.post_record(&record("bf-live", json!({"subject": "Live"})).to_string())
            .await
            .0,
        201
    );
    wait_relay(&s, "bf-live", "done").await;
    let (_, v) = s.get("/v1/records/bf-new-1").await;
    assert_eq!(v["relay"], json!({}), "not queued before the backfill: {v}");

    // No token: refused.
    let resp = s
        .client
        .post(format!("{}/v1/relay/backfill", s.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A bad since: 400, nothing queued.
    let (st, v) = s
        .send_json(
            reqwest::Method::POST,
            "/v1/relay/backfill",
            &json!({"since": "last March"}),
        )
        .await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid_since")),
        "{v}"
    );

    // Since 2026-01-01: the two new ones.
    let (st, v) = s
        .send_json(
            reqwest::Method::POST,
            "/v1/relay/backfill",
            &json!({"since": "2026-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(v["queued"], 2, "{v}");
    assert_eq!(v["since"], 1_767_225_600_000i64, "{v}");
    wait_relay(&s, "bf-new-1", "done").await;
    wait_relay(&s, "bf-new-2", "done").await;
    let (_, v) = s.get("/v1/records/bf-old").await;
    assert_eq!(v["relay"], json!({}), "older than since: {v}");

    // The web UI's button (no date): the old one; then nothing more.
    let html = ui_page(&s, "/relay?lang=pl").await;
    assert!(
        html.contains("action=\"/relay/backfill\"")
            && html.contains("Wyślij wcześniejsze e-maile do HubSpot"),
        "{html}"
    );
    let resp = s
        .client
        .post(format!("{}/relay/backfill?lang=en", s.url))
        .bearer_auth(&s.token)
        .form(&[("since", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("data-queued=\"1\"") && html.contains("1 earlier emails queued for HubSpot."),
        "{html}"
    );
    wait_relay(&s, "bf-old", "done").await;
    for _ in 0..2 {
        let (st, v) = s
            .send_json(reqwest::Method::POST, "/v1/relay/backfill", &json!({}))
            .await;
        assert_eq!((st, v["queued"].as_i64()), (202, Some(0)), "{v}");
    }
    let resp = s
        .client
        .post(format!("{}/v1/relay/backfill", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202, "no body at all");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let hub = hub.lock().unwrap();
        let mut subjects: Vec<&str> = hub
            .emails
            .iter()
            .map(|e| e.1["hs_email_subject"].as_str().unwrap())
            .collect();
        subjects.sort();
        assert_eq!(
            subjects,
            ["Live", "New quote 1", "New quote 2", "Old quote"],
            "each email once"
        );
    }
    let (_, v) = s.get("/v1/relay").await;
    assert_eq!(
        v["counts"],
        json!({"pending": 0, "retrying": 0, "done": 4, "dead": 0}),
        "{v}"
    );
    drop(s);
    db.drop_db().await;
}

macro_rules! relay_tests {
    ($kind:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($kind).await
            }
        )*
    };
}

mod sqlite {
    use super::*;
    relay_tests!(Kind::Sqlite;
        flags_configure_the_relay,
        backfill_sends_earlier_records_once,
        relays_records_to_hubspot,
        a_crash_mid_create_does_not_create_twice,
        without_the_relay_nothing_is_queued,
    );
}

mod postgres {
    use super::*;
    relay_tests!(Kind::Postgres;
        flags_configure_the_relay,
        backfill_sends_earlier_records_once,
        relays_records_to_hubspot,
        a_crash_mid_create_does_not_create_twice,
        a_team_sharing_a_database_creates_each_email_once,
        without_the_relay_nothing_is_queued,
    );
}
