//! The `/v1` JSON API (contract in docs/server.md).
//!
//! `POST /v1/records` is authenticated by the webhook signature; every other route by
//! `Authorization: Bearer <token>`. Both count against the token's rate limit. Errors are
//! always `{"error": {"code", "message", "field"}}` (see `error.rs`).

use super::db::{
    now_ms, Contact, ContactPatch, ContactSummary, StoredRecord, ThreadRow, TimelineRow,
};
use super::error::{parse_json, ApiError};
use super::ingest::{self, Summary};
use super::token::constant_time_eq;
use super::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type St = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

/// Most addresses one lookup may ask about.
const MAX_LOOKUP: usize = 1000;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/records", get(find_records).post(post_record))
        .route("/v1/records/{key}", get(get_record).delete(delete_record))
        .route("/v1/emails/{id}", get(get_email))
        .route("/v1/attachments/{sha256}", get(get_attachment))
        .route("/v1/contacts", get(list_contacts).post(create_contact))
        .route("/v1/contacts/lookup", post(lookup_contacts))
        .route("/v1/contacts/{id}", get(get_contact).patch(patch_contact))
        .route("/v1/contacts/{id}/timeline", get(timeline))
        .route("/v1/contacts/{id}/threads", get(threads))
        .route("/v1/watch-status", get(list_watch_status))
        .route(
            "/v1/watch-status/{account}",
            put(put_watch_status).delete(delete_watch_status),
        )
        .route("/v1/stats", get(stats))
        .route("/v1/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::from_fn(cors))
        // Records carry attachments: that route reads its body itself, with its own limit and
        // only once the request's headers are known to be right. The others take `SmallBody`.
        .layer(axum::extract::DefaultBodyLimit::max(SMALL_BODY_LIMIT))
}

/// The largest body of a `/v1` request other than a record (a lookup of 1000 addresses, a
/// contact, a watcher's status).
pub const SMALL_BODY_LIMIT: usize = 1024 * 1024;

/// The body of a JSON request other than a record: at most `SMALL_BODY_LIMIT` bytes, read only
/// after the route's other extractors (the bearer token) have accepted the request.
pub struct SmallBody(pub Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for SmallBody {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, _: &S) -> Result<Self, ApiError> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the request body is over {}, more than this route ever needs",
                    ingest::human_size(SMALL_BODY_LIMIT as u64)
                ),
            )
        };
        if content_length(req.headers()).is_some_and(|n| n > SMALL_BODY_LIMIT as u64) {
            drain_behind(req.into_body(), 4 * SMALL_BODY_LIMIT as u64);
            return Err(ApiError {
                close_connection: true,
                ..too_large()
            });
        }
        match read_up_to(req.into_body(), SMALL_BODY_LIMIT, 0).await? {
            BodyRead::Whole(bytes) => Ok(SmallBody(bytes)),
            BodyRead::TooLarge(rest) => {
                drain_behind(rest, 4 * SMALL_BODY_LIMIT as u64);
                Err(ApiError {
                    close_connection: true,
                    ..too_large()
                })
            }
        }
    }
}

/// A request body read up to a limit: whole, or what is left of it once the limit was passed
/// (for the caller to drain, so the client reads the 413 rather than a broken pipe).
enum BodyRead {
    Whole(Bytes),
    TooLarge(Body),
}

async fn read_up_to(mut body: Body, limit: usize, capacity: usize) -> Result<BodyRead, ApiError> {
    use http_body_util::BodyExt;
    let mut buf = bytes::BytesMut::with_capacity(capacity.min(limit));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                format!("could not read the request body: {e}"),
            )
        })?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                return Ok(BodyRead::TooLarge(body));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(BodyRead::Whole(buf.freeze()))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such API route; see docs/server.md for the routes this server offers")
}

