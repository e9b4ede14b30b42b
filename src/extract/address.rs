//! People in header values as clients print them: `John Doe <john@x.com>`,
//! `"Doe, John" <john@x.com>`, `John Doe [mailto:john@x.com]`, `john@x.com`,
//! `John Doe <john@x.com<mailto:john@x.com>>`, `Doe, John; Roe, Jane` (Outlook, names only).

use super::lines::{is_ws, trim};
use super::Person;

/// Parses a list of people. Lists are split at `;` and at `,` once the part before the comma
/// holds an address, so `Doe, John <john@x.com>` stays one person.
pub(crate) fn parse_people(value: &str) -> Vec<Person> {
    let mut out = Vec::new();
    let mut seg_start = 0;
    let mut angle = 0u32;
    let mut square = 0u32;
    let mut paren = 0u32;
    let mut quote: Option<char> = None;
    let mut seg_has_at = false;
    for (i, c) in value.char_indices() {
        if let Some(q) = quote {
            if c == q
                || (q == '“' && c == '”')
                || (q == '„' && (c == '”' || c == '“'))
                || (q == '«' && c == '»')
            {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '“' | '„' | '«' => quote = Some(c),
            '<' => angle += 1,
            '>' => angle = angle.saturating_sub(1),
            '[' => square += 1,
            ']' => square = square.saturating_sub(1),
            '(' => paren += 1,
            ')' => paren = paren.saturating_sub(1),
            '@' => seg_has_at = true,
            ';' | '；' | ',' | '，' | '、' if angle == 0 && square == 0 && paren == 0 => {
                let split = matches!(c, ';' | '；') || seg_has_at;
                if split {
                    push_person(&mut out, &value[seg_start..i]);
                    seg_start = i + c.len_utf8();
                    seg_has_at = false;
                }
            }
            _ => {}
        }
    }
    push_person(&mut out, &value[seg_start..]);
    out
}

fn push_person(out: &mut Vec<Person>, seg: &str) {
    if let Some(p) = parse_person(seg) {
        out.push(p);
    }
}

/// Parses one person; `None` for an empty segment.
pub(crate) fn parse_person(seg: &str) -> Option<Person> {
    let seg = trim(seg);
    if seg.is_empty() {
        return None;
    }
    let (address, name_part) = match find_address(seg) {
        Some((addr, start, end)) => {
            let mut name = String::with_capacity(seg.len());
            name.push_str(&seg[..start]);
            name.push(' ');
            name.push_str(&seg[end..]);
            (addr, name)
        }
        None => (String::new(), seg.to_string()),
    };
    let name = clean_name(&name_part);
    let name = match name {
        Some(n) if !address.is_empty() && n.eq_ignore_ascii_case(&address) => None,
        Some(n)
            if n.contains('@')
                && !address.is_empty()
                && strip_mailto(&n).eq_ignore_ascii_case(&address) =>
        {
            None
        }
        other => other,
    };
    if address.is_empty() && name.is_none() {
        return None;
    }
    Some(Person { address, name })
}

/// Finds the address in a segment: in `<…>`, `[mailto:…]`, `(…)`, or a bare word with `@`.
/// Returns the address and the byte range of the text that held it.
fn find_address(seg: &str) -> Option<(String, usize, usize)> {
    for (open, close) in [('<', '>'), ('[', ']'), ('(', ')')] {
        let mut from = 0;
        while let Some(rel) = seg[from..].find(open) {
            let start = from + rel;
            let inner_start = start + open.len_utf8();
            // Outlook's text: `john@x.com<mailto:john@x.com>` inside the brackets; match nesting.
            let mut depth = 1;
            let mut end = None;
            for (i, c) in seg[inner_start..].char_indices() {
                if c == open {
                    depth += 1;
                } else if c == close {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(inner_start + i);
                        break;
                    }
                }
            }
            let inner_end = end.unwrap_or(seg.len());
            let inner = &seg[inner_start..inner_end];
            if let Some(addr) = address_in(inner) {
                let outer_end = end.map(|e| e + close.len_utf8()).unwrap_or(seg.len());
                return Some((addr, start, outer_end));
            }
            from = inner_start;
        }
    }
    // A bare address among words.
    for word in seg.split(is_ws) {
        if let Some(addr) = address_in(word) {
            let start = word.as_ptr() as usize - seg.as_ptr() as usize;
            return Some((addr, start, start + word.len()));
        }
    }
    None
}

