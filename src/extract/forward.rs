//! Finding the forwarded email in a body.
//!
//! We scan lines top-down for the first place a forwarded email starts:
//!
//! 1. an explicit forward separator (`---------- Forwarded message ---------`,
//!    `Begin forwarded message:`, `-------- Weitergeleitete Nachricht --------`, …), with the
//!    header block after it (on the next lines, on the same line as Yahoo does, or quoted
//!    one level deeper as MailMate does);
//! 2. an "original message" separator (`-----Original Message-----`, Outlook's line of
//!    underscores, an HTML `<hr>` or Outlook/OWA reply container) followed by a header block
//!    with a sender and one more field;
//! 3. a bare header block (`From:` / `Sent:` / `To:` / `Subject:`, Outlook 2013+, IONOS,
//!    GMX), which needs a sender and two more fields (one when the subject says "forward");
//! 4. a reply attribution ("On … wrote:"): when the subject says "forward" (Outlook for Mac
//!    forwards that way) it starts the forwarded email; otherwise the message is a reply and
//!    the search stops, so a forward quoted inside a reply is not mistaken for one.
//!
//! When the subject says "reply" (`Re:`, `AW:`, …) only the explicit forms of (1) count:
//! a reply that was BCC'd to the CRM quotes its history under `-----Original Message-----`
//! and must not be logged as the quoted email.

use super::address::{parse_people, parse_person};
use super::attribution::{self, attribution_at, Attribution};
use super::date;
use super::headers::{header_line, parse_block_in, HeaderBlock};
use super::lang::{lowercase, separator_kind, Field, LangSet, PrefixKind, SeparatorKind};
use super::lines::{non_empty, render, trim, Line, Mark};
use super::subject;
use super::{Forward, ForwardedEmail};

/// How many nested forwards we follow.
pub(crate) const MAX_CHAIN: u8 = 6;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hint {
    Forward,
    Reply,
    Unknown,
}

fn hint_of(subject: Option<&str>) -> Hint {
    match subject.and_then(subject::kind) {
        Some(PrefixKind::Forward) => Hint::Forward,
        Some(PrefixKind::Reply) => Hint::Reply,
        None => Hint::Unknown,
    }
}

/// Where a forwarded email starts and what introduces it.
struct Start<'a> {
    /// First line of the forward (separator, header, or attribution).
    at: usize,
    block: Option<HeaderBlock<'a>>,
    attribution: Option<Attribution>,
    /// First line after the headers.
    body_from: usize,
    /// Quote depth of the forwarded content.
    depth: u16,
    indent: usize,
    /// Introduced by an explicit forward separator (`---------- Forwarded message ---------`).
    explicit: bool,
}

/// Recognises a separator line; returns its kind and any text glued after it.
pub(crate) fn separator(t: &str) -> Option<(SeparatorKind, &str)> {
    let decorated_start = t.starts_with(['-', '_', '=', '*', '—', '–']);
    if !decorated_start && !t.ends_with([':', '：']) && !has_double_dash(t) {
        return None;
    }
    let core = t.trim_start_matches(|c: char| {
        matches!(c, '-' | '_' | '=' | '*' | '—' | '–' | '>') || super::lines::is_ws(c)
    });
    // The phrase runs up to the closing decoration (or the end).
    let phrase_end = decoration_start(core).unwrap_or(core.len());
    if phrase_end > 120 {
        return None;
    }
    let phrase = trim(&core[..phrase_end]);
    let after = &core[phrase_end..];
    let rest = trim(after.trim_start_matches(['-', '_', '=', '*', '—', '–']));
    let had_colon = phrase.ends_with([':', '：']);
    let phrase = trim(phrase.trim_end_matches([':', '：']));
    let decorated = decorated_start || after.starts_with(['-', '=', '*', '—', '–']);
    if !(decorated || had_colon) || phrase.is_empty() {
        return None;
    }
    // "Preposlaná správa --- Forwarded Message", "Välitetty viesti / Fwd.Msg": the phrase
    // may carry a translation after it.
    if phrase.len() > 120 {
        return None;
    }
    let lower = lowercase(phrase);
    let kind = separator_kind(&lower).or_else(|| {
        let cut = lower.find(['/', '('])?;
        separator_kind(trim(&lower[..cut]))
    })?;
    let rest = if rest.is_empty() || !decorated {
        ""
    } else {
        rest
    };
    Some((kind, rest))
}

/// Whether `t` holds `--` (asked of every line: cheaper than `str::contains`, which builds a
/// searcher on each call).
fn has_double_dash(t: &str) -> bool {
    let b = t.as_bytes();
    memchr::memchr_iter(b'-', b).any(|i| b.get(i + 1) == Some(&b'-'))
}

