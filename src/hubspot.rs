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
    /// `hubspot_owner_id` for every email created (digits, validated in the settings).
    pub owner_id: Option<&'a str>,
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
///
/// What is not a name is left out first: surrounding quotes (`'Jan Kowalski'`), a trailing
/// company (`Jan Kowalski (Acme)`, `Jan Kowalski | Acme`) and a suffix or title after a comma
/// (`John Doe, PhD`, `Jan Kowalski, CEO`: the part after the comma is not a first name).
pub fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(name) = name
        .map(clean_name)
        .filter(|n| !n.is_empty() && !n.contains('@'))
    else {
        return (None, None);
    };
    let name = name.as_str();
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

/// Suffixes and titles written after a comma, lower case without dots.
const NAME_SUFFIXES: &[&str] = &[
    "jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "msc", "bsc", "esq", "dds", "cpa", "rn",
    "dr", "prof", "ceo", "cto", "cfo", "coo", "cio", "cmo", "vp", "svp", "evp", "gm", "mgr",
    "dipl-ing", "inż", "mgr inż", "dr inż",
];

fn clean_name(raw: &str) -> String {
    let mut name = raw.trim();
    // Quotes around the whole name: 'Jan Kowalski', "Jan Kowalski", ‘…’, “…”, «…».
    loop {
        let mut chars = name.chars();
        let (Some(first), Some(last)) = (chars.next(), chars.next_back()) else {
            break;
        };
        let pair = matches!(
            (first, last),
            ('\'', '\'') | ('"', '"') | ('‘', '’') | ('“', '”') | ('«', '»') | ('„', '”')
        );
        if !pair {
            break;
        }
        name = name[first.len_utf8()..name.len() - last.len_utf8()].trim();
    }
    // A company after a bar, or in brackets at the end.
    if let Some((before, _)) = name.split_once('|') {
        if !before.trim().is_empty() {
            name = before.trim();
        }
    }
    while let Some(open) = name.strip_suffix(')').and_then(|n| n.rfind('(')) {
        let before = name[..open].trim();
        if before.is_empty() {
            break;
        }
        name = before;
    }
    // Suffixes and titles after a comma: "John Doe, PhD", "Jan Kowalski, CEO", "Doe, John, Jr.".
    while let Some((head, tail)) = name.rsplit_once(',') {
        let (head, tail) = (head.trim(), tail.trim());
        if head.is_empty() || !is_name_suffix(tail, head) {
            break;
        }
        name = head;
    }
    name.trim_matches(|c: char| c == ',' || c.is_whitespace())
        .to_string()
}

/// True when `tail`, written after a comma, is a suffix or title rather than a first name.
fn is_name_suffix(tail: &str, head: &str) -> bool {
    let key = tail.replace('.', "").to_lowercase();
    if key.is_empty() || NAME_SUFFIXES.contains(&key.as_str()) {
        return true;
    }
    // An acronym (CEO, MBA, VP) after a name that is not itself in capitals.
    let acronym = tail.chars().count() <= 5
        && tail.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && tail
            .chars()
            .all(|c| c.is_uppercase() || c == '.' || c == '&');
    let head_in_capitals = head
        .chars()
        .filter(|c| c.is_alphabetic())
        .all(char::is_uppercase);
    if acronym && !head_in_capitals {
        return true;
    }
    // "Jan Kowalski, Head of Sales": a full name before, several words after.
    head.split_whitespace().count() >= 2 && tail.split_whitespace().count() >= 2
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32,
            0x3040..=0x30FF      // hiragana, katakana
            | 0x3400..=0x4DBF    // CJK ext A
            | 0x4E00..=0x9FFF    // CJK unified
            | 0xF900..=0xFAFF    // CJK compatibility ideographs
            | 0xFF65..=0xFF9F    // half-width katakana
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

/// The most a HubSpot text property holds, counted as HubSpot (Java, JavaScript) counts a
/// string's length: in UTF-16 code units. An emoji is two; "ą" and "山" are one.
pub const TEXT_PROPERTY_LIMIT: usize = 65_536;

/// A string's length as HubSpot counts it (UTF-16 code units).
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The bodies sent to HubSpot, each within [`TEXT_PROPERTY_LIMIT`], and what was changed to
/// get there (empty when nothing was).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bodies {
    pub text: Option<String>,
    pub html: Option<String>,
    /// For people: what was shortened or left out (a [`ReasonCode::BodyTruncated`] detail).
    pub shortened: Option<String>,
}

