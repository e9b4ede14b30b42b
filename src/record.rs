//! The CRM record: one logged email, in the form every endpoint receives.
//!
//! The JSON produced here is Mailtrail's public record format (docs/record.md, JSON Schema in
//! docs/record.schema.json). The webhook receives it as is; the HubSpot adapter maps it to CRM v3
//! properties; the local endpoint stores it.

use crate::email::{hex, Attachment, Email, Source};
use crate::reason::ReasonCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The record format's identifier; bumped on breaking changes.
pub const RECORD_SCHEMA: &str = "mailtrail.record/1";

/// Which way the email went, from the mailbox owner's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Sent by the user (Log checkbox, BCC copy).
    #[default]
    Outgoing,
    /// Received from a contact (a reply in a logged thread, "Log this email").
    Incoming,
    /// Forwarded to the CRM: the original sender is the contact.
    Forwarded,
}

/// A person on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// Normalised address (lower case, ASCII domain).
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl From<&crate::address::Mailbox> for Participant {
    fn from(m: &crate::address::Mailbox) -> Self {
        Participant {
            address: m.normalized.clone(),
            name: m.name.clone(),
        }
    }
}

/// A contact the record is associated with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ContactRef {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Create the contact when the CRM does not know it yet.
    pub create: bool,
}

/// Who forwarded the email, and what they wrote above it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ForwardInfo {
    pub by: Option<Participant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it was forwarded (ms), i.e. the forwarding message's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// The forwarding message's own Message-ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// The record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Always [`RECORD_SCHEMA`].
    pub schema: String,
    /// Stable across retries and devices: see [`idempotency_key`].
    pub idempotency_key: String,
    pub direction: Direction,
    /// When the email was sent, ms since the epoch (UTC).
    pub timestamp: i64,
    pub subject: String,
    pub from: Option<Participant>,
    pub to: Vec<Participant>,
    pub cc: Vec<Participant>,
    pub bcc: Vec<Participant>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// True when text or HTML was cut at the body limit.
    #[serde(default)]
    pub body_truncated: bool,
    pub attachments: Vec<Attachment>,
    /// Attachments not sent (over the limit, or attachments turned off): metadata only.
    #[serde(default)]
    pub dropped_attachments: Vec<Attachment>,
    pub message_id: Option<String>,
    #[serde(default)]
    pub in_reply_to: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
    /// The provider's thread id (Gmail thread id, Outlook conversationId).
    pub thread_id: Option<String>,
    /// The compose window's draft id, so ids learnt after sending can be attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_id: Option<String>,
    /// Contacts to associate the email with.
    pub contacts: Vec<ContactRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<ForwardInfo>,
    /// The reason codes behind the decision, for the CRM's timeline.
    pub reasons: Vec<ReasonCode>,
    /// The mailbox this was logged from (normalised), used to deduplicate per mailbox.
    pub mailbox: Option<String>,
    pub source: Source,
    /// `mailtrail/<version>`.
    pub client: String,
}

/// The client string put on every record.
pub fn client_string() -> String {
    format!("mailtrail/{}", env!("CARGO_PKG_VERSION"))
}

/// The idempotency key of an email.
///
/// With a Message-ID: `m1-` + the first 32 hex digits of SHA-256 of the id, so the same email
/// logged from Gmail, Outlook and the IMAP watcher gets the same key. Without one (a compose
/// window before the provider assigned an id): `c1-` + a hash of what identifies the content:
/// direction, draft id, sender, recipients, subject, date and body.
pub fn idempotency_key(email: &Email, direction: Direction) -> String {
    idempotency_key_ignoring(email, direction, &[])
}

/// [`idempotency_key`], leaving the `ignored` (normalised) recipients out of the content hash:
/// the CRM's own BCC and forwarding addresses, so a send retried after the BCC was added (BCC or
/// "both" mode) keeps its key.
pub fn idempotency_key_ignoring(email: &Email, direction: Direction, ignored: &[&str]) -> String {
    if let Some(id) = &email.message_id {
        let digest = Sha256::digest(id.as_bytes());
        return ["m1-", &hex(&digest[..16])].concat();
    }
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &str| {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
    };
    field(
        "direction",
        match direction {
            Direction::Outgoing => "o",
            Direction::Incoming => "i",
            Direction::Forwarded => "f",
        },
    );
    field("draft", email.draft_id.as_deref().unwrap_or(""));
    field(
        "from",
        email
            .from
            .as_ref()
            .map(|m| m.normalized.as_str())
            .unwrap_or(""),
    );
    let mut recipients: Vec<&str> = email
        .recipients()
        .map(|m| m.normalized.as_str())
        .filter(|r| !ignored.contains(r))
        .collect();
    recipients.sort_unstable();
    recipients.dedup();
    for r in recipients {
        field("rcpt", r);
    }
    field("subject", &email.subject);
    field(
        "date",
        &email
            .date
            .as_ref()
            .map(|d| d.timestamp.to_string())
            .unwrap_or_default(),
    );
    field("text", email.text.as_deref().unwrap_or(""));
    field("html", email.html.as_deref().unwrap_or(""));
    ["c1-", &hex(&h.finalize()[..16])].concat()
}

/// What the record needs beyond the email and the decision.
#[derive(Debug, Clone, Default)]
pub struct RecordMeta {
    /// The mailbox the email is logged from (normalised).
    pub mailbox: Option<String>,
    pub forwarded: Option<ForwardInfo>,
    /// Used as the timestamp when the email has no date (a compose window at send time).
    pub now_ms: i64,
    /// The idempotency key when the caller already computed it for the decision's direction
    /// (a content key hashes the whole body: no need to do it twice).
    pub idempotency_key: Option<String>,
}

