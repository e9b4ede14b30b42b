//! From a received record to what the store keeps: validation (each error names its field),
//! normalisation, attachment decoding and hash checks, the size limit, thread hints, and the
//! summary the timeline shows.

use super::db::{NewBlob, NewContactRef, NewRecord};
use super::error::ApiError;
use axum::http::StatusCode;
use mailtrail::record::{Direction, Participant, RECORD_SCHEMA};
use mailtrail::Record;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Most contacts one record may name.
const MAX_CONTACTS: usize = 1000;
/// Most In-Reply-To/References ids used to find the thread.
const MAX_THREAD_REFS: usize = 64;
const SNIPPET_CHARS: usize = 240;
/// Longest text or HTML body accepted, in bytes: the largest body limit the settings accept
/// (`mailtrail::settings::MAX_BODY_LIMIT`), so every record a client builds fits.
pub const MAX_BODY_BYTES: u64 = mailtrail::settings::MAX_BODY_LIMIT;

/// Validates and prepares a parsed record. `header_key` is the Idempotency-Key header.
pub fn prepare(
    mut record: Record,
    header_key: Option<&str>,
    max_record_bytes: u64,
    received_at: i64,
) -> Result<NewRecord, ApiError> {
    if record.schema != RECORD_SCHEMA {
        return Err(ApiError::bad_request(
            "unsupported_schema",
            "schema",
            format!(
                "schema {:?} is not supported; this server accepts {RECORD_SCHEMA:?}",
                record.schema
            ),
        ));
    }
    let key = record.idempotency_key.trim().to_string();
    if key.is_empty() || key.len() > 200 || key.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "idempotencyKey",
            "idempotencyKey must be 1 to 200 printable characters without spaces",
        ));
    }
    if let Some(h) = header_key {
        if h.trim() != key {
            return Err(ApiError::bad_request(
                "idempotency_key_mismatch",
                "idempotencyKey",
                format!("the Idempotency-Key header ({}) differs from the record's idempotencyKey ({key})", h.trim()),
            ));
        }
    }
    record.idempotency_key = key.clone();

    let mailbox = match record
        .mailbox
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        None => String::new(),
        Some(m) => checked_address(m, "mailbox")?,
    };
    // Ids longer than a header line can be are kept in the stored record but not indexed (the
    // record still deduplicates by its key): PostgreSQL cannot index them, SQLite can, and both
    // databases must accept the same records.
    let message_id = record
        .message_id
        .as_deref()
        .map(clean_id)
        .filter(|m| !m.is_empty() && m.len() <= MAX_INDEXED_BYTES);
    let thread_id = record
        .thread_id
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= MAX_INDEXED_BYTES)
        .map(str::to_string);
    let draft_id = record
        .draft_id
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty() && d.len() <= MAX_INDEXED_BYTES)
        .map(str::to_string);

    // Contacts: normalised, merged when the same address appears twice.
    if record.contacts.len() > MAX_CONTACTS {
        return Err(ApiError::bad_request(
            "too_many_contacts",
            "contacts",
            format!(
                "a record may name at most {MAX_CONTACTS} contacts ({} given)",
                record.contacts.len()
            ),
        ));
    }
    let mut contacts: Vec<NewContactRef> = Vec::with_capacity(record.contacts.len());
    for (i, c) in record.contacts.iter().enumerate() {
        let address = checked_address(&c.address, &format!("contacts[{i}].address"))?;
        let name = contact_name(c.name.as_deref());
        match contacts.iter_mut().find(|x| x.address == address) {
            Some(existing) => {
                existing.create |= c.create;
                if existing.name.is_none() {
                    existing.name = name;
                }
            }
            None => contacts.push(NewContactRef {
                address,
                name,
                create: c.create,
            }),
        }
    }

    // Bodies: bounded on their own (the engine cuts them at its body limit, 1 MiB by default).
    for (field, body) in [("text", &record.text), ("html", &record.html)] {
        if body
            .as_ref()
            .is_some_and(|b| b.len() as u64 > MAX_BODY_BYTES)
        {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "record_too_large",
                format!(
                    "{field} is longer than this server accepts ({}); the extension cuts bodies \
                     at its body limit (1 MiB unless changed in its settings)",
                    human_size(MAX_BODY_BYTES)
                ),
            )
            .field(field));
        }
    }

    // Attachments: decode, check size and hash, keep each blob once. `max_record_bytes` counts
    // their decoded bytes only, like the engine's attachment limit, so every record the engine
    // sends with its default limit (50 MiB of attachments) is accepted.
    let mut total: u64 = 0;
    let mut blobs: Vec<NewBlob> = Vec::new();
    for (i, a) in record.attachments.iter_mut().enumerate() {
        if let Some(given) = &a.sha256 {
            let lower = given.trim().to_ascii_lowercase();
            if lower.len() != 64 || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ApiError::bad_request(
                    "invalid_sha256",
                    format!("attachments[{i}].sha256"),
                    format!("attachments[{i}].sha256 must be 64 hex digits"),
                ));
            }
            a.sha256 = Some(lower);
        }
        let Some(data) = a.data.take() else {
            continue;
        };
        // The cheap check first: base64 of n bytes is about 4n/3 characters.
        let estimate = (data.len() as u64 / 4) * 3;
        if total.saturating_add(estimate) > max_record_bytes.saturating_add(3) {
            return Err(too_large(max_record_bytes));
        }
        let bytes = mailtrail::base64::decode(&data).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_base64",
                format!("attachments[{i}].data"),
                format!("attachments[{i}].data is not valid base64"),
            )
        })?;
        drop(data);
        if bytes.len() as u64 != a.size {
            return Err(ApiError::bad_request(
                "size_mismatch",
                format!("attachments[{i}].size"),
                format!(
                    "attachments[{i}].size says {} bytes but the data has {}",
                    a.size,
                    bytes.len()
                ),
            ));
        }
        total += bytes.len() as u64;
        if total > max_record_bytes {
            return Err(too_large(max_record_bytes));
        }
        let actual = hex(&Sha256::digest(&bytes));
        match &a.sha256 {
            Some(given) if *given != actual => {
                return Err(ApiError::bad_request(
                    "sha256_mismatch",
                    format!("attachments[{i}].sha256"),
                    format!("attachments[{i}].sha256 does not match its data (the data hashes to {actual})"),
                ));
            }
            _ => a.sha256 = Some(actual.clone()),
        }
        if !blobs.iter().any(|b| b.sha256 == actual) {
            blobs.push(NewBlob {
                sha256: actual,
                data: bytes,
            });
        }
    }
    if total > max_record_bytes {
        return Err(too_large(max_record_bytes));
    }
    for a in record.dropped_attachments.iter_mut() {
        a.data = None;
    }

    let mut thread_refs: Vec<String> = Vec::new();
    for id in record.in_reply_to.iter().chain(record.references.iter()) {
        let id = clean_id(id);
        if !id.is_empty() && !thread_refs.contains(&id) && thread_refs.len() < MAX_THREAD_REFS {
            thread_refs.push(id);
        }
    }
    let root = record
        .references
        .iter()
        .chain(record.in_reply_to.iter())
        .map(|s| clean_id(s))
        .find(|s| !s.is_empty())
        .or_else(|| message_id.clone());
    let default_thread_key = match (&root, &thread_id) {
        (Some(id), _) => format!("m:{id}"),
        (None, Some(t)) => format!("t:{mailbox}:{t}"),
        (None, None) => format!("k:{key}"),
    };

    let stored_blobs: Vec<&str> = blobs.iter().map(|b| b.sha256.as_str()).collect();
    let summary =
        serde_json::to_string(&Summary::of(&record, &stored_blobs)).map_err(ApiError::internal)?;
    let body = serde_json::to_string(&record).map_err(ApiError::internal)?;
    let snippet = snippet(record.text.as_deref(), record.html.as_deref());
    Ok(NewRecord {
        idempotency_key: key,
        mailbox,
        message_id,
        thread_id,
        draft_id,
        thread_refs,
        default_thread_key,
        direction: direction_str(record.direction),
        sent_at: record.timestamp,
        received_at,
        subject: record.subject.clone(),
        from_address: record.from.as_ref().map(|f| f.address.clone()),
        snippet,
        summary,
        body,
        contacts,
        blobs,
    })
}

