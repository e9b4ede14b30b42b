//! Delivering one record to the configured endpoint, over whatever [`Transport`] the edge gives.
//!
//! Response handling is the same for every endpoint: 2xx → done; 408, 423, 425, 429, 477
//! (honouring `Retry-After` and HubSpot's rate-limit body), 5xx and network errors → retry
//! later; 401/403 → the endpoint refused the credentials: every record would fail the same way,
//! so the flush stops and the records wait (retrying, never dead for it) until the token is
//! fixed; any other 4xx → permanent, kept with the CRM's own message so the user can see it and
//! retry after fixing the cause. A 409 means "already there" for the signed endpoints (the
//! record's key was seen) and for HubSpot only when creating a contact.

use crate::http::{retry_after_ms, HttpRequest, HttpResponse, Transport, TransportError};
use crate::hubspot::{self, HubSpot};
use crate::outbox::{DeliveryError, DeliveryOutcome};
use crate::reason::{Reason, ReasonCode};
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
            owner_id,
        } => {
            let hs = HubSpot {
                token,
                base_url,
                emails_path,
                contacts_path,
                owner_id: owner_id.as_deref(),
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
    if let Some(problem) = request.header_problem() {
        return unsendable_token(problem);
    }
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
                        associated: None,
                        notes: Vec::new(),
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
    let retry_after = resp
        .header("Retry-After")
        .and_then(|v| retry_after_ms(v, now_ms));
    match resp.status {
        _ if stale_signature => DeliveryOutcome::Retry {
            retry_after_ms: None,
            error,
            maybe_sent: false,
            credentials_rejected: false,
        },
        401 | 403 => credentials_rejected(
            resp.status,
            format!(
                "{}{} — the endpoint rejected the token or secret: check it in the settings",
                error.message,
                error
                    .code
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
        // 423 Locked: HubSpot asks to wait at least two seconds; 477 Migration in Progress:
        // the account is being moved between data centres, Retry-After says until when.
        423 => DeliveryOutcome::Retry {
            retry_after_ms: Some(retry_after.unwrap_or(0).max(LOCKED_RETRY_MS)),
            error,
            maybe_sent: false,
            credentials_rejected: false,
        },
        408 | 425 | 429 | 477 | 500..=599 => DeliveryOutcome::Retry {
            retry_after_ms: retry_after,
            error,
            maybe_sent: false,
            credentials_rejected: false,
        },
        _ => DeliveryOutcome::Permanent { error },
    }
}

/// The shortest wait after a `423 Locked`.
pub const LOCKED_RETRY_MS: u64 = 2_000;

/// How long records wait after the endpoint refused the token (401/403). Long: nothing changes
/// until someone fixes the token, and then the user's "retry" (or the next record queued, which
/// is tried at once) shows whether it works.
pub const TOKEN_REJECTED_RETRY_MS: u64 = 30 * 60 * 1000;

/// The code of an error that is the endpoint's credentials, not the record (see
/// [`DeliveryOutcome::Retry`]'s `credentials_rejected`).
pub const TOKEN_REJECTED: &str = "token-rejected";

fn credentials_rejected(status: u16, message: String) -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        error: DeliveryError {
            status: Some(status),
            message,
            code: Some(TOKEN_REJECTED.into()),
        },
        retry_after_ms: Some(TOKEN_REJECTED_RETRY_MS),
        maybe_sent: false,
        credentials_rejected: true,
    }
}

/// A request whose token (or another header) no HTTP client would send: like a rejected token,
/// it is the settings, not the record, and it was never sent.
fn unsendable_token(problem: String) -> DeliveryOutcome {
    DeliveryOutcome::Retry {
        error: DeliveryError {
            status: None,
            message: problem,
            code: Some(TOKEN_REJECTED.into()),
        },
        retry_after_ms: Some(TOKEN_REJECTED_RETRY_MS),
        maybe_sent: false,
        credentials_rejected: true,
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
        credentials_rejected: false,
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
///
/// Contacts HubSpot refuses to create (an address it finds invalid) are left out with a note,
/// and the email is logged with the others; when no contact at all can be associated, the
/// email is not created (it would be on no timeline) and the record fails with `no-contact`.
async fn deliver_hubspot<T: Transport>(
    hs: &HubSpot<'_>,
    record: &Record,
    maybe_sent: bool,
    now_ms: i64,
    transport: &T,
) -> DeliveryOutcome {
    let mut notes: Vec<Reason> = Vec::new();
    let addresses: Vec<&str> = record.contacts.iter().map(|c| c.address.as_str()).collect();
    let mut ids: HashMap<String, String> = HashMap::new();
    for chunk in addresses.chunks(hubspot::BATCH_LIMIT) {
        match hubspot_call(transport, hubspot::read_contacts_request(hs, chunk), now_ms).await {
            Ok(resp) => ids.extend(hubspot::contact_ids(&resp)),
            Err(failure) => return failure.outcome,
        }
    }
    let missing: Vec<(&str, Option<&str>)> = record
        .contacts
        .iter()
        .filter(|c| c.create && !ids.contains_key(&c.address))
        .map(|c| (c.address.as_str(), c.name.as_deref()))
        .collect();
    for chunk in missing.chunks(hubspot::BATCH_LIMIT) {
        if let Err(outcome) =
            create_contacts(hs, chunk, &mut ids, &mut notes, now_ms, transport).await
        {
            return outcome;
        }
    }
    for c in &record.contacts {
        if !c.create && !ids.contains_key(&c.address) {
            notes.push(
                Reason::about(ReasonCode::RecipientNotContact, &c.address)
                    .with_detail("HubSpot has no contact with this address"),
            );
        }
    }
    // Each associated address once, in the record's order.
    let mut associated: Vec<String> = Vec::new();
    let mut contact_ids: Vec<String> = Vec::new();
    for c in &record.contacts {
        if let Some(id) = ids.get(&c.address) {
            if !associated.contains(&c.address) {
                associated.push(c.address.clone());
                contact_ids.push(id.clone());
            }
        }
    }
    if contact_ids.is_empty() {
        return no_contact(record, &notes);
    }
    if maybe_sent {
        match search_existing(hs, record, &contact_ids[0], now_ms, transport).await {
            Ok(Some(id)) => {
                return DeliveryOutcome::Duplicate {
                    remote_id: Some(id),
                }
            }
            Ok(None) => {}
            Err(outcome) => return outcome,
        }
    }
    let mut bodies = hubspot::fit_bodies(record, false);
    let mut text_only = false;
    let created = loop {
        let request = hubspot::create_email_request(hs, record, &bodies, &contact_ids);
        match hubspot_call(transport, request, now_ms).await {
            Ok(resp) => break Ok(resp),
            // HubSpot counted a body longer than we did: once more, with text only (cut in bytes,
            // within the limit however it counts).
            Err(HsFailure {
                response: Some(resp),
                ..
            }) if !text_only && hubspot::refuses_body_length(&resp) => {
                text_only = true;
                bodies = hubspot::fit_bodies(record, true);
            }
            Err(HsFailure {
                response: Some(resp),
                ..
            }) if hs.owner_id.is_some() && hubspot::refuses_owner(&resp) => {
                break Err(invalid_owner(hs.owner_id.unwrap_or_default(), &resp));
            }
            Err(failure) => break Err(failure.outcome),
        }
    };
    match created {
        Ok(resp) => {
            if let Some(detail) = bodies.shortened {
                notes.push(Reason::new(ReasonCode::BodyTruncated).with_detail(detail));
            }
            DeliveryOutcome::Delivered {
                remote_id: hubspot::created_id(&resp),
                associated: Some(associated),
                notes,
            }
        }
        Err(DeliveryOutcome::Retry {
            error,
            retry_after_ms,
            credentials_rejected,
            ..
        }) if error.status.is_none() || error.status.is_some_and(|s| s >= 500) => {
            // The create may have reached HubSpot: the next attempt must look before creating,
            // and not too soon, or the search may not show the copy yet.
            DeliveryOutcome::Retry {
                error,
                retry_after_ms: Some(retry_after_ms.unwrap_or(0).max(HUBSPOT_SEARCH_SETTLE_MS)),
                maybe_sent: true,
                credentials_rejected,
            }
        }
        Err(outcome) => outcome,
    }
}

/// HubSpot refused the configured owner: a settings problem, said as one. The record is kept
/// (failed, retryable) for after the owner id is fixed.
fn invalid_owner(owner_id: &str, resp: &HttpResponse) -> DeliveryOutcome {
    let (message, _) = hubspot::error_message(resp);
    permanent(
        Some(resp.status),
        format!(
            "{message} — HubSpot has no owner {owner_id} (the owner id in the settings): fix it \
             or clear it (\"Test connection\" finds yours), then retry"
        ),
        Some("invalid-owner".into()),
    )
}

/// The permanent failure for an email no contact could be associated with.
fn no_contact(record: &Record, notes: &[Reason]) -> DeliveryOutcome {
    let addresses: Vec<&str> = record.contacts.iter().map(|c| c.address.as_str()).collect();
    let mut message = if addresses.is_empty() {
        "no HubSpot contact to associate the email with (the record names none): it was not \
         created, as it would show on no timeline"
            .to_string()
    } else {
        format!(
            "no HubSpot contact could be found or created for {}: the email was not created, as \
             it would show on no timeline",
            addresses.join(", ")
        )
    };
    let why: Vec<String> = notes
        .iter()
        .filter_map(|n| {
            Some(format!(
                "{}: {}",
                n.address.as_deref()?,
                n.detail.as_deref().unwrap_or(n.code.as_str())
            ))
        })
        .collect();
    if !why.is_empty() {
        message.push_str(&format!(" ({})", why.join("; ")));
    }
    permanent(None, message, Some("no-contact".into()))
}

/// Creates these contacts (at most [`hubspot::BATCH_LIMIT`]) and adds their ids to `ids`.
///
/// One `batch/create` first. HubSpot refuses a whole batch for one bad input: a `409` when one
/// address already exists (someone created it meanwhile; the message names only an id), a `400`
/// when one address is invalid. Then the rest are created one by one, where a `409`'s
/// "Existing ID" belongs to the one address sent, and a `400` leaves just that address out, with
/// a note for the user. Other failures (rate limit, server, token) end the attempt.
async fn create_contacts<T: Transport>(
    hs: &HubSpot<'_>,
    people: &[(&str, Option<&str>)],
    ids: &mut HashMap<String, String>,
    notes: &mut Vec<Reason>,
    now_ms: i64,
    transport: &T,
) -> Result<(), DeliveryOutcome> {
    match hubspot_call(
        transport,
        hubspot::create_contacts_request(hs, people),
        now_ms,
    )
    .await
    {
        // 200/201, or a 207 multi-status: the created ones have ids, the rest go one by one.
        Ok(resp) => ids.extend(hubspot::contact_ids(&resp)),
        Err(HsFailure {
            response: Some(resp),
            ..
        }) if resp.status == 409 || resp.status == 400 => {}
        Err(failure) => return Err(failure.outcome),
    }
    for &(address, name) in people {
        if ids.contains_key(address) {
            continue;
        }
        let request = hubspot::create_contacts_request(hs, &[(address, name)]);
        match hubspot_call(transport, request, now_ms).await {
            Ok(resp) => {
                let created = hubspot::contact_ids(&resp);
                match created.get(address) {
                    Some(id) => {
                        ids.insert(address.to_string(), id.clone());
                    }
                    // A create that names no id for it: read it back.
                    None => read_one(hs, address, ids, now_ms, transport).await?,
                }
            }
            Err(HsFailure {
                response: Some(resp),
                ..
            }) if resp.status == 409 => match hubspot::existing_contact_id(&resp) {
                Some(id) => {
                    ids.insert(address.to_string(), id);
                }
                None => read_one(hs, address, ids, now_ms, transport).await?,
            },
            Err(HsFailure {
                response: Some(resp),
                ..
            }) if resp.status == 400 => {
                let (message, _) = hubspot::error_message(&resp);
                notes
                    .push(Reason::about(ReasonCode::ContactRejected, address).with_detail(message));
            }
            Err(failure) => return Err(failure.outcome),
        }
    }
    Ok(())
}

/// Reads one contact back by address (after a create that did not name its id).
async fn read_one<T: Transport>(
    hs: &HubSpot<'_>,
    address: &str,
    ids: &mut HashMap<String, String>,
    now_ms: i64,
    transport: &T,
) -> Result<(), DeliveryOutcome> {
    let resp = hubspot_call(
        transport,
        hubspot::read_contacts_request(hs, &[address]),
        now_ms,
    )
    .await
    .map_err(|f| f.outcome)?;
    ids.extend(hubspot::contact_ids(&resp));
    Ok(())
}

/// Looks for the copy an earlier attempt may have created. A `400` (HubSpot refusing the
/// association filter, say) is tried once more with the email's own properties only; if that is
/// refused too, nothing can be checked and `None` lets the email be created: a possible second
/// copy is better than an email never logged (which a permanent failure here would mean).
async fn search_existing<T: Transport>(
    hs: &HubSpot<'_>,
    record: &Record,
    contact_id: &str,
    now_ms: i64,
    transport: &T,
) -> Result<Option<String>, DeliveryOutcome> {
    for contact in [Some(contact_id), None] {
        let request = hubspot::search_existing_request(hs, record, contact);
        match hubspot_call(transport, request, now_ms).await {
            Ok(resp) => return Ok(hubspot::first_search_id(&resp)),
            Err(HsFailure {
                response: Some(resp),
                ..
            }) if resp.status == 400 => continue,
            Err(failure) => return Err(failure.outcome),
        }
    }
    Ok(None)
}

/// A HubSpot call that did not succeed: the outcome to report, and HubSpot's answer when there
/// was one (the contact steps read a `409`'s or a `400`'s body).
struct HsFailure {
    outcome: DeliveryOutcome,
    response: Option<HttpResponse>,
}

/// One HubSpot call: Ok for 2xx/207, otherwise the outcome to report. No status means "already
/// there" here: only a contact create's `409` does, and the contact steps handle it.
async fn hubspot_call<T: Transport>(
    transport: &T,
    request: HttpRequest,
    now_ms: i64,
) -> Result<HttpResponse, HsFailure> {
    let failed = |outcome| HsFailure {
        outcome,
        response: None,
    };
    if let Some(problem) = request.header_problem() {
        return Err(failed(unsendable_token(problem)));
    }
    let resp = transport
        .send(request)
        .await
        .map_err(|e| failed(network_retry(e)))?;
    if (200..300).contains(&resp.status) {
        return Ok(resp);
    }
    let (message, code) = hubspot::error_message(&resp);
    let outcome = match resp.status {
        429 => DeliveryOutcome::Retry {
            retry_after_ms: Some(hubspot::rate_limit_wait_ms(&resp, now_ms)),
            error: DeliveryError {
                status: Some(429),
                message,
                code,
            },
            maybe_sent: false,
            credentials_rejected: false,
        },
        401 | 403 => credentials_rejected(
            resp.status,
            format!(
                "{message}{} — the CRM rejected the token: check the private-app token and its \
                 scopes (crm.objects.contacts.read/write, sales-email-read)",
                code.map(|c| format!(" ({c})")).unwrap_or_default()
            ),
        ),
        _ => classify_failure(&resp, message, code, now_ms),
    };
    Err(HsFailure {
        outcome,
        response: Some(resp),
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
    /// HubSpot: the owner found for the user's address, or why none was (never a reason for
    /// `ok` to be false). Absent for other endpoints and when the connection failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerLookup>,
}

/// How looking up the user's HubSpot owner went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "kebab-case")]
pub enum OwnerStatus {
    /// HubSpot has an owner with the address: `owner` names it.
    Found,
    /// No HubSpot user has the address.
    NotFound,
    /// The token may not read owners: the private app lacks [`hubspot::OWNERS_SCOPE`].
    MissingScope,
    /// The settings name no address of the user's to look up.
    NoAddress,
    /// Another failure (network, HubSpot error); `message` says which.
    Failed,
}

/// "Test connection"'s HubSpot owner lookup by the user's first address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct OwnerLookup {
    pub status: OwnerStatus,
    /// The address looked up.
    pub address: Option<String>,
    pub owner: Option<hubspot::Owner>,
    /// An English explanation (UIs show a translation of `status`).
    pub message: String,
}

/// Checks that the endpoint is reachable and accepts the credentials, without logging anything.
/// (No owner lookup: see [`test_connection_as`].)
pub async fn test_connection<T: Transport>(
    endpoint: &EndpointConfig,
    transport: &T,
) -> ConnectionReport {
    test_connection_as(endpoint, None, transport).await
}

/// "Test connection" for a user: [`test_connection`], and for HubSpot, once connected, the
/// HubSpot owner whose address is `user_address` (the first of the settings' `userAddresses`),
/// to set as the owner of the emails created. The lookup never fails the test.
pub async fn test_connection_as<T: Transport>(
    endpoint: &EndpointConfig,
    user_address: Option<&str>,
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
    if let Some(problem) = request.header_problem() {
        return ConnectionReport {
            ok: false,
            status: None,
            message: problem,
            owner: None,
        };
    }
    let report = match transport.send(request).await {
        Err(e) => ConnectionReport {
            ok: false,
            status: None,
            message: format!("could not reach the endpoint: {}", e.message),
            owner: None,
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
                owner: None,
            }
        }
    };
    match endpoint {
        EndpointConfig::Hubspot {
            token,
            base_url,
            emails_path,
            contacts_path,
            owner_id,
        } if report.ok => {
            let mut report = test_hubspot_emails(token, base_url, emails_path, transport).await;
            if report.ok {
                let hs = HubSpot {
                    token,
                    base_url,
                    emails_path,
                    contacts_path,
                    owner_id: owner_id.as_deref(),
                };
                report.owner = Some(lookup_owner(&hs, user_address, transport).await);
            }
            report
        }
        _ => report,
    }
}

/// The HubSpot owner with the user's address (`GET /crm/v3/owners/?email=`).
async fn lookup_owner<T: Transport>(
    hs: &HubSpot<'_>,
    user_address: Option<&str>,
    transport: &T,
) -> OwnerLookup {
    let lookup = |status, address: &str, owner, message| OwnerLookup {
        status,
        address: Some(address.to_string()),
        owner,
        message,
    };
    let Some(address) = user_address.map(str::trim).filter(|a| !a.is_empty()) else {
        return OwnerLookup {
            status: OwnerStatus::NoAddress,
            address: None,
            owner: None,
            message: "no address of yours in the settings (userAddresses) to find your HubSpot \
                      owner by"
                .into(),
        };
    };
    let resp = match transport
        .send(hubspot::owner_by_email_request(hs, address))
        .await
    {
        Ok(resp) => resp,
        Err(e) => {
            return lookup(
                OwnerStatus::Failed,
                address,
                None,
                format!(
                    "could not look up the HubSpot owner for {address}: {}",
                    e.message
                ),
            )
        }
    };
    match resp.status {
        200..=299 => match hubspot::first_owner(&resp) {
            Some(owner) => {
                let who = match (&owner.name, &owner.email) {
                    (Some(n), Some(e)) => format!("{n} <{e}>"),
                    (Some(n), None) => n.clone(),
                    (None, Some(e)) => e.clone(),
                    (None, None) => address.to_string(),
                };
                let setting = match hs.owner_id {
                    Some(id) if id == owner.id => " (the owner id in the settings)".to_string(),
                    Some(id) => format!("; the settings name owner {id} instead"),
                    None => "; the settings name no owner, so emails are created without one"
                        .to_string(),
                };
                let message = format!("HubSpot owner {} is {who}{setting}", owner.id);
                lookup(OwnerStatus::Found, address, Some(owner), message)
            }
            None => lookup(
                OwnerStatus::NotFound,
                address,
                None,
                format!(
                    "HubSpot has no user (owner) with the address {address}: ask a HubSpot admin \
                     to add you, or enter an owner id by hand"
                ),
            ),
        },
        401 | 403 => lookup(
            OwnerStatus::MissingScope,
            address,
            None,
            format!(
                "the token may not read HubSpot owners ({}): give the private app the {} scope \
                 to find your owner id, or enter it by hand",
                hubspot::error_message(&resp).0,
                hubspot::OWNERS_SCOPE
            ),
        ),
        _ => lookup(
            OwnerStatus::Failed,
            address,
            None,
            format!(
                "could not look up the HubSpot owner for {address}: {}",
                hubspot::error_message(&resp).0
            ),
        ),
    }
}

/// The second half of HubSpot's "Test connection": reading contacts works, can the token reach
/// the emails object too? (A private app without the emails scope reads contacts fine and then
/// has every email refused.)
async fn test_hubspot_emails<T: Transport>(
    token: &str,
    base_url: &str,
    emails_path: &str,
    transport: &T,
) -> ConnectionReport {
    let request = HttpRequest::get(format!(
        "{}{}?limit=1",
        base_url.trim_end_matches('/'),
        emails_path
    ))
    .header("Authorization", format!("Bearer {token}"));
    match transport.send(request).await {
        Err(e) => ConnectionReport {
            ok: false,
            status: None,
            message: format!(
                "contacts are reachable, but emails could not be reached: {}",
                e.message
            ),
            owner: None,
        },
        Ok(resp) if (200..300).contains(&resp.status) => ConnectionReport {
            ok: true,
            status: Some(resp.status),
            message: "connected".into(),
            owner: None,
        },
        Ok(resp) if resp.status == 401 || resp.status == 403 => ConnectionReport {
            ok: false,
            status: Some(resp.status),
            message: format!(
                "the token reads contacts but may not use emails ({}): give the private app the \
                 sales-email-read scope (or crm.objects.emails.read and .write)",
                hubspot::error_message(&resp).0
            ),
            owner: None,
        },
        Ok(resp) => ConnectionReport {
            ok: false,
            status: Some(resp.status),
            message: format!(
                "contacts are reachable, but the emails path {emails_path} is not: {}",
                hubspot::error_message(&resp).0
            ),
            owner: None,
        },
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
            owner_id,
        } => {
            let hs = HubSpot {
                token,
                base_url,
                emails_path,
                contacts_path,
                owner_id: owner_id.as_deref(),
            };
            let mut known = Vec::new();
            let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
            for chunk in refs.chunks(hubspot::BATCH_LIMIT) {
                match hubspot_call(transport, hubspot::read_contacts_request(&hs, chunk), 0).await {
                    Ok(resp) => known.extend(hubspot::contact_ids(&resp).into_keys()),
                    Err(HsFailure {
                        outcome:
                            DeliveryOutcome::Retry { error, .. } | DeliveryOutcome::Permanent { error },
                        ..
                    }) => return Err(error),
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
    /// The endpoint refused the token (or it cannot be sent): the flush stopped there, and the
    /// records wait until it is fixed. UIs say "the CRM rejected the token"; the error is in
    /// `errors` (code `token-rejected`).
    #[serde(default)]
    pub token_rejected: bool,
    /// What delivered records' users should know (a body shortened, an address the CRM refused
    /// as a contact), by key; also added to the email's activity entry.
    #[serde(default)]
    pub notes: Vec<(String, Reason)>,
}

impl FlushReport {
    pub fn count(&mut self, key: &str, outcome: &DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Delivered { notes, .. } => {
                self.delivered += 1;
                self.notes
                    .extend(notes.iter().map(|n| (key.to_string(), n.clone())));
            }
            DeliveryOutcome::Duplicate { .. } => self.duplicates += 1,
            DeliveryOutcome::Retry {
                error,
                credentials_rejected,
                ..
            } => {
                self.retrying += 1;
                self.token_rejected |= credentials_rejected;
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
        let mut due = due.into_iter();
        for (key, record, maybe_sent) in due.by_ref() {
            let outcome = deliver(&endpoint, &record, maybe_sent, now(), transport).await;
            report.count(&key, &outcome);
            let rejected = rejected_credentials(&outcome);
            engine.complete(&key, outcome, now(), jitter());
            if let Some(outcome) = rejected {
                // Every other record would be refused the same way: hand the ones taken back
                // unsent (not counted as attempts) and stop.
                for (key, ..) in due.by_ref() {
                    engine.complete(&key, outcome.clone(), now(), jitter());
                }
                return report;
            }
        }
    }
    report
}

/// The outcome to give the rest of a round when this one says the endpoint refused the
/// credentials (see [`flush`]).
pub fn rejected_credentials(outcome: &DeliveryOutcome) -> Option<DeliveryOutcome> {
    match outcome {
        DeliveryOutcome::Retry {
            error,
            retry_after_ms,
            credentials_rejected: true,
            ..
        } => Some(DeliveryOutcome::Retry {
            error: DeliveryError {
                status: error.status,
                message: format!("not sent: {}", error.message),
                code: error.code.clone(),
            },
            retry_after_ms: *retry_after_ms,
            maybe_sent: false,
            credentials_rejected: true,
        }),
        _ => None,
    }
}
