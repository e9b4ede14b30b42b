//! The watcher's side of the CRM endpoint: contact lookups, "was this email logged?", delivery
//! of the outbox (several records in flight at once), and the connection status shown by the
//! local endpoint's web UI.

use crate::transport::Native;
use mailtrail::delivery::{self, FlushReport};
use mailtrail::engine::Engine;
use mailtrail::http::{HttpRequest, Transport};
use mailtrail::settings::EndpointConfig;
use std::collections::HashSet;

/// Records delivered at once: enough to hide the round trip, few enough for the CRM's limits
/// (HubSpot allows about 10 to 19 requests a second per app; Mailtrail's own endpoint batches
/// its writes, so more requests in flight make it faster).
fn in_flight(config: &EndpointConfig) -> usize {
    match config {
        EndpointConfig::Local { .. } => 32,
        EndpointConfig::Webhook { .. } => 8,
        EndpointConfig::Hubspot { .. } => 4,
    }
}
/// Records taken from the outbox per flush, at most: a flush ends even if records keep
/// becoming due.
const MAX_PER_FLUSH: usize = 200_000;
/// The local endpoint's lookup takes at most 1000 addresses per request.
const LOOKUP_CHUNK: usize = 500;
/// A 429 without a Retry-After (HubSpot's answers always say, through its policy): the pause.
const RATE_LIMIT_WAIT_MS: u64 = 10_000;
/// The longest pause a 429 can ask for (the outbox waits at most as long for a Retry-After).
const RATE_LIMIT_WAIT_MAX_MS: u64 = 24 * 60 * 60 * 1000;

pub struct Endpoint {
    config: EndpointConfig,
    transport: Native,
    /// Set once the endpoint showed it cannot look records up by Message-ID.
    no_message_id_lookup: std::cell::Cell<bool>,
    /// Set once the endpoint showed it cannot look records up by draft id (a `mailtrail serve`
    /// older than the route).
    no_draft_lookup: std::cell::Cell<bool>,
    /// After a 429: no record is sent before this time (ms), by any account (the CRM's limit is
    /// per token, not per mailbox).
    rate_limited_until: std::cell::Cell<i64>,
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Result<Self, String> {
        Ok(Endpoint {
            config,
            transport: Native::new()?,
            no_message_id_lookup: std::cell::Cell::new(false),
            no_draft_lookup: std::cell::Cell::new(false),
            rate_limited_until: std::cell::Cell::new(0),
        })
    }

    fn local(&self) -> Option<(&str, &str)> {
        match &self.config {
            EndpointConfig::Local { url, token } => {
                Some((url.trim_end_matches('/'), token.as_str()))
            }
            _ => None,
        }
    }

    /// Which of these addresses are contacts. `None`: the endpoint cannot say (a webhook).
    pub async fn lookup(&self, addresses: &[String]) -> Result<Option<HashSet<String>>, String> {
        let mut known = HashSet::new();
        for chunk in addresses.chunks(LOOKUP_CHUNK) {
            match delivery::lookup_contacts(&self.config, chunk, &self.transport).await {
                Ok(Some(found)) => known.extend(found),
                Ok(None) => return Ok(None),
                Err(e) => return Err(e.message),
            }
        }
        Ok(Some(known))
    }

    /// Whether the endpoint holds a record with this idempotency key. `None`: it cannot say
    /// (only Mailtrail's local endpoint has this route).
    pub async fn record_exists(&self, key: &str) -> Result<Option<bool>, String> {
        let Some((url, token)) = self.local() else {
            return Ok(None);
        };
        let req = HttpRequest::get(format!("{url}/v1/records/{key}"))
            .header("Authorization", format!("Bearer {token}"));
        let resp = self.transport.send(req).await.map_err(|e| e.message)?;
        match resp.status {
            200..=299 => Ok(Some(true)),
            404 => Ok(Some(false)),
            s => Err(format!("the endpoint answered {s} to a record lookup")),
        }
    }

    /// Whether a sent email was logged: by its idempotency key (records made from the raw
    /// message: BCC copies, this watcher, `mailtrail push`), else by its Message-ID (records the
    /// browser made at send time carry a key computed before the Message-ID existed).
    /// `None`: the endpoint cannot say.
    pub async fn is_logged(&self, key: &str, message_id: &str) -> Result<Option<bool>, String> {
        let Some((url, token)) = self.local() else {
            return Ok(None);
        };
        match self.record_exists(key).await? {
            Some(true) => return Ok(Some(true)),
            None => return Ok(None),
            Some(false) => {}
        }
        if self.no_message_id_lookup.get() {
            return Ok(Some(false));
        }
        match self
            .find_records(url, token, "messageId", message_id)
            .await?
        {
            Some(found) => Ok(Some(found)),
            None => {
                self.no_message_id_lookup.set(true);
                tracing::warn!(
                    "the endpoint cannot look records up by Message-ID (GET /v1/records?messageId=); \
                     emails logged from the browser are recognised in the Sent folder only when they carried the BCC address"
                );
                Ok(Some(false))
            }
        }
    }