/// Longest Message-ID or thread id indexed, in bytes: a header line's length (RFC 5322).
/// PostgreSQL's indexes take at most about 2.7 KB per entry.
pub const MAX_INDEXED_BYTES: usize = 998;
/// Longest address accepted (RFC 5321's path limit): addresses are indexed.
pub const MAX_ADDRESS_BYTES: usize = 254;

/// An address as stored: normalised like the core does, at most `MAX_ADDRESS_BYTES`.
pub fn checked_address(raw: &str, field: &str) -> Result<String, ApiError> {
    let address = mailtrail::normalize_address(raw).map_err(|e| {
        ApiError::bad_request(
            "invalid_address",
            field,
            format!("{field} is not an email address: {e}"),
        )
    })?;
    if address.len() > MAX_ADDRESS_BYTES {
        return Err(ApiError::bad_request(
            "invalid_address",
            field,
            format!("{field} is not an email address: longer than {MAX_ADDRESS_BYTES} characters"),
        ));
    }
    Ok(address)
}

/// A contact's name as stored: trimmed, `None` when empty, cut to `MAX_INDEXED_BYTES` (contacts
/// are ordered by name through an index; the record keeps the name as sent).
pub fn contact_name(name: Option<&str>) -> Option<String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    let mut cut = name.len().min(MAX_INDEXED_BYTES);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(name[..cut].trim_end().to_string())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "record_too_large",
        format!(
            "the record's attachments add up to more than this server accepts ({}); \
             drop the attachments (the email still logs) or raise the server's --max-record-mb",
            human_size(limit)
        ),
    )
}

