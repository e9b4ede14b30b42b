//! Header blocks inside bodies: the `From: … / Sent: … / To: … / Subject: …` lines a client
//! writes above a forwarded or quoted message, in any of the languages of [`super::lang`].

use std::borrow::Cow;

use super::lang::{header_key, lowercase, Field, LangSet};
use super::lines::{is_ws, trim, Line};

/// A recognised `Key: value` line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyMatch<'a> {
    pub field: Field,
    pub langs: LangSet,
    pub value: &'a str,
}

/// Longest keyword we know, in bytes, with some slack for bold markers and spacing.
const MAX_KEY_BYTES: usize = 36;

/// Looks up a header keyword (case-insensitively, inner runs of blanks count as one space).
pub(crate) fn lookup_key(key: &str) -> Option<(Field, LangSet)> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return None;
    }
    // Keywords have no digits or punctuation besides `-`, `(`, `)` and `.`: most lines that
    // merely contain a colon ("10:30", "Note: …", "On Mon, 25 Oct …") stop here.
    if key.bytes().any(|b| {
        b.is_ascii_digit()
            || matches!(
                b,
                b',' | b'@' | b'<' | b'>' | b'/' | b'[' | b'"' | b'=' | b'!' | b'?' | b'#'
            )
    }) {
        return None;
    }
    let mut buf = String::new();
    let key = if key.contains(|c: char| is_ws(c) && c != ' ') || key.contains("  ") {
        for (n, w) in key.split(is_ws).filter(|w| !w.is_empty()).enumerate() {
            if n > 0 {
                buf.push(' ');
            }
            buf.push_str(w);
        }
        buf.as_str()
    } else {
        key
    };
    header_key(&lowercase(key))
}

/// Recognises `Key: value` (also `Key : value`, `*Key:* value`, `Key：value`).
pub(crate) fn header_line(text: &str) -> Option<KeyMatch<'_>> {
    let (colon, colon_len) = find_key_colon(text)?;
    let key = text[..colon].trim_matches(|c: char| is_ws(c) || c == '*');
    let (field, langs) = lookup_key(key)?;
    let value = text[colon + colon_len..].trim_start_matches(|c: char| is_ws(c) || c == '*');
    Some(KeyMatch {
        field,
        langs,
        value: trim(value),
    })
}

/// Position of the colon ending a header key, if one appears early enough.
fn find_key_colon(text: &str) -> Option<(usize, usize)> {
    for (i, c) in text.char_indices() {
        if i > MAX_KEY_BYTES {
            return None;
        }
        match c {
            ':' => return Some((i, 1)),
            '：' => return Some((i, '：'.len_utf8())),
            _ => {}
        }
    }
    None
}

