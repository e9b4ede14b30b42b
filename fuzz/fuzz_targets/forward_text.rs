//! `forward_from_text` with and without a subject; the first line of the input is the subject.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (subject, body) = text.split_once('\n').unwrap_or(("", &text));
    let with = mailtrail::extract::forward_from_text(body, Some(subject));
    let without = mailtrail::extract::forward_from_text(&text, None);
    // An email is reported exactly when something was forwarded.
    assert_eq!(with.forwarded, with.email.is_some());
    assert_eq!(without.forwarded, without.email.is_some());
});
