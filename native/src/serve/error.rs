//! The one error shape every `/v1` route answers with:
//! `{"error": {"code": "…", "message": "…", "field": "…" | null}}`.
//!
//! `code` is stable (clients branch on it); `message` is for the person reading the
//! extension's status popup, so it says what was wrong and what to do.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    /// Answer with `Connection: close`: the request body was left unread.
    pub close_connection: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            close_connection: false,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message).field(field)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request (see its log); try again",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message, "field": self.field}})
    }
}

impl From<super::db::StoreError> for ApiError {
    fn from(e: super::db::StoreError) -> Self {
        match e {
            super::db::StoreError::Closed => {
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down; try again in a moment",
                );
                err.retry_after = Some(1);
                err
            }
            super::db::StoreError::Conflict(id) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("a contact with this address already exists (id {id})"),
            ),
            e if e.is_data_error() => {
                tracing::warn!(error = %e, "the database refused a value of the request");
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unstorable_value",
                    format!(
                        "the database refused a value of this request ({}); sending it again \
                         will not help",
                        e.database_message()
                    ),
                )
            }
            super::db::StoreError::Db(_)
            | super::db::StoreError::Sqlite(_)
            | super::db::StoreError::Inconsistent(_)
            | super::db::StoreError::NotDurable(_) => {
                tracing::error!(error = %e, "database error");
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database did not accept the request; it will be retried",
                );
                err.retry_after = Some(2);
                err
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.close_connection {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mailtrail\""),
            );
        }
        resp
    }
}

/// JSON text with every U+0000 in its strings (`\u0000`, the only way JSON can carry one)
/// turned into U+FFFD. PostgreSQL's text cannot hold U+0000 and SQLite's can, so both databases
/// get the same text this way, and an email with a NUL in its subject or body (a `=00` in a
/// quoted-printable header, say) logs instead of failing for good. Borrowed when there is none.
pub fn replace_nul_escapes(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            i += 1;
            continue;
        }
        // An escape: `\\` (a backslash) is skipped whole, so `\\u0000` stays text.
        if body.get(i + 1) == Some(&b'u') && body.get(i + 2..i + 6) == Some(b"0000") {
            out.get_or_insert_with(|| body.to_vec())[i + 2..i + 6].copy_from_slice(b"fffd");
            i += 6;
        } else {
            i += 2;
        }
    }
    match out {
        Some(v) => std::borrow::Cow::Owned(v),
        None => std::borrow::Cow::Borrowed(body),
    }
}

/// Text from a URL (query, path) with U+0000 turned into U+FFFD, as in JSON bodies.
pub fn replace_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Parses a JSON body, naming the offending field on failure (`contacts[2].address`). A U+0000
/// in any string arrives as U+FFFD (`replace_nul_escapes`).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = replace_nul_escapes(body);
    let mut de = serde_json::Deserializer::from_slice(&body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut field = if path == "." { None } else { Some(path) };
        // serde reports a missing field at its parent: name the field itself.
        let text = inner.to_string();
        if let Some(name) = text
            .strip_prefix("missing field `")
            .and_then(|t| t.split('`').next())
        {
            field = Some(match field {
                Some(parent) => format!("{parent}.{name}"),
                None => name.to_string(),
            });
        }
        let what = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "malformed JSON"
            }
            serde_json::error::Category::Data => "invalid value",
            serde_json::error::Category::Io => "unreadable body",
        };
        let message = match &field {
            Some(f) => format!("{what} at {f}: {inner}"),
            None => format!("{what}: {inner}"),
        };
        ApiError {
            field,
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", message)
        }
    })?;
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("malformed JSON: {e}"),
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Doc {
        items: Vec<Item>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        size: u64,
    }

    #[test]
    fn names_the_field() {
        let err = parse_json::<Doc>(br#"{"items":[{"size":1},{"size":"x"}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("items[1].size"));
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        let err = parse_json::<Doc>(br#"{"items":[{"size":1}"#).unwrap_err();
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
        let err = parse_json::<Doc>(br#"{}"#).unwrap_err();
        assert!(
            err.message.contains("missing field `items`"),
            "{}",
            err.message
        );
        assert_eq!(err.field.as_deref(), Some("items"));
        let err = parse_json::<Doc>(br#"{"items":[{}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("items[0].size"));
        assert!(parse_json::<Doc>(br#"{"items":[]} x"#).is_err());
    }

    #[test]
    fn nul_in_json_strings_becomes_the_replacement_character() {
        let v: Vec<String> =
            parse_json(br#"["hi\u0000there", "a\\u0000b", "c\\\u0000d", "\u00001", "ok"]"#)
                .unwrap();
        assert_eq!(
            v,
            [
                "hi\u{FFFD}there",
                "a\\u0000b",
                "c\\\u{FFFD}d",
                "\u{FFFD}1",
                "ok"
            ]
        );
        assert!(matches!(
            replace_nul_escapes(br#"{"a":"\u0001 \\u0000"}"#),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(replace_nul("a\0b"), "a\u{FFFD}b");
    }
}
