//! Email addresses: the text as written, the display name, and a normalised form for matching.
//!
//! Matching (never-log lists, contacts, internal domains, thread participants) must treat
//! `John.Doe@Example.COM `, `<john.doe@example.com>` and `mailto:john.doe@example.com` as the same
//! person, and `user@bücher.example` the same as `user@xn--bcher-kva.example`. The original text and
//! the display name are kept for what the CRM shows.

use serde::{Deserialize, Serialize};

/// One person on an email: display name, the address as written, and its normalised form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Mailbox {
    /// Display name, if the message gave one (decoded, trimmed, never empty).
    pub name: Option<String>,
    /// The address as it was written (without the angle brackets).
    pub address: String,
    /// Lower-cased, trimmed, IDN domain in ASCII (`xn--`): the form used for every comparison.
    pub normalized: String,
}

/// Why an address could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty address")]
    Empty,
    #[error("address {0:?} has no @")]
    MissingAt(String),
    #[error("address {0:?} has an empty local part")]
    EmptyLocalPart(String),
    #[error("address {0:?} has an empty or invalid domain")]
    InvalidDomain(String),
    #[error("address {0:?} contains whitespace or control characters")]
    InvalidCharacter(String),
    #[error("address {0:?} has more than one @")]
    TwoAts(String),
}

impl Mailbox {
    /// Builds a mailbox from an address (and optional display name), normalising it.
    pub fn new(name: Option<&str>, address: &str) -> Result<Self, AddressError> {
        let address = strip_decorations(address);
        let normalized = normalize_address(address)?;
        Ok(Mailbox {
            name: clean_name(name),
            address: address.to_string(),
            normalized,
        })
    }

    /// Parses one `Name <addr>`, `"Doe, John" <addr>`, `<addr>`, `addr` or `mailto:addr` form.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        if let (Some(open), Some(close)) = (text.rfind('<'), text.rfind('>')) {
            if open < close {
                let name = text[..open].trim();
                return Mailbox::new(Some(name), &text[open + 1..close]);
            }
        }
        Mailbox::new(None, text)
    }

    /// The domain part of the normalised address (ASCII, lower case).
    pub fn domain(&self) -> &str {
        domain_of(&self.normalized)
    }
}

/// Splits a recipient field such as `a@x.com, "Doe, John" <j@y.com>; c@z.com` into mailboxes.
/// Commas inside quotes and angle brackets do not split, and an unquoted `Doe, John <j@y.com>`
/// stays one entry (a piece without an `@` is the start of the next name). Entries that are not
/// addresses are returned as errors so the caller can report them rather than drop them silently.
pub fn parse_address_list(text: &str) -> Vec<Result<Mailbox, AddressError>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut in_angle = false;
    let mut escaped = false;
    for (i, ch) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' | ';' if !in_quotes && !in_angle => {
                pieces.push(start..i);
                start = i + ch.len_utf8();
            }
            _ => {}
        }
    }
    pieces.push(start..text.len());
    let mut out = Vec::new();
    let mut pending: Option<usize> = None; // start of a name piece waiting for its address
    for range in pieces {
        let piece = &text[range.clone()];
        if piece.trim().is_empty() {
            continue;
        }
        let from = pending.take().unwrap_or(range.start);
        if piece.contains('@') {
            out.push(Mailbox::parse(&text[from..range.end]));
        } else {
            pending = Some(from);
        }
    }
    if let Some(from) = pending {
        out.push(Mailbox::parse(&text[from..]));
    }
    out
}

/// The domain of an already normalised address.
pub fn domain_of(normalized: &str) -> &str {
    normalized.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

/// True when `domain` equals `parent` or is one of its subdomains (`a.b.example.com` ⊂ `example.com`).
/// Both must be normalised domains.
pub fn domain_matches(domain: &str, parent: &str) -> bool {
    let parent = parent.trim_start_matches('.');
    if parent.is_empty() {
        return false;
    }
    domain == parent
        || (domain.len() > parent.len()
            && domain.ends_with(parent)
            && domain.as_bytes()[domain.len() - parent.len() - 1] == b'.')
}

/// Removes `mailto:`, angle brackets and surrounding whitespace/quotes.
fn strip_decorations(address: &str) -> &str {
    let mut a = address.trim();
    a = a.trim_start_matches('<').trim_end_matches('>').trim();
    if a.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
    {
        a = &a[7..];
    }
    a.trim_matches(|c: char| c == '\'' || c == '"' || c.is_whitespace())
}

fn clean_name(name: Option<&str>) -> Option<String> {
    let name = name?.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name)
        .trim();
    if name.is_empty() {
        None
    } else {
        Some(name.replace("\\\"", "\"").replace("\\\\", "\\"))
    }
}