/// CORS for the API: bearer tokens are not ambient credentials, so any origin may call it
/// (the Outlook add-in's pages, an extension page); no cookies are ever accepted here.
pub(crate) async fn cors(req: Request<Body>, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        let mut resp = StatusCode::NO_CONTENT.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Authorization, Content-Type, Idempotency-Key, Mailtrail-Timestamp, Mailtrail-Signature",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        // Chrome's Private Network Access: a public page asking for a loopback server.
        h.insert(
            "access-control-allow-private-network",
            HeaderValue::from_static("true"),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

// ---- authentication

/// A request that presented the right bearer token and was within the rate limit.
pub struct Authed;

impl FromRequestParts<Arc<AppState>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        check_bearer(&parts.headers, state)?;
        check_rate(state)?;
        Ok(Authed)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn check_bearer(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    match bearer(headers) {
        None => Err(ApiError::unauthorized(
            "missing_token",
            "this request needs the header Authorization: Bearer <token> — the token printed by \
             `mailtrail serve` on first start (also in the token file of its data directory)",
        )),
        Some(t) if constant_time_eq(t.as_bytes(), state.token.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            "invalid_token",
            "the token does not match this server's token: copy it again from the token file \
             of the server's data directory into the extension's settings",
        )),
    }
}

fn check_rate(state: &AppState) -> Result<(), ApiError> {
    let Some(limiter) = &state.limiter else {
        return Ok(());
    };
    limiter.check("token").map_err(|wait| {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "more than {} requests per second with this token; retry after {wait} s",
                limiter.per_second()
            ),
        );
        e.retry_after = Some(wait);
        e
    })
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

// ---- health and stats

async fn health(State(st): St, headers: HeaderMap) -> ApiResult {
    let authenticated = if headers.contains_key(header::AUTHORIZATION) {
        check_bearer(&headers, &st)?;
        Some(true)
    } else {
        None
    };
    let db_ok = st.store.ping().await.is_ok();
    let mut body = json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": st.store.kind().as_str(),
        "recordSchema": mailtrail::record::RECORD_SCHEMA,
    });
    if let Some(a) = authenticated {
        body["authenticated"] = json!(a);
    }
    if !db_ok {
        body["message"] = json!("the database is not answering");
    }
    let status = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, Json(body)).into_response())
}

async fn stats(_: Authed, State(st): St) -> ApiResult {
    let stats = st.store.stats().await?;
    let version = st.store.schema_version().await?;
    let mut body = serde_json::to_value(stats).map_err(ApiError::internal)?;
    body["database"] = json!(st.store.kind().as_str());
    body["schemaVersion"] = json!(version);
    Ok(Json(body).into_response())
}

// ---- records

async fn post_record(State(st): St, headers: HeaderMap, body: Body) -> ApiResult {
    let limit = st.http_body_limit();
    let declared = content_length(&headers);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = now_ms() / 1000;

    // Everything that can be checked without the body is checked before any of it is read: a
    // client without the token cannot make the server hold megabytes for it.
    if let Some(e) = early_refusal(&st, &headers, now) {
        return Err(refuse_unread(e, body, declared, limit).await);
    }
    if declared.is_some_and(|n| n > limit) {
        // Answered at once; what the client is sending is dropped behind the answer, within
        // reason, so that it reads the 413 instead of a reset in the middle of its upload.
        drain_behind(body, limit.saturating_mul(2));
        return Err(ApiError {
            close_connection: true,
            ..http_too_large(st.max_record_bytes)
        });
    }
    // Bodies held in memory at once are bounded: this one's declared size (or the limit, for
    // an upload of unknown length) is taken from the budget while it is read and stored.
    let _permit = reserve_body(&st, declared.unwrap_or(limit)).await?;
    let bytes = read_limited(
        body,
        limit as usize,
        declared.unwrap_or(0) as usize,
        st.max_record_bytes,
    )
    .await?;

    if let Err(e) = mailtrail::webhook::verify(
        st.token.as_bytes(),
        header(mailtrail::webhook::HEADER_TIMESTAMP),
        header(mailtrail::webhook::HEADER_SIGNATURE),
        &bytes,
        now,
        mailtrail::webhook::DEFAULT_TOLERANCE_SECONDS,
    ) {
        return Err(signature_error(e, bearer(&headers).is_some()));
    }
    check_rate(&st)?;

    let header_key = header(mailtrail::webhook::HEADER_IDEMPOTENCY_KEY).map(str::to_string);
    let max = st.max_record_bytes;
    let received_at = now_ms();
    let parse = move || -> Result<_, ApiError> {
        let record: mailtrail::Record = parse_json(&bytes)?;
        ingest::prepare(record, header_key.as_deref(), max, received_at)
    };
    // Decoding and hashing megabytes of attachments must not stall the request threads.
    let prepared = if limit > 0 && declared.unwrap_or(0) > 256 * 1024 {
        tokio::task::spawn_blocking(parse)
            .await
            .map_err(ApiError::internal)??
    } else {
        parse()?
    };
    let outcome = st.store.insert_record(prepared).await?;
    if let (Some(relay), false) = (&st.relay, outcome.duplicate) {
        relay.wake();
    }
    let status = if outcome.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    if !outcome.duplicate {
        tracing::debug!(id = outcome.record.id, key = %outcome.record.idempotency_key, "record stored");
    }
    // A new record is answered briefly (the client has it); a duplicate with what is stored.
    let body = if outcome.duplicate {
        record_json(&outcome.record, Some(true))
    } else {
        created_json(&outcome.record)
    };
    Ok(json_response(status, body))
}