/// Where the closing decoration of a separator starts: a run of two decoration characters or
/// one after a blank (so `Original-Nachricht` and `E-Mail` stay whole).
fn decoration_start(core: &str) -> Option<usize> {
    let deco = |c: char| matches!(c, '-' | '=' | '*' | '—' | '–');
    let mut prev: Option<char> = None;
    let mut it = core.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if deco(c) && i > 0 {
            let next_deco = it.peek().is_some_and(|&(_, n)| deco(n));
            if next_deco || prev.is_some_and(super::lines::is_ws) {
                return Some(i);
            }
        }
        prev = Some(c);
    }
    None
}

/// A line of underscores (Outlook) or similar rule.
pub(crate) fn is_rule(t: &str) -> bool {
    t.len() >= 10 && t.chars().all(|c| c == '_' || c == '—' || c == '━')
}

fn next_non_blank(lines: &[Line<'_>], from: usize, within: usize) -> Option<usize> {
    (from..lines.len().min(from.saturating_add(within))).find(|&j| !lines[j].is_blank())
}

/// The header block after a separator at `i` (glued on the same line, or on the next lines).
fn block_after<'a>(
    lines: &[Line<'a>],
    i: usize,
    glued: &'a str,
    allow_glued: bool,
    subject: Option<&str>,
) -> Option<(HeaderBlock<'a>, usize, u16)> {
    if !glued.is_empty() && header_line(glued).is_some() {
        let b = parse_block_in(
            lines,
            i + 1,
            lines[i].depth,
            Some(glued),
            allow_glued,
            subject,
        )?;
        return Some((b, i, lines[i].depth));
    }
    let j = next_non_blank(lines, i + 1, 4)?;
    if lines[j].depth < lines[i].depth {
        return None;
    }
    let b = parse_block_in(lines, j, lines[j].depth, None, allow_glued, subject)?;
    Some((b, j, lines[j].depth))
}

/// `subject` is the subject of the message searched (its prefix is `hint`).
fn find_start<'a>(lines: &[Line<'a>], subject: Option<&str>) -> Option<Start<'a>> {
    let hint = hint_of(subject);
    let n = lines.len();
    let mut i = 0;
    while i < n {
        let line = &lines[i];
        let t = line.text();
        if t.is_empty() {
            i += 1;
            continue;
        }
        if let Some((kind, glued)) = separator(t) {
            match kind {
                SeparatorKind::Forward => {
                    if let Some((block, j, depth)) = block_after(lines, i, glued, true, subject) {
                        if block.has(Field::From)
                            || block.has(Field::Subject)
                            || block.has(Field::Date)
                        {
                            let indent = lines.get(j).map(|l| l.indent()).unwrap_or(0);
                            let body_from = block.end.max(i + 1);
                            return Some(Start {
                                at: i,
                                body_from,
                                block: Some(block),
                                attribution: None,
                                depth,
                                indent,
                                explicit: true,
                            });
                        }
                    }
                    if let Some(j) = next_non_blank(lines, i + 1, usize::MAX) {
                        return Some(Start {
                            at: i,
                            body_from: j,
                            block: None,
                            attribution: None,
                            depth: lines[j].depth,
                            indent: 0,
                            explicit: false,
                        });
                    }
                }
                SeparatorKind::Original if hint != Hint::Reply => {
                    if let Some((block, j, depth)) = block_after(lines, i, glued, false, subject) {
                        if block.has(Field::From) && block.others() >= 1 {
                            let indent = lines[j].indent();
                            return Some(Start {
                                at: i,
                                body_from: block.end,
                                block: Some(block),
                                attribution: None,
                                depth,
                                indent,
                                explicit: false,
                            });
                        }
                    }
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        if hint != Hint::Reply {
            if is_rule(t) {
                if let Some((block, j, depth)) = block_after(lines, i, "", false, subject) {
                    if block.has(Field::From) && block.others() >= 1 {
                        let indent = lines[j].indent();
                        return Some(Start {
                            at: i,
                            body_from: block.end,
                            block: Some(block),
                            attribution: None,
                            depth,
                            indent,
                            explicit: false,
                        });
                    }
                }
            }
            if let Some(m) = header_line(t) {
                if matches!(m.field, Field::From | Field::Date) {
                    if let Some(block) = parse_block_in(lines, i, line.depth, None, false, subject)
                    {
                        let marked = line.mark.has(Mark::QUOTE_START) || line.mark.has(Mark::RULE);
                        let need = if hint == Hint::Forward || marked {
                            1
                        } else {
                            2
                        };
                        if block.has(Field::From) && block.others() >= need {
                            return Some(Start {
                                at: i,
                                body_from: block.end,
                                depth: line.depth,
                                indent: line.indent(),
                                block: Some(block),
                                attribution: None,
                                explicit: false,
                            });
                        }
                    }
                }
            }
        }
        if let Some(a) = attribution_at(lines, i) {
            if hint != Hint::Forward {
                return None;
            }
            let j = next_non_blank(lines, a.last + 1, usize::MAX)?;
            return Some(Start {
                at: i,
                body_from: j,
                block: None,
                attribution: Some(a),
                depth: lines[j].depth,
                indent: lines[j].indent().saturating_sub(line.indent()),
                explicit: false,
            });
        }
        i += 1;
    }
    None
}

/// Result of looking for a forward in some lines.
pub(crate) struct Level {
    pub note: Option<String>,
    pub email: ForwardedEmail,
    pub chain: Vec<ForwardedEmail>,
    /// Further emails forwarded next to `email` at the same level ("Forward all").
    pub siblings: Vec<ForwardedEmail>,
}

/// At most this many sibling forwards are read (a conversation forwarded whole).
const MAX_SIBLINGS: usize = 200;

/// Is `lines[k]` another `Forwarded message` separator like the one at `sep` (same text, same
/// quote depth) with a header block after it? Returns that start.
fn sibling_start<'a>(
    lines: &[Line<'a>],
    sep: usize,
    k: usize,
    subject: Option<&str>,
) -> Option<Start<'a>> {
    let (s, l) = (&lines[sep], &lines[k]);
    if l.depth != s.depth || l.text() != s.text() {
        return None;
    }
    let (kind, glued) = separator(l.text())?;
    if kind != SeparatorKind::Forward {
        return None;
    }
    let (block, j, depth) = block_after(lines, k, glued, true, subject)?;
    if !block.has(Field::From) {
        return None;
    }
    Some(Start {
        at: k,
        body_from: block.end.max(k + 1),
        indent: lines.get(j).map(|l| l.indent()).unwrap_or(0),
        block: Some(block),
        attribution: None,
        depth,
        explicit: true,
    })
}

/// Whether a `Forwarded message` block at the same depth inside an email whose headers name
/// `subject` may be the email it forwarded (Gmail's text and HTML do not quote a forward
/// inside a forward: `Fwd: X` then `X`) rather than the next message of a conversation
/// forwarded whole (`X` then `Re: X`): only a forward can contain a forward. Without a subject
/// we cannot tell and keep the block inside (nothing is cut off).
fn may_hold_forward(subject: Option<&str>) -> bool {
    subject.is_none_or(|s| subject::kind(s) == Some(PrefixKind::Forward))
}

/// What [`read_email`] found.
struct Read<'a> {
    email: ForwardedEmail,
    chain: Vec<ForwardedEmail>,
    /// The first line after the body.
    end: usize,
    /// The next message of a conversation forwarded whole, when it ended the body.
    next: Option<Start<'a>>,
}

