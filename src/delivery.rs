//! Delivering one record to the configured endpoint, over whatever [`Transport`] the edge gives.
//!
//! Response handling is the same for every endpoint: 2xx → done; 409 (or an explicit duplicate
//! answer) → done, it was there already; 408, 425, 429 (honouring `Retry-After` and HubSpot's
//! rate-limit body), 5xx and network errors → retry later; any other 4xx → permanent, kept with
//! the CRM's own message so the user can see it and retry after fixing the cause.

use crate::http::{retry_after_ms, HttpRequest, HttpResponse, Transport, TransportError};
use crate::hubspot::{self, HubSpot};
use crate::outbox::{DeliveryError, DeliveryOutcome};
use crate::record::Record;
use crate::settings::EndpointConfig;
use crate::webhook;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Path of the records route on Mailtrail's local endpoint.
pub const LOCAL_RECORDS_PATH: &str = "/v1/records";

/// Sends `record` to `endpoint`. `maybe_sent` says an earlier attempt may have reached the CRM
/// (for HubSpot, which has no idempotency key, an existing copy is looked for first).
pub async fn deliver<T: Transport>(
    endpoint: &EndpointConfig,
    record: &Record,
    maybe_sent: bool,
    now_ms: i64,
    transport: &T,
) -> DeliveryOutcome {
    match endpoint {
        EndpointConfig::Local { url, token } => {
            let url = format!("{}{}", url.trim_end_matches('/'), LOCAL_RECORDS_PATH);
            let request = match webhook::request(&url, token, record, now_ms.div_euclid(1000)) {
                Ok(r) => r.header("Authorization", format!("Bearer {token}")),
                Err(e) => return permanent(None, format!("cannot encode the record: {e}"), None),
            };
            signed_post(transport, request, now_ms).await
        }
        EndpointConfig::Webhook { url, secret } => {
            let request = match webhook::request(url, secret, record, now_ms.div_euclid(1000)) {
                Ok(r) => r,
                Err(e) => return permanent(None, format!("cannot encode the record: {e}"), None),
            };
            signed_post(transport, request, now_ms).await
        }
        EndpointConfig::Hubspot {
            token,
            base_url,
            emails_path,
            contacts_path,
        } => {
            let hs = HubSpot {
                token,
                base_url,
                emails_path,
                contacts_path,
            };
            deliver_hubspot(&hs, record, maybe_sent, now_ms, transport).await
        }
    }
}

async fn signed_post<T: Transport>(
    transport: &T,
    request: HttpRequest,
    now_ms: i64,
) -> DeliveryOutcome {
    match transport.send(request).await {
        Err(e) => network_retry(e),
        Ok(resp) => {
            let remote_id = || {
                serde_json::from_str::<serde_json::Value>(&resp.body)
                    .ok()
                    .and_then(|v| {
                        v["id"]
                            .as_str()
                            .map(str::to_string)
                            .or_else(|| v["id"].as_i64().map(|i| i.to_string()))
                    })
            };
            if (200..300).contains(&resp.status) {
                let duplicate = serde_json::from_str::<serde_json::Value>(&resp.body)
                    .ok()
                    .and_then(|v| v["duplicate"].as_bool())
                    .unwrap_or(false);
                if duplicate {
                    DeliveryOutcome::Duplicate {
                        remote_id: remote_id(),
                    }
                } else {
                    DeliveryOutcome::Delivered {
                        remote_id: remote_id(),
                    }
                }
            } else if resp.status == 409 {
                DeliveryOutcome::Duplicate {
                    remote_id: remote_id(),
                }
            } else {
                let (message, code) = generic_error(&resp);
                classify_failure(&resp, message, code, now_ms)
            }
        }
    }
}

/// Status-based classification of a failed answer.
fn classify_failure(
    resp: &HttpResponse,
    message: String,
    code: Option<String>,
    now_ms: i64,
) -> DeliveryOutcome {
    let error = DeliveryError {
        status: Some(resp.status),
        message,
        code,
    };
    // Mailtrail's own endpoint refuses a signature whose timestamp is more than five minutes
    // away from its clock. The record is fine: the next attempt is signed afresh (and if the
    // clocks really disagree, the error stays visible on the retrying record).
    let stale_signature =
        resp.status == 401 && error.code.as_deref() == Some("timestamp_out_of_window");
    match resp.status {
        _ if stale_signature => DeliveryOutcome::Retry {
            retry_after_ms: None,
            error,
            maybe_sent: false,
        },
        408 | 425 | 429 | 500..=599 => DeliveryOutcome::Retry {
            retry_after_ms: resp
                .header("Retry-After")
                .and_then(|v| retry_after_ms(v, now_ms)),
            error,
            maybe_sent: false,
        },
        _ => DeliveryOutcome::Permanent { error },
    }
}