fn signature_error(e: mailtrail::webhook::VerifyError, had_bearer: bool) -> ApiError {
    use mailtrail::webhook::VerifyError as V;
    let code = match e {
        V::MissingTimestamp => "missing_timestamp",
        V::BadTimestamp => "bad_timestamp",
        V::OutsideWindow(_) => "timestamp_out_of_window",
        V::MissingSignature => "missing_signature",
        V::NoV1Signature | V::Mismatch => "bad_signature",
    };
    let mut message = match e {
        V::OutsideWindow(skew) => format!(
            "Mailtrail-Timestamp is {} seconds away from the server's clock (at most {} allowed): check the computer's clock",
            skew.abs(),
            mailtrail::webhook::DEFAULT_TOLERANCE_SECONDS
        ),
        V::Mismatch => "the signature does not match: the token used to sign differs from this server's token, \
                        or the body changed on the way"
            .to_string(),
        other => other.to_string(),
    };
    if had_bearer && matches!(code, "missing_timestamp" | "missing_signature") {
        message.push_str(
            " (POST /v1/records is authenticated by its signature — HMAC-SHA256 of \"<timestamp>.<body>\" \
             with the token — not by the bearer token; see docs/server.md)",
        );
    }
    ApiError::unauthorized(code, message)
}

fn http_too_large(max_record_bytes: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "record_too_large",
        format!(
            "the request is larger than this server accepts (records with up to {} of attachments, \
             base64-encoded, and their text and HTML bodies); drop the attachments (the email still \
             logs) or raise --max-record-mb",
            ingest::human_size(max_record_bytes)
        ),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Why a record request is refused before its body is read: a wrong bearer token (our clients
/// send it beside the signature; it is optional), or signature headers that no body can make
/// right (missing, malformed, a timestamp outside the window).
fn early_refusal(st: &AppState, headers: &HeaderMap, now: i64) -> Option<ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        if let Err(e) = check_bearer(headers, st) {
            return Some(e);
        }
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Verified against no body: only a mismatch can depend on the body.
    match mailtrail::webhook::verify(
        st.token.as_bytes(),
        header(mailtrail::webhook::HEADER_TIMESTAMP),
        header(mailtrail::webhook::HEADER_SIGNATURE),
        b"",
        now,
        mailtrail::webhook::DEFAULT_TOLERANCE_SECONDS,
    ) {
        Ok(()) | Err(mailtrail::webhook::VerifyError::Mismatch) => None,
        Err(e) => Some(signature_error(e, bearer(headers).is_some())),
    }
}

/// Bodies up to this size are read (and dropped) before an early refusal is answered, so the
/// client reads the answer rather than a reset connection; larger ones are not read at all.
const EARLY_DRAIN_LIMIT: u64 = 64 * 1024;

async fn refuse_unread(e: ApiError, body: Body, declared: Option<u64>, limit: u64) -> ApiError {
    if declared.is_some_and(|n| n <= EARLY_DRAIN_LIMIT) {
        drain(body, EARLY_DRAIN_LIMIT).await;
        return e;
    }
    // Answer now: a client of ours with a wrong token reads the 401 rather than a broken pipe.
    drain_behind(body, limit);
    ApiError {
        close_connection: true,
        ..e
    }
}

/// Reads and drops what the client is still sending while the answer goes out (never kept: no
/// memory is spent on it), at most `limit` bytes and 30 s; the connection closes after it.
/// Without it a client still uploading may see a broken pipe instead of the answer.
fn drain_behind(body: Body, limit: u64) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain(body, limit)).await;
    });
}

/// Reads and drops a body, at most `limit` bytes of it.
async fn drain(body: Body, limit: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        seen += frame.data_ref().map_or(0, |d| d.len() as u64);
        if seen > limit {
            break;
        }
    }
}

/// The memory budget for record bodies, in KiB: two of the largest records at once (with any
/// number of small ones in the rest), and never less than 64 MiB.
pub fn body_budget_kib(http_body_limit: u64) -> usize {
    let kib = http_body_limit
        .saturating_mul(2)
        .div_ceil(1024)
        .max(64 * 1024);
    kib.min(u64::from(u32::MAX)) as usize
}

