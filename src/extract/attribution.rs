//! Reply attribution lines: "On Mon, Oct 25, 2021 at 11:17 AM John <j@x.com> wrote:",
//! "Am 25.10.2021 um 11:17 schrieb John:", "W dniu 25.10.2021 o 11:17, John pisze:",
//! "2021年10月25日(月) 11:17 John <j@x.com>:", also when the client wrapped them over two or
//! three lines.

use super::address::parse_person;
use super::headers::header_line;
use super::lang::{eq_lower, strip_prefix_lower, ATTRIBUTION_STARTS, WROTE_CJK, WROTE_WORDS};
use super::lines::{is_ws, trim, Line};
use super::Person;

/// Longest attribution we accept, in bytes (after joining wrapped lines).
const MAX_LEN: usize = 400;

/// Lines `first..=last` hold an attribution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attribution {
    pub first: usize,
    pub last: usize,
}

/// Is there an attribution starting at `lines[i]`?
pub(crate) fn attribution_at(lines: &[Line<'_>], i: usize) -> Option<Attribution> {
    let line = &lines[i];
    let t = line.text();
    if t.is_empty() || t.len() > MAX_LEN || header_line(t).is_some() {
        return None;
    }
    if ends_with_colon(t) {
        let follows = quoted_follows(lines, i, i);
        return is_attribution(t, follows).then_some(Attribution { first: i, last: i });
    }
    // Wrapped: the line ending with the colon comes one or two lines later.
    let colon_soon = lines[i + 1..]
        .iter()
        .take(2)
        .take_while(|l| l.depth == line.depth && !l.is_blank())
        .any(|l| ends_with_colon(l.text()));
    if !colon_soon {
        return None;
    }
    let prefixed = starts_with_prefix(t);
    let mut joined = String::new();
    joined.push_str(t);
    for j in i + 1..(i + 3).min(lines.len()) {
        let next = &lines[j];
        let nt = next.text();
        if next.depth != line.depth
            || nt.is_empty()
            || joined.len() + nt.len() + 1 > MAX_LEN
            || header_line(nt).is_some()
        {
            return None;
        }
        if ends_with_colon(nt)
            && is_attribution(nt, quoted_follows(lines, j, j))
            && (starts_with_prefix(nt)
                || has_wrote_word(nt) && nt.contains(|c: char| c.is_ascii_digit()))
        {
            // The next line is a whole attribution by itself: this line is not part of it.
            return None;
        }
        joined.push(' ');
        joined.push_str(nt);
        if ends_with_colon(nt) {
            let strong = prefixed || has_wrote_word(&joined);
            let follows = quoted_follows(lines, i, j);
            return (strong && is_attribution(&joined, follows))
                .then_some(Attribution { first: i, last: j });
        }
        if !prefixed {
            return None;
        }
    }
    None
}

/// Joins the attribution's lines into one string.
pub(crate) fn text_of(lines: &[Line<'_>], a: Attribution) -> String {
    let mut s = String::new();
    for l in &lines[a.first..=a.last] {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(l.text());
    }
    s
}

fn ends_with_colon(t: &str) -> bool {
    t.ends_with(':') || t.ends_with('：')
}

fn starts_with_prefix(t: &str) -> bool {
    ATTRIBUTION_STARTS.iter().any(|p| {
        strip_prefix_lower(t, p)
            .is_some_and(|rest| rest.starts_with(|c: char| is_ws(c) || c == ','))
    })
}

/// Does quoted text follow the attribution ending at `last`? (deeper `>` depth, deeper
/// indentation, or an HTML quote container)
fn quoted_follows(lines: &[Line<'_>], first: usize, last: usize) -> bool {
    let base = &lines[first];
    lines[last + 1..]
        .iter()
        .take(3)
        .find(|l| !l.is_blank())
        .is_some_and(|l| l.depth > base.depth || l.indent() >= base.indent() + 2)
}

fn is_attribution(t: &str, quoted_follows: bool) -> bool {
    let has_digit = t
        .chars()
        .any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c));
    let has_at = t.contains('@');
    if has_wrote_word(t) && (has_digit || has_at || starts_with_prefix(t)) {
        return true;
    }
    // "пн, 25 окт. 2021 г. в 11:17, John <j@x.com>:" and the Japanese form have no verb.
    quoted_follows && has_at && has_digit && t.contains(['<', '(', '['])
}

pub(crate) fn has_wrote_word(t: &str) -> bool {
    if WROTE_CJK.iter().any(|w| t.contains(w)) {
        return true;
    }
    t.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && w.len() <= 40)
        .take(120)
        .any(|w| WROTE_WORDS.iter().any(|k| eq_lower(w, k)))
}

