//! Full RFC 5322 messages (via mail-parser) and telling text, HTML and messages apart.

use mail_parser::{Address, Message, MimeHeaders, PartType};

use super::lines::{render, split_lines};
use super::{html, reply, ExtractError, Forward, ForwardedEmail, InputKind, Person, ReplyParts};

/// Header names that only a real message (not a forwarded header block) carries.
const TRANSPORT_HEADERS: &[&str] = &[
    "message-id",
    "mime-version",
    "received",
    "return-path",
    "content-type",
    "delivered-to",
    "dkim-signature",
    "in-reply-to",
    "references",
    "content-transfer-encoding",
    "x-mailer",
    "authentication-results",
    "arc-seal",
    "x-received",
    "x-google-smtp-source",
    "thread-index",
    "x-ms-exchange-organization-scl",
    "user-agent",
];

/// Header names of RFC 5322 (enough that a message has at least one of them).
const MESSAGE_HEADERS: &[&str] = &["from", "to", "cc", "subject", "date", "sender", "reply-to"];

/// Looks at the header section of `raw`. Returns (is well-formed header section,
/// has a transport header, has a message header).
fn header_section(raw: &[u8]) -> (bool, bool, bool) {
    let mut transport = false;
    let mut message = false;
    let mut lines = 0;
    let mut pos = 0;
    // Skip an mbox "From " line and leading blank space.
    while pos < raw.len() && matches!(raw[pos], b' ' | b'\t' | b'\r' | b'\n') {
        pos += 1;
    }
    if raw[pos..].starts_with(b"From ") {
        pos = memchr::memchr(b'\n', &raw[pos..])
            .map(|p| pos + p + 1)
            .unwrap_or(raw.len());
    }
    let limit = raw.len().min(pos + 256 * 1024);
    while pos < limit {
        let end = memchr::memchr(b'\n', &raw[pos..limit])
            .map(|p| pos + p)
            .unwrap_or(limit);
        let line = &raw[pos..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = end + 1;
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if lines == 0 {
                return (false, false, false);
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return (false, transport, message);
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&c| c.is_ascii_graphic() && c != b':') {
            return (false, transport, message);
        }
        lines += 1;
        let lower = name.to_ascii_lowercase();
        if TRANSPORT_HEADERS
            .iter()
            .any(|h| h.as_bytes() == lower.as_slice())
            || lower.starts_with(b"x-")
            || lower.starts_with(b"arc-")
        {
            transport = true;
        }
        if MESSAGE_HEADERS
            .iter()
            .any(|h| h.as_bytes() == lower.as_slice())
        {
            message = true;
        }
    }
    (lines > 0, transport, message)
}

/// Is `raw` an RFC 5322 message (a header section with at least one message header)?
fn is_message(raw: &[u8]) -> bool {
    let (ok, transport, message) = header_section(raw);
    ok && (transport || message)
}

/// Tells plain text, HTML and full messages apart; rejects binary data and non-UTF-8 text.
pub(crate) fn detect(input: &[u8]) -> Result<InputKind, ExtractError> {
    if input.iter().all(|c| c.is_ascii_whitespace()) {
        return Err(ExtractError::Empty);
    }
    let head = &input[..input.len().min(64 * 1024)];
    if let Some(offset) = memchr::memchr(0, head) {
        return Err(ExtractError::Binary { offset });
    }
    let controls = head
        .iter()
        .filter(|&&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    if controls > 8 && controls * 100 > head.len() {
        let offset = head
            .iter()
            .position(|&c| c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
            .unwrap_or(0);
        return Err(ExtractError::Binary { offset });
    }
    let (ok, transport, message) = header_section(input);
    // A forwarded header block pasted as text ("From: … / Sent: …") is text; a message has
    // transport or MIME headers, or is not UTF-8 (MIME says how to decode it).
    let text = std::str::from_utf8(input);
    if ok && (transport || (message && text.is_err())) {
        return Ok(InputKind::Message);
    }
    let text = text.map_err(|e| ExtractError::NotUtf8 {
        offset: e.valid_up_to(),
    })?;
    if looks_like_html(text) {
        return Ok(InputKind::Html);
    }
    Ok(InputKind::Text)
}

fn looks_like_html(text: &str) -> bool {
    let head = &text[..floor(text, 8192)];
    let start = head.trim_start();
    let lower = head.to_ascii_lowercase();
    let tags = [
        "<html",
        "<body",
        "<div",
        "<br",
        "<p>",
        "<p ",
        "<table",
        "<span",
        "<blockquote",
        "<!doctype",
        "<meta",
        "<head",
        "<font",
    ];
    (start.starts_with('<') && tags.iter().any(|t| lower.contains(t)))
        || ["<html", "<body", "<!doctype"]
            .iter()
            .any(|t| lower.contains(t))
}

fn floor(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn parse(raw: &[u8]) -> Result<Message<'_>, ExtractError> {
    if !is_message(raw) {
        return Err(ExtractError::NotAMessage);
    }
    crate::email::message_parser()
        .parse(raw)
        .ok_or(ExtractError::NotAMessage)
}

/// The message's body as text: its text/plain part, else its HTML converted.
fn body_text(msg: &Message<'_>) -> String {
    if let Some(part) = msg.text_part(0) {
        if let PartType::Text(t) = &part.body {
            return render(&split_lines(t, &[]), 0, 0);
        }
    }
    if let Some(part) = msg.html_part(0) {
        if let PartType::Html(h) = &part.body {
            let h = html::to_text(h);
            return render(&split_lines(&h.text, &h.marks), 0, 0);
        }
    }
    String::new()
}

enum Body<'a> {
    Text(&'a str),
    Html(&'a str),
    None,
}

fn body_of<'a>(msg: &'a Message<'a>) -> Body<'a> {
    if let Some(part) = msg.text_part(0) {
        match &part.body {
            PartType::Text(t) => return Body::Text(t),
            PartType::Html(h) => return Body::Html(h),
            _ => {}
        }
    }
    if let Some(PartType::Html(h)) = msg.html_part(0).map(|p| &p.body) {
        return Body::Html(h);
    }
    Body::None
}

fn people(addr: Option<&Address<'_>>) -> Vec<Person> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .filter_map(|a| {
            let address = a.address().unwrap_or("").trim().to_string();
            let name = a
                .name()
                .map(str::trim)
                .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&address))
                .map(str::to_string);
            (!address.is_empty() || name.is_some()).then_some(Person { address, name })
        })
        .collect()
}