/// How long a record waits for room in the budget before it is answered 503 (retried).
const BODY_BUDGET_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn reserve_body(
    st: &AppState,
    bytes: u64,
) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    let kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let kib = kib.min(u32::try_from(st.body_budget_total()).unwrap_or(u32::MAX));
    let busy = || {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is receiving as many large records as it holds at once; try again shortly",
        );
        e.retry_after = Some(5);
        e
    };
    match tokio::time::timeout(
        BODY_BUDGET_WAIT,
        st.body_budget.clone().acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) | Err(_) => Err(busy()),
    }
}

async fn read_limited(
    body: Body,
    limit: usize,
    expected: usize,
    max_record_bytes: u64,
) -> Result<Bytes, ApiError> {
    match read_up_to(body, limit, expected).await? {
        BodyRead::Whole(bytes) => Ok(bytes),
        BodyRead::TooLarge(rest) => {
            // Chunked upload over the limit: drain the rest so the client sees the 413.
            drain(rest, limit as u64).await;
            Err(http_too_large(max_record_bytes))
        }
    }
}

/// The 201 answer: `{"id", "idempotencyKey", "duplicate": false, "threadKey", "receivedAt", "contacts"}`.
fn created_json(r: &StoredRecord) -> String {
    let contacts = serde_json::to_string(&r.contacts).unwrap_or_else(|_| "[]".into());
    let key = serde_json::to_string(&r.idempotency_key).unwrap_or_else(|_| "\"\"".into());
    let thread = serde_json::to_string(&r.thread_key).unwrap_or_else(|_| "\"\"".into());
    format!(
        "{{\"id\":{},\"idempotencyKey\":{key},\"duplicate\":false,\"threadKey\":{thread},\"receivedAt\":{},\"contacts\":{contacts}}}",
        r.id, r.received_at
    )
}

/// The JSON of a stored record: `{"id", "idempotencyKey", ["duplicate",] "threadKey",
/// "receivedAt", "contacts", "record"}`. Built by hand to embed the stored JSON as is.
fn record_json(r: &StoredRecord, duplicate: Option<bool>) -> String {
    let contacts = serde_json::to_string(&r.contacts).unwrap_or_else(|_| "[]".into());
    let key = serde_json::to_string(&r.idempotency_key).unwrap_or_else(|_| "\"\"".into());
    let thread = serde_json::to_string(&r.thread_key).unwrap_or_else(|_| "\"\"".into());
    let dup = match duplicate {
        Some(d) => format!("\"duplicate\":{d},"),
        None => String::new(),
    };
    format!(
        "{{\"id\":{},\"idempotencyKey\":{key},{dup}\"threadKey\":{thread},\"receivedAt\":{},\"contacts\":{contacts},\"record\":{}}}",
        r.id, r.received_at, r.body
    )
}

/// A stored record's JSON with where it is in the relay (`"relay": {"hubspot": {…}}`).
async fn record_with_relay(st: &AppState, r: &StoredRecord) -> Result<String, ApiError> {
    let mut v = super::relay::with_relay(st, &[r], vec![record_json(r, None)]).await?;
    Ok(v.pop().unwrap_or_default())
}

async fn get_record(_: Authed, State(st): St, Path(key): Path<String>) -> ApiResult {
    match st.store.record_by_key(&key).await? {
        Some(r) => Ok(json_response(
            StatusCode::OK,
            record_with_relay(&st, &r).await?,
        )),
        None => Err(ApiError::not_found(format!(
            "no record with idempotency key {key:?}"
        ))),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FindRecords {
    message_id: Option<String>,
    draft_id: Option<String>,
}

/// `GET /v1/records?messageId=…`: the records of one email, whatever key they were stored under
/// (a record queued from a compose window has a content key, since the Message-ID did not exist
/// yet). `GET /v1/records?draftId=…`: the records queued from one compose window (a brand-new
/// Outlook email is recorded before it has a Message-ID; its sent copy names the draft in
/// `X-Mailtrail-Draft`). The IMAP watcher asks these to learn which sent emails were logged.
async fn find_records(
    _: Authed,
    State(st): St,
    axum::extract::Query(q): axum::extract::Query<FindRecords>,
) -> ApiResult {
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
    let found = match (blank(&q.message_id), blank(&q.draft_id)) {
        (false, false) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "draftId",
                "give either messageId or draftId, not both",
            ))
        }
        (true, false) => {
            let draft = q.draft_id.as_deref().unwrap_or_default().trim();
            if draft.len() > ingest::MAX_INDEXED_BYTES {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "draftId",
                    format!(
                        "draftId is longer than {} bytes (records with such ids are not indexed)",
                        ingest::MAX_INDEXED_BYTES
                    ),
                ));
            }
            st.store.records_by_draft_id(draft, 50).await?
        }
        _ => {
            let id = q
                .message_id
                .as_deref()
                .and_then(mailtrail::ids::clean_message_id)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "missing_field",
                        "messageId",
                        "give the Message-ID to look for: /v1/records?messageId=<id> \
                         (or a compose window's draft id: /v1/records?draftId=<id>)",
                    )
                })?;
            st.store.records_by_message_id(&id, 50).await?
        }
    };
    let records: Vec<String> = found.iter().map(|r| record_json(r, None)).collect();
    let records = super::relay::with_relay(&st, &found.iter().collect::<Vec<_>>(), records).await?;
    Ok(json_response(
        StatusCode::OK,
        format!("{{\"records\":[{}]}}", records.join(",")),
    ))
}

