//! `split_reply_text`: never panics, and the parts come from the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts = mailtrail::extract::split_reply_text(&text);
    assert!(parts.reply.len() <= text.len() + 1);
});
