//! Subject prefixes: `Fwd:`, `FW:`, `WG:`, `TR:`, `RV:`, `I:`, `VS:`, `Doorst:`, `PD:`,
//! `転送:`, `转发:` (forwards) and `Re:`, `AW:`, `SV:`, `Odp:`, `返信:` (replies), with counts
//! (`Re[2]:`, `RE (2):`) and leading tags such as `[EXTERNAL]`.

use super::lang::{lowercase, subject_prefix, PrefixKind};
use super::lines::{is_ws, trim};

/// One prefix at the start of `s`: its kind and the text after it.
fn one_prefix(s: &str) -> Option<(PrefixKind, &str)> {
    let s = s.trim_start_matches(is_ws);
    let (colon, len) = s
        .char_indices()
        .take(20)
        .find(|&(_, c)| c == ':' || c == '：')
        .map(|(i, c)| (i, c.len_utf8()))?;
    let mut token = trim(&s[..colon]);
    // Counts: "Re[2]", "RE (2)", "Re^2".
    if let Some(open) = token.find(['[', '(', '^']) {
        let count = &token[open..];
        if count
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '[' | ']' | '(' | ')' | '^' | ' '))
        {
            token = trim(&token[..open]);
        }
    }
    if token.is_empty() || token.len() > 24 {
        return None;
    }
    let kind = subject_prefix(&lowercase(token))?;
    Some((kind, &s[colon + len..]))
}

/// Skips leading tags (see [`tag_len`]) when a prefix follows them.
fn skip_tags(s: &str) -> &str {
    let rest = strip_tags(s);
    if one_prefix(rest).is_some() {
        rest
    } else {
        s
    }
}

/// `s` without its leading tags (at most three).
pub(crate) fn strip_tags(s: &str) -> &str {
    let mut rest = s.trim_start_matches(is_ws);
    for _ in 0..3 {
        match tag_len(rest) {
            Some(len) => rest = rest[len..].trim_start_matches(is_ws),
            None => break,
        }
    }
    rest
}

/// The length of a tag a mail gateway or list put before the subject, if `s` starts with one:
/// `[EXTERNAL]`, `[外部]`, `【外部】`, `［EXT］`, `(EXTERNAL)`, `（外部）`, `*EXTERNAL*`,
/// `***SPAM***`, `EXTERNAL:`. Bracketed tags are short (≤ 40 bytes inside).
fn tag_len(s: &str) -> Option<usize> {
    const PAIRS: [(char, char); 5] = [
        ('[', ']'),
        ('【', '】'),
        ('［', '］'),
        ('(', ')'),
        ('（', '）'),
    ];
    let first = s.chars().next()?;
    if let Some(&(open, close)) = PAIRS.iter().find(|(o, _)| *o == first) {
        let inner = &s[open.len_utf8()..];
        let end = inner.find(close).filter(|&e| e > 0 && e <= 40)?;
        return Some(open.len_utf8() + end + close.len_utf8());
    }
    if first == '*' {
        let stars = s.len() - s.trim_start_matches('*').len();
        let inner = &s[stars..];
        let end = inner.find('*').filter(|&e| e > 0 && e <= 40)?;
        let word = &inner[..end];
        if word
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-')
        {
            let after = &inner[end..];
            let closing = after.len() - after.trim_start_matches('*').len();
            return Some(stars + end + closing);
        }
        return None;
    }
    ["external:", "ext:"].iter().find_map(|tag| {
        s.get(..tag.len())
            .filter(|head| head.eq_ignore_ascii_case(tag))
            .map(|_| tag.len())
    })
}

/// The first prefix (after any leading `[TAG]`): its kind and the text after it. The one
/// implementation of subject prefixes, also behind `crate::subject` (thread matching).
pub(crate) fn split_prefix(subject: &str) -> Option<(PrefixKind, &str)> {
    one_prefix(skip_tags(subject))
}

/// The kind of the first prefix, if any.
pub(crate) fn kind(subject: &str) -> Option<PrefixKind> {
    one_prefix(skip_tags(subject)).map(|(k, _)| k)
}

/// The subject with one leading forward prefix removed (the forwarded email's own subject).
pub(crate) fn strip_forward(subject: &str) -> &str {
    match one_prefix(skip_tags(subject)) {
        Some((PrefixKind::Forward, rest)) => trim(rest),
        _ => trim(subject),
    }
}

/// The subject with every leading reply/forward prefix and tag removed.
pub fn strip_prefixes(subject: &str) -> &str {
    let mut s = skip_tags(subject);
    for _ in 0..16 {
        match one_prefix(s) {
            Some((_, rest)) => s = skip_tags(rest),
            None => break,
        }
    }
    trim(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(kind("Fwd: Hello"), Some(PrefixKind::Forward));
        assert_eq!(kind("WG: Angebot"), Some(PrefixKind::Forward));
        assert_eq!(kind("TR : Devis"), Some(PrefixKind::Forward));
        assert_eq!(kind("転送: 見積もり"), Some(PrefixKind::Forward));
        assert_eq!(kind("转发：报价"), Some(PrefixKind::Forward));
        assert_eq!(kind("[EXTERNAL] FW: Quote"), Some(PrefixKind::Forward));
        assert_eq!(kind("Re[2]: Quote"), Some(PrefixKind::Reply));
        assert_eq!(kind("AW: Angebot"), Some(PrefixKind::Reply));
        assert_eq!(kind("Meeting: today"), None);
        assert_eq!(strip_forward("Fwd: Re: Hello"), "Re: Hello");
        assert_eq!(strip_prefixes("RE: FW: Re[3]: Hello"), "Hello");
        assert_eq!(strip_prefixes("Hello"), "Hello");
    }
}
