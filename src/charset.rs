//! Japanese, Chinese and Korean legacy charsets in the browser build.
//!
//! mail-parser decodes these multi-byte charsets (ISO-2022-JP, Shift_JIS, EUC-JP, GBK/GB18030,
//! Big5, EUC-KR) with encoding_rs, whose tables are about 150 KB of the WebAssembly engine. The
//! browser already has the same decoders — `TextDecoder` implements the WHATWG Encoding
//! Standard, as encoding_rs does — so the WASM build leaves encoding_rs out and re-decodes, from
//! the raw message, exactly the parts that need it: encoded-word headers (subject, names) and
//! text bodies in those charsets. The native build keeps mail-parser's own decoding; the
//! native/WASM parity test (tests/js/engine_parity.test.mjs) holds the two to the same output on
//! tests/fixtures/charsets.

use crate::address::Mailbox;
use crate::email::Email;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, MimeHeaders};

/// Decodes bytes in a WHATWG encoding (`shift_jis`, `iso-2022-jp`, …); `None` when unsupported.
pub type Decoder<'a> = &'a dyn Fn(&str, &[u8]) -> Option<String>;

/// The WHATWG encoding for a charset label that needs a multi-byte decoder, using the labels
/// mail-parser maps to those decoders (case-insensitive, `-` and `_` alike).
pub fn legacy_encoding(label: &str) -> Option<&'static str> {
    let l: String = label
        .trim()
        .trim_matches('"')
        .chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    Some(match l.as_str() {
        "csshiftjis" | "ms932" | "ms_kanji" | "shift_jis" | "sjis" | "windows_31j" | "x_sjis" => {
            "shift_jis"
        }
        "csiso2022jp" | "iso_2022_jp" => "iso-2022-jp",
        "cseucpkdfmtjapanese"
        | "euc_jp"
        | "extended_unix_code_packed_format_for_japanese"
        | "x_euc_jp" => "euc-jp",
        "csgb18030" | "gb18030" | "gb2312" => "gb18030",
        "chinese" | "cp936" | "csgb2312" | "csgbk" | "csiso58gb231280" | "gb_2312"
        | "gb_2312_80" | "gbk" | "iso_ir_58" | "ms936" | "windows_936" | "x_gbk" => "gbk",
        "big5" | "big5_hkscs" | "cn_big5" | "csbig5" | "x_x_big5" => "big5",
        "cseuckr" | "csksc56011987" | "euc_kr" | "iso_ir_149" | "korean" | "ks_c_5601_1987"
        | "ks_c_5601_1989" | "ksc5601" | "ksc_5601" | "windows_949" => "euc-kr",
        "x_mac_cyrillic" | "x_mac_ukrainian" => "x-mac-cyrillic",
        _ => return None,
    })
}

/// Re-decodes what mail-parser could not: headers with legacy encoded words and text bodies in
/// legacy charsets. Leaves everything else as mail-parser decoded it.
pub fn redecode_legacy(message: &mail_parser::Message<'_>, email: &mut Email, decode: Decoder<'_>) {
    // Most messages have no encoded word at all: one scan of the header block spares six
    // header lookups (3 % of the browser engine's time).
    let root = message.root_part();
    let head = message
        .raw_message()
        .get(root.offset_header as usize..root.offset_body as usize)
        .unwrap_or_default();
    if memchr::memmem::find(head, b"=?").is_some() {
        redecode_headers(message, email, decode);
    }
    redecode_bodies(message, email, decode);
    redecode_attachment_names(message, email, decode);
}

/// Attachment names in a legacy charset, as an RFC 2047 word (`name="=?ISO-2022-JP?B?…?="`) or
/// an RFC 2231 parameter (`filename*=shift_jis''%89%63…`, possibly in `*0*`, `*1*` pieces).
/// `email.attachments` was built from `message.attachments()` in order, one for one.
///
/// Both builds run this: mail-parser decodes each RFC 2231 piece on its own (and the pieces
/// after the first as UTF-8), which garbles a name split into pieces even natively.
pub fn redecode_attachment_names(
    message: &mail_parser::Message<'_>,
    email: &mut Email,
    decode: Decoder<'_>,
) {
    for (part, attachment) in message.attachments().zip(email.attachments.iter_mut()) {
        let Some(head) = message
            .raw_message()
            .get(part.offset_header as usize..part.offset_body as usize)
        else {
            continue;
        };
        // Most parts name their file in ASCII: skip them without looking further.
        if memchr::memmem::find(head, b"=?").is_none()
            && memchr::memmem::find(head, b"*=").is_none()
        {
            continue;
        }
        let head = String::from_utf8_lossy(head);
        if let Some(name) = legacy_file_name(&head, decode) {
            attachment.name = Some(name.trim().to_string());
        }
    }
}

