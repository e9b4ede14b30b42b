//! `forward_from_html` on arbitrary markup.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let f = mailtrail::extract::forward_from_html(&html, Some("Fwd: x"));
    assert_eq!(f.forwarded, f.email.is_some());
    let _ = mailtrail::extract::forward_from_html(&html, None);
});
