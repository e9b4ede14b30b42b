//! HTML bodies to text with structure kept: blockquote depth becomes `> ` markers, block
//! elements become line breaks, and the containers clients wrap quotes and signatures in
//! (`gmail_quote`, `divRplyFwdMsg`, `moz-cite-prefix`, Outlook's border-top separator,
//! `gmail_signature`, …) become [`Mark`]s on the following line.
//!
//! A single forward pass over the bytes with a small element stack; closing tags look at
//! most [`CLOSE_SEARCH`] entries deep, so malformed or hostile nesting stays linear.

use super::lines::Mark;

/// How deep a closing tag searches the open-element stack for its opener.
const CLOSE_SEARCH: usize = 32;
/// Quote levels written as `> ` markers; deeper blockquotes are shown at this depth (so
/// hostile nesting cannot make the output quadratic).
const MAX_WRITTEN_DEPTH: u16 = 24;
/// Open elements beyond this depth are not tracked (their blockquote depth still counts).
const MAX_STACK: usize = 4096;

/// Text produced from HTML, with marks by line index.
pub(crate) struct HtmlText {
    pub text: String,
    pub marks: Vec<(u32, Mark)>,
}

struct Open {
    name: TagName,
    quote: bool,
}

/// Tag names we care about, so the stack holds no strings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TagName {
    Block,
    Para,
    Blockquote,
    Pre,
    Li,
    Td,
    Tr,
    Other(u32),
}

struct Writer {
    out: String,
    marks: Vec<(u32, Mark)>,
    line: u32,
    depth: u16,
    /// The current line has content (its prefix is written).
    line_open: bool,
    content_start: usize,
    pending_space: bool,
    /// Want a blank line before the next content (paragraph spacing).
    want_blank: bool,
    last_blank: bool,
    pending_mark: Mark,
    pre: u32,
}

impl Writer {
    fn new(cap: usize) -> Self {
        Writer {
            out: String::with_capacity(cap),
            marks: Vec::new(),
            line: 0,
            depth: 0,
            line_open: false,
            content_start: 0,
            pending_space: false,
            want_blank: false,
            last_blank: true,
            pending_mark: Mark::NONE,
            pre: 0,
        }
    }

    fn open_line(&mut self) {
        if self.line_open {
            return;
        }
        if self.want_blank && !self.last_blank {
            self.out.push('\n');
            self.line += 1;
        }
        self.want_blank = false;
        for _ in 0..self.depth.min(MAX_WRITTEN_DEPTH) {
            self.out.push_str("> ");
        }
        self.content_start = self.out.len();
        self.line_open = true;
        self.pending_space = false;
        if self.pending_mark != Mark::NONE {
            self.marks.push((self.line, self.pending_mark));
            self.pending_mark = Mark::NONE;
        }
    }

    fn text_char(&mut self, c: char) {
        if self.pre == 0 && matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c') {
            if self.line_open {
                self.pending_space = true;
            }
            return;
        }
        if self.pre > 0 && c == '\n' {
            self.force_break();
            return;
        }
        if self.pre > 0 && c == '\r' {
            return;
        }
        self.open_line();
        if self.pending_space {
            if self.out.len() > self.content_start {
                self.out.push(' ');
            }
            self.pending_space = false;
        }
        self.out.push(if c == '\u{a0}' { ' ' } else { c });
    }

    /// Ends the line (if it has content): block boundaries.
    fn block_break(&mut self) {
        if self.line_open {
            self.finish_line();
        }
    }

    /// `<br>`: ends the line even if empty.
    fn force_break(&mut self) {
        if !self.line_open {
            // An empty line; keep the quote depth visible.
            if self.want_blank && !self.last_blank {
                self.out.push('\n');
                self.line += 1;
                self.last_blank = true;
            }
            self.want_blank = false;
            let depth = self.depth.min(MAX_WRITTEN_DEPTH);
            for d in 0..depth {
                self.out.push('>');
                if d + 1 < depth {
                    self.out.push(' ');
                }
            }
            self.out.push('\n');
            self.line += 1;
            self.last_blank = true;
            return;
        }
        self.finish_line();
    }

    fn finish_line(&mut self) {
        while self.out.len() > self.content_start && self.out.ends_with(' ') {
            self.out.pop();
        }
        let blank = self.out.len() == self.content_start;
        if blank && self.depth > 0 && self.out.ends_with(' ') {
            self.out.pop();
        }
        self.out.push('\n');
        self.line += 1;
        self.line_open = false;
        self.pending_space = false;
        self.last_blank = blank;
    }

    fn paragraph(&mut self) {
        self.block_break();
        self.want_blank = true;
    }

    fn set_depth(&mut self, depth: u16) {
        if depth != self.depth {
            self.block_break();
            self.depth = depth;
        }
    }
}

