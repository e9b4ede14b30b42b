//! HubSpot CRM v3: mapping a [`Record`] to an email engagement, and reading HubSpot's answers.
//!
//! The functions here build requests and interpret responses; they never send anything
//! (see [`crate::delivery`] for the sequence). Facts used (HubSpot's public API documentation):
//! - `POST {emails_path}` with `properties` and inline `associations` creates the email;
//! - `hs_email_headers` is a JSON *string* of `{from, to, cc, bcc}` objects with `email`,
//!   `firstName`, `lastName` (a bare address there is rejected with `INVALID_JSON`);
//! - association type 198 (`HUBSPOT_DEFINED`) links an email to a contact;
//! - contacts are read by email with `batch/read` and `idProperty=email`;
//! - HubSpot has no idempotency key, so Mailtrail checks before re-creating an email whose
//!   earlier attempt may have reached HubSpot (see [`search_existing_request`]).

use crate::http::{retry_after_ms, HttpRequest, HttpResponse};
use crate::record::{Direction, Participant, Record};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Association type id: email → contact (HUBSPOT_DEFINED).
pub const EMAIL_TO_CONTACT: u32 = 198;
/// HubSpot's batch endpoints take at most 100 inputs.
pub const BATCH_LIMIT: usize = 100;

/// Where to reach HubSpot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpot<'a> {
    pub token: &'a str,
    pub base_url: &'a str,
    pub emails_path: &'a str,
    pub contacts_path: &'a str,
}

impl HubSpot<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }
    fn auth(&self, req: HttpRequest) -> HttpRequest {
        req.header("Authorization", format!("Bearer {}", self.token))
    }
}

/// `hs_email_direction` for a record direction.
pub fn direction_property(direction: Direction) -> &'static str {
    match direction {
        Direction::Outgoing => "EMAIL",
        Direction::Incoming => "INCOMING_EMAIL",
        Direction::Forwarded => "FORWARDED_EMAIL",
    }
}

/// Splits a display name into HubSpot's first and last name.
///
/// `"Doe, John"` → (John, Doe); `"John Doe"` → (John, Doe); `"山田 太郎"` (family name first,
/// as written in Japanese and Chinese) → (太郎, 山田); a single word is a first name.
pub fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.contains('@'))
    else {
        return (None, None);
    };
    if let Some((last, first)) = name.split_once(',') {
        let (first, last) = (first.trim(), last.trim());
        if !first.is_empty() && !last.is_empty() {
            return (Some(first.to_string()), Some(last.to_string()));
        }
    }
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.as_slice() {
        [] => (None, None),
        [one] => (Some(one.to_string()), None),
        [first @ .., last] if !is_cjk(name) => (Some(first.join(" ")), Some(last.to_string())),
        [family, given @ ..] => (Some(given.join(" ")), Some(family.to_string())),
    }
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF      // hiragana, katakana
            | 0x3400..=0x4DBF    // CJK ext A
            | 0x4E00..=0x9FFF    // CJK unified
            | 0xAC00..=0xD7AF) // hangul
    })
}

fn header_person(p: &Participant) -> Value {
    let (first, last) = split_name(p.name.as_deref());
    let mut v = json!({ "email": p.address });
    if let Some(f) = first {
        v["firstName"] = json!(f);
    }
    if let Some(l) = last {
        v["lastName"] = json!(l);
    }
    v
}

/// The `hs_email_headers` JSON string.
pub fn email_headers(record: &Record) -> String {
    let list = |ps: &[Participant]| ps.iter().map(header_person).collect::<Vec<_>>();
    let from = record
        .from
        .as_ref()
        .map(header_person)
        .unwrap_or_else(|| json!({}));
    json!({
        "from": from,
        "to": list(&record.to),
        "cc": list(&record.cc),
        "bcc": list(&record.bcc),
    })
    .to_string()
}

/// The properties of the email engagement.
pub fn email_properties(record: &Record) -> Value {
    let mut props = json!({
        "hs_timestamp": record.timestamp.to_string(),
        "hs_email_direction": direction_property(record.direction),
        "hs_email_status": "SENT",
        "hs_email_subject": record.subject,
        "hs_email_headers": email_headers(record),
    });
    if let Some(text) = &record.text {
        props["hs_email_text"] = json!(text);
    }
    if let Some(html) = &record.html {
        props["hs_email_html"] = json!(html);
    }
    props
}

/// `POST {emails_path}`: create the email, associated with the given contact ids.
pub fn create_email_request(
    hs: &HubSpot<'_>,
    record: &Record,
    contact_ids: &[String],
) -> HttpRequest {
    let associations: Vec<Value> = contact_ids
        .iter()
        .map(|id| {
            json!({
                "to": { "id": id },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": EMAIL_TO_CONTACT }]
            })
        })
        .collect();
    let body = json!({ "properties": email_properties(record), "associations": associations });
    hs.auth(HttpRequest::post_json(
        hs.url(hs.emails_path),
        body.to_string(),
    ))
}

/// `POST {contacts_path}/batch/read` by email (≤ [`BATCH_LIMIT`] addresses).
pub fn read_contacts_request(hs: &HubSpot<'_>, addresses: &[&str]) -> HttpRequest {
    let inputs: Vec<Value> = addresses.iter().map(|a| json!({ "id": a })).collect();
    let body = json!({ "idProperty": "email", "inputs": inputs, "properties": ["email", "firstname", "lastname"] });
    hs.auth(HttpRequest::post_json(
        format!("{}/batch/read", hs.url(hs.contacts_path)),
        body.to_string(),
    ))
}