/// The file name of a part's header block when it is written in a legacy charset; `None` when
/// it is not (mail-parser's reading then stands).
fn legacy_file_name(head: &str, decode: Decoder<'_>) -> Option<String> {
    let unfolded = head
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ")
        .replace("\n ", " ");
    for (header, param) in [
        ("content-disposition", "filename"),
        ("content-type", "name"),
    ] {
        let Some(value) = unfolded.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim().eq_ignore_ascii_case(header).then_some(value)
        }) else {
            continue;
        };
        let params = split_params(value);
        // RFC 2047 inside a plain parameter.
        if let Some((_, v)) = params.iter().find(|(k, _)| k.eq_ignore_ascii_case(param)) {
            if has_legacy_word(v) {
                return Some(decode_header(v, decode));
            }
        }
        // RFC 2231: `param*=charset'lang'bytes` or pieces `param*0*=…`, `param*1*=…`, `param*2=…`.
        let mut pieces: Vec<(u32, bool, &str)> = params
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.get(param.len()..).filter(|_| {
                    k.get(..param.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(param))
                })?;
                let rest = rest.strip_prefix('*')?;
                if rest.is_empty() {
                    return Some((0, true, v.as_str()));
                }
                let (index, encoded) = match rest.strip_suffix('*') {
                    Some(i) => (i, true),
                    None => (rest, false),
                };
                Some((index.parse().ok()?, encoded, v.as_str()))
            })
            .collect();
        pieces.sort_by_key(|p| p.0);
        let (_, _, first) = pieces.first()?;
        let mut first_parts = first.splitn(3, '\'');
        let (Some(charset), Some(_lang), Some(first_text)) =
            (first_parts.next(), first_parts.next(), first_parts.next())
        else {
            continue;
        };
        let encoding = legacy_encoding(charset)?;
        let mut bytes = Vec::new();
        for (i, (_, encoded, text)) in pieces.iter().enumerate() {
            let text = if i == 0 { first_text } else { text };
            if *encoded {
                bytes.extend(percent_decode(text));
            } else {
                bytes.extend_from_slice(text.as_bytes());
            }
        }
        return decode(encoding, &bytes);
    }
    None
}

