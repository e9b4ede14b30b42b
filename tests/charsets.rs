//! Charsets our users' mail comes in: ISO-2022-JP, Shift_JIS (as Windows-31J, with ①), EUC-JP,
//! ISO-8859-2, Windows-1250, GB2312, Big5, EUC-KR — in encoded-word headers (B and Q) and in
//! base64, quoted-printable and 8-bit bodies. Fixtures in tests/fixtures/charsets were written
//! with Python's codecs; each has the expected text in a .json next to it. The same files run
//! through the WASM build in tests/js/engine_parity.test.mjs.

use mailtrail::email::{Email, ParseOptions};
use std::path::Path;

#[test]
fn every_charset_fixture_decodes_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charsets");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).expect("read");
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("json")).expect("json"),
        )
        .expect("valid json");
        let email = Email::from_raw(&raw, ParseOptions::default()).expect("parses");
        let name = path.display();
        assert_eq!(
            email.subject,
            expected["subject"].as_str().unwrap(),
            "{name}: subject"
        );
        let from = email.from.as_ref().expect("from");
        assert_eq!(
            from.name.as_deref(),
            expected["fromName"].as_str(),
            "{name}: from name"
        );
        assert_eq!(
            from.normalized,
            expected["from"].as_str().unwrap(),
            "{name}: from address"
        );
        if let Some(to_name) = expected["toName"].as_str() {
            assert_eq!(
                email.to[0].name.as_deref(),
                Some(to_name),
                "{name}: to name"
            );
        }
        let body = email.text.as_deref().unwrap_or("").replace("\r\n", "\n");
        assert_eq!(body, expected["body"].as_str().unwrap(), "{name}: body");
        assert!(email.problems.is_empty(), "{name}: {:?}", email.problems);
        seen += 1;
    }
    assert_eq!(seen, 8);
}