const TEXT_NOTE: &str =
    "\n\n[…] Shortened by Mailtrail: HubSpot keeps at most 65,536 characters of an email body.";
const HTML_LEFT_OUT_NOTE: &str = "\n\n[Mailtrail: the formatted (HTML) version of this email was \
    longer than HubSpot keeps (65,536 characters); this is its plain text.]";
const HTML_NOTE: &str = "<p>[…] Shortened by Mailtrail: HubSpot keeps at most 65,536 characters \
    of an email body.</p>";

/// Fits the record's bodies into HubSpot's text properties rather than have the whole email
/// refused (`400 VALIDATION_ERROR`, which would leave it unlogged for good):
/// - a text body too long is cut on a character boundary and says so at its end;
/// - an HTML body too long is left out when there is a text body (HubSpot shows the text; a
///   note at its end says the HTML was left out); without one, it is cut where the cut cannot
///   break the rest of the page (between tags, outside comments, scripts and styles) and says
///   so at its end.
///
/// `text_only` (the second try after HubSpot still refused a body's length) sends no HTML and
/// cuts the text to [`TEXT_PROPERTY_LIMIT`] *bytes* of UTF-8, within the limit however HubSpot
/// counts; without a text body, the HTML's text content stands in for it.
pub fn fit_bodies(record: &Record, text_only: bool) -> Bodies {
    let listing = attachment_listing(record);
    let mut out = Bodies {
        text: record.text.clone(),
        html: if text_only {
            None
        } else {
            record.html.as_ref().map(|h| match &listing {
                Some(list) => format!("{h}<p>{}</p>", escape_html(list)),
                None => h.clone(),
            })
        },
        shortened: None,
    };
    if out.text.is_none() && out.html.is_none() && listing.is_some() {
        out.text = Some(String::new()); // an email with only attachments still lists them
    }
    let mut notes: Vec<&str> = Vec::new();
    let mut text_note = listing
        .as_deref()
        .map(|list| format!("\n\n{list}"))
        .unwrap_or_default();
    if text_only && record.html.is_some() {
        if out.text.as_deref().is_none_or(|t| t.trim().is_empty()) {
            // The engine's own HTML reader (quotes as `> ` lines, every entity decoded).
            out.text = record
                .html
                .as_deref()
                .map(|h| crate::extract::html::to_text(h).text);
        }
        text_note.push_str(HTML_LEFT_OUT_NOTE);
        notes.push("the HTML version was left out (HubSpot refused its length)");
    }
    if let Some(html) = out.html.take() {
        if utf16_len(&html) <= TEXT_PROPERTY_LIMIT {
            out.html = Some(html);
        } else if out.text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
            text_note.push_str(HTML_LEFT_OUT_NOTE);
            notes.push("the HTML version was longer than HubSpot keeps (65,536 characters) and was left out; the text version was logged");
        } else {
            let budget = TEXT_PROPERTY_LIMIT - utf16_len(HTML_NOTE);
            let end = html_safe_end(&html, budget);
            out.html = Some(format!("{}{HTML_NOTE}", &html[..end]));
            notes.push("the HTML body was cut to the 65,536 characters HubSpot keeps");
        }
    }
    if let Some(text) = out.text.take() {
        let fits = |t: &str, extra: usize| {
            if text_only {
                t.len() + extra <= TEXT_PROPERTY_LIMIT
            } else {
                utf16_len(t) + extra <= TEXT_PROPERTY_LIMIT
            }
        };
        let measure = |t: &str| if text_only { t.len() } else { utf16_len(t) };
        let text = if fits(&text, measure(&text_note)) {
            text + &text_note
        } else {
            let note = format!("{TEXT_NOTE}{text_note}");
            let budget = TEXT_PROPERTY_LIMIT - measure(&note);
            let end = if text_only {
                floor_char_boundary(&text, budget)
            } else {
                utf16_prefix_end(&text, budget)
            };
            notes.push("the text body was cut to the 65,536 characters HubSpot keeps");
            format!("{}{note}", &text[..end])
        };
        out.text = Some(text);
    }
    if !notes.is_empty() {
        out.shortened = Some(notes.join("; "));
    }
    out
}