async fn delete_record(_: Authed, State(st): St, Path(key): Path<String>) -> ApiResult {
    if st.store.delete_record(&key).await? {
        Ok(Json(json!({"deleted": true, "idempotencyKey": key})).into_response())
    } else {
        Err(ApiError::not_found(format!(
            "no record with idempotency key {key:?}"
        )))
    }
}

fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_id",
            "id",
            format!("{what} id must be a positive number, not {text:?}"),
        )
    })
}

async fn get_email(_: Authed, State(st): St, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "email")?;
    match st.store.record_by_id(id).await? {
        Some(r) => Ok(json_response(
            StatusCode::OK,
            record_with_relay(&st, &r).await?,
        )),
        None => Err(ApiError::not_found(format!("no email with id {id}"))),
    }
}

async fn get_attachment(_: Authed, State(st): St, Path(sha): Path<String>) -> ApiResult {
    attachment_response(&st, &sha, None).await
}

/// An attachment's bytes, always as a download: never rendered by the browser in our origin.
pub async fn attachment_response(st: &AppState, sha: &str, name: Option<&str>) -> ApiResult {
    let sha = sha.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "invalid_sha256",
            "sha256",
            "an attachment is named by 64 hex digits",
        ));
    }
    let Some(data) = st.store.blob(&sha).await? else {
        return Err(ApiError::not_found(
            "this attachment's content is not stored on this server",
        ));
    };
    let filename: String = name
        .unwrap_or("attachment")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut resp = (StatusCode::OK, data).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(resp)
}

// ---- contacts

#[derive(Deserialize, Default)]
struct ListParams {
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    /// Timeline: one thread only. Threads: newest emails shown per thread.
    thread: Option<String>,
    emails: Option<String>,
}

fn parse_limit(text: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    parse_count(text, default, max, "limit")
}

fn parse_count(text: Option<&str>, default: i64, max: i64, field: &str) -> Result<i64, ApiError> {
    match text {
        None | Some("") => Ok(default),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    field,
                    format!("{field} must be a number from 1 to {max}"),
                )
            }),
    }
}

/// Contact-list cursor: hex of the sort key, a dot, the id.
pub fn contact_cursor(sort_key: &str, id: i64) -> String {
    format!("{}.{id}", ingest::hex(sort_key.as_bytes()))
}

pub fn parse_contact_cursor(c: &str) -> Result<(String, i64), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_cursor",
            "cursor",
            "cursor is not one this server handed out",
        )
    };
    let (hex, id) = c.rsplit_once('.').ok_or_else(bad)?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    let key = String::from_utf8(bytes.ok_or_else(bad)?).map_err(|_| bad())?;
    Ok((key, id))
}

fn contact_summary_json(c: &ContactSummary) -> Value {
    serde_json::to_value(c).unwrap_or(Value::Null)
}

async fn list_contacts(
    _: Authed,
    State(st): St,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query", "query", e.body_text()))?;
    let limit = parse_limit(p.limit.as_deref(), 50, 500)?;
    let after = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_contact_cursor)
        .transpose()?;
    let rows = st
        .store
        .list_contacts(p.q.as_deref().unwrap_or(""), limit, after)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| {
            rows.last()
                .map(|c| contact_cursor(&c.sort_key, c.contact.id))
        })
        .flatten();
    let contacts: Vec<Value> = rows.iter().map(contact_summary_json).collect();
    Ok(Json(json!({"contacts": contacts, "nextCursor": next})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewContact {
    address: String,
    #[serde(default)]
    name: Option<String>,
}

fn normalise_contact_address(address: &str, field: &str) -> Result<String, ApiError> {
    ingest::checked_address(address, field)
}

fn clean_name(name: Option<&str>) -> Option<String> {
    ingest::contact_name(name)
}

async fn create_contact(_: Authed, State(st): St, SmallBody(body): SmallBody) -> ApiResult {
    let new: NewContact = parse_json(&body)?;
    let address = normalise_contact_address(&new.address, "address")?;
    let name = clean_name(new.name.as_deref());
    match st.store.create_contact(&address, name.as_deref()).await {
        Ok(c) => Ok((StatusCode::CREATED, Json(contact_json(&c, 0, None))).into_response()),
        Err(super::db::StoreError::Conflict(id)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "contact_exists",
            format!("a contact with the address {address} already exists (id {id})"),
        )
        .field("address")),
        Err(e) => Err(e.into()),
    }
}

fn contact_json(c: &Contact, email_count: i64, last_email_at: Option<i64>) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    v["emailCount"] = json!(email_count);
    v["lastEmailAt"] = json!(last_email_at);
    v
}

