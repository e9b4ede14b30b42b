//! Splitting a reply into the new text, the quoted history and the signature.
//!
//! The history starts at the first of: an HTML quote container (Gmail `gmail_quote`,
//! Outlook `divRplyFwdMsg`/`appendonsend`/border-top separator, Thunderbird
//! `moz-cite-prefix`, Yahoo `yahoo_quoted`), an attribution line ("On … wrote:" in every
//! language, also wrapped), a separator (`-----Original Message-----`, forward separators),
//! an Outlook header block (`From:` + `Sent:`/`To:`/`Subject:`), or a `>` quoted line.
//! When the history is plain `>` quoting without any of the others, text written between
//! and after the quoted lines (inline or bottom posting) is part of the reply too.
//!
//! The signature is the text after a `-- ` delimiter, an HTML signature container, or a
//! trailing "Sent from my iPhone"-style line (in the languages of [`super::lang`]).

use super::attribution::attribution_at;
use super::forward::{is_rule, separator};
use super::headers::{header_line, parse_block};
use super::lang::{strip_prefix_lower, Field, SENT_FROM_PREFIXES, SENT_FROM_SUFFIXES};
use super::lines::{non_empty, render_picked, trim, Line, Mark};
use super::ReplyParts;

#[derive(Clone, Copy, PartialEq, Eq)]
enum QuoteKind {
    /// Everything from the start line on is history.
    Block,
    /// Only `>` lines are history.
    Plain,
}

fn quote_start(lines: &[Line<'_>]) -> Option<(usize, QuoteKind)> {
    for (i, line) in lines.iter().enumerate() {
        if line.mark.has(Mark::QUOTE_START) {
            return Some((i, QuoteKind::Block));
        }
        let t = line.text();
        if t.is_empty() {
            continue;
        }
        if line.depth > 0 {
            return Some((i, QuoteKind::Plain));
        }
        if separator(t).is_some() {
            return Some((i, QuoteKind::Block));
        }
        if is_rule(t) {
            let next = (i + 1..lines.len().min(i + 4)).find(|&j| !lines[j].is_blank());
            if next.is_some_and(|j| {
                header_line(lines[j].text()).is_some_and(|m| m.field == Field::From)
            }) {
                return Some((i, QuoteKind::Block));
            }
        }
        if let Some(m) = header_line(t) {
            if matches!(m.field, Field::From | Field::Date) {
                if let Some(block) = parse_block(lines, i, line.depth, None, false) {
                    if block.has(Field::From) && block.others() >= 1 {
                        return Some((i, QuoteKind::Block));
                    }
                }
            }
        }
        if attribution_at(lines, i).is_some() {
            return Some((i, QuoteKind::Block));
        }
    }
    None
}

/// Splits prepared lines.
pub(crate) fn split(lines: &[Line<'_>]) -> ReplyParts {
    let n = lines.len();
    let mut trailing_sig: Option<Vec<usize>> = None;
    let (reply_idx, quoted_idx): (Vec<usize>, Vec<usize>) = match quote_start(lines) {
        None => ((0..n).collect(), Vec::new()),
        Some((q, QuoteKind::Block))
            if (0..q).all(|i| lines[i].is_blank()) && attribution_at(lines, q).is_some() =>
        {
            // Nothing above the attribution: the answers are written between the quoted
            // lines (inline or bottom posting).
            let last = attribution_at(lines, q).map(|a| a.last).unwrap_or(q);
            let reply: Vec<usize> = (last + 1..n).filter(|&i| lines[i].depth == 0).collect();
            let quoted: Vec<usize> = (q..=last)
                .chain((last + 1..n).filter(|&i| lines[i].depth > 0))
                .collect();
            (reply, quoted)
        }
        Some((q, QuoteKind::Block)) => {
            // A signature written below the quoted history (Thunderbird's default): a `-- `
            // line after the last quoted line with only blank lines between.
            let mut end = n;
            if let Some(last_quoted) = (q..n).rev().find(|&i| lines[i].depth > 0) {
                let delim = (last_quoted + 1..n).find(|&i| !lines[i].is_blank());
                if let Some(d) = delim.filter(|&d| is_delimiter(&lines[d]) && n - d <= 16) {
                    if lines[d..].iter().all(|l| l.depth == 0) {
                        trailing_sig = Some((d + 1..n).collect());
                        end = d;
                    }
                }
            }
            ((0..q).collect(), (q..end).collect())
        }
        Some((q, QuoteKind::Plain)) => {
            let reply: Vec<usize> = (0..n).filter(|&i| i < q || lines[i].depth == 0).collect();
            let quoted: Vec<usize> = (q..n).filter(|&i| lines[i].depth > 0).collect();
            (reply, quoted)
        }
    };
    let (body_idx, sig_idx) = split_signature(lines, &reply_idx);
    let signature = sig_idx
        .and_then(|s| non_empty(render_picked(lines, s)))
        .or_else(|| trailing_sig.and_then(|s| non_empty(render_picked(lines, &s))));
    ReplyParts {
        reply: render_picked(lines, body_idx),
        quoted: non_empty(render_picked(lines, &quoted_idx)),
        signature,
    }
}

/// Splits the reply's lines into (text, signature).
fn split_signature<'i>(lines: &[Line<'_>], idx: &'i [usize]) -> (&'i [usize], Option<&'i [usize]>) {
    for (k, &i) in idx.iter().enumerate() {
        let line = &lines[i];
        if is_delimiter(line) && idx.len() - k <= 40 {
            return (&idx[..k], Some(&idx[k + 1..]));
        }
        if line.mark.has(Mark::SIGNATURE) {
            // An HTML signature container may start with its own `-- ` line.
            let rest = if is_delimiter(line) {
                &idx[k + 1..]
            } else {
                &idx[k..]
            };
            return (&idx[..k], Some(rest));
        }
    }
    // "Sent from my iPhone" among the last three non-blank lines.
    let mut seen = 0;
    let mut found = None;
    for (k, &i) in idx.iter().enumerate().rev() {
        let t = lines[i].text();
        if t.is_empty() {
            continue;
        }
        seen += 1;
        if seen > 3 {
            break;
        }
        if is_sent_from(t) {
            found = Some(k);
        }
    }
    match found {
        Some(k) => (&idx[..k], Some(&idx[k..])),
        None => (idx, None),
    }
}