/// What was attached, for the email's body in HubSpot: Mailtrail does not upload files (that
/// takes HubSpot's Files API), so without this a sales rep would not know a quote came with the
/// email. Inline images are part of the HTML and not listed; attachments over the size limit
/// are listed as not sent. `None` when nothing was attached.
fn attachment_listing(record: &Record) -> Option<String> {
    let listed: Vec<String> = record
        .attachments
        .iter()
        .filter(|a| !a.inline)
        .map(|a| describe_attachment(a, false))
        .chain(
            record
                .dropped_attachments
                .iter()
                .filter(|a| !a.inline)
                .map(|a| describe_attachment(a, true)),
        )
        .collect();
    (!listed.is_empty()).then(|| {
        format!(
            "[Attachments, kept in the mailbox (Mailtrail does not upload files to HubSpot): {}]",
            listed.join(", ")
        )
    })
}

fn describe_attachment(a: &crate::email::Attachment, dropped: bool) -> String {
    let name = a.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let size = human_size(a.size);
    let what = match name {
        Some(n) => format!("{n} ({size})"),
        None => format!("{} ({size})", a.content_type),
    };
    if dropped {
        format!("{what}, over the size limit")
    } else {
        what
    }
}

/// `48 KB`, `2.1 MB`: sizes as people read them (1 KB = 1024 bytes, as mail clients show).
fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < MB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The byte index where the longest prefix of `s` of at most `units` UTF-16 units ends.
fn utf16_prefix_end(s: &str, units: usize) -> usize {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return i;
        }
    }
    s.len()
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The byte index of the last place within `units` UTF-16 units where HTML can be cut without
/// swallowing what follows: between tags, outside a comment and outside a `<script>`,
/// `<style>`, `<title>` or `<textarea>` (whose content a browser reads up to its end tag).
fn html_safe_end(html: &str, units: usize) -> usize {
    #[derive(PartialEq)]
    enum At {
        Text,
        Tag { start: usize, quote: Option<char> },
        Comment,
        Raw(&'static str),
    }
    const RAW: [&str; 4] = ["script", "style", "title", "textarea"];
    let starts_with_ci = |at: usize, prefix: &str| {
        html.get(at..at + prefix.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(prefix))
    };
    let mut state = At::Text;
    let mut used = 0;
    let mut safe = 0;
    for (i, c) in html.char_indices() {
        if state == At::Text {
            safe = i;
        }
        used += c.len_utf16();
        if used > units {
            return safe;
        }
        state = match state {
            At::Text if c == '<' && starts_with_ci(i, "<!--") => At::Comment,
            At::Text if c == '<' => At::Tag {
                start: i,
                quote: None,
            },
            At::Text => At::Text,
            At::Comment if c == '>' && html[..i].ends_with("--") => At::Text,
            At::Comment => At::Comment,
            At::Tag { start, quote: None } if c == '>' => {
                let name: String = html[start + 1..i]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                match RAW.iter().find(|r| **r == name) {
                    Some(raw) => At::Raw(raw),
                    None => At::Text,
                }
            }
            At::Tag { start, quote: None } if c == '"' || c == '\'' => At::Tag {
                start,
                quote: Some(c),
            },
            At::Tag { start, quote } if quote == Some(c) => At::Tag { start, quote: None },
            tag @ At::Tag { .. } => tag,
            At::Raw(name) if c == '<' && starts_with_ci(i, "</") && starts_with_ci(i + 2, name) => {
                // The end tag itself: back to reading a tag (`</…` names no raw element).
                At::Tag {
                    start: i,
                    quote: None,
                }
            }
            raw @ At::Raw(_) => raw,
        };
    }
    if state == At::Text {
        html.len()
    } else {
        safe
    }
}

/// The properties of the email engagement, with bodies already fitted ([`fit_bodies`]), and
/// `hubspot_owner_id` when an owner is configured (the timeline then names who logged it).
pub fn email_properties(record: &Record, bodies: &Bodies, owner_id: Option<&str>) -> Value {
    let mut props = json!({
        "hs_timestamp": record.timestamp.to_string(),
        "hs_email_direction": direction_property(record.direction),
        "hs_email_status": "SENT",
        "hs_email_subject": record.subject,
        "hs_email_headers": email_headers(record),
    });
    if let Some(text) = &bodies.text {
        props["hs_email_text"] = json!(text);
    }
    if let Some(html) = &bodies.html {
        props["hs_email_html"] = json!(html);
    }
    if let Some(owner) = owner_id {
        props["hubspot_owner_id"] = json!(owner);
    }
    props
}

/// True when a `400` to an email create names `hubspot_owner_id`: the configured owner is not
/// one of this account's owners (HubSpot: `INVALID_OWNER_ID`).
pub fn refuses_owner(response: &HttpResponse) -> bool {
    response.status == 400 && response.body.contains("hubspot_owner_id")
}

/// Path of HubSpot's owners (read-only; scope `crm.objects.owners.read`).
pub const OWNERS_PATH: &str = "/crm/v3/owners/";
/// The scope the owners API needs.
pub const OWNERS_SCOPE: &str = "crm.objects.owners.read";

/// `GET /crm/v3/owners/?email=…`: the owner (HubSpot user) with this address.
pub fn owner_by_email_request(hs: &HubSpot<'_>, email: &str) -> HttpRequest {
    hs.auth(HttpRequest::get(format!(
        "{}?email={}&limit=1",
        hs.url(OWNERS_PATH),
        query_escape(email)
    )))
}

/// A HubSpot owner, as "Test connection" reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The owner id (`hubspot_owner_id`), not the user id.
    pub id: String,
    pub email: Option<String>,
    /// First and last name, when HubSpot has them.
    pub name: Option<String>,
}