/// Yahoo's plain text glues the headers together: `From: A <a@x>To: B <b@x>Sent: …`.
/// Finds the first keyword glued to the end of the previous value (no blank before it,
/// starting with a capital letter) and returns (value before it, the next header).
fn split_glued(value: &str) -> Option<(&str, KeyMatch<'_>)> {
    let limit = value.len().min(4096);
    let mut colons = 0;
    for (ci, c) in value[..floor_char_boundary(value, limit)].char_indices() {
        if c != ':' {
            continue;
        }
        colons += 1;
        if colons > 32 {
            return None;
        }
        let before = &value[..ci];
        let starts: Vec<usize> = before
            .char_indices()
            .rev()
            .take(24)
            .map(|(i, _)| i)
            .collect();
        for &s in starts.iter().rev() {
            let Some(first) = before[s..].chars().next() else {
                continue;
            };
            if !first.is_uppercase() || s == 0 {
                continue;
            }
            let prev = before[..s].chars().next_back().unwrap_or(' ');
            if is_ws(prev) {
                continue;
            }
            if let Some((field, langs)) = lookup_key(&before[s..]) {
                let rest = &value[ci + 1..];
                return Some((
                    trim(&value[..s]),
                    KeyMatch {
                        field,
                        langs,
                        value: trim(rest.trim_start_matches('*')),
                    },
                ));
            }
        }
    }
    None
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A header block found in a body.
#[derive(Debug, Default)]
pub(crate) struct HeaderBlock<'a> {
    pub fields: Vec<(Field, Cow<'a, str>)>,
    seen: u8,
    pub langs: LangSet,
    /// Index of the first line after the block.
    pub end: usize,
}

impl Default for LangSet {
    fn default() -> Self {
        LangSet::ALL
    }
}

impl<'a> HeaderBlock<'a> {
    pub(crate) fn has(&self, f: Field) -> bool {
        self.seen & f.bit() != 0
    }
    pub(crate) fn get(&self, f: Field) -> Option<&str> {
        self.fields
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, v)| v.as_ref())
    }
    /// How many of To, Subject and Date the block has.
    pub(crate) fn others(&self) -> usize {
        [Field::To, Field::Subject, Field::Date, Field::Cc]
            .iter()
            .filter(|f| self.has(**f))
            .count()
    }
    fn push(&mut self, m: KeyMatch<'a>) {
        self.seen |= m.field.bit();
        self.langs = self.langs.narrow(m.langs);
        self.fields.push((m.field, Cow::Borrowed(m.value)));
    }
    /// Pushes a header, splitting glued headers out of its value when `glued` is set.
    fn push_split(&mut self, mut m: KeyMatch<'a>, glued: bool) {
        if glued {
            let mut guard = 0;
            while let Some((head, next)) = split_glued(m.value) {
                guard += 1;
                if guard > 16 || self.has(next.field) || next.field == m.field {
                    break;
                }
                m.value = head;
                self.push(m);
                m = next;
            }
        }
        self.push(m);
    }
    fn append(&mut self, text: &str) {
        self.append_joined(text, Join::Space);
    }
    fn append_joined(&mut self, text: &str, join: Join) {
        if let Some((_, v)) = self.fields.last_mut() {
            let s = v.to_mut();
            if !s.is_empty() && join == Join::Space {
                s.push(' ');
            }
            s.push_str(text);
        }
    }
}

/// Reads a header block starting at `lines[start]` (all lines at `depth`). `first`, when
/// given, is header text that shared a line with a separator and comes before `lines[start]`.
/// `glued` allows Yahoo-style glued headers.
pub(crate) fn parse_block<'a>(
    lines: &[Line<'a>],
    start: usize,
    depth: u16,
    first: Option<&'a str>,
    glued: bool,
) -> Option<HeaderBlock<'a>> {
    parse_block_in(lines, start, depth, first, glued, None)
}

/// [`parse_block`] knowing the subject of the message the block was found in (the forward's
/// own `Fwd: …` subject), which shows where a wrapped `Subject:` line goes on.
pub(crate) fn parse_block_in<'a>(
    lines: &[Line<'a>],
    start: usize,
    depth: u16,
    first: Option<&'a str>,
    glued: bool,
    subject: Option<&str>,
) -> Option<HeaderBlock<'a>> {
    let mut block = HeaderBlock {
        end: start,
        ..HeaderBlock::default()
    };
    if let Some(text) = first {
        let m = header_line(trim(text))?;
        block.push_split(m, glued);
    }
    let mut k = start;
    let mut continuations = 0;
    let base_indent = lines.get(start).map(|l| l.indent()).unwrap_or(0);
    while k < lines.len() {
        let line = &lines[k];
        if line.depth != depth {
            break;
        }
        let text = line.text();
        if text.is_empty() {
            if block.fields.is_empty() {
                break;
            }
            // One blank line inside a block is tolerated when a header we have not seen yet
            // follows (some HTML layouts put a paragraph break between header lines).
            let next = lines
                .get(k + 1)
                .filter(|n| n.depth == depth)
                .and_then(|n| header_line(n.text()));
            match next {
                Some(m) if !block.has(m.field) => {
                    k += 1;
                    continue;
                }
                _ => break,
            }
        }
        if let Some(m) = header_line(text) {
            if block.has(m.field) {
                break;
            }
            block.push_split(m, glued);
            continuations = 0;
            k += 1;
            block.end = k;
            continue;
        }
        let Some((last, value)) = block.fields.last() else {
            break;
        };
        if continuations >= 50 {
            break;
        }
        let indented = line.indent() > base_indent;
        if *last == Field::Subject && !indented {
            // A long subject wrapped by the client (Outlook's plain text at 76 columns,
            // Thunderbird's format=flowed) goes on at the start of the next line.
            if let Some(joined) = subject_goes_on(lines, k, depth, &block, value, subject) {
                block.append_joined(text, joined);
                continuations += 1;
                k += 1;
                block.end = k;
                continue;
            }
            break;
        }
        if is_continuation(*last, value, text, indented) {
            block.append(text);
            continuations += 1;
            k += 1;
            block.end = k;
            continue;
        }
        // A header we do not know (`Importance: High`, `Organisation: …`) inside the block:
        // skipped when a header we have not seen yet follows it.
        if looks_like_key(text) && next_is_new_header(lines, k + 1, depth, &block) {
            k += 1;
            continue;
        }
        break;
    }
    if block.fields.is_empty() {
        return None;
    }
    if first.is_some() && block.end == start {
        block.end = start;
    }
    Some(block)
}

