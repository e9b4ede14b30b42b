//! Plain HTTP request/response values: what the core asks the edges to send, and what came back.
//!
//! The core never opens a socket. Endpoint adapters build [`HttpRequest`]s and interpret
//! [`HttpResponse`]s; a [`Transport`] at the edge (gloo-net `fetch` in WASM, an HTTP client in the
//! native binary, a fake in tests) moves the bytes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpRequest {
    pub fn post_json(url: impl Into<String>, body: String) -> Self {
        HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
        }
    }
    pub fn get(url: impl Into<String>) -> Self {
        HttpRequest {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
}

impl HttpResponse {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request that never got an HTTP answer (DNS, refused, TLS, timeout, blocked by the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub message: String,
    /// True when the request may have reached the server (timeout after sending): a create
    /// without an idempotency key must then check before repeating itself.
    #[serde(default)]
    pub maybe_sent: bool,
}

/// Why `fetch` (or any HTTP client) would refuse this header, if it would. A name must be an
/// HTTP token; a value must be visible ASCII, spaces and tabs (no line breaks, no control
/// characters, nothing beyond ASCII such as a zero-width space pasted with a token). The answer
/// names the header and the character, never the value: it may be a secret.
pub fn header_problem(name: &str, value: &str) -> Option<String> {
    let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token_char) {
        return Some(format!("{name:?} is not a valid HTTP header name"));
    }
    let (position, c) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, ' ' | '\t' | '\x21'..='\x7e'))?;
    Some(format!(
        "the {name} header cannot be sent: it contains {} at character {} (check the token or \
         secret in the settings for a pasted space, line break or invisible character)",
        describe_char(c),
        position + 1
    ))
}

/// `U+200B (zero-width space)`, `a line break`, …: a character a person can recognise.
pub fn describe_char(c: char) -> String {
    let name = match c {
        '\n' | '\r' => return "a line break".into(),
        '\t' => return "a tab".into(),
        ' ' => return "a space".into(),
        '\u{200b}' => Some("zero-width space"),
        '\u{200c}' => Some("zero-width non-joiner"),
        '\u{200d}' => Some("zero-width joiner"),
        '\u{2060}' => Some("word joiner"),
        '\u{feff}' => Some("zero-width no-break space"),
        '\u{a0}' => Some("no-break space"),
        c if c.is_control() => Some("a control character"),
        _ => None,
    };
    match name {
        Some(n) => format!("U+{:04X} ({n})", c as u32),
        None => format!("U+{:04X} ({c})", c as u32),
    }
}

impl HttpRequest {
    /// The first header [`header_problem`] would refuse.
    pub fn header_problem(&self) -> Option<String> {
        self.headers
            .iter()
            .find_map(|(name, value)| header_problem(name, value))
    }
}

/// Moves a request to the network and back. Implemented at the edges.
#[allow(async_fn_in_trait)] // implementations are local to one thread (WASM) or Send by choice
pub trait Transport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Parses `Retry-After` (seconds, or an HTTP date relative to `now_ms`) into milliseconds.
pub fn retry_after_ms(value: &str, now_ms: i64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let date = mail_parser::DateTime::parse_rfc822(value)?;
    let at = date.to_timestamp().saturating_mul(1000);
    Some(at.saturating_sub(now_ms).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        assert_eq!(retry_after_ms("120", 0), Some(120_000));
        let now = 1_772_500_500_000; // 2026-03-03T01:15:00Z
        assert_eq!(
            retry_after_ms("Tue, 03 Mar 2026 01:15:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms("Tue, 03 Mar 2026 01:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(retry_after_ms("soon", now), None);
    }

    #[test]
    fn header_values_fetch_would_refuse_are_named_without_the_value() {
        assert_eq!(header_problem("Authorization", "Bearer pat-na1-abc"), None);
        let p = header_problem("Authorization", "Bearer pat\u{200b}-hunter2").unwrap();
        assert!(p.contains("U+200B (zero-width space)"), "{p}");
        assert!(p.contains("character 11"), "{p}");
        assert!(!p.contains("hunter2"), "{p}");
        assert!(header_problem("Authorization", "Bearer x\n")
            .unwrap()
            .contains("a line break"));
        assert!(header_problem("Bad Name", "x").is_some());
    }
}