/// The `-- ` signature delimiter (also without its space, as HTML-to-text leaves it).
fn is_delimiter(line: &Line<'_>) -> bool {
    line.depth == 0 && matches!(line.content().trim_end_matches(['\r', ' ', '\u{a0}']), "--")
}

/// "Sent from my iPhone", "Von meinem iPhone gesendet", "iPhoneから送信", …
pub(crate) fn is_sent_from(t: &str) -> bool {
    let t = trim(t);
    if t.chars().count() > 80 {
        return false;
    }
    if SENT_FROM_PREFIXES
        .iter()
        .any(|p| strip_prefix_lower(t, p).is_some())
    {
        return true;
    }
    let lower = t.to_lowercase();
    SENT_FROM_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::lines::split_lines;

    fn parts(s: &str) -> ReplyParts {
        split(&split_lines(s, &[]))
    }

    #[test]
    fn gmail_text() {
        let r = parts(
            "Thanks!\n\n-- \nJohn\n\nOn Mon, Oct 25, 2021 at 11:17 AM Ann <a@x.com> wrote:\n> Hi\n",
        );
        assert_eq!(r.reply, "Thanks!");
        assert_eq!(r.signature.as_deref(), Some("John"));
        assert_eq!(
            r.quoted.as_deref(),
            Some("On Mon, Oct 25, 2021 at 11:17 AM Ann <a@x.com> wrote:\n> Hi")
        );
    }

    #[test]
    fn bottom_posting() {
        let r = parts("> question?\n\nanswer\n\nSent from my iPhone");
        assert_eq!(r.reply, "answer");
        assert_eq!(r.quoted.as_deref(), Some("> question?"));
        assert_eq!(r.signature.as_deref(), Some("Sent from my iPhone"));
    }

    #[test]
    fn no_quote() {
        let r = parts("Just text\n");
        assert_eq!(r.reply, "Just text");
        assert_eq!(r.quoted, None);
        assert_eq!(r.signature, None);
    }
}