/// How a wrapped line joins the value before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Join {
    /// The client wrapped at a blank.
    Space,
    /// Wrapped inside a run of text without blanks (Japanese, Chinese).
    Glued,
}

/// Whether `text` continues the previous header's value (wrapped recipient lists, folded
/// subjects) rather than starting the body.
fn is_continuation(field: Field, value: &str, text: &str, indented: bool) -> bool {
    match field {
        Field::To | Field::Cc | Field::Bcc | Field::From | Field::ReplyTo => {
            // `Reply-To: …`, `Organisation: …`: another header, even one we do not know.
            !looks_like_key(text)
                && (value.ends_with(',')
                    || value.ends_with(';')
                    || indented
                    || looks_like_addresses(text))
        }
        Field::Subject => indented,
        Field::Date => false,
    }
}

/// Whether the unindented line `lines[k]`, right after a `Subject:` line whose value so far is
/// `value`, is the rest of a subject the client wrapped, and how it joins. It is when
/// - the header block goes on below it (up to three wrapped lines, then a header we have not
///   seen: Thunderbird writes `Subject` first), or
/// - the subject of the message the block was found in (`FW: <the whole subject>`) holds the
///   joined text (blanks compared loosely, case exactly). Outlook writes `Subject` last, then a blank line, so this is the only way to
///   tell a wrapped subject from a first body line that follows the block directly (GMX).
fn subject_goes_on(
    lines: &[Line<'_>],
    k: usize,
    depth: u16,
    block: &HeaderBlock<'_>,
    value: &str,
    subject: Option<&str>,
) -> Option<Join> {
    let text = lines[k].text();
    if text.len() > 1000 || value.len() > 4096 {
        return None;
    }
    // The joined text must be in the subject, and so must the line's first word (a cheap test
    // before comparing case- and blank-insensitively).
    let first_word = text.split(is_ws).next().unwrap_or("");
    if let Some(subject) =
        subject.filter(|s| !value.is_empty() && s.len() <= 4096 && s.contains(first_word))
    {
        let (whole, value, text) = (squash(subject), squash(value), squash(text));
        if whole.contains(&format!("{value} {text}")) {
            return Some(Join::Space);
        }
        if whole.contains(&format!("{value}{text}")) {
            return Some(Join::Glued);
        }
    }
    for (j, line) in lines.iter().enumerate().skip(k).take(4) {
        if line.depth != depth || line.is_blank() {
            return None;
        }
        if j > k {
            if let Some(m) = header_line(line.text()) {
                return (!block.has(m.field)).then_some(Join::Space);
            }
        }
        if looks_like_key(line.text()) {
            return None;
        }
    }
    None
}

/// `s` with runs of whitespace as one space, for comparing wrapped text (a client wraps a
/// subject without changing its case).
fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(is_ws).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Whether the next non-blank line at `depth` from `from` is a header the block has not seen.
fn next_is_new_header(
    lines: &[Line<'_>],
    from: usize,
    depth: u16,
    block: &HeaderBlock<'_>,
) -> bool {
    lines
        .get(from)
        .filter(|l| l.depth == depth)
        .and_then(|l| header_line(l.text()))
        .is_some_and(|m| !block.has(m.field))
}

/// A line of the shape `Key: value` or `Two Words: value`, whether or not we know the key:
/// one to four words of letters (with `-`, `.`, `'`) before a colon that ends them (`: `,
/// `:` at the end, or a full-width `：`). `Dear Anna: …` reads as a key too; it is only asked
/// about lines inside a header block.
pub(crate) fn looks_like_key(text: &str) -> bool {
    let Some((colon, len)) = find_key_colon(text) else {
        return false;
    };
    let after = &text[colon + len..];
    if len == 1 && !(after.is_empty() || after.starts_with(is_ws)) {
        return false;
    }
    let key = text[..colon].trim_matches(|c: char| is_ws(c) || c == '*');
    if key.is_empty() {
        return false;
    }
    let mut words = 0;
    for w in key.split(is_ws).filter(|w| !w.is_empty()) {
        words += 1;
        if words > 4 || !w.chars().next().is_some_and(char::is_alphabetic) {
            return false;
        }
        if !w
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '-' | '.' | '\'' | '’'))
        {
            return false;
        }
    }
    true
}