/// Builds the record for a decision that says to log. Drops the attachments the decision
/// dropped (keeping their metadata) and truncates bodies at the body limit.
pub fn build(
    email: &Email,
    decision: &crate::policy::Decision,
    settings: &crate::settings::Settings,
    meta: RecordMeta,
) -> Record {
    let mut dropped_pool: Vec<&Attachment> = decision.dropped_attachments.iter().collect();
    let mut attachments = Vec::new();
    let mut dropped = Vec::new();
    for a in &email.attachments {
        if let Some(pos) = dropped_pool.iter().position(|d| d.same_file(a)) {
            dropped_pool.remove(pos);
            dropped.push(a.metadata());
        } else {
            attachments.push(a.clone());
        }
    }
    let limit = settings.body_limit_bytes();
    let mut text = email.text.clone();
    let mut html = email.html.clone();
    let mut truncated = false;
    if let Some(t) = text.as_mut() {
        truncated |= truncate_utf8(t, limit);
    }
    if let Some(h) = html.as_mut() {
        truncated |= truncate_utf8(h, limit);
    }
    let people =
        |v: &[crate::address::Mailbox]| v.iter().map(Participant::from).collect::<Vec<_>>();
    Record {
        schema: RECORD_SCHEMA.into(),
        idempotency_key: meta.idempotency_key.unwrap_or_else(|| {
            idempotency_key_ignoring(email, decision.direction, &settings.crm_addresses())
        }),
        direction: decision.direction,
        timestamp: email
            .date
            .as_ref()
            .map(|d| d.timestamp)
            .unwrap_or(meta.now_ms),
        subject: email.subject.clone(),
        from: email.from.as_ref().map(Participant::from),
        to: people(&email.to),
        cc: people(&email.cc),
        bcc: people(&email.bcc),
        text,
        html,
        body_truncated: truncated,
        attachments,
        dropped_attachments: dropped,
        message_id: email.message_id.clone(),
        in_reply_to: email.in_reply_to.clone(),
        references: email.references.clone(),
        thread_id: email.thread_id.clone(),
        draft_id: email.draft_id.clone(),
        contacts: decision.contacts.clone(),
        forwarded: meta.forwarded,
        reasons: decision.codes(),
        mailbox: meta.mailbox,
        source: email.source,
        client: client_string(),
    }
}

/// Cuts `s` to at most `limit` bytes on a character boundary. Returns whether it was cut.
pub fn truncate_utf8(s: &mut String, limit: usize) -> bool {
    if s.len() <= limit {
        return false;
    }
    let mut end = limit;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::{ComposeData, ParseOptions};

    #[test]
    fn key_from_message_id_is_stable_and_source_independent() {
        let a = Email::from_raw(
            b"Message-ID: <x@y>\r\nFrom: a@b.c\r\n\r\nhi",
            ParseOptions::default(),
        )
        .unwrap();
        let mut b = a.clone();
        b.source = Source::Gmail;
        b.subject = "different".into();
        assert_eq!(
            idempotency_key(&a, Direction::Outgoing),
            idempotency_key(&b, Direction::Incoming)
        );
        assert!(idempotency_key(&a, Direction::Outgoing).starts_with("m1-"));
        assert_eq!(idempotency_key(&a, Direction::Outgoing).len(), 35);
    }

    #[test]
    fn content_key_changes_with_content_not_recipient_order() {
        let mk = |to: Vec<&str>, subject: &str| {
            let data = ComposeData {
                to: to
                    .into_iter()
                    .map(|s| crate::email::AddressInput::Text(s.into()))
                    .collect(),
                subject: Some(subject.into()),
                draft_id: Some("r-1".into()),
                ..Default::default()
            };
            Email::from_compose(&data).unwrap()
        };
        let k1 = idempotency_key(
            &mk(vec!["a@x.example", "b@x.example"], "Hi"),
            Direction::Outgoing,
        );
        let k2 = idempotency_key(
            &mk(vec!["B@x.example", "a@x.example"], "Hi"),
            Direction::Outgoing,
        );
        let k3 = idempotency_key(
            &mk(vec!["a@x.example", "b@x.example"], "Hi!"),
            Direction::Outgoing,
        );
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert!(k1.starts_with("c1-"));
    }

    #[test]
    fn content_key_ignores_the_crm_addresses() {
        let mut e = Email::from_compose(&ComposeData {
            to: vec![crate::email::AddressInput::Text("a@x.example".into())],
            subject: Some("Hi".into()),
            ..Default::default()
        })
        .unwrap();
        let before = idempotency_key_ignoring(&e, Direction::Outgoing, &["log@bcc.crm.example"]);
        e.bcc
            .push(crate::address::Mailbox::parse("log@bcc.crm.example").unwrap());
        assert_eq!(
            idempotency_key_ignoring(&e, Direction::Outgoing, &["log@bcc.crm.example"]),
            before
        );
        assert_ne!(idempotency_key(&e, Direction::Outgoing), before);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "zażółć".to_string();
        assert!(truncate_utf8(&mut s, 4));
        assert_eq!(s, "zaż");
        let mut t = "abc".to_string();
        assert!(!truncate_utf8(&mut t, 10));
    }
}