    /// Whether the endpoint holds a record queued from the compose window `draft_id` (a
    /// brand-new email logged from Outlook is recorded before it has a Message-ID; its sent
    /// copy names the draft in `X-Mailtrail-Draft`). `None`: the endpoint cannot say (not
    /// Mailtrail's local endpoint, or one older than `GET /v1/records?draftId=`).
    pub async fn draft_logged(&self, draft_id: &str) -> Result<Option<bool>, String> {
        let Some((url, token)) = self.local() else {
            return Ok(None);
        };
        if self.no_draft_lookup.get() {
            return Ok(None);
        }
        let found = self.find_records(url, token, "draftId", draft_id).await?;
        if found.is_none() {
            self.no_draft_lookup.set(true);
            tracing::warn!(
                "the endpoint cannot look records up by draft id (GET /v1/records?draftId=; \
                 upgrade mailtrail serve): a sent email that carries X-Mailtrail-Draft (sent from \
                 Outlook with Log checked) is taken as logged without asking"
            );
        }
        Ok(found)
    }

    /// `GET /v1/records?{param}=…`: whether any record was found. `None`: the endpoint does not
    /// know the lookup (404/405, or 400 for a query parameter it does not understand).
    async fn find_records(
        &self,
        url: &str,
        token: &str,
        param: &str,
        value: &str,
    ) -> Result<Option<bool>, String> {
        let req = HttpRequest::get(format!(
            "{url}/v1/records?{param}={}",
            encode_segment(value)
        ))
        .header("Authorization", format!("Bearer {token}"));
        let resp = self.transport.send(req).await.map_err(|e| e.message)?;
        match resp.status {
            200..=299 => {
                let v: serde_json::Value = serde_json::from_str(&resp.body)
                    .map_err(|e| format!("bad record lookup answer: {e}"))?;
                match v["records"].as_array() {
                    Some(a) => Ok(Some(!a.is_empty())),
                    None => Err("bad record lookup answer: no \"records\" list".into()),
                }
            }
            404 | 405 => Ok(None),
            // An older server asks for the parameter it knows (messageId) instead.
            400 if param != "messageId" && resp.body.contains("missing_field") => Ok(None),
            s => Err(format!("the endpoint answered {s} to a record lookup")),
        }
    }

    /// Shows the account's connection status in the local endpoint's web UI. Best effort: the
    /// status file stays the reference when the endpoint is down.
    pub async fn put_status(&self, account: &str, body: &serde_json::Value) -> Result<(), String> {
        let Some((url, token)) = self.local() else {
            return Ok(());
        };
        let req = HttpRequest {
            method: "PUT".into(),
            url: format!("{url}/v1/watch-status/{}", encode_segment(account)),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), format!("Bearer {token}")),
            ],
            body: body.to_string(),
        };
        let resp = self.transport.send(req).await.map_err(|e| e.message)?;
        if (200..300).contains(&resp.status) {
            Ok(())
        } else {
            Err(format!(
                "the endpoint answered {} to the status update: {}",
                resp.status,
                resp.body.chars().take(200).collect::<String>()
            ))
        }
    }

    /// When delivery may start again after the endpoint answered 429 (ms), if that is later
    /// than `now`.
    pub fn paused_until(&self, now: i64) -> Option<i64> {
        let until = self.rate_limited_until.get();
        (until > now).then_some(until)
    }

    /// Notes a 429: nothing more is sent until the wait it asked for is over.
    fn rate_limited(&self, retry_after_ms: Option<u64>, now: i64) {
        let wait = retry_after_ms
            .unwrap_or(RATE_LIMIT_WAIT_MS)
            .min(RATE_LIMIT_WAIT_MAX_MS);
        let until = now.saturating_add(wait as i64);
        if until > self.rate_limited_until.get() {
            if self.paused_until(now).is_none() {
                tracing::warn!(
                    "the endpoint is rate limiting (429): delivery paused for {} s",
                    wait.div_ceil(1000)
                );
            }
            self.rate_limited_until.set(until);
        }
    }

    /// Delivers everything due now, several records at a time, and reports each outcome to
    /// the engine. The caller persists the engine's changes afterwards. `now` is read for
    /// every request: a record is signed with the time it is sent (receivers refuse signatures
    /// more than five minutes old, and a long flush outlasts that).
    ///
    /// Records are taken from the outbox only when a request slot is free, so every record
    /// taken is sent at once. At the first failure no more are taken (the requests in flight
    /// finish): the endpoint is struggling, the rest waits for the retry schedule. After a 429
    /// nothing more is sent, by this flush or a later one, until the wait the endpoint asked
    /// for is over ([`Endpoint::paused_until`]); records not taken keep their attempts.
    pub async fn flush(&self, engine: &mut Engine, now: impl Fn() -> i64 + Copy) -> FlushReport {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut report = FlushReport::default();
        let slots = in_flight(&self.config);
        // Finding due records walks the outbox: refill a quarter of the slots at a time.
        let refill = (slots / 4).max(1);
        let mut taken = 0usize;
        let mut exhausted = false;
        let mut failed = false;
        let mut sends = FuturesUnordered::new();
        loop {
            let free = slots.saturating_sub(sends.len());
            if !exhausted
                && !failed
                && free >= refill
                && taken < MAX_PER_FLUSH
                && self.paused_until(now()).is_none()
            {
                let want = free.min(MAX_PER_FLUSH - taken);
                let due = engine.take_due(now(), want);
                exhausted = due.len() < want;
                taken += due.len();
                for (key, record, maybe_sent) in due {
                    sends.push(async move {
                        let outcome = delivery::deliver(
                            &self.config,
                            &record,
                            maybe_sent,
                            now(),
                            &self.transport,
                        )
                        .await;
                        (key, outcome)
                    });
                }
            }
            let Some((key, outcome)) = sends.next().await else {
                break;
            };
            if let mailtrail::outbox::DeliveryOutcome::Retry {
                error,
                retry_after_ms,
                ..
            } = &outcome
            {
                failed = true;
                if error.status == Some(429) {
                    self.rate_limited(*retry_after_ms, now());
                }
            }
            report.count(&key, &outcome);
            engine.complete(&key, outcome, now(), jitter());
        }
        report
    }
}

