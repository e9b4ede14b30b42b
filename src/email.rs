//! The email model every other part of the engine works on.
//!
//! An [`Email`] comes either from raw RFC 5322 bytes (IMAP, "Log this email", the CLI), parsed by
//! mail-parser, or from the structured fields of a compose window ([`ComposeData`], sent as JSON by
//! the Gmail content script or the Outlook add-in). Both paths end in the same owned, serialisable
//! value so that native and WebAssembly builds produce identical JSON.

use crate::address::{parse_address_list, Mailbox};
use crate::ids::{clean_message_id, parse_id_list};
use mail_parser::{Address as MpAddress, HeaderName, MessageParser, MimeHeaders, PartType};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Where an email (and therefore a record) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Gmail,
    Outlook,
    Imap,
    #[default]
    Cli,
}

/// A date with the offset it was written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct EmailDate {
    /// Milliseconds since the Unix epoch (UTC).
    pub timestamp: i64,
    /// Offset from UTC of the original writer, in minutes (east positive).
    pub offset_minutes: i32,
    /// RFC 3339 in the original offset, e.g. `2026-03-03T10:15:00+09:00`.
    pub rfc3339: String,
}

impl EmailDate {
    /// A UTC date from a millisecond timestamp.
    pub fn from_timestamp_ms(timestamp: i64) -> Self {
        let dt = mail_parser::DateTime::from_timestamp(timestamp.div_euclid(1000));
        EmailDate {
            timestamp,
            offset_minutes: 0,
            rfc3339: crate::time::rfc3339(&dt),
        }
    }
}

/// One attachment's metadata (and, when asked for, its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: u64,
    /// Hex SHA-256 of the decoded content, when the content was available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Shown inline in the body (images referenced by `cid:`), rather than listed.
    #[serde(default)]
    pub inline: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// Base64 content, only when the caller asked to keep attachment data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Attachment {
    /// The attachment without its content: what a decision or record lists for a dropped one.
    pub fn metadata(&self) -> Attachment {
        Attachment {
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            inline: self.inline,
            content_id: self.content_id.clone(),
            data: None,
        }
    }

    /// Same file, content aside (one side may carry its data, the other only metadata).
    pub fn same_file(&self, other: &Attachment) -> bool {
        self.name == other.name
            && self.content_type == other.content_type
            && self.size == other.size
            && self.sha256 == other.sha256
            && self.inline == other.inline
            && self.content_id == other.content_id
    }
}

/// Something in the input that was wrong but did not stop the parse. Reported, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The header or field concerned (`from`, `to`, `date`, …).
    pub field: String,
    /// The offending text, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub message: String,
}

/// An email, whatever its origin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Email {
    pub source: Source,
    /// RFC 5322 Message-ID without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// The provider's thread id: Gmail thread id, Outlook `conversationId`.
    pub thread_id: Option<String>,
    /// Compose-window identity (Gmail draft id, Outlook item id) when the email is being sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_id: Option<String>,
    pub subject: String,
    pub date: Option<EmailDate>,
    pub from: Option<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Set when the message's headers say it was sent automatically (auto-replies, read
    /// receipts, bounces, lists and bulk mail; see `is_automatic`).
    #[serde(default)]
    pub auto_submitted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// Why input could not be turned into an [`Email`] at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is not an email message: no header fields were found")]
    NotAMessage,
    #[error("the input is larger than the {limit} byte limit ({size} bytes)")]
    TooLarge { size: usize, limit: usize },
    #[error("compose data is invalid: {0}")]
    InvalidCompose(String),
}

/// Options for [`Email::from_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Keep attachment contents (base64) so records can carry them.
    pub keep_attachment_data: bool,
    /// Refuse inputs larger than this (default 100 MiB: twice the attachment limit of our CRMs).
    pub max_size: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            keep_attachment_data: false,
            max_size: 100 * 1024 * 1024,
        }
    }
}

impl Email {
    /// Parses a raw RFC 5322 message.
    pub fn from_raw(raw: &[u8], options: ParseOptions) -> Result<Email, EmailError> {
        Email::parse_with_message(raw, options).map(|(email, _)| email)
    }