async fn get_contact(_: Authed, State(st): St, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id, "contact")?;
    match st.store.contact(id).await? {
        Some(c) => Ok(Json(contact_summary_json(&c)).into_response()),
        None => Err(ApiError::not_found(format!("no contact with id {id}"))),
    }
}

async fn patch_contact(
    _: Authed,
    State(st): St,
    Path(id): Path<String>,
    SmallBody(body): SmallBody,
) -> ApiResult {
    let id = parse_id(&id, "contact")?;
    let map: serde_json::Map<String, Value> = parse_json(&body)?;
    let mut patch = ContactPatch::default();
    for (k, v) in &map {
        match (k.as_str(), v) {
            ("name", Value::Null) => patch.name = Some(None),
            ("name", Value::String(s)) => patch.name = Some(clean_name(Some(s))),
            ("name", _) => {
                return Err(ApiError::bad_request(
                    "invalid_value",
                    "name",
                    "name must be a string or null",
                ))
            }
            ("address", Value::String(s)) => {
                patch.address = Some(normalise_contact_address(s, "address")?)
            }
            ("address", _) => {
                return Err(ApiError::bad_request(
                    "invalid_value",
                    "address",
                    "address must be a string",
                ))
            }
            (other, _) => {
                return Err(ApiError::bad_request(
                    "unknown_field",
                    other,
                    format!("{other} cannot be changed (a contact has name and address)"),
                ))
            }
        }
    }
    match st.store.update_contact(id, patch).await {
        Ok(Some(_)) => match st.store.contact(id).await? {
            Some(c) => Ok(Json(contact_summary_json(&c)).into_response()),
            None => Err(ApiError::not_found(format!("no contact with id {id}"))),
        },
        Ok(None) => Err(ApiError::not_found(format!("no contact with id {id}"))),
        Err(super::db::StoreError::Conflict(other)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "contact_exists",
            format!("another contact (id {other}) already has this address"),
        )
        .field("address")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupRequest {
    addresses: Vec<String>,
}

async fn lookup_contacts(_: Authed, State(st): St, SmallBody(body): SmallBody) -> ApiResult {
    let req: LookupRequest = parse_json(&body)?;
    if req.addresses.len() > MAX_LOOKUP {
        return Err(ApiError::bad_request(
            "too_many_addresses",
            "addresses",
            format!(
                "at most {MAX_LOOKUP} addresses per lookup ({} given); split the list",
                req.addresses.len()
            ),
        ));
    }
    let mut normalised: Vec<String> = Vec::with_capacity(req.addresses.len());
    let mut invalid: Vec<&str> = Vec::new();
    for a in &req.addresses {
        match mailtrail::normalize_address(a) {
            Ok(n) => {
                if !normalised.contains(&n) {
                    normalised.push(n)
                }
            }
            Err(_) => invalid.push(a),
        }
    }
    let found = st.store.lookup_contacts(&normalised).await?;
    let mut contacts = serde_json::Map::with_capacity(normalised.len());
    for a in normalised {
        let v = found
            .get(&a)
            .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        contacts.insert(a, v);
    }
    let mut body = serde_json::Map::new();
    super::relay::merge_lookup(&st, &mut contacts, &mut body).await;
    body.insert("contacts".into(), Value::Object(contacts));
    body.insert("invalid".into(), json!(invalid));
    Ok(Json(Value::Object(body)).into_response())
}

/// Emails grouped by thread: threads ordered by their newest email, emails newest first.
pub fn group_threads(rows: &[TimelineRow]) -> Vec<(String, Vec<&TimelineRow>)> {
    let mut order: Vec<(String, Vec<&TimelineRow>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        match index.get(r.thread_key.as_str()) {
            Some(&i) => order[i].1.push(r),
            None => {
                index.insert(&r.thread_key, order.len());
                order.push((r.thread_key.clone(), vec![r]));
            }
        }
    }
    order
}

pub fn summary_of(r: &TimelineRow) -> Summary {
    serde_json::from_str(&r.summary).unwrap_or_default()
}

fn timeline_email_json(r: &TimelineRow) -> Value {
    let s = summary_of(r);
    json!({
        "id": r.id, "idempotencyKey": r.idempotency_key, "direction": r.direction,
        "timestamp": r.sent_at, "subject": r.subject, "from": s.from, "to": s.to, "cc": s.cc,
        "snippet": r.snippet, "attachments": s.attachments, "droppedAttachments": s.dropped_attachments,
        "reasons": s.reasons, "forwardedBy": s.forwarded_by, "source": s.source,
        "bodyTruncated": s.body_truncated,
    })
}

async fn timeline(
    _: Authed,
    State(st): St,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let id = parse_id(&id, "contact")?;
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query", "query", e.body_text()))?;
    let limit = parse_limit(p.limit.as_deref(), 100, 1000)?;
    let before = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_email_cursor)
        .transpose()?;
    let Some(contact) = st.store.contact(id).await? else {
        return Err(ApiError::not_found(format!("no contact with id {id}")));
    };
    let thread = p.thread.as_deref().filter(|t| !t.is_empty());
    let rows = st.store.timeline(id, limit, before, thread).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(email_cursor))
        .flatten();
    let threads: Vec<Value> = group_threads(&rows)
        .into_iter()
        .map(|(key, emails)| {
            // The thread's subject: its oldest email's on this page, which is the one that started it.
            let subject = emails.last().map(|e| e.subject.clone()).unwrap_or_default();
            let latest = emails.first().map(|e| e.sent_at).unwrap_or(0);
            json!({
                "threadKey": key, "subject": subject, "latestAt": latest, "count": emails.len(),
                "emails": emails.iter().map(|e| timeline_email_json(e)).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(
        json!({"contact": contact_summary_json(&contact), "threads": threads, "nextCursor": next}),
    )
    .into_response())
}

/// `sentAt.id` of a page's last email, for the next page of a timeline (or of one thread).
pub fn email_cursor(e: &TimelineRow) -> String {
    format!("{}.{}", e.sent_at, e.id)
}

pub fn parse_email_cursor(c: &str) -> Result<(i64, i64), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_cursor",
            "cursor",
            "cursor is not one this server handed out",
        )
    };
    let (at, id) = c.split_once('.').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        id.parse().map_err(|_| bad())?,
    ))
}