/// Converts HTML to text lines with marks.
pub(crate) fn to_text(html: &str) -> HtmlText {
    let b = html.as_bytes();
    let mut w = Writer::new(html.len() / 2 + 16);
    let mut stack: Vec<Open> = Vec::new();
    let mut quote_depth: u16 = 0;
    let mut untracked_quotes: u16 = 0;
    let mut in_head = false;
    let mut entity = String::new();
    let mut i = 0;
    let mut text_start = 0;

    while i < b.len() {
        match memchr::memchr2(b'<', b'&', &b[i..]) {
            Some(p) => i += p,
            None => break,
        }
        let c = b[i];
        if !in_head {
            emit_text(&mut w, &html[text_start..i]);
        }
        if c == b'&' {
            let (decoded_len, consumed) = decode_entity(&b[i..], &mut entity);
            if decoded_len > 0 {
                if !in_head {
                    for ch in entity.chars() {
                        w.text_char(ch);
                    }
                }
                i += consumed;
            } else {
                if !in_head {
                    w.text_char('&');
                }
                i += 1;
            }
            text_start = i;
            continue;
        }
        // A tag, comment, or a literal '<'.
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = match find(b, i + 4, b"-->") {
                Some(p) => p + 3,
                None => b.len(),
            };
            text_start = i;
            continue;
        }
        if rest.len() > 1 && (rest[1] == b'!' || rest[1] == b'?') {
            i = memchr::memchr(b'>', &b[i..])
                .map(|p| i + p + 1)
                .unwrap_or(b.len());
            text_start = i;
            continue;
        }
        let closing = rest.get(1) == Some(&b'/');
        let name_start = i + if closing { 2 } else { 1 };
        let mut name_end = name_start;
        while name_end < b.len()
            && (b[name_end].is_ascii_alphanumeric() || matches!(b[name_end], b':' | b'-' | b'_'))
        {
            name_end += 1;
        }
        if name_end == name_start || !b[name_start].is_ascii_alphabetic() {
            if !in_head {
                w.text_char('<');
            }
            i += 1;
            text_start = i;
            continue;
        }
        let name = &html[name_start..name_end];
        let (attrs, tag_end, self_closing) = parse_attrs(html, name_end);
        i = tag_end;
        text_start = i;
        let lname = lower_ascii(name);
        let lname = lname.as_str();

        if closing {
            match lname {
                "head" => in_head = false,
                _ if in_head => {}
                "br" => w.force_break(),
                _ => {
                    let tag = classify(lname);
                    // Pop to the matching opener if it is near the top.
                    let pos = stack
                        .iter()
                        .rev()
                        .take(CLOSE_SEARCH)
                        .position(|o| o.name == tag);
                    if let Some(pos) = pos {
                        for _ in 0..=pos {
                            if let Some(o) = stack.pop() {
                                if o.quote {
                                    quote_depth = quote_depth.saturating_sub(1);
                                }
                            }
                        }
                    } else if tag == TagName::Blockquote && untracked_quotes > 0 {
                        untracked_quotes -= 1;
                        quote_depth = quote_depth.saturating_sub(1);
                    }
                    end_element(&mut w, tag);
                    w.set_depth(quote_depth);
                }
            }
            continue;
        }

        match lname {
            "head" => {
                in_head = true;
                continue;
            }
            "body" => {
                in_head = false;
                continue;
            }
            "script" | "style" | "title" | "template" | "textarea" | "xmp" => {
                i = skip_raw_text(b, i, lname.as_bytes());
                text_start = i;
                continue;
            }
            _ if in_head => continue,
            _ => {}
        }

        // Marks from class/id/style.
        let mut mark = Mark::NONE;
        if attrs.is_quote_container() {
            mark.add(Mark::QUOTE_START);
        }
        if attrs.is_signature() {
            mark.add(Mark::SIGNATURE);
        }
        let tag = classify(lname);
        match lname {
            "br" => {
                w.force_break();
                continue;
            }
            "hr" => {
                w.block_break();
                w.pending_mark.add(Mark::RULE);
                w.pending_mark.add(mark);
                continue;
            }
            "img" | "meta" | "link" | "input" | "col" | "area" | "base" | "wbr" | "source"
            | "param" | "embed" => continue,
            _ => {}
        }
        // Implicitly close an open <p> / <li> / <td> / <tr> of the same kind.
        if matches!(tag, TagName::Para | TagName::Li | TagName::Td | TagName::Tr) {
            if let Some(top) = stack.last() {
                if top.name == tag {
                    stack.pop();
                }
            }
        }
        start_element(&mut w, tag, lname, &attrs);
        if mark != Mark::NONE {
            w.block_break();
            w.pending_mark.add(mark);
        }
        let quote = tag == TagName::Blockquote && attrs.is_cite_blockquote();
        if !self_closing {
            if stack.len() < MAX_STACK {
                stack.push(Open { name: tag, quote });
            } else if quote {
                untracked_quotes = untracked_quotes.saturating_add(1);
            }
            if quote {
                quote_depth = quote_depth.saturating_add(1);
                w.set_depth(quote_depth);
            }
        }
    }
    if !in_head {
        emit_text(&mut w, &html[text_start..]);
    }
    w.block_break();
    HtmlText {
        text: w.out,
        marks: w.marks,
    }
}

