//! Small parsers fed with arbitrary text: addresses, address lists, IDN domains, Message-ID
//! lists, subject prefixes, Retry-After, webhook signature verification, base64.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        let _ = mailtrail::base64::decode(&String::from_utf8_lossy(data));
        return;
    };
    let _ = mailtrail::address::Mailbox::parse(s);
    let _ = mailtrail::address::parse_address_list(s);
    let _ = mailtrail::address::normalize_domain(s);
    let _ = mailtrail::ids::parse_id_list(s);
    let _ = mailtrail::subject::normalize_subject(s);
    let _ = mailtrail::subject::is_forward_subject(s);
    let _ = mailtrail::http::retry_after_ms(s, 0);
    let _ = mailtrail::settings::check_endpoint_url(s);
    let _ = mailtrail::base64::decode(s);
    let _ = mailtrail::charset::decode_header(s, &|_, b| Some(String::from_utf8_lossy(b).into_owned()));
    let (ts, sig) = s.split_once('\n').unwrap_or((s, s));
    let _ = mailtrail::webhook::verify(b"k", Some(ts), Some(sig), data, 1_700_000_000, 300);
});