/// `latestAt.threadKey` of a page's last thread, for the next page of threads.
pub fn thread_cursor(t: &ThreadRow) -> String {
    format!("{}.{}", t.latest_at, t.thread_key)
}

pub fn parse_thread_cursor(c: &str) -> Result<(i64, String), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_cursor",
            "cursor",
            "cursor is not one this server handed out",
        )
    };
    let (at, key) = c.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, key.to_string()))
}

/// A contact's timeline paged by thread: threads newest first, each with its newest emails and
/// its total count; `?thread=` on the timeline pages through one thread's emails.
async fn threads(
    _: Authed,
    State(st): St,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let id = parse_id(&id, "contact")?;
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query", "query", e.body_text()))?;
    let limit = parse_limit(p.limit.as_deref(), 20, 200)?;
    let per_thread = parse_count(p.emails.as_deref(), 5, 100, "emails")?;
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(parse_thread_cursor(c)?),
    };
    let Some(contact) = st.store.contact(id).await? else {
        return Err(ApiError::not_found(format!("no contact with id {id}")));
    };
    let threads = st
        .store
        .timeline_threads(id, limit, after, per_thread)
        .await?;
    let next = (threads.len() as i64 == limit)
        .then(|| threads.last().map(thread_cursor))
        .flatten();
    let threads: Vec<Value> = threads
        .iter()
        .map(|t| {
            json!({
                "threadKey": t.thread_key, "subject": t.subject, "latestAt": t.latest_at, "count": t.count,
                "emails": t.emails.iter().map(timeline_email_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(
        json!({"contact": contact_summary_json(&contact), "threads": threads, "nextCursor": next}),
    )
    .into_response())
}

// ---- connected-inbox status (from `mailtrail watch`)

pub const WATCH_STATES: &[&str] = &["connected", "reconnecting", "disconnected"];

async fn put_watch_status(
    _: Authed,
    State(st): St,
    Path(account): Path<String>,
    SmallBody(body): SmallBody,
) -> ApiResult {
    let account = account_name(&account)?;
    if body.len() > 64 * 1024 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "status_too_large",
            "a status must be under 64 KiB",
        ));
    }
    let status: serde_json::Map<String, Value> = parse_json(&body)?;
    match status.get("state").and_then(Value::as_str) {
        Some(s) if WATCH_STATES.contains(&s) => {}
        _ => {
            return Err(ApiError::bad_request(
                "invalid_state",
                "state",
                "state must be \"connected\", \"reconnecting\" or \"disconnected\"",
            ))
        }
    }
    for (field, ok) in [
        (
            "reason",
            status
                .get("reason")
                .is_none_or(|v| v.is_string() || v.is_null()),
        ),
        (
            "message",
            status
                .get("message")
                .is_none_or(|v| v.is_string() || v.is_null()),
        ),
        (
            "attempt",
            status
                .get("attempt")
                .is_none_or(|v| v.is_u64() || v.is_null()),
        ),
        (
            "nextTryAt",
            status
                .get("nextTryAt")
                .is_none_or(|v| v.is_i64() || v.is_null()),
        ),
        (
            "lastSyncAt",
            status
                .get("lastSyncAt")
                .is_none_or(|v| v.is_i64() || v.is_null()),
        ),
        (
            "dead",
            status.get("dead").is_none_or(|v| v.is_u64() || v.is_null()),
        ),
    ] {
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_value",
                field,
                format!("{field} has the wrong type (reason/message: string; attempt/dead: count; nextTryAt/lastSyncAt: ms since the epoch)"),
            ));
        }
    }
    let text = serde_json::to_string(&status).map_err(ApiError::internal)?;
    let row = st.store.put_watch_status(&account, &text).await?;
    Ok(Json(watch_json(&row.account, &row.status, row.updated_at)).into_response())
}