/// `a=b; c="d;e"` → `[(a, b), (c, d;e)]`, the first piece (the type) left out.
fn split_params(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut pieces = Vec::new();
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => pieces.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    pieces.push(current);
    for piece in pieces.into_iter().skip(1) {
        if let Some((k, v)) = piece.split_once('=') {
            params.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    params
}

/// RFC 2231's `%XX` escapes; a malformed `%` stays as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    hex_unescape(text, b'%', false)
}

fn redecode_headers(message: &mail_parser::Message<'_>, email: &mut Email, decode: Decoder<'_>) {
    if let Some(subject) = message.header_raw("Subject").filter(|v| has_legacy_word(v)) {
        email.subject = decode_header(subject, decode).trim().to_string();
    }
    let fields: [(&str, &mut Vec<Mailbox>); 4] = [
        ("To", &mut email.to),
        ("Cc", &mut email.cc),
        ("Bcc", &mut email.bcc),
        ("Reply-To", &mut email.reply_to),
    ];
    for (name, list) in fields {
        if let Some(raw) = message.header_raw(name).filter(|v| has_legacy_word(v)) {
            if let Some(reparsed) = reparse_addresses(raw, decode) {
                *list = reparsed;
            }
        }
    }
    if let Some(raw) = message.header_raw("From").filter(|v| has_legacy_word(v)) {
        if let Some(m) = reparse_addresses(raw, decode).and_then(|l| l.into_iter().next()) {
            email.from = Some(m);
        }
    }
}

/// An address header with legacy encoded words, parsed again by mail-parser after each such
/// word is rewritten as the same text in a UTF-8 encoded word. mail-parser's address grammar
/// (groups, comments, quoted names) then sees exactly the structure it saw the first time, and
/// a decoded name with a comma or a quote in it stays one name. `None` when nothing could be
/// decoded (the first parse is kept).
fn reparse_addresses(raw: &str, decode: Decoder<'_>) -> Option<Vec<Mailbox>> {
    let mut header = String::with_capacity(raw.len() + 16);
    header.push_str("To:");
    let mut last = 0;
    let mut changed = false;
    for w in encoded_words(raw) {
        if legacy_encoding(w.charset).is_none() {
            continue;
        }
        if let Some(text) = w.decode(decode) {
            header.push_str(&raw[last..w.start]);
            header.push_str("=?UTF-8?B?");
            header.push_str(&crate::base64::encode(text.as_bytes()));
            header.push_str("?=");
            last = w.end;
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    header.push_str(&raw[last..]);
    header.push_str("\r\n\r\n");
    let parsed = crate::email::message_parser().parse(header.as_bytes())?;
    let mut problems = Vec::new();
    Some(
        parsed
            .to()
            .map(|a| crate::email::convert_addresses("to", a, &mut problems))
            .unwrap_or_default(),
    )
}

fn redecode_bodies(message: &mail_parser::Message<'_>, email: &mut Email, decode: Decoder<'_>) {
    let body = |part: Option<&mail_parser::MessagePart<'_>>| -> Option<String> {
        let part = part?;
        let encoding = legacy_encoding(part.content_type()?.attribute("charset")?)?;
        let raw = message
            .raw_message()
            .get(part.offset_body as usize..part.offset_end as usize)?;
        let bytes = match part.encoding {
            Encoding::Base64 => base64_decode(raw)?,
            Encoding::QuotedPrintable => quoted_printable_decode(raw)?,
            Encoding::None => raw.to_vec(),
        };
        decode(encoding, &bytes)
    };
    let html_part = message.html_part(0).filter(|p| p.is_text_html());
    if let Some(html) = body(html_part) {
        if email.text.is_some() && message.text_part(0).is_some_and(|p| p.is_text_html()) {
            // The text body was derived from this HTML part: derive it again.
            email.text = Some(mail_parser::decoders::html::html_to_text(&html));
        }
        email.html = Some(html);
    }
    if let Some(text) = body(message.text_part(0).filter(|p| !p.is_text_html())) {
        email.text = Some(text);
    }
}

fn has_legacy_word(value: &str) -> bool {
    encoded_words(value).any(|w| legacy_encoding(w.charset).is_some())
}

/// One `=?charset?B|Q?text?=` in a header.
struct EncodedWord<'a> {
    start: usize,
    end: usize,
    charset: &'a str,
    base64: bool,
    text: &'a str,
}

impl EncodedWord<'_> {
    /// The word's text; `None` when its bytes or its charset cannot be decoded.
    fn decode(&self, decode: Decoder<'_>) -> Option<String> {
        let bytes = if self.base64 {
            base64_decode(self.text.as_bytes())?
        } else {
            q_decode(self.text)
        };
        decode_any(self.charset, &bytes, decode)
    }
}

fn encoded_words(value: &str) -> impl Iterator<Item = EncodedWord<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(rel) = value.get(pos..)?.find("=?") {
            let start = pos + rel;
            pos = start + 2;
            let rest = &value[start + 2..];
            let mut parts = rest.splitn(3, '?');
            let (Some(charset), Some(enc), Some(tail)) = (parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            let text_end = tail.find("?=")?;
            let base64 = match enc {
                "B" | "b" => true,
                "Q" | "q" => false,
                _ => continue,
            };
            if charset.is_empty()
                || charset.contains(char::is_whitespace)
                || tail[..text_end].contains(char::is_whitespace)
            {
                continue;
            }
            let text_start = start + 2 + charset.len() + 1 + enc.len() + 1;
            let end = text_start + text_end + 2;
            pos = end;
            // RFC 2231 language suffix: `charset*lang`.
            let charset = charset.split('*').next().unwrap_or(charset);
            return Some(EncodedWord {
                start,
                end,
                charset,
                base64,
                text: &value[text_start..text_start + text_end],
            });
        }
        None
    })
}