/// Words that sit between the date and the name in attributions.
const STOP_WORDS: &[&str] = &[
    "at",
    "um",
    "uhr",
    "à",
    "a",
    "o",
    "kl",
    "klo",
    "kell",
    "alle",
    "ore",
    "às",
    "om",
    "la",
    "u",
    "в",
    "о",
    "de",
    "las",
    "am",
    "pm",
    "schrieb",
    "skrev",
    "heeft",
    "the",
    "on",
    "le",
    "el",
    "il",
    "em",
    "op",
    "den",
    "giorno",
    "dniu",
    "odesílatel",
    "používateľ",
    "пользователь",
    "godz",
    "kello",
    "v",
    "ve",
];

/// Trailing words of address-first attributions ("… tarihinde şunu yazdı:").
const TAIL_WORDS: &[&str] = &[
    "tarihinde",
    "şunu",
    "yazdı",
    "följande",
    "den",
    "het",
    "volgende",
    "geschreven",
    "ezt",
    "írta",
    "időpontban",
    "kuupäeval",
    "kirjutas",
    "kirjoitti",
    "napsal",
    "wrote",
    "skrev",
    "a",
    "scris",
    "написал",
    "написала",
    "пише",
    "napisao",
    "je",
    "napisała",
    "napisał",
    "pisze",
];

/// Pulls the sender and the date out of an attribution (used when a forward is written as
/// "On <date>, <name> <address> wrote:", as Outlook for Mac does).
pub(crate) fn parts(text: &str) -> (Option<Person>, Option<String>) {
    let t = trim(text.trim_end_matches([':', '：']));
    // The bracketed address.
    let mut addr: Option<(usize, usize)> = None;
    for (open, close) in [('<', '>'), ('[', ']'), ('(', ')')] {
        if let Some(s) = t.find(open) {
            if let Some(e) = t[s..].find(close).map(|e| s + e + close.len_utf8()) {
                if t[s..e].contains('@') {
                    addr = Some((s, e));
                    break;
                }
            }
        }
    }
    let Some((as_, ae)) = addr else {
        return (None, date_in(t).map(str::to_string));
    };
    // The name: quoted right before the address, or the words before it.
    let before = t[..as_].trim_end_matches(|c: char| is_ws(c) || c == '(');
    let (name_start, name) = if let Some(stripped) = before.strip_suffix(['"', '»', '”', '\'']) {
        match stripped
            .char_indices()
            .rev()
            .find(|(_, c)| matches!(c, '"' | '«' | '„' | '“' | '\''))
        {
            Some((open, c)) => (open, trim(&stripped[open + c.len_utf8()..]).to_string()),
            None => (0, trim(stripped).to_string()),
        }
    } else {
        let mut start = before.len();
        let mut words = 0;
        for w in before.rsplit(is_ws) {
            if w.is_empty() {
                continue;
            }
            let lw = w.trim_matches(|c: char| c == ',' || c == '.');
            if words >= 4
                || lw.is_empty()
                || lw.chars().any(|c| c.is_ascii_digit())
                || STOP_WORDS.iter().any(|s| eq_lower(lw, s))
                || w.ends_with(',')
            {
                break;
            }
            start = w.as_ptr() as usize - before.as_ptr() as usize;
            words += 1;
        }
        (start, trim(&before[start..]).to_string())
    };
    let mut seg = String::with_capacity(name.len() + ae - as_ + 1);
    seg.push_str(&name);
    seg.push(' ');
    seg.push_str(&t[as_..ae]);
    let person = parse_person(&seg);
    // The date: between the leading word ("On", "Am") and the name, or after the address.
    let mut head = trim(&t[..name_start.min(t.len())]);
    for p in ATTRIBUTION_STARTS {
        if let Some(rest) = strip_prefix_lower(head, p) {
            if rest.starts_with(|c: char| is_ws(c)) {
                head = trim(rest);
                break;
            }
        }
    }
    let head = head.trim_end_matches(|c: char| is_ws(c) || c == ',');
    let date = if head.chars().any(|c| c.is_ascii_digit()) {
        Some(strip_tail_words(head))
    } else {
        let tail = trim(t[ae..].trim_start_matches(|c: char| is_ws(c) || c == ','));
        let tail = strip_tail_words(tail);
        let tail = tail.trim_start_matches(|c: char| !c.is_ascii_digit() && !c.is_uppercase());
        let lead: Vec<&str> = tail.split(is_ws).collect();
        let skip = lead
            .iter()
            .take_while(|w| TAIL_WORDS.iter().any(|k| eq_lower(w, k)))
            .count();
        let rest = lead[skip..].join(" ");
        (!rest.is_empty() && rest.chars().any(|c| c.is_ascii_digit())).then_some(rest)
    };
    (person, date)
}