    /// Parses once and returns mail-parser's message too, for callers that need more of the
    /// MIME tree (an attached original) without parsing the bytes a second time.
    pub(crate) fn parse_with_message(
        raw: &[u8],
        options: ParseOptions,
    ) -> Result<(Email, mail_parser::Message<'_>), EmailError> {
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(EmailError::Empty);
        }
        if raw.len() > options.max_size {
            return Err(EmailError::TooLarge {
                size: raw.len(),
                limit: options.max_size,
            });
        }
        if !looks_like_message(raw) {
            return Err(EmailError::NotAMessage);
        }
        let message = message_parser().parse(raw).ok_or(EmailError::NotAMessage)?;
        #[allow(unused_mut)] // only the browser build re-decodes
        let mut email = from_parsed(&message, options);
        #[cfg(target_arch = "wasm32")]
        crate::charset::redecode_legacy(&message, &mut email, &crate::charset::text_decoder);
        #[cfg(not(target_arch = "wasm32"))]
        crate::charset::redecode_attachment_names(
            &message,
            &mut email,
            &crate::charset::encoding_rs_decoder,
        );
        unflow_text_body(&message, &mut email);
        Ok((email, message))
    }

    /// Builds an email from compose-window fields.
    pub fn from_compose(data: &ComposeData) -> Result<Email, EmailError> {
        let mut problems = Vec::new();
        let from = match &data.from {
            Some(a) => a.to_mailbox("from", &mut problems),
            None => None,
        };
        let list = |field: &str, items: &[AddressInput], problems: &mut Vec<Problem>| {
            items
                .iter()
                .flat_map(|a| a.to_mailboxes(field, problems))
                .collect::<Vec<_>>()
        };
        let to = list("to", &data.to, &mut problems);
        let cc = list("cc", &data.cc, &mut problems);
        let bcc = list("bcc", &data.bcc, &mut problems);
        let attachments = data
            .attachments
            .iter()
            .map(|a| Attachment {
                name: a.name.clone(),
                content_type: a
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
                size: a.size,
                sha256: a.sha256.clone(),
                inline: a.inline,
                content_id: None,
                data: None,
            })
            .collect();
        let references = match &data.references {
            Some(IdsInput::One(s)) => parse_id_list(s),
            Some(IdsInput::Many(v)) => v.iter().flat_map(|s| parse_id_list(s)).collect(),
            None => Vec::new(),
        };
        let text = data.text.clone().filter(|t| !t.is_empty()).or_else(|| {
            data.html
                .as_deref()
                .map(mail_parser::decoders::html::html_to_text)
        });
        Ok(Email {
            source: data.source.unwrap_or_default(),
            message_id: data.message_id.as_deref().and_then(clean_message_id),
            in_reply_to: data
                .in_reply_to
                .as_deref()
                .map(parse_id_list)
                .unwrap_or_default(),
            references,
            thread_id: data.thread_id.clone().filter(|t| !t.trim().is_empty()),
            draft_id: data.draft_id.clone().filter(|t| !t.trim().is_empty()),
            subject: data.subject.clone().unwrap_or_default().trim().to_string(),
            date: data.date.map(EmailDate::from_timestamp_ms),
            from,
            reply_to: Vec::new(),
            to,
            cc,
            bcc,
            text,
            html: data.html.clone().filter(|h| !h.is_empty()),
            attachments,
            auto_submitted: false,
            problems,
        })
    }

    /// Every participant: from, to, cc, bcc (in that order, duplicates kept).
    pub fn participants(&self) -> impl Iterator<Item = &Mailbox> {
        self.from
            .iter()
            .chain(self.to.iter())
            .chain(self.cc.iter())
            .chain(self.bcc.iter())
    }

    /// Every recipient: to, cc, bcc.
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(self.cc.iter()).chain(self.bcc.iter())
    }

    /// Total decoded size of the attachments.
    pub fn attachments_size(&self) -> u64 {
        self.attachments.iter().map(|a| a.size).sum()
    }
}

