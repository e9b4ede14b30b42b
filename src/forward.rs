//! Turning a forwarding message into the original email that should be logged.
//!
//! Two shapes exist in the wild: the original attached as `message/rfc822` (Outlook's "forward as
//! attachment", Apple Mail, the IMAP logging mailbox), which is parsed as a full message with its
//! own Message-ID and attachments; and the original pasted into the body under a localised
//! header block, which [`crate::extract`] recovers.

use crate::address::Mailbox;
use crate::email::{Email, EmailDate, ParseOptions};
use crate::extract::message::AttachedEmail;
use crate::extract::{self, ForwardedEmail, Person};
use crate::record::{ForwardInfo, Participant};

/// The original email inside a forward, who forwarded it, and how many more forwarded emails
/// the message holds that are not logged with it (several attached originals). `None` when
/// `raw` is not a forward.
///
/// `is_internal` says whether a normalised address is one of ours (the user's, or in an internal
/// domain): in a forward of a forward (a customer wrote to a colleague, who forwarded it to the
/// user, who forwards it to the CRM) the email to log is the customer's, not the colleague's.
pub fn original_of(
    message: &mail_parser::Message<'_>,
    forwarding: &Email,
    keep_attachment_data: bool,
    is_internal: &dyn Fn(&str) -> bool,
) -> Option<(Email, ForwardInfo, usize)> {
    let (attached, attached_more) = attached_originals(message, keep_attachment_data);
    let (mut original, note, more) = match attached {
        Some(original) => {
            let note = forwarding
                .text
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            (original, note, attached_more)
        }
        None => {
            let forward = body_forward(message, forwarding)?;
            let email = email_to_log(&forward, is_internal)?;
            // Gmail's "Forward all": one block per message of the conversation.
            let more = forward.siblings.len();
            (
                from_extracted(email, forwarding),
                forward.message.clone(),
                more,
            )
        }
    };
    original.from.as_ref()?;
    // An original whose date cannot be read is dated by its forward (record.md: "a forward's
    // original date when it could be read, else the forward's"), not by the moment it is logged.
    if original.date.is_none() {
        original.date = forwarding.date.clone();
    }
    let info = ForwardInfo {
        by: forwarding.from.as_ref().map(Participant::from),
        note,
        at: forwarding.date.as_ref().map(|d| d.timestamp),
        message_id: forwarding.message_id.clone(),
    };
    Some((original, info, more))
}

/// The first `message/rfc822` (or `.eml`) attachment, parsed, and how many more there are.
fn attached_originals(
    message: &mail_parser::Message<'_>,
    keep_attachment_data: bool,
) -> (Option<Email>, usize) {
    let mut first = None;
    let mut more = 0;
    for part in message.attachments() {
        let Some(attached) = AttachedEmail::of(part) else {
            continue;
        };
        if first.is_some() {
            // Counted, not parsed: each is logged when forwarded on its own.
            more += 1;
            continue;
        }
        let bytes = attached.raw();
        let options = ParseOptions {
            keep_attachment_data,
            ..Default::default()
        };
        if let Ok(mut email) = Email::from_raw(bytes, options) {
            if email.from.is_some() {
                email.source = crate::email::Source::default();
                first = Some(email);
            }
        }
    }
    (first, more)
}

/// Forward extraction from the body: the real text part first (HTML converted to text by the
/// parser would lose the structure the HTML extractor uses), else the HTML; the HTML too when a
/// real text part shows nothing.
fn body_forward(message: &mail_parser::Message<'_>, email: &Email) -> Option<extract::Forward> {
    let subject = Some(email.subject.as_str());
    let text_is_real = message.text_part(0).is_some_and(|p| !p.is_text_html());
    let from_text = || {
        email
            .text
            .as_deref()
            .map(|t| extract::forward_from_text(t, subject))
    };
    let from_html = || {
        email
            .html
            .as_deref()
            .map(|h| extract::forward_from_html(h, subject))
    };
    // Found means found with a sender: a text part whose header block lost its `From:` (a
    // wrapped line, a client's odd layout) is worth less than an HTML part that has it.
    let found = |f: &Option<extract::Forward>| {
        f.as_ref()
            .is_some_and(|f| f.forwarded && f.email.as_ref().is_some_and(|e| e.from.is_some()))
    };
    let mut forward = if text_is_real || email.html.is_none() {
        from_text()
    } else {
        from_html()
    };
    // A real text part that shows no forward may still be the alternative of an HTML part that
    // does (clients differ in what they put in each). Text derived from the HTML is not worth a
    // second look: the HTML extractor has already seen the same content, with its structure.
    if !found(&forward) && text_is_real {
        let other = from_html();
        if found(&other) {
            forward = other;
        }
    }
    forward.filter(|f| f.forwarded && f.email.is_some())
}

/// The outermost forwarded email, unless one of us wrote it: then the first email inside it
/// written by someone outside (when there is none, the outermost after all).
fn email_to_log<'a>(
    forward: &'a extract::Forward,
    is_internal: &dyn Fn(&str) -> bool,
) -> Option<&'a ForwardedEmail> {
    let outermost = forward.email.as_ref()?;
    let from_us = |e: &ForwardedEmail| {
        e.from
            .as_ref()
            .and_then(|p| crate::address::normalize_address(&p.address).ok())
            .is_some_and(|a| is_internal(&a))
    };
    if !from_us(outermost) {
        return Some(outermost);
    }
    Some(
        forward
            .chain
            .iter()
            .find(|e| e.from.is_some() && !from_us(e))
            .unwrap_or(outermost),
    )
}

/// When the original was sent. Clients print the original's date in the forwarder's local time,
/// mostly without a zone (`2026年3月2日(月) 9:30`, `pon., 2 mar 2026 o 09:30`), which the
/// extractor reads as UTC. The forward's own `Date` carries the forwarder's offset: the written
/// time is read in that zone instead. Whatever the reading, the original is never dated after
/// the forward that contains it (a server that stamps `+0000` hides the writer's zone).
fn original_timestamp(fwd: &ForwardedEmail, forwarding: &Email) -> Option<i64> {
    let written = fwd.timestamp?;
    let Some(forwarded) = &forwarding.date else {
        return Some(written);
    };
    if fwd.date_has_zone {
        return Some(written);
    }
    let local = written - i64::from(forwarded.offset_minutes) * 60_000;
    Some(local.min(forwarded.timestamp))
}

/// An [`Email`] from the fields forward extraction recovered from the body.
fn from_extracted(fwd: &ForwardedEmail, forwarding: &Email) -> Email {
    let mailbox = |p: &Person| Mailbox::new(p.name.as_deref(), &p.address).ok();
    Email {
        source: forwarding.source,
        subject: fwd.subject.clone().unwrap_or_else(|| {
            crate::subject::strip_prefixes(&forwarding.subject)
                .0
                .to_string()
        }),
        date: original_timestamp(fwd, forwarding).map(EmailDate::from_timestamp_ms),
        from: fwd.from.as_ref().and_then(mailbox),
        to: fwd.to.iter().filter_map(mailbox).collect(),
        cc: fwd.cc.iter().filter_map(mailbox).collect(),
        text: Some(fwd.body.clone()),
        // Clients forward the original's attachments along with the text.
        attachments: forwarding.attachments.clone(),
        ..Default::default()
    }
}