/// `POST {contacts_path}/batch/create` for new contacts.
pub fn create_contacts_request(hs: &HubSpot<'_>, people: &[(&str, Option<&str>)]) -> HttpRequest {
    let inputs: Vec<Value> = people
        .iter()
        .map(|(address, name)| {
            let (first, last) = split_name(*name);
            let mut props = json!({ "email": address });
            if let Some(f) = first {
                props["firstname"] = json!(f);
            }
            if let Some(l) = last {
                props["lastname"] = json!(l);
            }
            json!({ "properties": props })
        })
        .collect();
    let body = json!({ "inputs": inputs });
    hs.auth(HttpRequest::post_json(
        format!("{}/batch/create", hs.url(hs.contacts_path)),
        body.to_string(),
    ))
}

/// `POST {emails_path}/search`: an email with this timestamp and subject, to avoid creating a
/// second copy when an earlier attempt may have succeeded without us hearing the answer.
pub fn search_existing_request(hs: &HubSpot<'_>, record: &Record) -> HttpRequest {
    let body = json!({
        "filterGroups": [{ "filters": [
            { "propertyName": "hs_timestamp", "operator": "EQ", "value": record.timestamp.to_string() },
            { "propertyName": "hs_email_subject", "operator": "EQ", "value": record.subject },
        ]}],
        "properties": ["hs_email_subject", "hs_timestamp"],
        "limit": 1
    });
    hs.auth(HttpRequest::post_json(
        format!("{}/search", hs.url(hs.emails_path)),
        body.to_string(),
    ))
}

/// `email → contact id` from a batch read or batch create answer (200, 201 or 207 multi-status).
pub fn contact_ids(response: &HttpResponse) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Ok(v) = serde_json::from_str::<Value>(&response.body) else {
        return out;
    };
    for r in v["results"].as_array().into_iter().flatten() {
        let id = r["id"].as_str();
        let email = r["properties"]["email"].as_str();
        if let (Some(id), Some(email)) = (id, email) {
            if let Ok(normalized) = crate::address::normalize_address(email) {
                out.insert(normalized, id.to_string());
            }
        }
    }
    out
}

/// The first result's id of a search answer.
pub fn first_search_id(response: &HttpResponse) -> Option<String> {
    let v: Value = serde_json::from_str(&response.body).ok()?;
    v["results"].as_array()?.first()?["id"]
        .as_str()
        .map(str::to_string)
}

/// The id of a created object.
pub fn created_id(response: &HttpResponse) -> Option<String> {
    let v: Value = serde_json::from_str(&response.body).ok()?;
    v["id"].as_str().map(str::to_string)
}

/// How long to wait after a HubSpot 429. `Retry-After` wins; otherwise the policy in the body:
/// the ten-second window → 10 s, the daily cap → one hour (it resets at midnight in the
/// account's time zone, which Mailtrail does not know), the search limit → 1 s.
pub fn rate_limit_wait_ms(response: &HttpResponse, now_ms: i64) -> u64 {
    if let Some(ms) = response
        .header("Retry-After")
        .and_then(|v| retry_after_ms(v, now_ms))
    {
        return ms;
    }
    let policy = serde_json::from_str::<Value>(&response.body)
        .ok()
        .and_then(|v| v["policyName"].as_str().map(str::to_ascii_uppercase))
        .unwrap_or_default();
    match policy.as_str() {
        "DAILY" => 3_600_000,
        "SECONDLY" => 1_000,
        _ => 10_000,
    }
}

/// A person-readable message from HubSpot's error body (`message`, plus `category`).
pub fn error_message(response: &HttpResponse) -> (String, Option<String>) {
    match serde_json::from_str::<Value>(&response.body) {
        Ok(v) => {
            let message = v["message"].as_str().unwrap_or("").to_string();
            let category = v["category"]
                .as_str()
                .or_else(|| v["errorType"].as_str())
                .map(str::to_string);
            let message = if message.is_empty() {
                format!("HubSpot answered {}", response.status)
            } else {
                format!("HubSpot answered {}: {}", response.status, message)
            };
            (message, category)
        }
        Err(_) => (format!("HubSpot answered {}", response.status), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_the_way_people_write_them() {
        assert_eq!(
            split_name(Some("Doe, John")),
            (Some("John".into()), Some("Doe".into()))
        );
        assert_eq!(
            split_name(Some("John Ronald Doe")),
            (Some("John Ronald".into()), Some("Doe".into()))
        );
        assert_eq!(
            split_name(Some("山田 太郎")),
            (Some("太郎".into()), Some("山田".into()))
        );
        assert_eq!(split_name(Some("Cher")), (Some("Cher".into()), None));
        assert_eq!(split_name(Some("a@b.c")), (None, None));
        assert_eq!(split_name(None), (None, None));
    }

    #[test]
    fn rate_limit_waits() {
        let r = |body: &str, headers: Vec<(String, String)>| HttpResponse {
            status: 429,
            headers,
            body: body.into(),
        };
        assert_eq!(
            rate_limit_wait_ms(&r(r#"{"policyName":"TEN_SECONDLY_ROLLING"}"#, vec![]), 0),
            10_000
        );
        assert_eq!(
            rate_limit_wait_ms(&r(r#"{"policyName":"DAILY"}"#, vec![]), 0),
            3_600_000
        );
        assert_eq!(
            rate_limit_wait_ms(&r("{}", vec![("retry-after".into(), "3".into())]), 0),
            3_000
        );
    }
}