/// The `error.message` / `message` of a JSON error body, or the start of a text one.
fn generic_error(resp: &HttpResponse) -> (String, Option<String>) {
    let parsed = serde_json::from_str::<serde_json::Value>(&resp.body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v["error"]["message"]
            .as_str()
            .or_else(|| v["message"].as_str())
            .or_else(|| v["error"].as_str())
            .map(str::to_string)
    });
    let code = parsed.as_ref().and_then(|v| {
        v["error"]["code"]
            .as_str()
            .or_else(|| v["code"].as_str())
            .map(str::to_string)
    });
    let message = match message {
        Some(m) => format!("the endpoint answered {}: {m}", resp.status),
        None => {
            let snippet: String = resp.body.chars().take(200).collect();
            if snippet.trim().is_empty() {
                format!("the endpoint answered {}", resp.status)
            } else {
                format!("the endpoint answered {}: {}", resp.status, snippet.trim())
            }
        }
    };
    (message, code)
}

fn network_retry(e: TransportError) -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        error: DeliveryError {
            status: None,
            message: format!("could not reach the endpoint: {}", e.message),
            code: Some("network".into()),
        },
        retry_after_ms: None,
        maybe_sent: e.maybe_sent,
    }
}

fn permanent(status: Option<u16>, message: String, code: Option<String>) -> DeliveryOutcome {
    DeliveryOutcome::Permanent {
        error: DeliveryError {
            status,
            message,
            code,
        },
    }
}

/// How long after a create that may have landed the next attempt waits. HubSpot's search
/// indexes new objects with a delay ("may take a few moments" in its CRM search docs); searching
/// sooner could miss the copy and create the email twice, which HubSpot, having no idempotency
/// key, would accept.
pub const HUBSPOT_SEARCH_SETTLE_MS: u64 = 60_000;

/// The HubSpot sequence: find (or create) the contacts, check for an earlier copy when an attempt
/// may have landed, then create the email with its associations.
async fn deliver_hubspot<T: Transport>(
    hs: &HubSpot<'_>,
    record: &Record,
    maybe_sent: bool,
    now_ms: i64,
    transport: &T,
) -> DeliveryOutcome {
    let addresses: Vec<&str> = record.contacts.iter().map(|c| c.address.as_str()).collect();
    let mut ids: HashMap<String, String> = HashMap::new();
    for chunk in addresses.chunks(hubspot::BATCH_LIMIT) {
        match hubspot_call(transport, hubspot::read_contacts_request(hs, chunk), now_ms).await {
            Ok(resp) => ids.extend(hubspot::contact_ids(&resp)),
            Err(outcome) => return outcome,
        }
    }
    let missing: Vec<(&str, Option<&str>)> = record
        .contacts
        .iter()
        .filter(|c| c.create && !ids.contains_key(&c.address))
        .map(|c| (c.address.as_str(), c.name.as_deref()))
        .collect();
    for chunk in missing.chunks(hubspot::BATCH_LIMIT) {
        match hubspot_call(
            transport,
            hubspot::create_contacts_request(hs, chunk),
            now_ms,
        )
        .await
        {
            Ok(resp) => ids.extend(hubspot::contact_ids(&resp)),
            // 409: someone created them meanwhile; read them back.
            Err(DeliveryOutcome::Duplicate { .. }) => {
                let again: Vec<&str> = chunk.iter().map(|(a, _)| *a).collect();
                match hubspot_call(
                    transport,
                    hubspot::read_contacts_request(hs, &again),
                    now_ms,
                )
                .await
                {
                    Ok(resp) => ids.extend(hubspot::contact_ids(&resp)),
                    Err(outcome) => return outcome,
                }
            }
            Err(outcome) => return outcome,
        }
    }
    if maybe_sent {
        match hubspot_call(
            transport,
            hubspot::search_existing_request(hs, record),
            now_ms,
        )
        .await
        {
            Ok(resp) => {
                if let Some(id) = hubspot::first_search_id(&resp) {
                    return DeliveryOutcome::Duplicate {
                        remote_id: Some(id),
                    };
                }
            }
            Err(outcome) => return outcome,
        }
    }
    let contact_ids: Vec<String> = record
        .contacts
        .iter()
        .filter_map(|c| ids.get(&c.address).cloned())
        .collect();
    match hubspot_call(
        transport,
        hubspot::create_email_request(hs, record, &contact_ids),
        now_ms,
    )
    .await
    {
        Ok(resp) => DeliveryOutcome::Delivered {
            remote_id: hubspot::created_id(&resp),
        },
        Err(DeliveryOutcome::Retry {
            error,
            retry_after_ms,
            ..
        }) if error.status.is_none() || error.status.is_some_and(|s| s >= 500) => {
            // The create may have reached HubSpot: the next attempt must look before creating,
            // and not too soon, or the search may not show the copy yet.
            DeliveryOutcome::Retry {
                error,
                retry_after_ms: Some(retry_after_ms.unwrap_or(0).max(HUBSPOT_SEARCH_SETTLE_MS)),
                maybe_sent: true,
            }
        }
        Err(outcome) => outcome,
    }
}