/// Joins the soft line breaks of a `format=flowed` text body (RFC 3676; Thunderbird and Apple
/// Mail send them): the CRM gets paragraphs rather than lines cut at 72 columns, and forward
/// extraction sees a long `Subject:` on one line.
fn unflow_text_body(message: &mail_parser::Message<'_>, email: &mut Email) {
    let Some(ct) = message
        .text_part(0)
        .filter(|p| !p.is_text_html())
        .and_then(|p| p.content_type())
    else {
        return;
    };
    if !ct
        .attribute("format")
        .is_some_and(|f| f.eq_ignore_ascii_case("flowed"))
    {
        return;
    }
    let delsp = ct
        .attribute("delsp")
        .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
    if let Some(text) = email.text.as_mut() {
        *text = unflow(text, delsp);
    }
}

/// RFC 3676: a line ending in a space continues on the next line of the same quote depth;
/// `-- ` (the signature separator) never does; one leading space of a line is stuffing.
/// With `delsp`, the space before a soft break is not part of the text. Line endings are kept
/// as the text had them.
pub fn unflow(text: &str, delsp: bool) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len());
    // The quote depth of the paragraph the previous line left open.
    let mut open: Option<usize> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let rest = &line[depth..];
        let content = rest.strip_prefix(' ').unwrap_or(rest);
        if open == Some(depth) {
            if delsp {
                out.pop(); // the space that marked the soft break
            }
        } else {
            if i > 0 {
                out.push_str(newline);
            }
            out.push_str(&line[..depth]);
            if depth > 0 && !content.is_empty() {
                out.push(' ');
            }
        }
        out.push_str(content);
        open = (content != "-- " && content.ends_with(' ')).then_some(depth);
    }
    out
}

/// The one mail-parser configuration, built once. The headers Mailtrail reads become
/// structured values (addresses, ids, dates, subject, MIME); every other header (Received,
/// DKIM-Signature, List-*, …) is kept raw and still readable with `header_raw`, which skips
/// the structured parsing mail-parser would otherwise do for headers nothing here reads.
pub(crate) fn message_parser() -> &'static MessageParser {
    static PARSER: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        MessageParser::new()
            .with_minimal_headers()
            .header_address(HeaderName::Sender)
            .with_message_ids()
    })
}

/// Cheap check that the bytes start with something header-shaped, so that a PDF or an image
/// given by mistake gets "not an email" rather than a message with an empty subject.
fn looks_like_message(raw: &[u8]) -> bool {
    let head = &raw[..raw.len().min(64 * 1024)];
    let mut saw_header = false;
    for line in head.split(|&b| b == b'\n').take(400) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.contains(&0) {
            return false;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // folded continuation
        }
        if line.starts_with(b"From ") {
            continue; // mbox separator
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) if colon > 0 => {
                let name = &line[..colon];
                if name.iter().all(|&b| b.is_ascii_graphic()) {
                    saw_header = true;
                } else {
                    return saw_header;
                }
            }
            _ => return saw_header,
        }
    }
    saw_header
}

