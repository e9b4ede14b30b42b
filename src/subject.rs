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

/// Strips every leading reply/forward prefix (and tags such as `[EXTERNAL]` before them).
/// Returns the remaining subject (trimmed) and the kinds of the prefixes removed, outermost
/// first.
///
/// A prefix is a known word followed by `:` or the full-width `：`, optionally with a counter
/// (`Re[2]:`, `RE(3):`). The words, per language, are the extractor's table
/// (`crate::extract`): one list serves forward detection and thread matching.
pub fn strip_prefixes(subject: &str) -> (&str, Vec<PrefixKind>) {
    let mut rest = subject.trim();
    let mut kinds = Vec::new();
    // Bounded: no real subject stacks more prefixes than this.
    for _ in 0..32 {
        match split_prefix(rest) {
            Some((kind, after)) => {
                kinds.push(kind);
                rest = after.trim_start();
            }
            None => break,
        }
    }
    (rest.trim_end(), kinds)
}

fn split_prefix(s: &str) -> Option<(PrefixKind, &str)> {
    use crate::extract::lang::PrefixKind as K;
    crate::extract::subject::split_prefix(s).map(|(k, rest)| {
        let kind = match k {
            K::Forward => PrefixKind::Forward,
            K::Reply => PrefixKind::Reply,
        };
        (kind, rest)
    })
}

/// True when the subject's outermost prefix is a forward (`Fwd:`, `WG:`, `転送:` …).
pub fn is_forward_subject(subject: &str) -> bool {
    matches!(split_prefix(subject.trim()), Some((PrefixKind::Forward, _)))
}

/// The subject as used for thread matching: prefixes removed, whitespace collapsed, lower case.
/// `"RE: AW:  Angebot  Q3"` and `"angebot q3"` normalise to the same string.
pub fn normalize_subject(subject: &str) -> String {
    // Full-width letters and colons ("Ｒｅ：") as Japanese input methods type them.
    let folded: String = subject.chars().map(fold_width).collect();
    let (rest, _) = strip_prefixes(&folded);
    // A gateway tag after the prefixes ("Re: [EXT] Offer": the customer's gateway tagged our
    // email before they answered) is not part of the subject either. Both sides of a match are
    // normalised alike, so a tag that is part of a subject still matches itself.
    let rest = crate::extract::subject::strip_tags(rest);
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

/// Subject words auto-replies start with, lower case, in the languages our users' customers
/// write in; followed by `:` or `：` (`Automatic reply: Offer`, `自動返信：お見積もり`).
const AUTO_REPLY_PREFIXES: &[&str] = &[
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "out of office",
    "out of the office",
    "automatische antwort",
    "abwesenheitsnotiz",
    "réponse automatique",
    "respuesta automática",
    "risposta automatica",
    "resposta automática",
    "automatisch antwoord",
    "autosvar",
    "automatisk svar",
    "automaattinen vastaus",
    "automatická odpověď",
    "automatyczna odpowiedź",
    "odpowiedź automatyczna",
    "autoodpowiedź",
    "nieobecność",
    "自動返信",
    "自動応答",
    "不在通知",
    "自动回复",
    "自動回覆",
    "자동 응답",
];

/// True when the subject is an auto-reply's (`Automatic reply:`, `Out of Office:`,
/// `自動返信:`, `Autoodpowiedź:` …), for auto-replies whose headers do not say so.
pub fn is_auto_reply(subject: &str) -> bool {
    let folded: String = subject.chars().map(fold_width).collect();
    let rest = crate::extract::subject::strip_tags(folded.trim()).to_lowercase();
    AUTO_REPLY_PREFIXES.iter().any(|p| {
        rest.strip_prefix(p)
            .is_some_and(|after| after.trim_start().starts_with(':'))
    })
}

/// Full-width ASCII (U+FF01–U+FF5E) and the ideographic space as their ASCII forms.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
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
        assert_eq!(
            strip_prefixes("Meeting: Tuesday 10:00").0,
            "Meeting: Tuesday 10:00"
        );
        assert_eq!(
            strip_prefixes("Agenda for the quarterly review: draft").0,
            "Agenda for the quarterly review: draft"
        );
        assert_eq!(strip_prefixes("Re:").0, "");
    }

    #[test]
    fn forward_detection_looks_at_the_outer_prefix() {
        for s in [
            "Fwd: x",
            "FW: x",
            "WG: x",
            "TR: x",
            "RV: x",
            "VS: x",
            "Doorst: x",
            "PD: x",
            "I: x",
            "転送: x",
            "转发: x",
            "Fwd: Re: x",
        ] {
            assert!(is_forward_subject(s), "{s}");
        }
        for s in ["Re: x", "Odp: x", "AW: Fwd: x", "x", "Forward planning"] {
            assert!(!is_forward_subject(s), "{s}");
        }
    }

    #[test]
    fn gateway_tags_width_and_more_languages_do_not_hide_a_reply() {
        // What replies to "【ご提案】新型ポンプ" / "Oferta Q3" look like after customers'
        // mail gateways, lists and input methods had their way with them.
        let base = normalize_subject("【ご提案】新型ポンプ");
        for reply in [
            "【外部】Re: 【ご提案】新型ポンプ",
            "Re: [EXT] 【ご提案】新型ポンプ",
            "*EXTERNAL* RE: 【ご提案】新型ポンプ",
            "***SPAM*** RE: 【ご提案】新型ポンプ",
            "EXTERNAL: RE: 【ご提案】新型ポンプ",
            "(EXTERNAL) Re: 【ご提案】新型ポンプ",
            "Re: [sales-jp] 【ご提案】新型ポンプ",
            "Ｒｅ：【ご提案】新型ポンプ",
            "［外部］ＲＥ： 【ご提案】新型ポンプ",
            "회신: 【ご提案】新型ポンプ",
        ] {
            assert_eq!(normalize_subject(reply), base, "{reply}");
        }
        let base = normalize_subject("Oferta Q3");
        for reply in [
            "Odp.: Oferta Q3",
            "Odpowiedź: Oferta Q3",
            "ODP: [Zewnętrzna] Oferta Q3",
        ] {
            assert_eq!(normalize_subject(reply), base, "{reply}");
        }
        // Not tags: a long parenthesis, a lone star, a colon inside a subject.
        assert_ne!(
            normalize_subject("(this is a long aside that goes on well past forty bytes) Offer"),
            normalize_subject("Offer")
        );
        assert_eq!(normalize_subject("*urgent Offer"), "*urgent offer");
    }

    #[test]
    fn normalised_subjects_match_across_prefixes_and_spacing() {
        assert_eq!(
            normalize_subject("RE: AW:  Angebot  Q3"),
            normalize_subject("angebot q3")
        );
        assert_eq!(normalize_subject("Fwd: Report (fwd)"), "report");
        assert_eq!(normalize_subject("Re: ZAMÓWIENIE"), "zamówienie");
    }
}
