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
/// Records taken from the outbox per round.
const ROUND: usize = 200;
/// The local endpoint's lookup takes at most 1000 addresses per request.
const LOOKUP_CHUNK: usize = 500;

pub struct Endpoint {
    config: EndpointConfig,
    transport: Native,
    /// Set once the endpoint showed it cannot look records up by Message-ID.
    no_message_id_lookup: std::cell::Cell<bool>,
}

impl Endpoint {
    pub fn new(config: EndpointConfig) -> Result<Self, String> {
        Ok(Endpoint {
            config,
            transport: Native::new()?,
            no_message_id_lookup: std::cell::Cell::new(false),
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
        let req = HttpRequest::get(format!(
            "{url}/v1/records?messageId={}",
            encode_segment(message_id)
        ))
        .header("Authorization", format!("Bearer {token}"));
        let resp = self.transport.send(req).await.map_err(|e| e.message)?;
        match resp.status {
            200..=299 => {
                let v: serde_json::Value = serde_json::from_str(&resp.body)
                    .map_err(|e| format!("bad record lookup answer: {e}"))?;
                Ok(Some(v["records"].as_array().is_some_and(|a| !a.is_empty())))
            }
            404 | 405 => {
                self.no_message_id_lookup.set(true);
                tracing::warn!(
                    "the endpoint cannot look records up by Message-ID (GET /v1/records?messageId=); \
                     emails logged from the browser are recognised in the Sent folder only when they carried the BCC address"
                );
                Ok(Some(false))
            }
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

    /// Delivers everything due now, several records at a time, and reports each outcome to
    /// the engine. The caller persists the engine's changes afterwards. `now` is read for
    /// every request: a record is signed with the time it is sent (receivers refuse signatures
    /// more than five minutes old, and a long flush outlasts that).
    pub async fn flush(&self, engine: &mut Engine, now: impl Fn() -> i64 + Copy) -> FlushReport {
        use futures_util::StreamExt;
        let mut report = FlushReport::default();
        // Bounded: a flush ends even if records keep becoming due.
        for _ in 0..1_000 {
            // One look at the outbox per round (finding due records walks the whole outbox).
            let due = engine.take_due(now(), ROUND);
            if due.is_empty() {
                break;
            }
            let mut sends = futures_util::stream::iter(due.into_iter().map(
                |(key, record, maybe_sent)| async move {
                    let outcome = delivery::deliver(
                        &self.config,
                        &record,
                        maybe_sent,
                        now(),
                        &self.transport,
                    )
                    .await;
                    (key, outcome)
                },
            ))
            .buffer_unordered(in_flight(&self.config));
            let mut failed = false;
            while let Some((key, outcome)) = sends.next().await {
                report.count(&key, &outcome);
                failed |= matches!(outcome, mailtrail::outbox::DeliveryOutcome::Retry { .. });
                engine.complete(&key, outcome, now(), jitter());
            }
            if failed {
                // The endpoint is struggling: leave the rest to the retry schedule.
                break;
            }
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