fn emit_text(w: &mut Writer, s: &str) {
    for c in s.chars() {
        w.text_char(c);
    }
}

fn classify(name: &str) -> TagName {
    match name {
        "p" => TagName::Para,
        "blockquote" => TagName::Blockquote,
        "pre" => TagName::Pre,
        "li" => TagName::Li,
        "td" | "th" => TagName::Td,
        "tr" => TagName::Tr,
        "div" | "table" | "ul" | "ol" | "dl" | "dt" | "dd" | "h1" | "h2" | "h3" | "h4" | "h5"
        | "h6" | "section" | "article" | "header" | "footer" | "aside" | "nav" | "main"
        | "center" | "address" | "form" | "fieldset" | "figure" | "figcaption" | "caption"
        | "tbody" | "thead" | "tfoot" | "hr" => TagName::Block,
        other => TagName::Other(name_hash(other)),
    }
}

fn name_hash(s: &str) -> u32 {
    s.bytes()
        .fold(2166136261u32, |h, c| (h ^ c as u32).wrapping_mul(16777619))
}

fn start_element(w: &mut Writer, tag: TagName, _name: &str, attrs: &Attrs<'_>) {
    match tag {
        TagName::Para => {
            if attrs.is_tight_paragraph() {
                w.block_break();
            } else {
                w.paragraph();
            }
        }
        TagName::Block | TagName::Blockquote | TagName::Tr => w.block_break(),
        TagName::Pre => {
            w.block_break();
            w.pre += 1;
        }
        TagName::Li => {
            w.block_break();
            w.text_char('-');
            w.text_char(' ');
            w.pending_space = true;
        }
        TagName::Td => {
            if w.line_open {
                w.pending_space = true;
            }
        }
        TagName::Other(_) => {}
    }
}

fn end_element(w: &mut Writer, tag: TagName) {
    match tag {
        TagName::Para | TagName::Block | TagName::Blockquote | TagName::Tr | TagName::Li => {
            w.block_break()
        }
        TagName::Pre => {
            w.pre = w.pre.saturating_sub(1);
            w.block_break();
        }
        TagName::Td => {
            if w.line_open {
                w.pending_space = true;
            }
        }
        TagName::Other(_) => {}
    }
}