pub fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / MIB)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

pub fn direction_str(d: Direction) -> &'static str {
    match d {
        Direction::Outgoing => "outgoing",
        Direction::Incoming => "incoming",
        Direction::Forwarded => "forwarded",
    }
}

/// A Message-ID as stored: trimmed, without angle brackets.
fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// What a timeline row shows, kept beside the record so a timeline never loads bodies.
#[derive(Serialize, serde::Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub from: Option<Participant>,
    pub to: Vec<Participant>,
    pub cc: Vec<Participant>,
    pub attachments: Vec<AttachmentSummary>,
    pub dropped_attachments: Vec<AttachmentSummary>,
    pub reasons: Vec<String>,
    pub forwarded_by: Option<Participant>,
    pub source: String,
    pub body_truncated: bool,
    pub has_html: bool,
}

#[derive(Serialize, serde::Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentSummary {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
    pub sha256: Option<String>,
    pub inline: bool,
    /// The content is stored on this server (downloadable).
    pub stored: bool,
}

impl Summary {
    fn of(r: &Record, stored: &[&str]) -> Summary {
        let att = |a: &mailtrail::email::Attachment| AttachmentSummary {
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            inline: a.inline,
            stored: a.sha256.as_deref().is_some_and(|h| stored.contains(&h)),
        };
        Summary {
            from: r.from.clone(),
            to: r.to.clone(),
            cc: r.cc.clone(),
            attachments: r.attachments.iter().map(att).collect(),
            dropped_attachments: r.dropped_attachments.iter().map(att).collect(),
            reasons: r.reasons.iter().map(|c| c.as_str().to_string()).collect(),
            forwarded_by: r.forwarded.as_ref().and_then(|f| f.by.clone()),
            source: serde_json::to_value(r.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            body_truncated: r.body_truncated,
            has_html: r.html.as_deref().is_some_and(|h| !h.trim().is_empty()),
        }
    }
}

/// The first words of the email, from its text, else from its HTML with the markup removed.
pub fn snippet(text: Option<&str>, html: Option<&str>) -> String {
    let source = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_string(),
        None => html.map(html_to_text).unwrap_or_default(),
    };
    let mut out = String::with_capacity(SNIPPET_CHARS + 4);
    let mut count = 0;
    let mut last_space = true;
    for c in source.chars() {
        if count >= SNIPPET_CHARS {
            out.push('…');
            break;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                count += 1;
            }
            last_space = true;
        } else {
            out.push(c);
            count += 1;
            last_space = false;
        }
    }
    out.trim_end().to_string()
}