/// The first owner in an owners answer whose id is a number (what `hubspot_owner_id` takes).
pub fn first_owner(response: &HttpResponse) -> Option<Owner> {
    let v: Value = serde_json::from_str(&response.body).ok()?;
    v["results"].as_array()?.iter().find_map(|o| {
        let id = match &o["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let text = |k: &str| {
            o[k].as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let name = [text("firstName"), text("lastName")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Some(Owner {
            id,
            email: text("email"),
            name: (!name.is_empty()).then_some(name),
        })
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay; `@` and `+` do not).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// True when a `400` names the length of an email body property: the answer to send the email
/// again with text only ([`fit_bodies`] with `text_only`).
pub fn refuses_body_length(response: &HttpResponse) -> bool {
    if response.status != 400 {
        return false;
    }
    let body = response.body.to_ascii_lowercase();
    let names_body = body.contains("hs_email_html") || body.contains("hs_email_text");
    let about_length = [
        "length",
        "too long",
        "too large",
        "exceed",
        "maximum",
        "max ",
        "65536",
        "65,536",
        "characters",
    ]
    .iter()
    .any(|w| body.contains(w));
    names_body && about_length
}

/// `POST {emails_path}`: create the email, associated with the given contact ids.
pub fn create_email_request(
    hs: &HubSpot<'_>,
    record: &Record,
    bodies: &Bodies,
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
    let body = json!({ "properties": email_properties(record, bodies, hs.owner_id), "associations": associations });
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

/// `POST {emails_path}/search`: an email with this timestamp, direction and subject (and, when
/// given, associated with this contact), to avoid creating a second copy when an earlier
/// attempt may have succeeded without us hearing the answer. An empty subject is matched as
/// "no subject" (`NOT_HAS_PROPERTY`: HubSpot does not store an empty value, and `EQ ""` would
/// match nothing). The contact narrows it further: another email in the portal at the same
/// millisecond with the same subject is rare, to the same contact rarer still.
pub fn search_existing_request(
    hs: &HubSpot<'_>,
    record: &Record,
    contact_id: Option<&str>,
) -> HttpRequest {
    let mut filters = vec![
        json!({ "propertyName": "hs_timestamp", "operator": "EQ", "value": record.timestamp.to_string() }),
        json!({ "propertyName": "hs_email_direction", "operator": "EQ", "value": direction_property(record.direction) }),
    ];
    if record.subject.trim().is_empty() {
        filters.push(json!({ "propertyName": "hs_email_subject", "operator": "NOT_HAS_PROPERTY" }));
    } else {
        filters.push(json!({ "propertyName": "hs_email_subject", "operator": "EQ", "value": record.subject }));
    }
    if let Some(id) = contact_id {
        filters
            .push(json!({ "propertyName": "associations.contact", "operator": "EQ", "value": id }));
    }
    let body = json!({
        "filterGroups": [{ "filters": filters }],
        "properties": ["hs_email_subject", "hs_timestamp", "hs_email_direction"],
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

/// The existing contact's id in a `409 CONFLICT` to a contact create
/// (`"Contact already exists. Existing ID: 12345"`), in the message or a nested error's.
pub fn existing_contact_id(response: &HttpResponse) -> Option<String> {
    let v: Value = serde_json::from_str(&response.body).ok()?;
    let messages = std::iter::once(&v["message"]).chain(
        v["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| &e["message"]),
    );
    messages.filter_map(Value::as_str).find_map(|m| {
        let (_, after) = m.split_once("Existing ID:")?;
        let id: String = after
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (!id.is_empty()).then_some(id)
    })
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
