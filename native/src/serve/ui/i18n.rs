//! The web UI's text in English, Japanese and Polish.
//!
//! Each language is a flat JSON map in `locales/` (embedded in the binary), plus the reason
//! sentences shared with the extension and the add-in (`extension/shared/reasons/<lang>.json`,
//! as `reason.<code>`). `{name}` marks a placeholder. Counted phrases have plural forms as separate keys (`.one`, `.few`, `.many`,
//! `.other`) chosen by the language's rule. A unit test checks that every language has every
//! key, every reason code and every connection state.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
    Pl,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ja, Lang::Pl];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
            Lang::Pl => "pl",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "ja" => Some(Lang::Ja),
            "pl" => Some(Lang::Pl),
            _ => None,
        }
    }

    /// The best language for an `Accept-Language` header (q-values respected), else English.
    pub fn negotiate(accept_language: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in accept_language.split(',').enumerate() {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(lang) = Lang::from_code(tag) {
                // Higher q wins; on a tie the earlier entry.
                if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                    best = Some((q, i, lang));
                }
            }
        }
        best.map(|(_, _, l)| l).unwrap_or(Lang::En)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("locales/en.json"),
            Lang::Ja => include_str!("locales/ja.json"),
            Lang::Pl => include_str!("locales/pl.json"),
        }
    }

    /// The reason sentences every Mailtrail UI shares (the Chrome extension and the Outlook
    /// add-in read the same files): `{"codes": {"log-checked": "…", …}, …}`.
    fn reasons_source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../../../../extension/shared/reasons/en.json"),
            Lang::Ja => include_str!("../../../../extension/shared/reasons/ja.json"),
            Lang::Pl => include_str!("../../../../extension/shared/reasons/pl.json"),
        }
    }

    fn table(self) -> &'static HashMap<String, String> {
        #[derive(serde::Deserialize)]
        struct Reasons {
            codes: HashMap<String, String>,
        }
        static TABLES: OnceLock<[HashMap<String, String>; 3]> = OnceLock::new();
        let tables = TABLES.get_or_init(|| {
            Lang::ALL.map(|l| {
                let mut table = match serde_json::from_str::<HashMap<String, String>>(l.source()) {
                    Ok(t) => t,
                    Err(e) => {
                        // Caught by the tests; never leave the UI without text at run time.
                        tracing::error!(lang = l.code(), error = %e, "translation file is not valid JSON");
                        HashMap::new()
                    }
                };
                match serde_json::from_str::<Reasons>(l.reasons_source()) {
                    Ok(r) => table.extend(r.codes.into_iter().map(|(code, text)| (format!("reason.{code}"), text))),
                    Err(e) => tracing::error!(lang = l.code(), error = %e, "reason texts are not valid JSON"),
                }
                table
            })
        });
        &tables[self as usize]
    }

    /// The text for `key`, falling back to English, then to the key itself.
    pub fn t(self, key: &str) -> &'static str {
        if let Some(s) = self.table().get(key) {
            return s.as_str();
        }
        if let Some(s) = Lang::En.table().get(key) {
            return s.as_str();
        }
        // Leak-free fallback: a static marker rather than the (non-static) key.
        "???"
    }

    pub fn has(self, key: &str) -> bool {
        self.table().contains_key(key)
    }

    /// `t` with `{name}` placeholders filled (values are inserted as given: escape for HTML
    /// after formatting, never before).
    pub fn tf(self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_string();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    /// A counted phrase: `key.one` / `key.few` / `key.many` / `key.other` by the language's
    /// plural rule, with `{count}` filled.
    pub fn plural(self, key: &str, n: i64) -> String {
        let form = match self {
            Lang::Ja => "other",
            Lang::En => {
                if n == 1 {
                    "one"
                } else {
                    "other"
                }
            }
            Lang::Pl => {
                let (m10, m100) = (n % 10, n % 100);
                if n == 1 {
                    "one"
                } else if (2..=4).contains(&m10) && !(12..=14).contains(&m100) {
                    "few"
                } else {
                    "many"
                }
            }
        };
        let full = format!("{key}.{form}");
        let k = if self.has(&full) {
            full
        } else {
            format!("{key}.other")
        };
        self.tf(&k, &[("count", &n.to_string())])
    }

    /// A reason code's sentence; unknown codes are shown as they are.
    pub fn reason(self, code: &str) -> String {
        let key = format!("reason.{code}");
        if self.has(&key) || Lang::En.has(&key) {
            self.t(&key).to_string()
        } else {
            code.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_sentences_come_only_from_the_shared_texts() {
        for lang in Lang::ALL {
            let own: HashMap<String, String> = serde_json::from_str(lang.source()).unwrap();
            let stray: Vec<_> = own.keys().filter(|k| k.starts_with("reason.")).collect();
            assert!(
                stray.is_empty(),
                "{}: reason texts belong in extension/shared/reasons: {stray:?}",
                lang.code()
            );
        }
        assert_eq!(
            Lang::Pl.reason("never-log-domain"),
            "Domena na liście „nigdy nie rejestruj”"
        );
        assert_eq!(
            Lang::En.reason("log-checked"),
            "The Log checkbox was checked"
        );
        assert_eq!(
            Lang::Ja.reason("a-code-from-the-future"),
            "a-code-from-the-future"
        );
    }

    #[test]
    fn every_language_has_every_key() {
        let en = Lang::En.table();
        assert!(en.len() > 50, "English table too small: {}", en.len());
        for lang in Lang::ALL {
            let t = lang.table();
            for key in en.keys() {
                // Plural forms differ by language: check the family instead.
                if let Some(base) = key
                    .strip_suffix(".one")
                    .or_else(|| key.strip_suffix(".other"))
                {
                    let forms: &[&str] = match lang {
                        Lang::En => &["one", "other"],
                        Lang::Ja => &["other"],
                        Lang::Pl => &["one", "few", "many"],
                    };
                    for f in forms {
                        assert!(
                            t.contains_key(&format!("{base}.{f}")),
                            "{} lacks {base}.{f}",
                            lang.code()
                        );
                    }
                    continue;
                }
                assert!(t.contains_key(key), "{} lacks {key}", lang.code());
                let placeholders = |s: &str| {
                    let mut v: Vec<String> = s
                        .split('{')
                        .skip(1)
                        .filter_map(|p| p.split('}').next())
                        .map(str::to_string)
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(
                    placeholders(&en[key]),
                    placeholders(&t[key]),
                    "{} {key}: placeholders differ",
                    lang.code()
                );
            }
            for code in mailtrail::ReasonCode::ALL {
                assert!(
                    t.contains_key(&format!("reason.{}", code.as_str())),
                    "{} lacks reason {code}",
                    lang.code()
                );
            }
            for reason in crate::watch::status::Reason::ALL {
                let key = format!("watch.reason.{}", reason.as_str());
                assert!(t.contains_key(&key), "{} lacks {key}", lang.code());
            }
            for state in crate::serve::api::WATCH_STATES {
                assert!(
                    t.contains_key(&format!("watch.state.{state}")),
                    "{} lacks state {state}",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn negotiates_accept_language() {
        assert_eq!(Lang::negotiate("ja-JP,ja;q=0.9,en;q=0.8"), Lang::Ja);
        assert_eq!(Lang::negotiate("de-DE, pl;q=0.5, en;q=0.4"), Lang::Pl);
        assert_eq!(Lang::negotiate("en;q=0.2, pl;q=0.9"), Lang::Pl);
        assert_eq!(Lang::negotiate("fr"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::negotiate("pl;q=0"), Lang::En);
    }

    #[test]
    fn polish_plurals() {
        assert_eq!(Lang::Pl.plural("count.emails", 1), "1 e-mail");
        assert_eq!(Lang::Pl.plural("count.emails", 3), "3 e-maile");
        assert_eq!(Lang::Pl.plural("count.emails", 12), "12 e-maili");
        assert_eq!(Lang::Pl.plural("count.emails", 22), "22 e-maile");
        assert_eq!(Lang::En.plural("count.emails", 1), "1 email");
        assert_eq!(Lang::En.plural("count.emails", 2), "2 emails");
        assert_eq!(Lang::Ja.plural("count.emails", 2), "2 件のメール");
    }
}
