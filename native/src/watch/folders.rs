//! Finding the Sent folder, the way connected-inbox users expect (see the seeds in
//! /work/shared/seeds): the folder with the special-use attribute `\Sent` (RFC 6154), else the
//! first folder whose name says "sent" in the user's language.
//!
//! "Contains sent" is taken as a word, not a substring: "Presentations" or "Consent forms" are
//! not Sent folders. Names in other languages are matched by the stem of the word for "sent"
//! (Gesendet, Envoyés, Enviados, Wysłane, 送信済み, …), compared after lower-casing, so
//! "Gesendete Elemente" and "Elementy wysłane" match too.

use super::imap::Folder;

/// Stems of "sent" (as in sent mail) that start a word of the folder name, lower case.
const WORD_STEMS: &[&str] = &[
    "sent",      // English: Sent, Sent Items, Sent Mail, Sent Messages
    "gesendet",  // German: Gesendet, Gesendete Elemente/Objekte
    "envoy",     // French: Envoyés, Éléments envoyés
    "enviad",    // Spanish/Portuguese: Enviados, Itens enviados, Elementos enviados
    "enviat",    // Catalan: Enviats
    "inviat",    // Italian: Inviati, Posta inviata
    "wysłan",    // Polish: Wysłane, Elementy wysłane
    "verzonden", // Dutch: Verzonden (items)
    "skickat",   // Swedish: Skickat, Skickade objekt
    "skickad",
    "sendt",     // Danish/Norwegian: Sendt, Sendte elementer
    "lähetetyt", // Finnish
    "odeslan",   // Czech: Odeslané
    "odoslan",   // Slovak: Odoslané
    "poslan",    // Slovenian/Croatian: Poslano, Poslane
    "elküldött", // Hungarian
    "küldött",
    "отправлен",  // Russian: Отправленные
    "надіслан",   // Ukrainian: Надіслані
    "изпратен",   // Bulgarian: Изпратени
    "послат",     // Serbian: Послате
    "αποσταλμέν", // Greek: Απεσταλμένα
    "απεσταλμέν",
    "gönderil", // Turkish: Gönderilmiş, Gönderilenler
    "trimis",   // Romanian: Trimise
    "saadetud", // Estonian
    "išsiųst",  // Lithuanian
    "nosūtīt",  // Latvian
    "terkirim", // Indonesian
    "dihantar", // Malay
    "đã gửi",   // Vietnamese (two words; matched as a phrase below)
    "נשלח",     // Hebrew
    "المرسل",   // Arabic
];

/// Phrases matched anywhere in the name (scripts without spaces between words).
const PHRASES: &[&str] = &[
    "送信済", // Japanese: 送信済み, 送信済みアイテム, 送信済みメール
    "已发送", // Chinese (simplified)
    "已傳送", // Chinese (traditional)
    "寄件備份",
    "寄件备份",
    "보낸", // Korean: 보낸편지함
    "đã gửi",
    "ส่งแล้ว", // Thai
];

/// True when a folder's (decoded) name says it holds sent mail.
pub fn name_means_sent(name: &str) -> bool {
    let lower = name.to_lowercase();
    // Judge the last level of the hierarchy ("[Gmail]/Sent Mail", "INBOX.Sent").
    let leaf = lower.rsplit(['/', '.', '\\']).next().unwrap_or(&lower);
    if PHRASES.iter().any(|p| leaf.contains(p)) {
        return true;
    }
    leaf.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|word| {
            WORD_STEMS.iter().any(|stem| {
                if *stem == "sent" {
                    // English: the word itself ("sent", "sentitems" written together), not "sentence".
                    word == "sent" || word == "sentitems" || word == "sentmail"
                } else {
                    word.starts_with(stem)
                }
            })
        })
}

/// The Sent folder: the configured name, else `\Sent`, else the first folder (in the server's
/// order) whose name means "sent". INBOX and its children are never it.
pub fn find_sent<'a>(folders: &'a [Folder], configured: Option<&str>) -> Option<&'a Folder> {
    let candidates = || folders.iter().filter(|f| f.selectable && !is_inbox(&f.raw));
    if let Some(want) = configured {
        return candidates().find(|f| f.name == want || f.raw == want);
    }
    candidates()
        .find(|f| f.sent)
        .or_else(|| candidates().find(|f| name_means_sent(&f.name)))
}

