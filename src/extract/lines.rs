//! The line model every detector works on.
//!
//! Text input is split into lines that borrow from the input; HTML input is first turned into
//! text by [`super::html`], which writes `> ` for blockquote depth and reports structural
//! marks (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`, signatures) by line index. After
//! that both kinds of input look the same to the forward and reply detectors.

/// Structural hints from HTML, attached to the first line that has content after them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mark(u8);

impl Mark {
    pub(crate) const NONE: Mark = Mark(0);
    /// A client's quote/forward container starts here (gmail_quote, divRplyFwdMsg, …).
    pub(crate) const QUOTE_START: Mark = Mark(1);
    /// A client's signature container starts here (gmail_signature, moz-signature, …).
    pub(crate) const SIGNATURE: Mark = Mark(2);
    /// An `<hr>` came right before this line.
    pub(crate) const RULE: Mark = Mark(4);

    pub(crate) fn has(self, other: Mark) -> bool {
        self.0 & other.0 != 0
    }
    pub(crate) fn add(&mut self, other: Mark) {
        self.0 |= other.0;
    }
}

/// One line of the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line<'a> {
    /// The line without its terminator (`\r` removed).
    pub raw: &'a str,
    /// Where the content starts in `raw` (after the `>` markers and one space).
    content_at: u32,
    /// The trimmed content's range in `raw` (computed once: every detector asks for it).
    text_at: u32,
    text_end: u32,
    /// How many `>` markers the line had.
    pub depth: u16,
    pub mark: Mark,
}

impl<'a> Line<'a> {
    /// The line after its `>` quote markers (and one following space).
    pub(crate) fn content(&self) -> &'a str {
        self.raw.get(self.content_at as usize..).unwrap_or("")
    }
    /// The content without surrounding whitespace (including NBSP and zero-width spaces).
    pub(crate) fn text(&self) -> &'a str {
        self.raw
            .get(self.text_at as usize..self.text_end as usize)
            .unwrap_or("")
    }
    pub(crate) fn is_blank(&self) -> bool {
        self.text().is_empty()
    }
    /// Number of leading whitespace characters of the content (indented quoting).
    pub(crate) fn indent(&self) -> usize {
        self.content()
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .count()
    }
}

/// Whitespace as mail clients produce it: Unicode White_Space plus zero-width characters
/// and BOMs, which Outlook and Gmail scatter through their text.
pub(crate) fn is_ws(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}'
                | '\u{200C}'
                | '\u{200D}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}

pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(is_ws)
}

/// Splits `src` into lines. `marks` (line index, mark) come from the HTML converter.
pub(crate) fn split_lines<'a>(src: &'a str, marks: &[(u32, Mark)]) -> Vec<Line<'a>> {
    let mut lines = Vec::with_capacity(src.len() / 40 + 1);
    let mut start = 0;
    let bytes = src.as_bytes();
    let mut mark_iter = marks.iter().peekable();
    loop {
        let end = memchr::memchr(b'\n', &bytes[start..]).map(|i| start + i);
        let line_end = end.unwrap_or(src.len());
        let mut raw = &src[start..line_end];
        if let Some(stripped) = raw.strip_suffix('\r') {
            raw = stripped;
        }
        let (depth, content) = quote_prefix(raw);
        let idx = lines.len() as u32;
        let mut mark = Mark::NONE;
        while let Some(&&(at, m)) = mark_iter.peek() {
            if at > idx {
                break;
            }
            if at == idx {
                mark.add(m);
            }
            mark_iter.next();
        }
        let content_at = raw.len() - content.len();
        let text = trim(content);
        let text_at = text.as_ptr() as usize - raw.as_ptr() as usize;
        lines.push(Line {
            raw,
            content_at: content_at as u32,
            text_at: text_at as u32,
            text_end: (text_at + text.len()) as u32,
            depth,
            mark,
        });
        match end {
            Some(e) => start = e + 1,
            None => break,
        }
    }
    lines
}

/// Counts `>` quote markers (`>`, `> >`, `>>`, with optional spaces before each) and returns
/// the depth and the text after the last marker and one following space.
pub(crate) fn quote_prefix(raw: &str) -> (u16, &str) {
    let b = raw.as_bytes();
    let mut i = 0;
    let mut depth: u16 = 0;
    loop {
        let mut j = i;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if j < b.len() && b[j] == b'>' {
            depth = depth.saturating_add(1);
            i = j + 1;
        } else {
            break;
        }
    }
    if depth == 0 {
        return (0, raw);
    }
    let mut content = &raw[i..];
    if let Some(rest) = content.strip_prefix(' ') {
        content = rest;
    }
    (depth, content)
}

/// Renders `lines` as text: `strip_depth` levels of quoting removed (the rest written back as
/// `> `), up to `strip_indent` leading blanks removed, trailing blanks of each line dropped,
/// and leading/trailing blank lines dropped.
pub(crate) fn render(lines: &[Line<'_>], strip_depth: u16, strip_indent: usize) -> String {
    let first = lines.iter().position(|l| !l.is_blank());
    let last = lines.iter().rposition(|l| !l.is_blank());
    let (Some(first), Some(last)) = (first, last) else {
        return String::new();
    };
    let mut out = String::with_capacity(lines[first..=last].iter().map(|l| l.raw.len() + 1).sum());
    for (n, line) in lines[first..=last].iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let depth = line.depth.saturating_sub(strip_depth);
        let mut content = line.content();
        if strip_indent > 0 {
            let mut skipped = 0;
            let cut = content
                .char_indices()
                .find(|&(_, c)| {
                    if skipped < strip_indent && (c == ' ' || c == '\t') {
                        skipped += 1;
                        false
                    } else {
                        true
                    }
                })
                .map(|(i, _)| i)
                .unwrap_or(content.len());
            content = &content[cut..];
        }
        let content = content.trim_end_matches(is_ws);
        for d in 0..depth {
            out.push('>');
            if d + 1 < depth || !content.is_empty() {
                out.push(' ');
            }
        }
        out.push_str(content);
    }
    out
}

/// Like [`render`] for the lines given by index (which need not be contiguous): raw lines
/// joined, a gap between picked runs shown as one blank line, and the result trimmed.
pub(crate) fn render_picked(lines: &[Line<'_>], picked: &[usize]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(picked.len());
    let mut prev: Option<usize> = None;
    for &i in picked {
        let line = &lines[i];
        let blank = line.is_blank();
        let last_blank = out.last().is_none_or(|l| trim(l).is_empty());
        if out.is_empty() && blank {
            continue;
        }
        if prev.is_some_and(|p| p + 1 != i) {
            if blank && last_blank {
                prev = Some(i);
                continue;
            }
            if !blank && !last_blank {
                out.push("");
            }
        }
        out.push(line.raw.trim_end_matches(is_ws));
        prev = Some(i);
    }
    while out.last().is_some_and(|l| trim(l).is_empty()) {
        out.pop();
    }
    let joined = out.join("\n");
    trim(&joined).to_string()
}

/// Returns `Some(s)` unless `s` is empty.
pub(crate) fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_prefixes() {
        assert_eq!(quote_prefix("> > a"), (2, "a"));
        assert_eq!(quote_prefix(">>a"), (2, "a"));
        assert_eq!(quote_prefix(" >  a"), (1, " a"));
        assert_eq!(quote_prefix("a > b"), (0, "a > b"));
        assert_eq!(quote_prefix(">"), (1, ""));
    }

    #[test]
    fn render_strips_one_level() {
        let lines = split_lines("> a\n>\n> > b\n", &[]);
        assert_eq!(render(&lines, 1, 0), "a\n\n> b");
    }
}