fn email_of(msg: &Message<'_>) -> ForwardedEmail {
    let timestamp = msg
        .date()
        .filter(|d| (1900..=2200).contains(&d.year) && (1..=12).contains(&d.month))
        .map(|d| d.to_timestamp() * 1000);
    ForwardedEmail {
        subject: msg
            .subject()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        date: msg
            .header_raw("Date")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        // RFC 5322 dates always carry their offset.
        date_has_zone: timestamp.is_some(),
        timestamp,
        body: body_text(msg),
        from: people(msg.from()).into_iter().next(),
        to: people(msg.to()),
        cc: people(msg.cc()),
    }
}

/// At most this many attached messages are read from one message.
const MAX_ATTACHED: usize = 64;

/// An email attached to a message, as clients attach originals: a `message/rfc822` part
/// mail-parser parsed, or one it left as bytes (a `message/rfc822` it did not parse, an `.eml`
/// file of any type). The extractor and the engine (`crate::forward`) both read attachments
/// through this, so they agree on what counts as an attached email.
pub(crate) enum AttachedEmail<'a> {
    Parsed(&'a Message<'a>),
    /// Raw bytes that begin with a message header section.
    Bytes(&'a [u8]),
}

impl<'a> AttachedEmail<'a> {
    /// The attached email in `part`, if it holds one.
    pub(crate) fn of(part: &'a mail_parser::MessagePart<'a>) -> Option<Self> {
        if let Some(inner) = part.message() {
            return Some(AttachedEmail::Parsed(inner));
        }
        let eml = part
            .attachment_name()
            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".eml"))
            || part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("message")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822"))
            });
        let bytes = part.contents();
        (eml && is_message(bytes)).then_some(AttachedEmail::Bytes(bytes))
    }

    /// The email's raw bytes.
    pub(crate) fn raw(&self) -> &'a [u8] {
        match self {
            AttachedEmail::Parsed(m) => m.raw_message(),
            AttachedEmail::Bytes(b) => b,
        }
    }
}

