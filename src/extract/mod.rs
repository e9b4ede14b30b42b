//! Forwarded-email and reply extraction.
//!
//! When a user forwards a customer's email to the CRM, the record must show the *original*
//! email (sender, recipients, date, subject, body) and, separately, the note the forwarder
//! wrote above it. When a reply is logged, its timeline text is the new reply, with the
//! quoted history and the signature recognised. Every mail client writes these differently
//! and localises them; this module knows Gmail, Outlook (2013–365, new Outlook, OWA),
//! Apple Mail, Thunderbird, Yahoo, HubSpot, IONOS, MailMate, Missive and the generic forms in
//! 23 languages. See `docs/extraction.md` for the strategy and its limits.
//!
//! Everything here is pure and runs in linear time: hand-written line scanners, no regular
//! expressions, no I/O. Inputs of any size are accepted; malformed input never panics.
//!
//! ```
//! use mailtrail::extract::forward_from_text;
//!
//! let body = "FYI\n\n---------- Forwarded message ---------\nFrom: Ann Lee <ann@acme.com>\n\
//!             Date: Mon, Oct 25, 2021 at 11:17 AM\nSubject: Quote\nTo: <bob@example.com>\n\nHello Bob";
//! let fwd = forward_from_text(body, Some("Fwd: Quote"));
//! assert!(fwd.forwarded);
//! assert_eq!(fwd.message.as_deref(), Some("FYI"));
//! let email = fwd.email.unwrap();
//! assert_eq!(email.from.unwrap().address, "ann@acme.com");
//! assert_eq!(email.body, "Hello Bob");
//! ```

mod address;
mod attribution;
mod date;
mod forward;
mod headers;
pub(crate) mod html;
pub(crate) mod lang;
mod lines;
pub(crate) mod message;
mod reply;
pub(crate) mod subject;

use serde::{Deserialize, Serialize};

pub use subject::strip_prefixes;

/// Result of forward extraction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Forward {
    /// Whether a forwarded email was found.
    pub forwarded: bool,
    /// The forwarder's own note above (or below) the forwarded email, if any.
    pub message: Option<String>,
    /// The outermost forwarded email (the one to log); `None` when not forwarded.
    pub email: Option<ForwardedEmail>,
    /// Emails forwarded inside `email`, outermost first (empty for a single forward).
    pub chain: Vec<ForwardedEmail>,
    /// Further emails forwarded *next to* `email`, at the same level, in the order written:
    /// Gmail's "Forward all" on a conversation writes one `Forwarded message` block per
    /// message, and `email` is the first of them; a message forwarding several `.eml`
    /// attachments gives the others here. Empty for a single forward. Forwards nested inside
    /// a sibling are not followed (they stay in its body).
    #[serde(default)]
    pub siblings: Vec<ForwardedEmail>,
}

/// An email found inside a forward.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ForwardedEmail {
    pub subject: Option<String>,
    /// The date as the forwarding client wrote it.
    pub date: Option<String>,
    /// `date` as Unix milliseconds, when it could be parsed (UTC when no zone is written).
    pub timestamp: Option<i64>,
    /// `date` named its zone (`+0900`, `GMT+1`, `CET`, `日本標準時` …). Clients mostly print the
    /// original's date in the forwarder's local time without one; `timestamp` then read it as
    /// UTC, and a caller that knows the writer's offset (the forward's own `Date`) should read
    /// the written time in that zone instead. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub date_has_zone: bool,
    /// The original body, with the forwarding client's quote markers removed.
    pub body: String,
    pub from: Option<Person>,
    pub to: Vec<Person>,
    pub cc: Vec<Person>,
}

/// A sender or recipient. `address` is empty when the client showed only a name
/// (Outlook does for people in the address book); `name` is `None` when it showed none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub address: String,
    pub name: Option<String>,
}

/// A reply split into its parts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ReplyParts {
    /// The new text (without signature); empty when the message is only quotation.
    pub reply: String,
    /// The quoted history, as written (with its `>` markers and attribution line).
    pub quoted: Option<String>,
    /// The signature, without its `-- ` delimiter.
    pub signature: Option<String>,
}

/// What an input is, for the entry points that take bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum InputKind {
    Text,
    Html,
    Message,
}