/// Decodes the encoded words of an unfolded header value (RFC 2047): whitespace between two
/// adjacent encoded words is dropped; other text is kept as it is.
pub fn decode_header(value: &str, decode: Decoder<'_>) -> String {
    let value = value.replace("\r\n", "").replace('\n', "");
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    let mut previous_was_word = false;
    for w in encoded_words(&value) {
        let between = &value[last..w.start];
        if !(previous_was_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        match w.decode(decode) {
            Some(text) => out.push_str(&text),
            None => out.push_str(&value[w.start..w.end]),
        }
        last = w.end;
        previous_was_word = true;
    }
    out.push_str(&value[last..]);
    out
}

/// Decodes bytes in any charset a header may name: legacy multi-byte ones and everything else
/// the platform decoder knows (UTF-8 directly).
fn decode_any(charset: &str, bytes: &[u8], decode: Decoder<'_>) -> Option<String> {
    if charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("us-ascii") {
        return Some(String::from_utf8_lossy(bytes).into_owned());
    }
    decode(legacy_encoding(charset).unwrap_or(charset), bytes)
}

/// The Q encoding of RFC 2047: `_` is a space, `=XX` a byte; a malformed `=` stays as it is.
fn q_decode(text: &str) -> Vec<u8> {
    hex_unescape(text, b'=', true)
}

/// Bytes from text with `<marker>XX` hex escapes (`=` in RFC 2047's Q, `%` in RFC 2231); a
/// malformed marker stays as it is. `underscore_is_space` for Q.
fn hex_unescape(text: &str, marker: u8, underscore_is_space: bool) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == marker {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_digit),
                b.get(i + 2).copied().and_then(hex_digit),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if underscore_is_space && c == b'_' {
            b' '
        } else {
            c
        });
        i += 1;
    }
    out
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// encoding_rs as the decoder in the native build (mail-parser already links it there).
#[cfg(not(target_arch = "wasm32"))]
pub fn encoding_rs_decoder(encoding: &str, bytes: &[u8]) -> Option<String> {
    let enc = encoding_rs::Encoding::for_label(encoding.as_bytes())?;
    Some(enc.decode_without_bom_handling(bytes).0.into_owned())
}