/// The email that starts at `start`, its nested forwards (`levels` deep), where its body
/// ends, and the sibling that ends it.
fn read_email<'a>(
    lines: &[Line<'a>],
    start: &Start<'a>,
    subject_hint: Option<&str>,
    levels: u8,
) -> Read<'a> {
    let d = start.depth;
    let body_from = (start.body_from..lines.len())
        .find(|&k| !lines[k].is_blank())
        .unwrap_or(lines.len());
    let block_subject = start
        .block
        .as_ref()
        .and_then(|b| b.get(Field::Subject))
        .map(trim)
        .filter(|s| !s.is_empty());
    // The body ends at a shallower line, or at the next message of a conversation forwarded
    // whole (another `Forwarded message` block at the same depth as this one's).
    let explicit = start.explicit && start.block.is_some();
    let sep_depth = lines.get(start.at).map_or(0, |l| l.depth);
    let mut look_for_siblings = explicit && sep_depth == d;
    let sep_text = lines.get(start.at).map_or("", |l| l.text());
    let mut body_end = lines.len();
    let mut next = None;
    for k in body_from..lines.len() {
        let line = &lines[k];
        if line.is_blank() {
            continue;
        }
        if line.depth < d {
            body_end = k;
            break;
        }
        // Asked about the subject only when a separator like ours comes (rarely).
        if look_for_siblings && line.depth == sep_depth && line.text() == sep_text {
            if may_hold_forward(block_subject) {
                look_for_siblings = false;
            } else if let Some(sibling) = sibling_start(lines, start.at, k, subject_hint) {
                body_end = k;
                next = Some(sibling);
                break;
            }
        }
    }
    let body_lines = &lines[body_from..body_end];

    let mut email = ForwardedEmail {
        body: render(body_lines, d, start.indent),
        ..ForwardedEmail::default()
    };
    let mut langs = LangSet::ALL;
    if let Some(block) = &start.block {
        langs = block.langs;
        email.subject = block_subject.map(str::to_string);
        email.date = block
            .get(Field::Date)
            .map(trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        email.from = block.get(Field::From).and_then(parse_person);
        email.to = block.get(Field::To).map(parse_people).unwrap_or_default();
        email.cc = block.get(Field::Cc).map(parse_people).unwrap_or_default();
    } else if let Some(a) = start.attribution {
        let (from, date) = attribution::parts(&attribution::text_of(lines, a));
        email.from = from;
        email.date = date;
    }
    let parsed = email
        .date
        .as_deref()
        .and_then(|d| date::parse_zoned(d, langs));
    email.timestamp = parsed.map(|(ms, _)| ms);
    email.date_has_zone = parsed.is_some_and(|(_, zoned)| zoned);
    if email.subject.is_none() {
        email.subject = subject_hint
            .map(subject::strip_forward)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }

    let mut chain = Vec::new();
    if levels > 1 {
        if let Some(inner) = find(body_lines, email.subject.as_deref(), levels - 1) {
            chain.push(inner.email);
            chain.extend(inner.chain);
        }
    }
    Read {
        email,
        chain,
        end: body_end,
        next,
    }
}