/// Normalises an address for matching: trimmed, `mailto:`/brackets removed, lower-cased, the
/// domain converted to ASCII with punycode (IDNA) and a trailing dot removed.
///
/// The local part is lower-cased too: strictly it is case-sensitive, but no mail system in use
/// treats it so, and CRMs (HubSpot included) match contacts case-insensitively.
pub fn normalize_address(address: &str) -> Result<String, AddressError> {
    let a = strip_decorations(address);
    if a.is_empty() {
        return Err(AddressError::Empty);
    }
    if a.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::InvalidCharacter(a.to_string()));
    }
    let (local, domain) = a
        .rsplit_once('@')
        .ok_or_else(|| AddressError::MissingAt(a.to_string()))?;
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart(a.to_string()));
    }
    // `a@b@c.example` is a typo or a trick (as a user address it would make `b@c.example`'s
    // mail look like the user's own). The quoted form `"a@b"@c.example` is valid but unseen in
    // practice, and the quotes are already gone here.
    if local.contains('@') {
        return Err(AddressError::TwoAts(a.to_string()));
    }
    let domain =
        normalize_domain(domain).ok_or_else(|| AddressError::InvalidDomain(a.to_string()))?;
    // Not format!: every address of every email passes here.
    let mut out = if local.is_ascii() {
        local.to_ascii_lowercase()
    } else {
        local.to_lowercase()
    };
    out.reserve(domain.len() + 1);
    out.push('@');
    out.push_str(&domain);
    Ok(out)
}

/// Normalises a domain (`Bücher.Example.` → `xn--bcher-kva.example`). `None` when it is not a
/// plausible domain (empty labels, characters not allowed in host names).
pub fn normalize_domain(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_start_matches('@').trim_end_matches('.');
    // A domain literal such as [192.0.2.1] is kept as written.
    if domain.starts_with('[') && domain.ends_with(']') && domain.len() > 2 {
        return Some(domain.to_ascii_lowercase());
    }
    if domain.is_empty() || domain.len() > 253 {
        return None;
    }
    let mut out = String::with_capacity(domain.len() + 8);
    // IDNA allows the ideographic full stop and its kin as label separators.
    for (i, label) in domain.split(['.', '。', '．', '｡']).enumerate() {
        if label.is_empty() {
            return None;
        }
        if i > 0 {
            out.push('.');
        }
        if label.is_ascii() {
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return None;
            }
            out.push_str(&label.to_ascii_lowercase());
        } else {
            let lower = label.to_lowercase();
            if lower
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
            {
                return None;
            }
            out.push_str("xn--");
            punycode_encode(&lower, &mut out)?;
        }
    }
    Some(out)
}

