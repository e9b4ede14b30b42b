//! Mailtrail's signed webhook format.
//!
//! `POST <url>` with the record as JSON and three headers:
//! - `Idempotency-Key: <record.idempotencyKey>`
//! - `Mailtrail-Timestamp: <unix seconds>`
//! - `Mailtrail-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
//!
//! Receivers recompute the HMAC over the exact body bytes and reject timestamps more than five
//! minutes away from their clock, which stops replays of captured requests. Several `v1=` values
//! (comma-separated) may be present while a secret is being rotated. See docs/webhook.md.

use crate::email::hex;
use crate::http::HttpRequest;
use crate::record::Record;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER_IDEMPOTENCY_KEY: &str = "Idempotency-Key";
pub const HEADER_TIMESTAMP: &str = "Mailtrail-Timestamp";
pub const HEADER_SIGNATURE: &str = "Mailtrail-Signature";
/// How far a timestamp may be from the receiver's clock.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// `v1=<hex>` for this body and timestamp.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex(&mac(secret, timestamp, body)))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut m = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

/// Why a signed request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing Mailtrail-Timestamp header")]
    MissingTimestamp,
    #[error("Mailtrail-Timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("Mailtrail-Timestamp is {0} seconds away from the server's clock (more than allowed)")]
    OutsideWindow(i64),
    #[error("missing Mailtrail-Signature header")]
    MissingSignature,
    #[error("Mailtrail-Signature has no v1= value")]
    NoV1Signature,
    #[error("signature does not match (wrong secret, or the body was changed)")]
    Mismatch,
}

/// Verifies a request's signature headers against its exact body bytes.
pub fn verify(
    secret: &[u8],
    timestamp_header: Option<&str>,
    signature_header: Option<&str>,
    body: &[u8],
    now_seconds: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let ts_text = timestamp_header
        .ok_or(VerifyError::MissingTimestamp)?
        .trim();
    let timestamp: i64 = ts_text.parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now_seconds.saturating_sub(timestamp);
    if skew.abs() > tolerance_seconds {
        return Err(VerifyError::OutsideWindow(skew));
    }
    let sig = signature_header.ok_or(VerifyError::MissingSignature)?;
    let expected = mac(secret, timestamp, body);
    let mut saw_v1 = false;
    for part in sig.split(',') {
        if let Some(hex_sig) = part.trim().strip_prefix("v1=") {
            saw_v1 = true;
            if let Some(given) = decode_hex(hex_sig.trim()) {
                if constant_time_eq(&given, &expected) {
                    return Ok(());
                }
            }
        }
    }
    Err(if saw_v1 {
        VerifyError::Mismatch
    } else {
        VerifyError::NoV1Signature
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The signed POST for a record. `body` is the record's JSON, serialised once so the signature
/// covers exactly the bytes sent.
pub fn request(
    url: &str,
    secret: &str,
    record: &Record,
    now_seconds: i64,
) -> Result<HttpRequest, serde_json::Error> {
    let body = serde_json::to_string(record)?;
    let signature = sign(secret.as_bytes(), now_seconds, body.as_bytes());
    Ok(HttpRequest::post_json(url, body)
        .header(HEADER_IDEMPOTENCY_KEY, record.idempotency_key.clone())
        .header(HEADER_TIMESTAMP, now_seconds.to_string())
        .header(HEADER_SIGNATURE, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign(b"secret", 1_700_000_000, b"{}"),
            "v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn verify_accepts_good_and_rejects_bad() {
        let body = br#"{"a":1}"#;
        let now = 1_800_000_000;
        let sig = sign(b"k", now, body);
        assert_eq!(
            verify(b"k", Some(&now.to_string()), Some(&sig), body, now, 300),
            Ok(())
        );
        // rotation: the second value matches
        let rotated = format!("v1=00ff, {sig}");
        assert_eq!(
            verify(
                b"k",
                Some(&now.to_string()),
                Some(&rotated),
                body,
                now + 299,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(b"other", Some(&now.to_string()), Some(&sig), body, now, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                b"k",
                Some(&now.to_string()),
                Some(&sig),
                br#"{"a":2}"#,
                now,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                b"k",
                Some(&now.to_string()),
                Some(&sig),
                body,
                now + 301,
                300
            ),
            Err(VerifyError::OutsideWindow(301))
        );
        assert_eq!(
            verify(b"k", None, Some(&sig), body, now, 300),
            Err(VerifyError::MissingTimestamp)
        );
        assert_eq!(
            verify(b"k", Some("abc"), Some(&sig), body, now, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(b"k", Some(&now.to_string()), None, body, now, 300),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            verify(b"k", Some(&now.to_string()), Some("v0=ab"), body, now, 300),
            Err(VerifyError::NoV1Signature)
        );
        assert_eq!(
            verify(b"k", Some(&now.to_string()), Some("v1=zz"), body, now, 300),
            Err(VerifyError::Mismatch)
        );
    }
}