fn strip_tail_words(s: &str) -> String {
    let mut words: Vec<&str> = s.split(is_ws).filter(|w| !w.is_empty()).collect();
    while let Some(last) = words.last() {
        let lw = last.trim_matches(|c: char| c == ',' || c == ':');
        if TAIL_WORDS.iter().any(|k| eq_lower(lw, k)) || WROTE_WORDS.iter().any(|k| eq_lower(lw, k))
        {
            words.pop();
        } else {
            break;
        }
    }
    words.join(" ").trim_end_matches(',').to_string()
}

fn date_in(t: &str) -> Option<&str> {
    t.chars().any(|c| c.is_ascii_digit()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::lines::split_lines;

    fn found(text: &str) -> Option<(usize, usize)> {
        let lines = split_lines(text, &[]);
        (0..lines.len())
            .find_map(|i| attribution_at(&lines, i))
            .map(|a| (a.first, a.last))
    }

    #[test]
    fn languages() {
        assert_eq!(
            found("Hi\n\nOn Mon, Oct 25, 2021 at 11:17 AM John Doe <j@x.com> wrote:\n> x"),
            Some((2, 2))
        );
        assert_eq!(
            found("Am 25.10.2021 um 11:17 schrieb John Doe:\n> x"),
            Some((0, 0))
        );
        assert_eq!(
            found("W dniu 25.10.2021 o 11:17, Jan Kowalski pisze:\n> x"),
            Some((0, 0))
        );
        assert_eq!(
            found("pon., 25 paź 2021 o 11:17 Jan <j@x.pl> napisał(a):\n> x"),
            Some((0, 0))
        );
        assert_eq!(
            found("2021年10月25日(月) 11:17 山田 <y@x.jp>:\n> x"),
            Some((0, 0))
        );
        assert_eq!(
            found("John <j@x.com> 于2021年10月25日周一 上午11:17写道：\n> x"),
            Some((0, 0))
        );
        assert_eq!(
            found("On Mon, Oct 25, 2021 at 11:17 AM John Doe <\nj@x.com> wrote:\n> x"),
            Some((0, 1))
        );
        assert_eq!(found("I wrote: nothing"), None);
        assert_eq!(found("Agenda:\n- one"), None);
    }

    #[test]
    fn sender_and_date() {
        let (p, d) = parts("On 25/10/2021, 11:17, \"John Doe\" <john@x.com> wrote:");
        assert_eq!(p.unwrap().name.as_deref(), Some("John Doe"));
        assert_eq!(d.as_deref(), Some("25/10/2021, 11:17"));
        let (p, d) = parts("On Mon, Oct 25, 2021 at 11:17 AM John Doe <john@x.com> wrote:");
        assert_eq!(p.unwrap().name.as_deref(), Some("John Doe"));
        assert_eq!(d.as_deref(), Some("Mon, Oct 25, 2021 at 11:17 AM"));
        let (p, d) =
            parts("\"John Doe\" <john@x.com>, 25 Eki 2021 Pzt, 11:17 tarihinde şunu yazdı:");
        assert_eq!(p.unwrap().address, "john@x.com");
        assert_eq!(d.as_deref(), Some("25 Eki 2021 Pzt, 11:17"));
    }
}