/// A wrapped line of a recipient list: has an address and nothing that reads like prose.
fn looks_like_addresses(text: &str) -> bool {
    if !text.contains('@') || text.len() > 300 {
        return false;
    }
    // Every word either holds the address, is bracketed, or is a short name part.
    text.split(is_ws).filter(|w| !w.is_empty()).all(|w| {
        w.contains('@') || w.starts_with(['<', '[', '(', '"', '\'']) || w.chars().count() <= 20
    }) && (text.contains('<')
        || text.contains('[')
        || text.contains(',')
        || text.contains(';')
        || !text.contains(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::lines::split_lines;

    #[test]
    fn keys_in_languages() {
        assert_eq!(
            header_line("From: a@b.c").map(|m| m.field),
            Some(Field::From)
        );
        assert_eq!(
            header_line("De : Jean <j@x.fr>").map(|m| m.value),
            Some("Jean <j@x.fr>")
        );
        assert_eq!(header_line("*Von:* Hans").map(|m| m.value), Some("Hans"));
        assert_eq!(
            header_line("差出人： 山田").map(|m| m.field),
            Some(Field::From)
        );
        assert_eq!(
            header_line("Envoyé\u{a0}: lundi").map(|m| m.field),
            Some(Field::Date)
        );
        assert!(header_line("Note: this is not a header").is_none());
        assert!(header_line("10:30 meeting").is_none());
    }

    #[test]
    fn glued_yahoo_headers() {
        let lines = split_lines(
            "From: A <a@x.com>To: B <b@x.com>Sent: Monday, 1 Jan 2024, 10:00:00 GMT+1Subject: Hi\n",
            &[],
        );
        let b = parse_block(&lines, 0, 0, None, true).unwrap();
        assert_eq!(b.get(Field::From), Some("A <a@x.com>"));
        assert_eq!(b.get(Field::To), Some("B <b@x.com>"));
        assert_eq!(
            b.get(Field::Date),
            Some("Monday, 1 Jan 2024, 10:00:00 GMT+1")
        );
        assert_eq!(b.get(Field::Subject), Some("Hi"));
    }

    #[test]
    fn wrapped_subject_goes_on_only_when_shown() {
        // Outlook: `Subject` last, the rest on the next line, then a blank line.
        let text = "From: A <a@x.com>\nSent: Monday\nSubject: Quote for the sales\nteam\n\nHello";
        let lines = split_lines(text, &[]);
        let b = parse_block_in(
            &lines,
            0,
            0,
            None,
            false,
            Some("FW: Quote for the sales team"),
        )
        .unwrap();
        assert_eq!(b.get(Field::Subject), Some("Quote for the sales team"));
        assert_eq!(b.end, 4);
        // Without the forward's subject, or when it does not hold the joined text, the line
        // is the body (GMX writes the body right below `Betreff:`).
        for subject in [None, Some("FW: Quote for the sales")] {
            let b = parse_block_in(&lines, 0, 0, None, false, subject).unwrap();
            assert_eq!(b.get(Field::Subject), Some("Quote for the sales"));
            assert_eq!(b.end, 3);
        }
        let gmx = split_lines(
            "Von: A <a@x.com>\nBetreff: Angebot\nHallo Hans,\n\nanbei",
            &[],
        );
        let b = parse_block_in(&gmx, 0, 0, None, false, Some("WG: Angebot")).unwrap();
        assert_eq!(b.get(Field::Subject), Some("Angebot"));
        assert_eq!(b.end, 2);
        // Thunderbird: `Subject` first, the block goes on below the wrapped part.
        let tb = split_lines(
            "Subject: \tQuote for the \nsales team\nDate: \tMon\nFrom: A <a@x.com>\n\nHi",
            &[],
        );
        let b = parse_block_in(&tb, 0, 0, None, false, None).unwrap();
        assert_eq!(b.get(Field::Subject), Some("Quote for the sales team"));
        assert_eq!(b.get(Field::From), Some("A <a@x.com>"));
        // …but not when what follows is a header already seen or an unknown key.
        let seen = split_lines(
            "From: A <a@x.com>\nSubject: Hi\nthere\nFrom: B <b@x.com>",
            &[],
        );
        let b = parse_block_in(&seen, 0, 0, None, false, None).unwrap();
        assert_eq!(b.get(Field::Subject), Some("Hi"));
        // Japanese wraps without a blank.
        let ja = split_lines(
            "差出人: A <a@x.com>\n件名: 見積り依頼（営業\n部向け）\n\n本文",
            &[],
        );
        let b = parse_block_in(
            &ja,
            0,
            0,
            None,
            false,
            Some("転送: 見積り依頼（営業部向け）"),
        )
        .unwrap();
        assert_eq!(b.get(Field::Subject), Some("見積り依頼（営業部向け）"));
    }

    #[test]
    fn unknown_key_is_not_a_recipient() {
        let lines = split_lines(
            "From: Jan <jan@klient.pl>\nTo: Adam Kowalski <adam@ourco.example>\nAntworten an: Biuro Klient <biuro@klient.pl>\n\nBody",
            &[],
        );
        let b = parse_block(&lines, 0, 0, None, false).unwrap();
        assert_eq!(b.get(Field::To), Some("Adam Kowalski <adam@ourco.example>"));
        assert_eq!(b.end, 2);
        // Inside the block, an unknown key is skipped when a new header follows it.
        let lines = split_lines(
            "From: Jan <jan@klient.pl>\nOrganisation: Klient\nTo: Adam <adam@ourco.example>\n\nBody",
            &[],
        );
        let b = parse_block(&lines, 0, 0, None, false).unwrap();
        assert_eq!(b.get(Field::To), Some("Adam <adam@ourco.example>"));
        assert_eq!(b.end, 3);
        assert!(looks_like_key("Odpowiedź do: Biuro <b@x.pl>"));
        assert!(looks_like_key("返信先： 山田"));
        assert!(!looks_like_key("Jan Nowak <jan@x.pl>"));
        assert!(!looks_like_key("<mailto:a@x.com>"));
        assert!(!looks_like_key("https://example.com"));
        assert!(!looks_like_key("Meeting at 10:30 today"));
    }

    #[test]
    fn continuation_of_recipients() {
        let lines = split_lines("To: A <a@x.com>,\n B <b@x.com>\nSubject: Hi\n\nBody", &[]);
        let b = parse_block(&lines, 0, 0, None, false).unwrap();
        assert_eq!(b.get(Field::To), Some("A <a@x.com>, B <b@x.com>"));
        assert_eq!(b.end, 3);
    }
}