fn is_inbox(raw: &str) -> bool {
    raw.eq_ignore_ascii_case("INBOX")
}

/// Decodes an IMAP mailbox name (RFC 3501 §5.1.3 modified UTF-7). Invalid sequences are kept
/// as they are: the name is only shown to people and matched against words.
pub fn decode_mutf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(dash) = after.find('-') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let encoded = &after[..dash];
        if encoded.is_empty() {
            out.push('&');
        } else {
            match decode_base64_utf16(encoded) {
                Some(s) => out.push_str(&s),
                None => out.push_str(&rest[amp..amp + 2 + dash]),
            }
        }
        rest = &after[dash + 1..];
    }
    out.push_str(rest);
    out
}

fn decode_base64_utf16(encoded: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut bytes = Vec::new();
    for c in encoded.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b',' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(raw: &str, sent: bool) -> Folder {
        Folder {
            raw: raw.into(),
            name: decode_mutf7(raw),
            sent,
            selectable: true,
        }
    }

    #[test]
    fn modified_utf7() {
        assert_eq!(decode_mutf7("Wys&AUI-ane"), "Wysłane");
        assert_eq!(decode_mutf7("&MOEw,DDr-"), "メール");
        assert_eq!(decode_mutf7("&kAFP4W4IMH8-"), "送信済み");
        assert_eq!(decode_mutf7("Envoy&AOk-s"), "Envoyés");
        assert_eq!(
            decode_mutf7("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            "Отправленные"
        );
        assert_eq!(decode_mutf7("Tom &- Jerry"), "Tom & Jerry");
        assert_eq!(decode_mutf7("INBOX"), "INBOX");
        // Broken input stays readable instead of failing.
        assert_eq!(decode_mutf7("bad&!!-x"), "bad&!!-x");
        assert_eq!(decode_mutf7("open&AOk"), "open&AOk");
    }

    #[test]
    fn sent_names_in_many_languages() {
        for name in [
            "Sent",
            "Sent Items",
            "Sent Mail",
            "[Gmail]/Sent Mail",
            "INBOX.Sent",
            "Gesendet",
            "Gesendete Elemente",
            "Envoyés",
            "Éléments envoyés",
            "Enviados",
            "Itens Enviados",
            "Wysłane",
            "Elementy wysłane",
            "送信済み",
            "送信済みアイテム",
            "Verzonden items",
            "Skickat",
            "Lähetetyt",
            "Odeslané",
            "Elküldött elemek",
            "Отправленные",
            "Posta inviata",
            "Sendte elementer",
            "已发送",
            "보낸편지함",
            "Απεσταλμένα",
        ] {
            assert!(name_means_sent(name), "{name} should be a Sent folder");
        }
        for name in [
            "INBOX",
            "Presentations",
            "Consent forms",
            "Drafts",
            "Sentry alerts",
            "Archive",
            "Représentants",
        ] {
            assert!(!name_means_sent(name), "{name} is not a Sent folder");
        }
    }

    #[test]
    fn special_use_wins_then_first_name_in_server_order() {
        let folders = vec![
            folder("Sent Messages", false),
            folder("Archive", false),
            folder("Outbox-copy", true),
        ];
        assert_eq!(
            find_sent(&folders, None).map(|f| f.raw.as_str()),
            Some("Outbox-copy")
        );
        let folders = vec![
            folder("Projects", false),
            folder("Wys&AUI-ane", false),
            folder("Sent", false),
        ];
        assert_eq!(
            find_sent(&folders, None).map(|f| f.name.as_str()),
            Some("Wysłane")
        );
        let folders = vec![folder("INBOX", true), folder("Drafts", false)];
        assert_eq!(find_sent(&folders, None), None);
        let folders = vec![folder("Sent", true), folder("Wys&AUI-ane", false)];
        assert_eq!(
            find_sent(&folders, Some("Wysłane")).map(|f| f.raw.as_str()),
            Some("Wys&AUI-ane")
        );
    }
}