/// The `{account}` of a watch-status route, as stored: trimmed, 1 to 320 characters without
/// control characters (PUT and DELETE name an account the same way).
fn account_name(raw: &str) -> Result<String, ApiError> {
    let account = raw.trim();
    if account.is_empty() || account.len() > 320 || account.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_account",
            "account",
            "the account name must be 1 to 320 printable characters",
        ));
    }
    Ok(account.to_string())
}

/// A stored status as the API returns it (and the UI reads it). `dead`, the records the endpoint
/// refused, is always a count: 0 from a watcher too old to send it.
pub fn watch_json(account: &str, status: &str, updated_at: i64) -> Value {
    let mut v: Value = serde_json::from_str(status).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("account".into(), json!(account));
        obj.insert("updatedAt".into(), json!(updated_at));
        if !obj.get("dead").is_some_and(Value::is_u64) {
            obj.insert("dead".into(), json!(0));
        }
    }
    v
}

async fn list_watch_status(_: Authed, State(st): St) -> ApiResult {
    let rows = st.store.watch_statuses().await?;
    let accounts: Vec<Value> = rows
        .iter()
        .map(|r| watch_json(&r.account, &r.status, r.updated_at))
        .collect();
    Ok(Json(json!({"accounts": accounts})).into_response())
}

async fn delete_watch_status(_: Authed, State(st): St, Path(account): Path<String>) -> ApiResult {
    let account = account_name(&account)?;
    if st.store.delete_watch_status(&account).await? {
        Ok(Json(json!({"deleted": true, "account": account})).into_response())
    } else {
        Err(ApiError::not_found(format!(
            "no status for account {account:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = contact_cursor("żaneta kowalska", 42);
        assert_eq!(
            parse_contact_cursor(&c).unwrap(),
            ("żaneta kowalska".to_string(), 42)
        );
        assert!(parse_contact_cursor("zz.1").is_err());
        assert!(parse_contact_cursor("nope").is_err());
    }

    #[test]
    fn threads_keep_newest_first() {
        let row = |id: i64, thread: &str, at: i64| TimelineRow {
            id,
            idempotency_key: format!("k{id}"),
            thread_key: thread.into(),
            direction: "outgoing".into(),
            sent_at: at,
            subject: String::new(),
            snippet: String::new(),
            summary: "{}".into(),
        };
        let rows = vec![
            row(4, "b", 40),
            row(3, "a", 30),
            row(2, "b", 20),
            row(1, "a", 10),
        ];
        let g = group_threads(&rows);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].0, "b");
        assert_eq!(g[0].1.iter().map(|r| r.id).collect::<Vec<_>>(), vec![4, 2]);
        assert_eq!(g[1].1.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 1]);
    }
}