/// The browser's `TextDecoder` as the decoder.
#[cfg(target_arch = "wasm32")]
pub fn text_decoder(encoding: &str, bytes: &[u8]) -> Option<String> {
    web_sys::TextDecoder::new_with_label(encoding)
        .ok()?
        .decode_with_u8_array(bytes)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::ParseOptions;

    /// encoding_rs stands in for TextDecoder (both implement the WHATWG Encoding Standard).
    fn whatwg(encoding: &str, bytes: &[u8]) -> Option<String> {
        let enc = encoding_rs::Encoding::for_label(encoding.as_bytes())?;
        Some(enc.decode_without_bom_handling(bytes).0.into_owned())
    }

    #[test]
    fn labels_map_to_whatwg_encodings() {
        assert_eq!(legacy_encoding("Shift_JIS"), Some("shift_jis"));
        assert_eq!(legacy_encoding("\"ISO-2022-JP\""), Some("iso-2022-jp"));
        assert_eq!(legacy_encoding("ks_c_5601-1987"), Some("euc-kr"));
        assert_eq!(legacy_encoding("GB2312"), Some("gb18030"));
        assert_eq!(legacy_encoding("utf-8"), None);
        assert_eq!(legacy_encoding("iso-8859-2"), None);
    }

    #[test]
    fn headers_decode_rfc2047_words() {
        let v = "=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEIyVjtSGyhC?= <hanako@x.example>";
        assert_eq!(decode_header(v, &whatwg), "山田 花子 <hanako@x.example>");
        // adjacent words: the space between them goes; Q with underscores
        let v = "=?utf-8?q?Zam=C3=B3wienie?=\r\n =?iso-8859-2?Q?_nr_5?= (pilne)";
        assert_eq!(decode_header(v, &whatwg), "Zamówienie nr 5 (pilne)");
        // an unknown charset keeps the word as written rather than inventing text
        assert_eq!(
            decode_header("=?x-klingon?B?AAAA?=", &whatwg),
            "=?x-klingon?B?AAAA?="
        );
        // malformed: not a word
        assert_eq!(decode_header("=?broken", &whatwg), "=?broken");
    }

    #[test]
    fn address_lists_keep_their_structure_when_names_are_redecoded() {
        // A legacy-charset name among an address with a comment, a decoded name containing a
        // comma, and a group: the browser build must end with the same people as the native one.
        let raw = b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQiwgGyRCMlY7UhsoQg==?= <hanako@x.example>\r\n\
To: =?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEIyVjtSGyhC?= <hanako@x.example>, bob@y.example (Bob Smith)\r\n\
Cc: =?Shift_JIS?B?iWOLxpWU?=: a@t.example, b@t.example;, carol@z.example\r\n\
Subject: hi\r\n\
Message-ID: <m1@x.example>\r\n\
\r\n\
body\r\n";
        let (good, message) = Email::parse_with_message(raw, ParseOptions::default()).unwrap();
        let people = |l: &[Mailbox]| l.iter().map(|m| m.address.clone()).collect::<Vec<_>>();
        assert_eq!(people(&good.to), ["hanako@x.example", "bob@y.example"]);
        assert_eq!(
            people(&good.cc),
            ["a@t.example", "b@t.example", "carol@z.example"]
        );
        assert_eq!(
            good.from.as_ref().unwrap().name.as_deref(),
            Some("山田, 花子")
        );
        let mut damaged = good.clone();
        for m in damaged.to.iter_mut().chain(damaged.cc.iter_mut()) {
            m.name = Some("garbled".into());
        }
        damaged.from.as_mut().unwrap().name = Some("garbled".into());
        redecode_legacy(&message, &mut damaged, &whatwg);
        assert_eq!(damaged.from, good.from);
        assert_eq!(damaged.to, good.to);
        assert_eq!(damaged.cc, good.cc);
    }

    #[test]
    fn attachment_names_in_legacy_charsets_are_redecoded() {
        let raw = b"From: a@x.example\r\n\
To: b@y.example\r\n\
Subject: files\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
see attached\r\n\
--b\r\n\
Content-Type: application/pdf; name=\"=?ISO-2022-JP?B?GyRCOCtAUT1xGyhCLnBkZg==?=\"\r\n\
Content-Disposition: attachment;\r\n filename=\"=?ISO-2022-JP?B?GyRCOCtAUT1xGyhCLnBkZg==?=\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0=\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=shift_jis''%89%63%8B%C6%95%94.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0=\r\n\
--b\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment;\r\n filename*0*=shift_jis''%89%63%8B%C6;\r\n filename*1*=%95%94;\r\n filename*2=.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0=\r\n\
--b\r\n\
Content-Type: application/pdf; name=\"plain.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0=\r\n\
--b--\r\n";
        let (good, message) = Email::parse_with_message(raw, ParseOptions::default()).unwrap();
        let names: Vec<_> = good.attachments.iter().map(|a| a.name.clone()).collect();
        assert_eq!(
            names,
            [
                Some("見積書.pdf".to_string()),
                Some("営業部.pdf".to_string()),
                Some("営業部.pdf".to_string()),
                Some("plain.pdf".to_string())
            ]
        );
        let mut damaged = good.clone();
        for a in damaged.attachments.iter_mut().take(3) {
            a.name = Some("garbled".into());
        }
        redecode_legacy(&message, &mut damaged, &whatwg);
        assert_eq!(damaged.attachments, good.attachments);
    }

    #[test]
    fn redecoding_restores_every_fixture() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/charsets");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let (good, message) = Email::parse_with_message(&raw, ParseOptions::default()).unwrap();
            // What a build without encoding_rs would start from, then the fallback:
            let mut damaged = good.clone();
            if legacy_encoding(&path.file_stem().unwrap().to_string_lossy()).is_some() {
                damaged.subject = "garbled".into();
                damaged.text = Some("garbled".into());
                if let Some(f) = damaged.from.as_mut() {
                    f.name = Some("garbled".into());
                }
            }
            redecode_legacy(&message, &mut damaged, &whatwg);
            assert_eq!(damaged, good, "{}", path.display());
        }
    }
}
