//! `split_reply_html` on arbitrary markup.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let _ = mailtrail::extract::split_reply_html(&html);
});