/// The address in a bracket's content or a word: strips `mailto:`, quotes and anything from
/// a nested `<`/`[` on, and checks the local@domain shape.
fn address_in(s: &str) -> Option<String> {
    let s = trim(s);
    let s = s
        .split(['<', '[', '('])
        .find(|p| p.contains('@'))
        .unwrap_or(s);
    let s = strip_mailto(s.trim_matches(|c: char| {
        is_ws(c)
            || matches!(
                c,
                '"' | '\'' | '<' | '>' | '[' | ']' | '(' | ')' | ',' | ';' | ':' | '.'
            )
    }));
    let s = s.trim_matches(|c: char| matches!(c, '"' | '\'' | '>' | ']' | ')'));
    let at = s.find('@')?;
    let (local, domain) = (&s[..at], &s[at + 1..]);
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || s.chars().any(is_ws)
        || s.len() > 320
    {
        return None;
    }
    if !domain.contains('.') && !domain.eq_ignore_ascii_case("localhost") {
        return None;
    }
    Some(s.to_string())
}

fn strip_mailto(s: &str) -> &str {
    if s.len() >= 7 && s.is_char_boundary(7) && s[..7].eq_ignore_ascii_case("mailto:") {
        &s[7..]
    } else {
        s
    }
}

/// Cleans a display name: blanks collapsed, surrounding quotes (`"…"`, `'…'`, `“…”`, `„…”`,
/// `«…»`) and stray punctuation removed.
fn clean_name(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for w in s.split(is_ws).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    let mut t: &str = &out;
    for _ in 0..3 {
        let before = t;
        t = t.trim_matches(|c: char| {
            is_ws(c) || matches!(c, ',' | ';' | ':' | '(' | ')' | '<' | '>' | '[' | ']')
        });
        for (o, c) in [
            ('"', '"'),
            ('\'', '\''),
            ('“', '”'),
            ('„', '”'),
            ('„', '“'),
            ('«', '»'),
            ('「', '」'),
        ] {
            if let Some(inner) = t.strip_prefix(o).and_then(|x| x.strip_suffix(c)) {
                t = inner;
            }
        }
        if t == before {
            break;
        }
    }
    let t = trim(t);
    if t.is_empty() {
        None
    } else {
        Some(t.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(address: &str, name: Option<&str>) -> Person {
        Person {
            address: address.into(),
            name: name.map(Into::into),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse_person("John Doe <john@x.com>"),
            Some(p("john@x.com", Some("John Doe")))
        );
        assert_eq!(
            parse_person("\"Doe, John\" <john@x.com>"),
            Some(p("john@x.com", Some("Doe, John")))
        );
        assert_eq!(
            parse_person("John Doe [mailto:john@x.com]"),
            Some(p("john@x.com", Some("John Doe")))
        );
        assert_eq!(parse_person("john@x.com"), Some(p("john@x.com", None)));
        assert_eq!(parse_person("<john@x.com>"), Some(p("john@x.com", None)));
        assert_eq!(
            parse_person("john@x.com <john@x.com>"),
            Some(p("john@x.com", None))
        );
        assert_eq!(
            parse_person("John Doe <john@x.com<mailto:john@x.com>>"),
            Some(p("john@x.com", Some("John Doe")))
        );
        assert_eq!(
            parse_person("'John Doe' via Sales <sales@x.com>"),
            Some(p("sales@x.com", Some("'John Doe' via Sales")))
        );
        assert_eq!(parse_person("John Doe"), Some(p("", Some("John Doe"))));
        assert_eq!(
            parse_person("John Doe (john@x.com)"),
            Some(p("john@x.com", Some("John Doe")))
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            parse_people("Doe, John <john@x.com>, Roe, Jane <jane@x.com>"),
            vec![
                p("john@x.com", Some("Doe, John")),
                p("jane@x.com", Some("Roe, Jane"))
            ]
        );
        assert_eq!(
            parse_people("a@x.com, b@x.com"),
            vec![p("a@x.com", None), p("b@x.com", None)]
        );
        assert_eq!(
            parse_people("Doe, John; Roe, Jane"),
            vec![p("", Some("Doe, John")), p("", Some("Roe, Jane"))]
        );
        assert_eq!(parse_people(""), vec![]);
    }
}