fn from_parsed(message: &mail_parser::Message<'_>, options: ParseOptions) -> Email {
    let mut problems = Vec::new();
    let from = message.from().and_then(|a| {
        convert_addresses("from", a, &mut problems)
            .into_iter()
            .next()
    });
    let reply_to = message
        .reply_to()
        .map(|a| convert_addresses("reply-to", a, &mut problems))
        .unwrap_or_default();
    let to = message
        .to()
        .map(|a| convert_addresses("to", a, &mut problems))
        .unwrap_or_default();
    let cc = message
        .cc()
        .map(|a| convert_addresses("cc", a, &mut problems))
        .unwrap_or_default();
    let bcc = message
        .bcc()
        .map(|a| convert_addresses("bcc", a, &mut problems))
        .unwrap_or_default();

    let date = message.date().and_then(|d| {
        if d.is_valid() {
            let offset =
                (d.tz_hour as i32 * 60 + d.tz_minute as i32) * if d.tz_before_gmt { -1 } else { 1 };
            Some(EmailDate {
                timestamp: d.to_timestamp().saturating_mul(1000),
                offset_minutes: offset,
                rfc3339: crate::time::rfc3339(d),
            })
        } else {
            problems.push(Problem {
                field: "date".into(),
                text: message.header_raw("Date").map(|s| s.trim().to_string()),
                message: "the Date header could not be parsed".into(),
            });
            None
        }
    });
    if message.date().is_none() {
        if let Some(raw) = message.header_raw("Date") {
            problems.push(Problem {
                field: "date".into(),
                text: Some(raw.trim().to_string()),
                message: "the Date header could not be parsed".into(),
            });
        }
    }

    let text = message.body_text(0).map(|t| t.into_owned());
    let html = if message.html_body_count() > 0 && message.html_bodies().any(|p| p.is_text_html()) {
        message.body_html(0).map(|t| t.into_owned())
    } else {
        None
    };

    let attachments = message
        .attachments()
        .map(|part| convert_attachment(part, options.keep_attachment_data))
        .collect();

    let auto_submitted = is_automatic(message);

    Email {
        source: Source::default(),
        message_id: message.message_id().and_then(clean_message_id),
        in_reply_to: ids_of(message.in_reply_to()),
        references: ids_of(message.references()),
        thread_id: None,
        draft_id: None,
        subject: message.subject().unwrap_or("").trim().to_string(),
        date,
        from,
        reply_to,
        to,
        cc,
        bcc,
        text,
        html,
        attachments,
        auto_submitted,
        problems,
    }
}

/// The message says it was sent by a machine, not written to the user by a person: auto-replies
/// (RFC 3834 `Auto-Submitted`, the older `X-Autoreply`/`X-Autorespond`, `Precedence:
/// auto_reply`, Exchange's `X-Auto-Response-Suppress: All` on out-of-office replies), read
/// receipts and bounces (`multipart/report`), and list or bulk mail (`Precedence`, `List-Id`,
/// `List-Unsubscribe`). Auto-replies that carry none of these are recognised by their subject
/// (`crate::subject::is_auto_reply`) where the policy decides.
fn is_automatic(message: &mail_parser::Message<'_>) -> bool {
    let has = |name: &str| message.header_raw(name).is_some();
    let auto_submitted =
        header_text(message, "Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"));
    let precedence = header_text(message, "Precedence").is_some_and(|v| {
        ["bulk", "junk", "list", "auto_reply", "auto-reply"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
    });
    let suppress_all = header_text(message, "X-Auto-Response-Suppress")
        .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("all")));
    let report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    auto_submitted
        || precedence
        || suppress_all
        || report
        || has("X-Autoreply")
        || has("X-Autorespond")
        || has("List-Id")
        || has("List-Unsubscribe")
}

fn header_text<'a>(message: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    message.header_raw(name).map(str::trim)
}

fn ids_of(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value {
        mail_parser::HeaderValue::Text(t) => parse_id_list(t),
        mail_parser::HeaderValue::TextList(list) => {
            list.iter().flat_map(|t| parse_id_list(t)).collect()
        }
        _ => Vec::new(),
    }
}

pub(crate) fn convert_addresses(
    field: &str,
    address: &MpAddress<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for addr in address.iter() {
        let Some(raw) = addr.address() else {
            // A bare word with no address (e.g. "undisclosed-recipients"): nothing to match on.
            if let Some(name) = addr.name() {
                if !name.trim().is_empty() && !name.contains("undisclosed") {
                    problems.push(Problem {
                        field: field.into(),
                        text: Some(name.to_string()),
                        message: "entry has no email address".into(),
                    });
                }
            }
            continue;
        };
        match Mailbox::new(addr.name(), raw) {
            Ok(m) => out.push(m),
            Err(err) => problems.push(Problem {
                field: field.into(),
                text: Some(raw.to_string()),
                message: err.to_string(),
            }),
        }
    }
    out
}