/// The attributes we look at.
#[derive(Default)]
struct Attrs<'a> {
    class: &'a str,
    id: &'a str,
    style: &'a str,
    kind: &'a str,
    smartmail: &'a str,
    any: bool,
}

impl Attrs<'_> {
    fn class_has(&self, token: &str) -> bool {
        self.class
            .split_ascii_whitespace()
            .any(|c| c.eq_ignore_ascii_case(token))
    }

    fn is_quote_container(&self) -> bool {
        const IDS: &[&str] = &[
            "divrplyfwdmsg",
            "x_divrplyfwdmsg",
            "appendonsend",
            "mail-editor-reference-message-container",
            "olk_src_body_section",
            "ms-outlook-mobile-reference-message",
        ];
        const CLASSES: &[&str] = &[
            "gmail_quote",
            "gmail_quote_container",
            "moz-cite-prefix",
            "moz-forward-container",
            "protonmail_quote",
            "outlookmessageheader",
            "zmail_extra",
            "ms-outlook-mobile-reference-message",
            "missive_quote",
        ];
        IDS.iter().any(|id| self.id.eq_ignore_ascii_case(id))
            || CLASSES.iter().any(|c| self.class_has(c))
            || self.class.to_ascii_lowercase().contains("yahoo_quoted")
            || self.is_outlook_separator()
    }

    /// Outlook desktop puts the header block of a reply or forward in
    /// `<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in">`.
    fn is_outlook_separator(&self) -> bool {
        if self.style.is_empty() {
            return false;
        }
        let s: String = self
            .style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        s.contains("border-top:solid")
            || (s.contains("border-top:") && s.contains("solid") && s.contains("border:none"))
    }

    fn is_signature(&self) -> bool {
        self.class_has("gmail_signature")
            || self.class_has("moz-signature")
            || self.class_has("signature")
            || self.id.eq_ignore_ascii_case("signature")
            || self.id.eq_ignore_ascii_case("ms-outlook-mobile-signature")
            || self.smartmail.eq_ignore_ascii_case("gmail_signature")
    }

    /// A blockquote that quotes (Apple/Thunderbird `type=cite`, Gmail `gmail_quote`, a
    /// border-left bar, or a bare `<blockquote>`) rather than Gmail's "indent" formatting.
    fn is_cite_blockquote(&self) -> bool {
        if self.kind.eq_ignore_ascii_case("cite")
            || self.class.to_ascii_lowercase().contains("quote")
        {
            return true;
        }
        let style = self.style.to_ascii_lowercase();
        if style.contains("border-left")
            && !style.contains("border-left:none")
            && !style.contains("border-left: none")
        {
            return true;
        }
        !self.any || (self.style.is_empty() && self.class.is_empty())
    }

    /// Outlook's `MsoNormal` paragraphs (and margin:0 ones) are single lines, not paragraphs.
    fn is_tight_paragraph(&self) -> bool {
        let c = self.class.to_ascii_lowercase();
        let s: String = self
            .style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        c.contains("mso") || s.contains("margin:0") || s.contains("margin-top:0")
    }
}

/// Parses attributes from `from` (just after the tag name) to the closing `>`.
/// Returns the attributes, the index after `>`, and whether the tag self-closes.
fn parse_attrs(html: &str, from: usize) -> (Attrs<'_>, usize, bool) {
    let b = html.as_bytes();
    let mut a = Attrs::default();
    let mut i = from;
    let mut self_closing = false;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return (a, b.len(), false);
        }
        match b[i] {
            b'>' => return (a, i + 1, self_closing),
            b'/' => {
                self_closing = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        self_closing = false;
        let ns = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == ns {
            // A stray byte such as a lone quote: skip it.
            i += 1;
            continue;
        }
        let name = &html[ns..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = "";
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = memchr::memchr(q, &b[vs..])
                    .map(|p| vs + p)
                    .unwrap_or(b.len());
                value = &html[vs..ve];
                i = (ve + 1).min(b.len());
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = &html[vs..i];
            }
        }
        a.any = true;
        if name.eq_ignore_ascii_case("class") {
            a.class = value;
        } else if name.eq_ignore_ascii_case("id") {
            a.id = value;
        } else if name.eq_ignore_ascii_case("style") {
            a.style = value;
        } else if name.eq_ignore_ascii_case("type") {
            a.kind = value;
        } else if name.eq_ignore_ascii_case("data-smartmail") {
            a.smartmail = value;
        }
    }
}

