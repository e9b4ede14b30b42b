//! Subject prefixes ("Re:", "AW:", "Odp:", "転送:", …) and the normalised subject used to match
//! a reply to its thread.
//!
//! Every mail client localises its reply and forward prefixes, and they stack ("RE: AW: Fwd:").
//! Thread matching compares subjects with all of them removed; forward detection asks whether the
//! *first* prefix is a forward one.

/// What a subject prefix means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixKind {
    Reply,
    Forward,
}

/// Reply prefixes, lower case, without the colon. Sources: the localised Outlook, Gmail, Apple
/// Mail and Thunderbird builds in the languages our users write in.
const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "antw", "antwort", "sv", "odp", "r", "rif", "res", "resp", "ynt", "vá", "válasz",
    "odg", "vast", "vs", "răs", "ответ", "отв", "відп", "відповідь", "回复", "答复", "回覆", "返信",
    "회신", "απ", "σχετ", "رد", "תגובה", "atb", "bls",
];

/// Forward prefixes, lower case, without the colon.
const FORWARD_PREFIXES: &[&str] = &[
    "fwd", "fw", "wg", "tr", "rv", "doorst", "pd", "i", "enc", "vb", "vl", "vs", "vid", "videre",
    "prosl", "ilt", "i̇lt", "továbbítás", "tov", "edasi", "redirecționare", "redir", "пересл",
    "переслать", "转发", "轉寄", "轉發", "転送", "전달", "πρθ", "pr", "přep", "wtr",
];

/// Strips every leading reply/forward prefix. Returns the remaining subject (trimmed) and the
/// kinds of the prefixes removed, outermost first.
///
/// A prefix is a known word followed by `:` or the full-width `：`, optionally with a counter
/// (`Re[2]:`, `RE(3):`) or wrapped in brackets (`[Fwd: …]` is left alone: that is a quoted subject).
pub fn strip_prefixes(subject: &str) -> (&str, Vec<PrefixKind>) {
    let mut rest = subject.trim();
    let mut kinds = Vec::new();
    // Bounded: a subject cannot carry more prefixes than it has characters.
    while let Some((kind, after)) = split_prefix(rest) {
        kinds.push(kind);
        rest = after.trim_start();
    }
    (rest.trim_end(), kinds)
}

fn split_prefix(s: &str) -> Option<(PrefixKind, &str)> {
    // The prefix word is short: look for the colon within the first 24 characters.
    let (colon_at, colon_len) = s
        .char_indices()
        .take(24)
        .find(|&(_, c)| c == ':' || c == '：')
        .map(|(i, c)| (i, c.len_utf8()))?;
    let word = s[..colon_at].trim();
    let word = strip_counter(word);
    if word.is_empty() || word.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    let lower = word.to_lowercase();
    // "VS" is a reply in Finnish but a forward in Danish and Norwegian: it is read as a forward,
    // since that only makes the extractor look for a forwarded original (nothing found → no harm).
    let kind = if FORWARD_PREFIXES.contains(&lower.as_str()) {
        PrefixKind::Forward
    } else if REPLY_PREFIXES.contains(&lower.as_str()) {
        PrefixKind::Reply
    } else {
        return None;
    };
    Some((kind, &s[colon_at + colon_len..]))
}

/// `Re[2]`, `RE(3)`, `Re^2`, `Fwd*` → `Re`, `RE`, `Re`, `Fwd`.
fn strip_counter(word: &str) -> &str {
    let word = word.trim_end_matches('*');
    if let Some(open) = word.find(['[', '(', '^']) {
        let tail = &word[open + 1..];
        let digits = tail.trim_end_matches([']', ')']);
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return &word[..open];
        }
    }
    word
}

/// True when the subject's outermost prefix is a forward (`Fwd:`, `WG:`, `転送:` …).
pub fn is_forward_subject(subject: &str) -> bool {
    matches!(split_prefix(subject.trim()), Some((PrefixKind::Forward, _)))
}

/// The subject as used for thread matching: prefixes removed, whitespace collapsed, lower case.
/// `"RE: AW:  Angebot  Q3"` and `"angebot q3"` normalise to the same string.
pub fn normalize_subject(subject: &str) -> String {
    let (rest, _) = strip_prefixes(subject);
    let rest = rest
        .strip_suffix("(fwd)")
        .or_else(|| rest.strip_suffix("(FWD)"))
        .unwrap_or(rest);
    let mut out = String::with_capacity(rest.len());
    for word in rest.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_stacked_localised_prefixes() {
        let cases = [
            ("Re: Angebot", "Angebot"),
            ("RE: AW: WG: Angebot", "Angebot"),
            ("Odp: PD: Zamówienie", "Zamówienie"),
            ("返信: 転送: お見積もり", "お見積もり"),
            ("回复：报价单", "报价单"),
            ("Re[2]: Offer", "Offer"),
            ("RE(3): Offer", "Offer"),
            ("SV: VS: Tilbud", "Tilbud"),
            ("Antw: Doorst: Offerte", "Offerte"),
            ("TR: RE: Devis", "Devis"),
            ("RV: RE: Presupuesto", "Presupuesto"),
            ("R: I: Preventivo", "Preventivo"),
            ("Ответ: Пересл: Предложение", "Предложение"),
            ("Vá: Továbbítás: Ajánlat", "Ajánlat"),
            ("ENC: RES: Proposta", "Proposta"),
        ];
        for (input, expected) in cases {
            assert_eq!(strip_prefixes(input).0, expected, "{input}");
        }
    }

    #[test]
    fn leaves_ordinary_colons_alone() {
        assert_eq!(strip_prefixes("Meeting: Tuesday 10:00").0, "Meeting: Tuesday 10:00");
        assert_eq!(strip_prefixes("Agenda for the quarterly review: draft").0, "Agenda for the quarterly review: draft");
        assert_eq!(strip_prefixes("Re:").0, "");
    }

    #[test]
    fn forward_detection_looks_at_the_outer_prefix() {
        for s in ["Fwd: x", "FW: x", "WG: x", "TR: x", "RV: x", "VS: x", "Doorst: x", "PD: x", "I: x", "転送: x", "转发: x", "Fwd: Re: x"] {
            assert!(is_forward_subject(s), "{s}");
        }
        for s in ["Re: x", "Odp: x", "AW: Fwd: x", "x", "Forward planning"] {
            assert!(!is_forward_subject(s), "{s}");
        }
    }

    #[test]
    fn normalised_subjects_match_across_prefixes_and_spacing() {
        assert_eq!(normalize_subject("RE: AW:  Angebot  Q3"), normalize_subject("angebot q3"));
        assert_eq!(normalize_subject("Fwd: Report (fwd)"), "report");
        assert_eq!(normalize_subject("Re: ZAMÓWIENIE"), "zamówienie");
    }
}