/// Finds the outermost forwarded email in `lines` (and, `levels` deep, the ones inside it).
pub(crate) fn find(lines: &[Line<'_>], subject_hint: Option<&str>, levels: u8) -> Option<Level> {
    let start = find_start(lines, subject_hint)?;
    let Read {
        email,
        chain,
        mut end,
        mut next,
    } = read_email(lines, &start, subject_hint, levels);

    // "Forward all": the next messages follow, each under the same separator (right after
    // the body, or, when the separator is shallower than the content as Apple Mail's, below it).
    let mut siblings = Vec::new();
    if start.explicit && start.block.is_some() {
        while siblings.len() < MAX_SIBLINGS {
            let sibling = match next.take() {
                Some(s) => s,
                None => {
                    let Some(k) = (end..lines.len()).find(|&k| !lines[k].is_blank()) else {
                        break;
                    };
                    let Some(s) = sibling_start(lines, start.at, k, subject_hint) else {
                        break;
                    };
                    s
                }
            };
            // A sibling's own nested forwards stay in its body (not followed).
            let read = read_email(lines, &sibling, subject_hint, 1);
            siblings.push(read.email);
            end = read.end.max(sibling.at + 1);
            next = read.next;
        }
    }

    // The forwarder's note: everything above the forward, plus anything written below it
    // at a shallower quote depth (a signature after an Apple Mail blockquote, say).
    let mut note = render(&lines[..start.at], 0, 0);
    let trailer = render(&lines[end..], 0, 0);
    if !trailer.is_empty() {
        if !note.is_empty() {
            note.push_str("\n\n");
        }
        note.push_str(&trailer);
    }
    Some(Level {
        note: non_empty(note),
        email,
        chain,
        siblings,
    })
}

/// Forward extraction over prepared lines.
pub(crate) fn forward_in(lines: &[Line<'_>], subject: Option<&str>) -> Forward {
    match find(lines, subject, MAX_CHAIN) {
        Some(level) => Forward {
            forwarded: true,
            message: level.note,
            email: Some(level.email),
            chain: level.chain,
            siblings: level.siblings,
        },
        None => Forward::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators() {
        assert_eq!(
            separator("---------- Forwarded message ---------").map(|s| s.0),
            Some(SeparatorKind::Forward)
        );
        assert_eq!(
            separator("Begin forwarded message:").map(|s| s.0),
            Some(SeparatorKind::Forward)
        );
        assert_eq!(
            separator("-----Original Message-----").map(|s| s.0),
            Some(SeparatorKind::Original)
        );
        assert_eq!(
            separator("-----Ursprüngliche Nachricht-----").map(|s| s.0),
            Some(SeparatorKind::Original)
        );
        assert_eq!(
            separator("-------- Preposlaná správa --- Forwarded Message --------").map(|s| s.0),
            Some(SeparatorKind::Forward)
        );
        assert_eq!(
            separator("----- Forwarded Message -----From: A <a@x.com>"),
            Some((SeparatorKind::Forward, "From: A <a@x.com>"))
        );
        assert_eq!(separator("Forwarded message"), None);
        assert_eq!(separator("---"), None);
    }
}