/// One HubSpot call: Ok for 2xx/207, otherwise the outcome to report.
async fn hubspot_call<T: Transport>(
    transport: &T,
    request: HttpRequest,
    now_ms: i64,
) -> Result<HttpResponse, DeliveryOutcome> {
    let resp = transport.send(request).await.map_err(network_retry)?;
    if (200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let (message, code) = hubspot::error_message(&resp);
    Err(match resp.status {
        409 => DeliveryOutcome::Duplicate { remote_id: None },
        429 => DeliveryOutcome::Retry {
            retry_after_ms: Some(hubspot::rate_limit_wait_ms(&resp, now_ms)),
            error: DeliveryError { status: Some(429), message, code },
            maybe_sent: false,
        },
        401 | 403 => permanent(
            Some(resp.status),
            format!("{message} (check the private-app token and its scopes: crm.objects.contacts.read/write, sales-email-read)"),
            code,
        ),
        _ => classify_failure(&resp, message, code, now_ms),
    })
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionReport {
    pub ok: bool,
    pub status: Option<u16>,
    pub message: String,
}

/// Checks that the endpoint is reachable and accepts the credentials, without logging anything.
pub async fn test_connection<T: Transport>(
    endpoint: &EndpointConfig,
    transport: &T,
) -> ConnectionReport {
    let request = match endpoint {
        EndpointConfig::Local { url, token } => {
            HttpRequest::get(format!("{}/v1/health", url.trim_end_matches('/')))
                .header("Authorization", format!("Bearer {token}"))
        }
        // A webhook has no standard read route: an OPTIONS request shows it is reachable.
        EndpointConfig::Webhook { url, .. } => HttpRequest {
            method: "OPTIONS".into(),
            url: url.clone(),
            headers: Vec::new(),
            body: String::new(),
        },
        EndpointConfig::Hubspot {
            token,
            base_url,
            contacts_path,
            ..
        } => HttpRequest::get(format!(
            "{}{}?limit=1",
            base_url.trim_end_matches('/'),
            contacts_path
        ))
        .header("Authorization", format!("Bearer {token}")),
    };
    match transport.send(request).await {
        Err(e) => ConnectionReport {
            ok: false,
            status: None,
            message: format!("could not reach the endpoint: {}", e.message),
        },
        Ok(resp) => {
            let authenticated = match endpoint {
                EndpointConfig::Local { .. } => {
                    serde_json::from_str::<serde_json::Value>(&resp.body)
                        .ok()
                        .and_then(|v| v["authenticated"].as_bool())
                        .unwrap_or(false)
                }
                _ => true,
            };
            let ok = match endpoint {
                EndpointConfig::Webhook { .. } => {
                    resp.status < 500 && resp.status != 401 && resp.status != 403
                }
                _ => (200..300).contains(&resp.status) && authenticated,
            };
            let message = if ok {
                "connected".to_string()
            } else if resp.status == 401 || resp.status == 403 || !authenticated {
                "the endpoint is reachable but rejected the token".to_string()
            } else {
                generic_error(&resp).0
            };
            ConnectionReport {
                ok,
                status: Some(resp.status),
                message,
            }
        }
    }
}

/// Asks the endpoint which of these (normalised) addresses are contacts. `None` when the endpoint
/// cannot answer (a generic webhook): the caller then relies on the contacts it logged before.
pub async fn lookup_contacts<T: Transport>(
    endpoint: &EndpointConfig,
    addresses: &[String],
    transport: &T,
) -> Result<Option<Vec<String>>, DeliveryError> {
    match endpoint {
        EndpointConfig::Webhook { .. } => Ok(None),
        EndpointConfig::Local { url, token } => {
            let body = serde_json::json!({ "addresses": addresses }).to_string();
            let req = HttpRequest::post_json(
                format!("{}/v1/contacts/lookup", url.trim_end_matches('/')),
                body,
            )
            .header("Authorization", format!("Bearer {token}"));
            let resp = transport.send(req).await.map_err(|e| DeliveryError {
                status: None,
                message: e.message,
                code: Some("network".into()),
            })?;
            if !(200..300).contains(&resp.status) {
                let (message, code) = generic_error(&resp);
                return Err(DeliveryError {
                    status: Some(resp.status),
                    message,
                    code,
                });
            }
            let v: serde_json::Value =
                serde_json::from_str(&resp.body).map_err(|e| DeliveryError {
                    status: Some(resp.status),
                    message: format!("bad lookup answer: {e}"),
                    code: None,
                })?;
            let known = v["contacts"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, c)| !c.is_null())
                        .map(|(a, _)| a.clone())
                        .collect()
                })
                .unwrap_or_default();
            Ok(Some(known))
        }
        EndpointConfig::Hubspot {
            token,
            base_url,
            emails_path,
            contacts_path,
        } => {
            let hs = HubSpot {
                token,
                base_url,
                emails_path,
                contacts_path,
            };
            let mut known = Vec::new();
            let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
            for chunk in refs.chunks(hubspot::BATCH_LIMIT) {
                match hubspot_call(transport, hubspot::read_contacts_request(&hs, chunk), 0).await {
                    Ok(resp) => known.extend(hubspot::contact_ids(&resp).into_keys()),
                    Err(DeliveryOutcome::Retry { error, .. })
                    | Err(DeliveryOutcome::Permanent { error }) => return Err(error),
                    Err(_) => {}
                }
            }
            Ok(Some(known))
        }
    }
}

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct FlushReport {
    pub delivered: u32,
    pub duplicates: u32,
    pub retrying: u32,
    pub failed: u32,
    /// The errors met, by key (for logs and the CLI).
    pub errors: Vec<(String, DeliveryError)>,
}