/// Why bytes were rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is binary data, not an email (control byte at offset {offset})")]
    Binary { offset: usize },
    #[error("the input is not UTF-8 text and has no MIME headers saying how it is encoded (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("the input is not an RFC 5322 message (no header section with From, To, Subject, Date or MIME headers)")]
    NotAMessage,
}

/// Finds the forwarded email in a plain-text body. `subject` is the forwarding message's
/// subject: a forward prefix (`Fwd:`, `WG:`, `転送:` …) lets looser forms count and gives
/// the forwarded email's subject when its headers have none; a reply prefix (`Re:`, `AW:` …)
/// makes `-----Original Message-----` and bare header blocks count as quoted history, not
/// as a forward.
pub fn forward_from_text(text: &str, subject: Option<&str>) -> Forward {
    let lines = lines::split_lines(text.strip_prefix('\u{feff}').unwrap_or(text), &[]);
    forward::forward_in(&lines, subject)
}

/// Finds the forwarded email in an HTML body (see [`forward_from_text`]).
pub fn forward_from_html(html: &str, subject: Option<&str>) -> Forward {
    let h = html::to_text(html);
    let lines = lines::split_lines(&h.text, &h.marks);
    forward::forward_in(&lines, subject)
}

/// Finds the forwarded email in a full RFC 5322 message: an attached `message/rfc822` or
/// `.eml` *is* the original (its text body is then the forwarder's note); otherwise the
/// message's subject and body (text part, else HTML) are searched.
pub fn forward_from_message(raw: &[u8]) -> Result<Forward, ExtractError> {
    message::forward(raw, None)
}

/// Detects whether `input` is plain text, HTML or a full message and extracts the forward.
/// `subject` overrides a message's own subject.
pub fn forward_from_bytes(input: &[u8], subject: Option<&str>) -> Result<Forward, ExtractError> {
    match detect_input(input)? {
        InputKind::Message => message::forward(input, subject),
        kind => {
            let text = std::str::from_utf8(input).map_err(|e| ExtractError::NotUtf8 {
                offset: e.valid_up_to(),
            })?;
            Ok(if kind == InputKind::Html {
                forward_from_html(text, subject)
            } else {
                forward_from_text(text, subject)
            })
        }
    }
}

/// Splits a plain-text reply into new text, quoted history and signature.
pub fn split_reply_text(text: &str) -> ReplyParts {
    let lines = lines::split_lines(text.strip_prefix('\u{feff}').unwrap_or(text), &[]);
    reply::split(&lines)
}

/// Splits an HTML reply (Gmail `gmail_quote`, Outlook reply divs, Apple/Thunderbird
/// `blockquote type=cite`, …). The parts are returned as text.
pub fn split_reply_html(html: &str) -> ReplyParts {
    let h = html::to_text(html);
    let lines = lines::split_lines(&h.text, &h.marks);
    reply::split(&lines)
}

/// Splits the body (text part, else HTML) of a full RFC 5322 message.
pub fn split_reply_message(raw: &[u8]) -> Result<ReplyParts, ExtractError> {
    message::reply(raw)
}

/// Detects the kind of `input` and splits the reply.
pub fn split_reply_bytes(input: &[u8]) -> Result<ReplyParts, ExtractError> {
    match detect_input(input)? {
        InputKind::Message => message::reply(input),
        kind => {
            let text = std::str::from_utf8(input).map_err(|e| ExtractError::NotUtf8 {
                offset: e.valid_up_to(),
            })?;
            Ok(if kind == InputKind::Html {
                split_reply_html(text)
            } else {
                split_reply_text(text)
            })
        }
    }
}

/// Tells plain text, HTML and full messages apart. A message needs a header section with
/// transport or MIME headers (`Message-ID`, `Received`, `MIME-Version`, `Content-Type`, …),
/// so a pasted `From:/Sent:/To:` block stays text. Rejects empty input, binary data (NUL or
/// many control bytes) and text that is not UTF-8.
pub fn detect_input(input: &[u8]) -> Result<InputKind, ExtractError> {
    message::detect(input)
}

/// Parses a date as mail clients print it (any supported language) to Unix milliseconds.
/// No zone written means UTC.
pub fn parse_date(text: &str) -> Option<i64> {
    date::parse(text, lang::LangSet::ALL)
}