fn convert_attachment(part: &mail_parser::MessagePart<'_>, keep_data: bool) -> Attachment {
    let content_type = part
        .content_type()
        .map(|ct| match &ct.c_subtype {
            Some(sub) => [ct.c_type.as_ref(), "/", sub.as_ref()].concat(),
            None => ct.c_type.to_string(),
        })
        .unwrap_or_else(|| match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            _ => "application/octet-stream".into(),
        })
        .to_ascii_lowercase();
    let contents = part.contents();
    let inline = part
        .content_disposition()
        .map(|cd| cd.c_type.eq_ignore_ascii_case("inline"))
        .unwrap_or(false);
    let mut name = part.attachment_name().map(|n| n.trim().to_string());
    if name.is_none() {
        if let PartType::Message(nested) = &part.body {
            name = nested.subject().map(|s| format!("{}.eml", s.trim()));
        }
    }
    Attachment {
        name,
        content_type,
        size: contents.len() as u64,
        sha256: Some(hex(&Sha256::digest(contents))),
        inline,
        content_id: part
            .content_id()
            .map(|c| c.trim_matches(['<', '>']).to_string()),
        data: keep_data.then(|| crate::base64::encode(contents)),
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Compose-window fields, as the Gmail content script or the Outlook add-in send them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct ComposeData {
    pub source: Option<Source>,
    pub from: Option<AddressInput>,
    pub to: Vec<AddressInput>,
    pub cc: Vec<AddressInput>,
    pub bcc: Vec<AddressInput>,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub attachments: Vec<AttachmentInput>,
    /// Gmail thread id / Outlook conversationId.
    pub thread_id: Option<String>,
    pub draft_id: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<IdsInput>,
    /// Milliseconds since the epoch; the send time when absent is decided by the caller.
    pub date: Option<i64>,
}

/// An address as the UI gives it: `"Name <a@b>"` text, or `{address, name}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(untagged)]
pub enum AddressInput {
    Text(String),
    Object {
        address: String,
        #[serde(default)]
        name: Option<String>,
    },
}

impl AddressInput {
    fn to_mailboxes(&self, field: &str, problems: &mut Vec<Problem>) -> Vec<Mailbox> {
        match self {
            AddressInput::Text(text) => parse_address_list(text)
                .into_iter()
                .filter_map(|r| match r {
                    Ok(m) => Some(m),
                    Err(err) => {
                        problems.push(Problem {
                            field: field.into(),
                            text: Some(text.clone()),
                            message: err.to_string(),
                        });
                        None
                    }
                })
                .collect(),
            AddressInput::Object { .. } => self.to_mailbox(field, problems).into_iter().collect(),
        }
    }

    fn to_mailbox(&self, field: &str, problems: &mut Vec<Problem>) -> Option<Mailbox> {
        let result = match self {
            AddressInput::Text(text) => Mailbox::parse(text),
            AddressInput::Object { address, name } => Mailbox::new(name.as_deref(), address),
        };
        match result {
            Ok(m) => Some(m),
            Err(err) => {
                let text = match self {
                    AddressInput::Text(t) => t.clone(),
                    AddressInput::Object { address, .. } => address.clone(),
                };
                problems.push(Problem {
                    field: field.into(),
                    text: Some(text),
                    message: err.to_string(),
                });
                None
            }
        }
    }
}

/// Attachment metadata from a compose window (the content usually stays in the mail client).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct AttachmentInput {
    pub name: Option<String>,
    pub size: u64,
    pub content_type: Option<String>,
    pub sha256: Option<String>,
    pub inline: bool,
}

/// Message ids given either as one header-style string or as a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(untagged)]
pub enum IdsInput {
    One(String),
    Many(Vec<String>),
}

// `AddressInput` and `IdsInput` are read by hand (why: `crate::json_read`); the JSON type picks
// the variant, and the error names what was expected rather than "did not match any variant".