impl FlushReport {
    pub fn count(&mut self, key: &str, outcome: &DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Delivered { .. } => self.delivered += 1,
            DeliveryOutcome::Duplicate { .. } => self.duplicates += 1,
            DeliveryOutcome::Retry { error, .. } => {
                self.retrying += 1;
                self.errors.push((key.to_string(), error.clone()));
            }
            DeliveryOutcome::Permanent { error } => {
                self.failed += 1;
                self.errors.push((key.to_string(), error.clone()));
            }
        }
    }
}

/// Sends everything due now, one record at a time, and records each outcome in the engine.
/// `now` is the clock, read again for every request: a record is signed with the time it is
/// sent, not the time the flush began (a receiver rejects signatures older than five minutes,
/// and a flush of many records over a slow link can take longer than that). `jitter` supplies
/// numbers in [0, 1) for the retry backoff.
pub async fn flush<T: Transport>(
    engine: &mut crate::engine::Engine,
    transport: &T,
    mut now: impl FnMut() -> i64,
    mut jitter: impl FnMut() -> f64,
) -> FlushReport {
    let mut report = FlushReport::default();
    let endpoint = engine.settings().endpoint_or_default();
    // Bounded rounds: a flush must end even if records keep becoming due.
    for _ in 0..50 {
        let due = engine.take_due(now(), 20);
        if due.is_empty() {
            break;
        }
        for (key, record, maybe_sent) in due {
            let outcome = deliver(&endpoint, &record, maybe_sent, now(), transport).await;
            report.count(&key, &outcome);
            engine.complete(&key, outcome, now(), jitter());
        }
    }
    report
}
