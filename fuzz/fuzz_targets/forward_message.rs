//! `forward_from_message` on arbitrary bytes (mail-parser underneath).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = mailtrail::extract::forward_from_message(data) {
        assert_eq!(f.forwarded, f.email.is_some());
    }
});
