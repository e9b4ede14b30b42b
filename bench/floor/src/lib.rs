//! mail-parser and nothing else, for bench/floor.mjs: parse the bytes, touch what a logger
//! reads (so the optimiser cannot drop the work), return one number to JS.
use mail_parser::{MessageParser, MimeHeaders};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
pub fn parse(raw: &[u8]) -> u32 {
    let Some(message) = MessageParser::default().parse(raw) else {
        return 0;
    };
    let mut n = message.subject().map_or(0, |s| s.len());
    n += message.from().map_or(0, |a| a.iter().count());
    n += message.to().map_or(0, |a| a.iter().count());
    n += message.body_text(0).map_or(0, |t| t.len());
    n += message.body_html(0).map_or(0, |t| t.len());
    for part in message.attachments() {
        n += part.contents().len() + part.attachment_name().map_or(0, |s| s.len());
    }
    n as u32
}