/// RFC 3492 punycode encoder (the label part after `xn--`). `None` on overflow.
///
/// Written here rather than pulled in with a full IDNA crate: UTS #46 mapping tables would
/// add hundreds of kilobytes to the browser engine, and mail addresses in practice only need
/// lower-casing plus this encoding.
fn punycode_encode(input: &str, out: &mut String) -> Option<()> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    const INITIAL_BIAS: u32 = 72;
    const INITIAL_N: u32 = 128;

    fn adapt(mut delta: u32, num_points: u32, first_time: bool) -> u32 {
        delta /= if first_time { DAMP } else { 2 };
        delta += delta / num_points;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (((BASE - TMIN + 1) * delta) / (delta + SKEW))
    }
    fn digit(d: u32) -> char {
        // 0..25 → a..z, 26..35 → 0..9
        let b = if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d as u8 - 26)
        };
        b as char
    }

    let chars: Vec<u32> = input.chars().map(|c| c as u32).collect();
    let basic: Vec<u32> = chars.iter().copied().filter(|&c| c < 128).collect();
    for &c in &basic {
        out.push(char::from_u32(c)?);
    }
    let b = basic.len() as u32;
    let mut h = b;
    if b > 0 {
        out.push('-');
    }
    let mut n = INITIAL_N;
    let mut delta: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let total = chars.len() as u32;
    while h < total {
        let m = chars.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h + 1)?)?;
        n = m;
        for &c in &chars {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                h += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_at_is_refused() {
        assert!(matches!(
            normalize_address("a@b@c.example"),
            Err(AddressError::TwoAts(_))
        ));
        // And settings say which field is wrong.
        let s = crate::settings::Settings {
            user_addresses: vec!["me@ourco.example@evil.example".into()],
            ..Default::default()
        };
        let errors = s.validate().unwrap_err();
        assert_eq!(errors[0].field, "userAddresses[0]");
    }

    #[test]
    fn normalises_case_brackets_and_mailto() {
        for input in [
            " John.Doe@Example.COM ",
            "<john.doe@example.com>",
            "mailto:John.Doe@example.com",
            "MAILTO:john.doe@EXAMPLE.com.",
        ] {
            assert_eq!(
                normalize_address(input).as_deref(),
                Ok("john.doe@example.com"),
                "{input}"
            );
        }
    }

    #[test]
    fn idn_domains_become_punycode() {
        // Reference values from RFC 3492 / registries.
        assert_eq!(
            normalize_domain("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_domain("Bücher.Example.").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_domain("例え.テスト").as_deref(),
            Some("xn--r8jz45g.xn--zckzah")
        );
        assert_eq!(
            normalize_domain("żółw.pl").as_deref(),
            Some("xn--w-uga1v8h.pl")
        );
        assert_eq!(
            normalize_address("Anna@Mañana.com").as_deref(),
            Ok("anna@xn--maana-pta.com")
        );
        assert_eq!(
            normalize_domain("例え。テスト").as_deref(),
            Some("xn--r8jz45g.xn--zckzah")
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        assert_eq!(normalize_address("  "), Err(AddressError::Empty));
        assert!(matches!(
            normalize_address("john"),
            Err(AddressError::MissingAt(_))
        ));
        assert!(matches!(
            normalize_address("@example.com"),
            Err(AddressError::EmptyLocalPart(_))
        ));
        assert!(matches!(
            normalize_address("a@"),
            Err(AddressError::InvalidDomain(_))
        ));
        assert!(matches!(
            normalize_address("a@b..c"),
            Err(AddressError::InvalidDomain(_))
        ));
        assert!(matches!(
            normalize_address("a b@c.d"),
            Err(AddressError::InvalidCharacter(_))
        ));
        assert!(matches!(
            normalize_address("a@exa mple.com"),
            Err(AddressError::InvalidCharacter(_))
        ));
    }

    #[test]
    fn parses_display_forms() {
        let m = Mailbox::parse("\"Doe, John\" <John@Example.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Doe, John"));
        assert_eq!(m.address, "John@Example.com");
        assert_eq!(m.normalized, "john@example.com");
        let m = Mailbox::parse("山田 太郎 <taro@例え.jp>").unwrap();
        assert_eq!(m.name.as_deref(), Some("山田 太郎"));
        assert_eq!(m.normalized, "taro@xn--r8jz45g.jp");
        let m = Mailbox::parse("plain@example.org").unwrap();
        assert_eq!(m.name, None);
    }

    #[test]
    fn splits_lists_respecting_quotes() {
        let list =
            parse_address_list("a@x.com, \"Doe, John\" <j@y.com>; <c@z.com>, not-an-address");
        assert_eq!(list.len(), 4);
        let unquoted = parse_address_list("Doe, Jane <jane@x.example>, b@y.example");
        assert_eq!(unquoted.len(), 2);
        assert_eq!(
            unquoted[0].as_ref().unwrap().name.as_deref(),
            Some("Doe, Jane")
        );
        assert_eq!(list[1].as_ref().unwrap().name.as_deref(), Some("Doe, John"));
        assert_eq!(list[2].as_ref().unwrap().normalized, "c@z.com");
        assert!(list[3].is_err());
    }

    #[test]
    fn subdomains_match_parent() {
        assert!(domain_matches("example.com", "example.com"));
        assert!(domain_matches("eu.mail.example.com", "example.com"));
        assert!(!domain_matches("badexample.com", "example.com"));
        assert!(!domain_matches("example.com", "mail.example.com"));
        assert!(!domain_matches("example.com", ""));
    }
}
