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
}