/// Skips the content of a raw-text element up to and including `</name…>`.
fn skip_raw_text(b: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(p) = memchr::memchr(b'<', &b[i..]) {
        let at = i + p;
        let rest = &b[at..];
        if rest.len() >= 2 + name.len()
            && rest[1] == b'/'
            && rest[2..2 + name.len()].eq_ignore_ascii_case(name)
        {
            return memchr::memchr(b'>', &b[at..])
                .map(|q| at + q + 1)
                .unwrap_or(b.len());
        }
        i = at + 1;
    }
    b.len()
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let mut i = from;
    while i < hay.len() {
        let p = memchr::memchr(needle[0], &hay[i..])?;
        let at = i + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

fn lower_ascii(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Decodes `&name;`, `&#123;`, `&#x1F;` at the start of `b` into `out`. Returns (chars
/// written, bytes consumed); (0, 0) when it is not an entity.
fn decode_entity(b: &[u8], out: &mut String) -> (usize, usize) {
    out.clear();
    let mut end = 1;
    while end < b.len() && end < 40 && (b[end].is_ascii_alphanumeric() || b[end] == b'#') {
        end += 1;
    }
    if end >= b.len() || b[end] != b';' || end == 1 {
        // Common entities written without the semicolon.
        for (name, ch) in [
            ("&nbsp", '\u{a0}'),
            ("&amp", '&'),
            ("&lt", '<'),
            ("&gt", '>'),
            ("&quot", '"'),
        ] {
            if b.len() >= name.len() && b[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
                out.push(ch);
                return (1, name.len());
            }
        }
        return (0, 0);
    }
    let token = &b[..=end];
    // All bytes are ASCII here, so mail-parser's decoder cannot fail on them.
    mail_parser::decoders::html::add_html_token(out, token, false);
    if out.as_bytes() == token {
        out.clear();
        return (0, 0);
    }
    (out.chars().count(), end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_quotes() {
        let h = to_text("<div>Hi<br>there</div><blockquote type=\"cite\"><div>quoted</div><div><br></div><div>more</div></blockquote><p>after &amp; done</p>");
        assert_eq!(h.text, "Hi\nthere\n> quoted\n>\n> more\n\nafter & done\n");
    }

    #[test]
    fn marks() {
        let h = to_text("<div>reply</div><div class=\"gmail_quote\"><div class=\"gmail_attr\">On x wrote:</div></div>");
        assert_eq!(h.text, "reply\nOn x wrote:\n");
        assert_eq!(h.marks, vec![(1, Mark::QUOTE_START)]);
    }

    #[test]
    fn outlook_paragraphs_and_headers() {
        let h = to_text("<p class=MsoNormal>Note<o:p></o:p></p><p class=MsoNormal>&nbsp;</p><div style='border:none;border-top:solid #E1E1E1 1.0pt'><p class=MsoNormal><b>From:</b> A &lt;a@x.com&gt;<br><b>Sent:</b> Monday</p></div>");
        assert_eq!(h.text, "Note\n\nFrom: A <a@x.com>\nSent: Monday\n");
        assert_eq!(h.marks, vec![(2, Mark::QUOTE_START)]);
    }

    #[test]
    fn script_style_comments() {
        let h = to_text("<html><head><style>p{}</style><title>t</title></head><body><!-- c --><script>x<y</script>A<b>B</b></body></html>");
        assert_eq!(h.text, "AB\n");
    }
}
