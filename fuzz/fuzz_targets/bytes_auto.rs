//! The auto-detecting entry points the CLI and the WASM `raw` input use, plus the date parser.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mailtrail::extract::detect_input(data);
    let _ = mailtrail::extract::forward_from_bytes(data, None);
    let _ = mailtrail::extract::split_reply_bytes(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = mailtrail::extract::parse_date(s);
        let _ = mailtrail::extract::strip_prefixes(s);
    }
});
