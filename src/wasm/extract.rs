//! WASM bindings for forward and reply extraction.
//!
//! ```js
//! extractForward({ text: body, subject: "Fwd: Quote" })   // plain-text body
//! extractForward({ html: bodyHtml, subject })              // HTML body
//! extractForward({ raw: uint8ArrayOrString })              // full message, text or HTML: detected
//! splitReply({ text }) / splitReply({ html }) / splitReply({ raw })
//! ```
//!
//! Results are plain objects with the native JSON shapes (`{forwarded, message, email, chain, siblings}`,
//! `{reply, quoted, signature}`). Bad input (no input field, several, wrong types, binary or
//! non-UTF-8 bytes) is a JS `Error` with a `code` (`invalid-input`, `empty`, `binary`,
//! `not-utf8`, `not-a-message`); nothing traps.

use super::{js_error, to_js};
use crate::extract::{self, ExtractError};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_EXTRACT_INPUT: &'static str = r#"
/** What `extractForward` and `splitReply` read: one body, or a whole message (bytes or text). */
export type ExtractInput =
    | { text: string; subject?: string | null }
    | { html: string; subject?: string | null }
    | { raw: Uint8Array | string; subject?: string | null };
"#;

enum Input {
    Text(String),
    Html(String),
    Raw(Vec<u8>),
}

fn field(obj: &JsValue, name: &str) -> Result<Option<JsValue>, JsValue> {
    let v = js_sys::Reflect::get(obj, &JsValue::from_str(name)).map_err(|_| {
        js_error(
            "invalid-input",
            "the input must be an object such as { text: \"…\" }",
        )
    })?;
    Ok(if v.is_undefined() || v.is_null() {
        None
    } else {
        Some(v)
    })
}

fn string_field(obj: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    match field(obj, name)? {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| js_error("invalid-input", &format!("`{name}` must be a string"))),
    }
}

fn read_input(obj: &JsValue) -> Result<(Input, Option<String>), JsValue> {
    if !obj.is_object() {
        return Err(js_error(
            "invalid-input",
            "the input must be an object: { text }, { html } or { raw }",
        ));
    }
    let text = string_field(obj, "text")?;
    let html = string_field(obj, "html")?;
    let raw = match field(obj, "raw")? {
        None => None,
        Some(v) => {
            if let Some(s) = v.as_string() {
                Some(s.into_bytes())
            } else if v.is_instance_of::<js_sys::Uint8Array>()
                || v.is_instance_of::<js_sys::ArrayBuffer>()
            {
                Some(js_sys::Uint8Array::new(&v).to_vec())
            } else {
                return Err(js_error(
                    "invalid-input",
                    "`raw` must be a Uint8Array, an ArrayBuffer or a string",
                ));
            }
        }
    };
    let subject = string_field(obj, "subject")?;
    let input = match (text, html, raw) {
        (Some(t), None, None) => Input::Text(t),
        (None, Some(h), None) => Input::Html(h),
        (None, None, Some(r)) => Input::Raw(r),
        (None, None, None) => {
            return Err(js_error(
                "invalid-input",
                "give one of `text`, `html` or `raw`",
            ))
        }
        _ => {
            return Err(js_error(
                "invalid-input",
                "give only one of `text`, `html` or `raw`",
            ))
        }
    };
    Ok((input, subject))
}

fn extract_error(e: ExtractError) -> JsValue {
    let code = match e {
        ExtractError::Empty => "empty",
        ExtractError::Binary { .. } => "binary",
        ExtractError::NotUtf8 { .. } => "not-utf8",
        ExtractError::NotAMessage => "not-a-message",
    };
    js_error(code, &e.to_string())
}

/// Finds the forwarded email: `{ forwarded, message, email, chain, siblings }`.
#[wasm_bindgen(js_name = extractForward, unchecked_return_type = "Forward")]
pub fn extract_forward(
    #[wasm_bindgen(unchecked_param_type = "ExtractInput")] input: JsValue,
) -> Result<JsValue, JsValue> {
    let (input, subject) = read_input(&input)?;
    let subject = subject.as_deref();
    let forward = match input {
        Input::Text(t) => extract::forward_from_text(&t, subject),
        Input::Html(h) => extract::forward_from_html(&h, subject),
        Input::Raw(r) => extract::forward_from_bytes(&r, subject).map_err(extract_error)?,
    };
    to_js(&forward)
}

/// Splits a reply: `{ reply, quoted, signature }`.
#[wasm_bindgen(js_name = splitReply, unchecked_return_type = "ReplyParts")]
pub fn split_reply(
    #[wasm_bindgen(unchecked_param_type = "ExtractInput")] input: JsValue,
) -> Result<JsValue, JsValue> {
    let (input, _) = read_input(&input)?;
    let parts = match input {
        Input::Text(t) => extract::split_reply_text(&t),
        Input::Html(h) => extract::split_reply_html(&h),
        Input::Raw(r) => extract::split_reply_bytes(&r).map_err(extract_error)?,
    };
    to_js(&parts)
}