/// The attached messages ([`AttachedEmail`]), parsed, in order (at most [`MAX_ATTACHED`]).
fn attached_messages<'a>(msg: &'a Message<'a>) -> Vec<Attached<'a>> {
    let mut out = Vec::new();
    for part in msg.attachments() {
        if out.len() >= MAX_ATTACHED {
            break;
        }
        match AttachedEmail::of(part) {
            Some(AttachedEmail::Parsed(inner)) => out.push(Attached::Borrowed(inner)),
            Some(AttachedEmail::Bytes(bytes)) => {
                if let Some(inner) = crate::email::message_parser().parse(bytes) {
                    out.push(Attached::Owned(Box::new(inner.into_owned())));
                }
            }
            None => {}
        }
    }
    out
}

enum Attached<'a> {
    Borrowed(&'a Message<'a>),
    Owned(Box<Message<'static>>),
}

impl Attached<'_> {
    fn get(&self) -> &Message<'_> {
        match self {
            Attached::Borrowed(m) => m,
            Attached::Owned(m) => m,
        }
    }
}

fn forward_of(msg: &Message<'_>, subject: Option<&str>, levels: u8) -> Forward {
    let attached = attached_messages(msg);
    if let Some(att) = attached.first() {
        let inner = att.get();
        let email = email_of(inner);
        let mut chain = Vec::new();
        if levels > 1 {
            let nested = forward_of(inner, None, levels - 1);
            if let Some(e) = nested.email {
                chain.push(e);
                chain.extend(nested.chain);
            }
        }
        let note = body_text(msg);
        return Forward {
            forwarded: true,
            message: (!note.is_empty()).then_some(note),
            email: Some(email),
            chain,
            // Several attached messages: the first is `email`, the others follow it.
            siblings: attached[1..].iter().map(|a| email_of(a.get())).collect(),
        };
    }
    let subject = subject.or(msg.subject());
    match body_of(msg) {
        Body::Text(t) => super::forward_from_text(t, subject),
        Body::Html(h) => super::forward_from_html(h, subject),
        Body::None => Forward::default(),
    }
}

pub(crate) fn forward(raw: &[u8], subject: Option<&str>) -> Result<Forward, ExtractError> {
    let msg = parse(raw)?;
    Ok(forward_of(&msg, subject, super::forward::MAX_CHAIN))
}

pub(crate) fn reply(raw: &[u8]) -> Result<ReplyParts, ExtractError> {
    let msg = parse(raw)?;
    Ok(match body_of(&msg) {
        Body::Text(t) => reply::split(&split_lines(t, &[])),
        Body::Html(h) => super::split_reply_html(h),
        Body::None => ReplyParts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect(b"Hello"), Ok(InputKind::Text));
        assert_eq!(detect(b"<div>Hello</div>"), Ok(InputKind::Html));
        assert_eq!(
            detect(b"From: a@x.com\r\nMessage-ID: <1@x>\r\n\r\nHi"),
            Ok(InputKind::Message)
        );
        assert_eq!(
            detect(b"From: A <a@x.com>\nSent: Monday\nTo: b@x.com\n\nHi"),
            Ok(InputKind::Text)
        );
        assert_eq!(detect(b"   \n"), Err(ExtractError::Empty));
        assert!(matches!(
            detect(b"ab\x00cd"),
            Err(ExtractError::Binary { offset: 2 })
        ));
        assert!(matches!(
            detect(b"caf\xe9"),
            Err(ExtractError::NotUtf8 { offset: 3 })
        ));
    }
}