impl<'de> Deserialize<'de> for AddressInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            address: String,
            #[serde(default)]
            name: Option<String>,
        }
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = AddressInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"an address as text ("Name <a@b.example>") or {address, name}"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AddressInput, E> {
                Ok(AddressInput::Text(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<AddressInput, A::Error> {
                let o = Object::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(AddressInput::Object {
                    address: o.address,
                    name: o.name,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for IdsInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = IdsInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("message ids as one string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdsInput, E> {
                Ok(IdsInput::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<IdsInput, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(IdsInput::Many(ids))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn flowed_text_is_joined_into_paragraphs() {
        let flowed = "Temat: Zapytanie o ofert\u{119} dla dzia\u{142}u sprzeda\u{17c}y i \r\nmarketingu na 2026\r\nOd: Jan\r\n\r\n> quoted and \r\n> continued\r\n>> deeper \r\n> not joined across depths\r\n --stuffed\r\n-- \r\nsig";
        assert_eq!(
            unflow(flowed, false),
            "Temat: Zapytanie o ofert\u{119} dla dzia\u{142}u sprzeda\u{17c}y i marketingu na 2026\r\nOd: Jan\r\n\r\n> quoted and continued\r\n>> deeper \r\n> not joined across depths\r\n--stuffed\r\n-- \r\nsig"
        );
        // DelSp=yes: the space before a soft break goes (languages written without spaces).
        assert_eq!(
            unflow("\u{898b}\u{7a4d} \n\u{66f8}\n", true),
            "\u{898b}\u{7a4d}\u{66f8}\n"
        );
        // Nothing flowed: unchanged.
        let plain = "a\nb\n\nc";
        assert_eq!(unflow(plain, false), plain);
    }

    #[test]
    fn only_flowed_parts_are_unflowed() {
        let raw = |ct: &str| {
            format!("From: a@x.example\r\nTo: b@y.example\r\nSubject: s\r\nContent-Type: {ct}\r\n\r\nline one \r\nline two\r\n")
        };
        let flowed = Email::from_raw(
            raw("text/plain; charset=utf-8; format=flowed").as_bytes(),
            ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(
            flowed.text.as_deref().map(str::trim_end),
            Some("line one line two")
        );
        let fixed = Email::from_raw(
            raw("text/plain; charset=utf-8").as_bytes(),
            ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(
            fixed.text.as_deref().map(str::trim_end),
            Some("line one \r\nline two")
        );
    }
    use super::*;

    const SIMPLE: &[u8] = b"From: \"Doe, Jane\" <Jane@Customer.example>\r\n\
To: Sales <sales@ourco.example>, bob@Partner.example\r\n\
Cc: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.jp>\r\n\
Subject: =?ISO-8859-2?Q?Zam=F3wienie_nr_5?=\r\n\
Date: Tue, 3 Mar 2026 10:15:00 +0900\r\n\
Message-ID: <abc.123@mail.customer.example>\r\n\
In-Reply-To: <prev@ourco.example>\r\n\
References: <root@ourco.example>\r\n <prev@ourco.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello there\r\n";

    #[test]
    fn parses_headers_addresses_ids_and_date() {
        let e = Email::from_raw(SIMPLE, ParseOptions::default()).unwrap();
        assert_eq!(e.subject, "Zamówienie nr 5");
        let from = e.from.as_ref().unwrap();
        assert_eq!(from.name.as_deref(), Some("Doe, Jane"));
        assert_eq!(from.normalized, "jane@customer.example");
        assert_eq!(e.to.len(), 2);
        assert_eq!(e.to[1].normalized, "bob@partner.example");
        assert_eq!(e.cc[0].name.as_deref(), Some("山田 太郎"));
        assert_eq!(
            e.message_id.as_deref(),
            Some("abc.123@mail.customer.example")
        );
        assert_eq!(e.in_reply_to, vec!["prev@ourco.example"]);
        assert_eq!(
            e.references,
            vec!["root@ourco.example", "prev@ourco.example"]
        );
        let date = e.date.as_ref().unwrap();
        assert_eq!(date.offset_minutes, 540);
        assert_eq!(date.timestamp, 1_772_500_500_000);
        assert_eq!(date.rfc3339, "2026-03-03T10:15:00+09:00");
        assert_eq!(e.text.as_deref().map(str::trim), Some("Hello there"));
        assert!(e.problems.is_empty(), "{:?}", e.problems);
    }

    #[test]
    fn rejects_non_messages_clearly() {
        assert_eq!(
            Email::from_raw(b"", ParseOptions::default()),
            Err(EmailError::Empty)
        );
        assert_eq!(
            Email::from_raw(b"  \r\n", ParseOptions::default()),
            Err(EmailError::Empty)
        );
        assert_eq!(
            Email::from_raw(b"%PDF-1.7\n\x00\x01binary", ParseOptions::default()),
            Err(EmailError::NotAMessage)
        );
        assert_eq!(
            Email::from_raw(b"just some words\nand more", ParseOptions::default()),
            Err(EmailError::NotAMessage)
        );
        let opts = ParseOptions {
            max_size: 10,
            ..ParseOptions::default()
        };
        assert!(matches!(
            Email::from_raw(SIMPLE, opts),
            Err(EmailError::TooLarge { .. })
        ));
    }

    #[test]
    fn bad_date_and_addresses_are_reported_not_dropped() {
        let raw = b"From: someone\r\nTo: ok@example.com, broken@@\r\nDate: yesterday-ish\r\nSubject: x\r\n\r\nbody";
        let e = Email::from_raw(raw, ParseOptions::default()).unwrap();
        assert!(e.date.is_none());
        assert!(
            e.problems.iter().any(|p| p.field == "date"),
            "{:?}",
            e.problems
        );
        assert!(
            e.problems.iter().any(|p| p.field == "from"),
            "{:?}",
            e.problems
        );
        assert_eq!(e.to[0].normalized, "ok@example.com");
    }

    #[test]
    fn attachments_have_size_type_and_hash() {
        let raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: files\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--XX\r\nContent-Type: application/pdf; name=\"offer.pdf\"\r\nContent-Disposition: attachment; filename=\"offer.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n";
        let e = Email::from_raw(
            raw,
            ParseOptions {
                keep_attachment_data: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(e.attachments.len(), 1);
        let a = &e.attachments[0];
        assert_eq!(a.name.as_deref(), Some("offer.pdf"));
        assert_eq!(a.content_type, "application/pdf");
        assert_eq!(a.size, 5);
        // sha256("hello")
        assert_eq!(
            a.sha256.as_deref(),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(a.data.as_deref(), Some("aGVsbG8="));
    }

    #[test]
    fn compose_data_from_json() {
        let json = r#"{
            "source": "gmail",
            "from": "Me <me@ourco.example>",
            "to": ["\"Doe, Jane\" <jane@customer.example>", {"address": "BOB@partner.example", "name": "Bob"}],
            "cc": ["a@x.example, b@y.example"],
            "bcc": [],
            "subject": "  Quote  ",
            "html": "<p>Hello <b>Jane</b></p>",
            "attachments": [{"name": "q.pdf", "size": 1200, "contentType": "application/pdf"}],
            "threadId": "18c2f",
            "inReplyTo": "<x@y>",
            "references": "<w@y> <x@y>",
            "date": 1772500500000
        }"#;
        let data: ComposeData = serde_json::from_str(json).unwrap();
        let e = Email::from_compose(&data).unwrap();
        assert_eq!(e.source, Source::Gmail);
        assert_eq!(e.subject, "Quote");
        assert_eq!(e.to[0].name.as_deref(), Some("Doe, Jane"));
        assert_eq!(e.to[1].normalized, "bob@partner.example");
        assert_eq!(e.cc.len(), 2);
        assert_eq!(e.text.as_deref().map(str::trim), Some("Hello Jane"));
        assert_eq!(e.references, vec!["w@y", "x@y"]);
        assert_eq!(e.in_reply_to, vec!["x@y"]);
        assert_eq!(e.thread_id.as_deref(), Some("18c2f"));
        assert_eq!(e.attachments_size(), 1200);
        assert_eq!(e.date.as_ref().unwrap().rfc3339, "2026-03-03T01:15:00Z");
    }

    #[test]
    fn compose_bad_addresses_become_problems() {
        let data = ComposeData {
            to: vec![
                AddressInput::Text("not an address".into()),
                AddressInput::Text("ok@ok.example".into()),
            ],
            ..Default::default()
        };
        let e = Email::from_compose(&data).unwrap();
        assert_eq!(e.to.len(), 1);
        assert_eq!(e.problems.len(), 1);
        assert_eq!(e.problems[0].field, "to");
    }
}