/// Percent-encodes a URL path segment (account names are addresses: `@` is kept).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@+".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A number in [0, 1) for retry jitter (spreading retries; nothing secret).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A HubSpot that answers every request with a 429 (after a short think, so requests in
    /// flight really overlap). Returns its base URL and the count of requests it got.
    async fn hubspot_at_its_limit() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = count.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers, then the body by its Content-Length.
                    let body_start = loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < body_start + length {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    let body = r#"{"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#;
                    let resp = format!(
                        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n\
                         Retry-After: 30\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        (base, count)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_429_stops_delivery_until_the_wait_is_over() {
        use mailtrail::outbox::EntryState;
        use std::sync::atomic::Ordering;
        let (base, requests) = hubspot_at_its_limit().await;
        let config = EndpointConfig::Hubspot {
            token: "pat-na1-test".into(),
            base_url: base,
            emails_path: "/crm/v3/objects/emails".into(),
            contacts_path: "/crm/v3/objects/contacts".into(),
            owner_id: None,
        };
        let settings = mailtrail::Settings {
            user_addresses: vec!["alice@ours.test".into()],
            endpoint: Some(config.clone()),
            ..Default::default()
        };
        let mut engine = Engine::new(&settings).unwrap();
        let contacts: HashSet<String> = ["bob@client.test".to_string()].into();
        let now = super::super::account::now_ms();
        for i in 0..40 {
            let raw = format!(
                "From: alice@ours.test\r\nTo: bob@client.test\r\nSubject: Quote {i}\r\n\
                 Message-ID: <q{i}@ours.test>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\nHi\r\n"
            );
            let outcome = engine
                .process_raw(
                    raw.as_bytes(),
                    mailtrail::policy::Trigger::BccCopy,
                    &contacts,
                    now,
                    &Default::default(),
                )
                .unwrap();
            assert!(outcome.queued, "{:?}", outcome.decision.reasons);
        }
        let endpoint = Endpoint::new(config).unwrap();
        let report = endpoint
            .flush(&mut engine, super::super::account::now_ms)
            .await;
        // Only what was in flight when the first 429 came back was sent.
        let sent = requests.load(Ordering::SeqCst);
        assert_eq!(sent, 4, "requests sent into the rate limit");
        assert_eq!((report.retrying, report.delivered), (4, 0));
        let entries: Vec<_> = engine.outbox().entries().collect();
        let untouched = entries
            .iter()
            .filter(|e| matches!(e.state, EntryState::Pending) && e.attempts == 0)
            .count();
        assert_eq!(untouched, 36, "records not sent keep their attempts");
        for e in entries.iter().filter(|e| e.attempts > 0) {
            // Retried no earlier than the Retry-After.
            let at = e.due_at().unwrap();
            assert!(at >= now + 29_000, "{:?}", e.state);
        }
        // The pause holds for every later flush until the wait is over.
        let until = endpoint
            .paused_until(super::super::account::now_ms())
            .unwrap();
        assert!(until >= now + 29_000 && until <= super::super::account::now_ms() + 30_000);
        let again = endpoint
            .flush(&mut engine, super::super::account::now_ms)
            .await;
        assert_eq!((again.retrying, again.delivered), (0, 0));
        assert_eq!(requests.load(Ordering::SeqCst), 4);
        // Once it is over, sending starts again.
        let report = endpoint.flush(&mut engine, move || until + 1).await;
        assert_eq!(report.retrying, 4, "{:?}", report.errors);
        assert_eq!(requests.load(Ordering::SeqCst), 8);
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("alice@example.com"), "alice@example.com");
        assert_eq!(encode_segment("team inbox/1"), "team%20inbox%2F1");
        assert_eq!(encode_segment("łukasz"), "%C5%82ukasz");
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