/// Rough text of an HTML body (for snippets only; never rendered as HTML).
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len().min(4096));
    let mut rest = html;
    while !rest.is_empty() && out.len() < 4 * SNIPPET_CHARS {
        match rest.find('<') {
            None => {
                out.push_str(rest);
                break;
            }
            Some(i) => {
                out.push_str(&rest[..i]);
                rest = &rest[i..];
                let lower: String = rest
                    .chars()
                    .take(8)
                    .collect::<String>()
                    .to_ascii_lowercase();
                let skip_to = if lower.starts_with("<style") {
                    Some("</style")
                } else if lower.starts_with("<script") {
                    Some("</script")
                } else if lower.starts_with("<!--") {
                    Some("-->")
                } else {
                    None
                };
                if let Some(end) = skip_to {
                    match find_ascii_ci(rest, end) {
                        Some(j) => rest = &rest[j..],
                        None => break,
                    }
                }
                match rest.find('>') {
                    Some(j) => {
                        rest = &rest[j + 1..];
                        out.push(' ');
                    }
                    None => break,
                }
            }
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    (0..h.len().saturating_sub(n.len()) + 1).find(|&i| {
        h.get(i..i + n.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: serde_json::Value) -> Record {
        let mut base = serde_json::json!({
            "schema": RECORD_SCHEMA, "idempotencyKey": "m1-abc", "direction": "outgoing",
            "timestamp": 1_700_000_000_000i64, "subject": "Hi", "from": {"address": "me@ourco.example"},
            "to": [], "cc": [], "bcc": [], "text": "hello", "html": null, "attachments": [],
            "messageId": "<x@y>", "threadId": null, "contacts": [], "reasons": ["log-checked"],
            "mailbox": "Me@OurCo.example", "source": "gmail", "client": "mailtrail/0.1.0"
        });
        if let (Some(b), Some(extra)) = (base.as_object_mut(), json.as_object()) {
            for (k, v) in extra {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn normalises_and_builds_thread_key() {
        let r = record(serde_json::json!({
            "contacts": [{"address": "Jane@Customer.example", "create": false},
                         {"address": "jane@customer.example", "name": "Jane", "create": true}],
            "references": ["<root@x>", "<p@x>"], "inReplyTo": ["<p@x>"]
        }));
        let n = prepare(r, Some("m1-abc"), 1000, 5).unwrap();
        assert_eq!(n.mailbox, "me@ourco.example");
        assert_eq!(n.message_id.as_deref(), Some("x@y"));
        assert_eq!(n.contacts.len(), 1);
        assert!(n.contacts[0].create);
        assert_eq!(n.contacts[0].name.as_deref(), Some("Jane"));
        assert_eq!(n.thread_refs, vec!["p@x", "root@x"]);
        assert_eq!(n.default_thread_key, "m:root@x");
    }

    #[test]
    fn rejects_with_field_names() {
        let bad = record(serde_json::json!({"contacts": [{"address": "nobody", "create": true}]}));
        assert_eq!(
            prepare(bad, None, 1000, 0).unwrap_err().field.as_deref(),
            Some("contacts[0].address")
        );
        let mismatch = prepare(record(serde_json::json!({})), Some("other"), 1000, 0).unwrap_err();
        assert_eq!(mismatch.code, "idempotency_key_mismatch");
        let data = mailtrail::base64::encode(b"abc");
        let att = |sha: &str| {
            serde_json::json!({"attachments": [{"name": "a.txt", "contentType": "text/plain", "size": 3,
                "sha256": sha, "inline": false, "data": data}]})
        };
        let wrong = prepare(record(att(&"0".repeat(64))), None, 1000, 0).unwrap_err();
        assert_eq!(wrong.field.as_deref(), Some("attachments[0].sha256"));
        let good_sha = hex(&Sha256::digest(b"abc"));
        let ok = prepare(record(att(&good_sha.to_uppercase())), None, 1000, 0).unwrap();
        assert_eq!(ok.blobs.len(), 1);
        assert_eq!(ok.blobs[0].sha256, good_sha);
        assert!(
            !ok.body.contains(&data),
            "attachment data must not be stored in the record body"
        );
        let big = prepare(record(att(&good_sha)), None, 2, 0).unwrap_err();
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn the_record_limit_counts_attachments_not_bodies() {
        let data = mailtrail::base64::encode(b"abc");
        let body = "b".repeat(mailtrail::settings::DEFAULT_BODY_LIMIT as usize);
        let r = record(serde_json::json!({"text": body, "html": body,
            "attachments": [{"name": "a.txt", "contentType": "text/plain", "size": 3,
                "inline": false, "data": data}]}));
        // 3 bytes of attachment against a 3-byte limit: the 2 MiB of bodies do not count.
        let ok = prepare(r, None, 3, 0).unwrap();
        assert_eq!(ok.blobs.len(), 1);
        let long = "x".repeat(MAX_BODY_BYTES as usize + 1);
        let err = prepare(record(serde_json::json!({"html": long})), None, 3, 0).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.field.as_deref(), Some("html"));
    }

    #[test]
    fn snippet_from_html_skips_markup() {
        let s = snippet(
            None,
            Some("<style>p{color:red}</style><p>Hello&nbsp;<b>there</b></p><script>x()</script>!"),
        );
        assert_eq!(s, "Hello there !");
        assert_eq!(snippet(Some("  a \n\n b "), None), "a b");
    }
}
