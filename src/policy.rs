//! The logging policy: should this email be logged, against whom, and why (or why not).
//!
//! [`decide`] is a pure function of the email, the settings and a [`Context`] of facts the edges
//! looked up beforehand (who is a contact, which logged thread the email belongs to, whether it
//! was logged already). Every outcome carries [`Reason`]s, whole-email and per-recipient, so the
//! UI can tell the user in their language exactly why something was or was not logged.
//!
//! The rules follow what users of CRM email logging expect (see docs/policy.md):
//! - a checked email is logged against every external recipient not on the never-log list; an
//!   excluded recipient does not stop the others from being logged;
//! - mail among internal addresses only is not logged unless the settings say so;
//! - an incoming email is logged automatically only when it belongs to a logged thread and its
//!   sender is a known contact (and not never-log);
//! - a forward is logged against the original sender;
//! - attachments beyond the size limit are dropped, the email still logs.

use crate::address::Mailbox;
use crate::email::{Attachment, Email};
use crate::reason::{Reason, ReasonCode};
use crate::record::{ContactRef, Direction};
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// What asks for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// The user sent the email from a compose window; `logChecked` is the Log checkbox.
    #[serde(rename_all = "camelCase")]
    Send { log_checked: bool },
    /// "Log this email" on an opened message.
    Manual,
    /// A message arrived (thread tracking in the browser, the connected inbox over IMAP).
    Incoming,
    /// A BCC copy reached the logging mailbox.
    BccCopy,
    /// A forwarded original (the email given to [`decide`] is the original, reconstructed by
    /// forward extraction), forwarded to the CRM's forwarding address.
    Forwarded,
    /// A forwarded original the user logged with "Log this email": treated as a forward, with
    /// the reason `logged-manually`.
    ManualForward,
}

/// `{"kind": …, "logChecked": …}` read by hand (why: `crate::json_read`): the same JSON as
/// serde's tagged derive writes.
impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields {
            kind: String,
            log_checked: Option<bool>,
        }
        let f = Fields::deserialize(d)?;
        Ok(match f.kind.as_str() {
            "send" => Trigger::Send {
                log_checked: crate::json_read::required(f.log_checked, "logChecked")?,
            },
            "manual" => Trigger::Manual,
            "incoming" => Trigger::Incoming,
            "bcc-copy" => Trigger::BccCopy,
            "forwarded" => Trigger::Forwarded,
            "manual-forward" => Trigger::ManualForward,
            other => {
                return Err(D::Error::unknown_variant(
                    other,
                    &[
                        "send",
                        "manual",
                        "incoming",
                        "bcc-copy",
                        "forwarded",
                        "manual-forward",
                    ],
                ))
            }
        })
    }
}

/// Who is a contact in the CRM. Implemented by the edges (a set fetched from the endpoint's
/// lookup API, a database query); addresses are normalised.
pub trait ContactDirectory {
    fn is_contact(&self, normalized: &str) -> bool;
}

impl ContactDirectory for HashSet<String> {
    fn is_contact(&self, normalized: &str) -> bool {
        self.contains(normalized)
    }
}

impl ContactDirectory for BTreeSet<String> {
    fn is_contact(&self, normalized: &str) -> bool {
        self.contains(normalized)
    }
}

impl ContactDirectory for [String] {
    fn is_contact(&self, normalized: &str) -> bool {
        self.iter().any(|c| c == normalized)
    }
}

impl ContactDirectory for Vec<String> {
    fn is_contact(&self, normalized: &str) -> bool {
        self.as_slice().is_contact(normalized)
    }
}

/// Facts the edges looked up before asking.
pub struct Context<'a> {
    pub trigger: Trigger,
    pub contacts: &'a dyn ContactDirectory,
    /// True when the email belongs to a logged thread (the thread tracker matched it).
    pub in_logged_thread: bool,
    /// True when a record with this email's idempotency key already exists (outbox, endpoint).
    pub already_logged: bool,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Log it (by pushing a record, adding the BCC, or both).
    pub log: bool,
    pub direction: Direction,
    /// Push a record to the endpoint.
    pub push: bool,
    /// Add this BCC address to the outgoing email before it is sent (BCC mode).
    pub add_bcc: Option<String>,
    /// Contacts to associate.
    pub contacts: Vec<ContactRef>,
    /// Attachments that will not be sent (metadata only).
    pub dropped_attachments: Vec<Attachment>,
    /// Whole-email reasons first, then per-address and per-attachment ones.
    pub reasons: Vec<Reason>,
}

impl Decision {
    fn logged(direction: Direction, contacts: Vec<ContactRef>, reasons: Vec<Reason>) -> Self {
        Decision {
            log: true,
            direction,
            push: true,
            add_bcc: None,
            contacts,
            dropped_attachments: Vec::new(),
            reasons,
        }
    }

    pub(crate) fn not_logged(direction: Direction, reasons: Vec<Reason>) -> Self {
        Decision {
            log: false,
            direction,
            push: false,
            add_bcc: None,
            contacts: Vec::new(),
            dropped_attachments: Vec::new(),
            reasons,
        }
    }

    /// True when any reason has this code.
    pub fn has(&self, code: ReasonCode) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// The reason codes, in order, without repeats.
    pub fn codes(&self) -> Vec<ReasonCode> {
        let mut seen = Vec::new();
        for r in &self.reasons {
            if !seen.contains(&r.code) {
                seen.push(r.code);
            }
        }
        seen
    }
}

/// Decides. `settings` must be validated ([`Settings::validate`]) so addresses are normalised.
pub fn decide(email: &Email, settings: &Settings, ctx: &Context<'_>) -> Decision {
    match ctx.trigger {
        Trigger::Send { log_checked } => {
            decide_outgoing(email, settings, ctx, log_checked, ReasonCode::LogChecked)
        }
        Trigger::BccCopy => decide_outgoing(email, settings, ctx, true, ReasonCode::BccCopy),
        Trigger::Incoming => decide_incoming(email, settings, ctx),
        Trigger::Manual => decide_manual(email, settings, ctx),
        Trigger::Forwarded => decide_forwarded(email, settings, ctx, ReasonCode::ForwardedToCrm),
        Trigger::ManualForward => {
            decide_forwarded(email, settings, ctx, ReasonCode::LoggedManually)
        }
    }
}

/// The direction [`decide`] gives an email for a trigger, known before deciding: the engine
/// needs it first, for the duplicate check's idempotency key (which, for an email without a
/// Message-ID, depends on the direction).
pub fn direction(email: &Email, settings: &Settings, trigger: Trigger) -> Direction {
    match trigger {
        Trigger::Send { .. } | Trigger::BccCopy => Direction::Outgoing,
        Trigger::Incoming => Direction::Incoming,
        Trigger::Forwarded | Trigger::ManualForward => Direction::Forwarded,
        // "Log this email": the user's own sent email is outgoing, anything else incoming.
        Trigger::Manual => match &email.from {
            Some(sender) if settings.is_user(&sender.normalized) => Direction::Outgoing,
            _ => Direction::Incoming,
        },
    }
}

/// Sent by the user: logged against the external recipients.
fn decide_outgoing(
    email: &Email,
    settings: &Settings,
    ctx: &Context<'_>,
    checked: bool,
    why: ReasonCode,
) -> Decision {
    let direction = Direction::Outgoing;
    if !checked {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::LogUnchecked)]);
    }
    if ctx.already_logged {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::Duplicate)]);
    }
    let mut reasons = vec![Reason::new(why)];
    let people = recipients_to_log(email, settings);
    let (contacts, excluded) = associate(&people, settings, ctx, true);
    if contacts.is_empty() {
        // The sender is the user, so it is internal-only when every recipient is internal.
        let internal_only =
            !people.is_empty() && people.iter().all(|m| settings.is_internal(&m.normalized));
        return nobody_left(
            direction,
            why,
            people,
            excluded,
            internal_only,
            email,
            settings,
            ctx,
        );
    }
    reasons.extend(excluded);
    finish(
        Decision::logged(direction, contacts, reasons),
        email,
        settings,
        ctx,
    )
}

/// Completes a decision to log: how a sent email reaches the CRM (push, BCC, or both: only a
/// send has a BCC to add), then the attachment and body limits.
fn finish(mut d: Decision, email: &Email, settings: &Settings, ctx: &Context<'_>) -> Decision {
    if matches!(ctx.trigger, Trigger::Send { .. }) {
        d.push = settings.mode.pushes();
        if let Some(bcc) = settings
            .bcc_address
            .as_ref()
            .filter(|_| settings.mode.adds_bcc())
        {
            if email.recipients().any(|m| &m.normalized == bcc) {
                d.reasons
                    .push(Reason::about(ReasonCode::BccAlreadyPresent, bcc));
            } else {
                d.add_bcc = Some(bcc.clone());
                d.reasons.push(Reason::about(ReasonCode::BccAdded, bcc));
            }
        }
    }
    apply_size_limits(email, settings, &mut d);
    d
}

/// The decision when nobody was left to log against, choosing the most useful reason:
/// internal-only when every participant is internal (and internal mail is not logged), else
/// no-loggable-recipients. Internal-only mail is logged, against the internal people, when the
/// settings ask for it.
#[allow(clippy::too_many_arguments)]
fn nobody_left(
    direction: Direction,
    why: ReasonCode,
    people: Vec<&Mailbox>,
    excluded: Vec<Reason>,
    internal_only: bool,
    email: &Email,
    settings: &Settings,
    ctx: &Context<'_>,
) -> Decision {
    if internal_only && settings.log_internal_only {
        // The same rules as for external people (never-log, and no contact is created when the
        // settings say not to), minus the internal exclusion itself.
        let (contacts, internal_excluded) = associate(&people, settings, ctx, false);
        if !contacts.is_empty() {
            let reasons = std::iter::once(Reason::new(why))
                .chain(
                    excluded
                        .into_iter()
                        .filter(|r| r.code != ReasonCode::InternalRecipient),
                )
                .chain(
                    internal_excluded
                        .into_iter()
                        .filter(|r| r.code == ReasonCode::RecipientNotContact),
                )
                .collect();
            return finish(
                Decision::logged(direction, contacts, reasons),
                email,
                settings,
                ctx,
            );
        }
    }
    let code = if internal_only {
        ReasonCode::InternalOnly
    } else {
        ReasonCode::NoLoggableRecipients
    };
    Decision::not_logged(
        direction,
        std::iter::once(Reason::new(code)).chain(excluded).collect(),
    )
}

/// Splits people into contacts to associate and per-address exclusion reasons.
/// `external_only`: internal people are excluded (with a reason) rather than associated.
fn associate(
    people: &[&Mailbox],
    settings: &Settings,
    ctx: &Context<'_>,
    external_only: bool,
) -> (Vec<ContactRef>, Vec<Reason>) {
    let mut contacts = Vec::new();
    let mut excluded = Vec::new();
    for m in people {
        let addr = &m.normalized;
        if settings.is_user(addr) {
            continue; // the user themself is never a contact, and not worth a reason
        }
        if let Some(code) = settings.never_log_reason(addr) {
            excluded.push(Reason::about(code, addr));
            continue;
        }
        if external_only && settings.is_internal(addr) {
            excluded.push(Reason::about(ReasonCode::InternalRecipient, addr));
            continue;
        }
        if !settings.create_contacts && !ctx.contacts.is_contact(addr) {
            excluded.push(Reason::about(ReasonCode::RecipientNotContact, addr));
            continue;
        }
        contacts.push(contact_ref(m, settings, ctx));
    }
    (contacts, excluded)
}

fn contact_ref(m: &Mailbox, settings: &Settings, ctx: &Context<'_>) -> ContactRef {
    ContactRef {
        address: m.normalized.clone(),
        name: m.name.clone(),
        create: settings.create_contacts && !ctx.contacts.is_contact(&m.normalized),
    }
}

/// A message that arrived: logged only as a contact's reply in a logged thread.
fn decide_incoming(email: &Email, settings: &Settings, ctx: &Context<'_>) -> Decision {
    let direction = Direction::Incoming;
    let Some(sender) = &email.from else {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::NoSender)]);
    };
    let addr = &sender.normalized;
    if ctx.already_logged {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::Duplicate)]);
    }
    if settings.is_user(addr) {
        return Decision::not_logged(direction, vec![Reason::about(ReasonCode::OwnMessage, addr)]);
    }
    if let Some(code) = settings.never_log_reason(addr) {
        return Decision::not_logged(
            direction,
            vec![
                Reason::about(ReasonCode::SenderNeverLog, addr),
                Reason::about(code, addr),
            ],
        );
    }
    if !ctx.in_logged_thread {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::ThreadNotLogged)]);
    }
    if email.auto_submitted || crate::subject::is_auto_reply(&email.subject) {
        return Decision::not_logged(
            direction,
            vec![Reason::about(ReasonCode::AutoSubmitted, addr)],
        );
    }
    if settings.is_internal(addr) && !settings.log_internal_only {
        let all_internal = email
            .participants()
            .all(|m| settings.is_internal(&m.normalized) || settings.is_crm_address(&m.normalized));
        if all_internal {
            return Decision::not_logged(direction, vec![Reason::new(ReasonCode::InternalOnly)]);
        }
    }
    // A colleague is not a customer contact, even if the CRM lists them as one (unless
    // internal mail is logged on purpose): their reply-all in a customer thread is logged from
    // their own mailbox, not here against them.
    let colleague = settings.is_internal(addr) && !settings.log_internal_only;
    if colleague || !ctx.contacts.is_contact(addr) {
        // Replies from someone who is not a contact are not logged and create no contact.
        return Decision::not_logged(
            direction,
            vec![Reason::about(ReasonCode::SenderNotContact, addr)],
        );
    }
    let mut contacts = vec![ContactRef {
        address: addr.clone(),
        name: sender.name.clone(),
        create: false,
    }];
    // Other known contacts on the reply are associated too (never created from a reply).
    for m in unique(email.recipients()) {
        let a = &m.normalized;
        if a != addr
            && !settings.is_internal(a)
            && !settings.is_crm_address(a)
            && settings.never_log_reason(a).is_none()
            && ctx.contacts.is_contact(a)
        {
            contacts.push(ContactRef {
                address: a.clone(),
                name: m.name.clone(),
                create: false,
            });
        }
    }
    finish(
        Decision::logged(
            direction,
            contacts,
            vec![Reason::about(ReasonCode::ReplyInLoggedThread, addr)],
        ),
        email,
        settings,
        ctx,
    )
}

/// "Log this email": the user's explicit choice. Sent by the user → like a checked send;
/// received → logged against its sender.
fn decide_manual(email: &Email, settings: &Settings, ctx: &Context<'_>) -> Decision {
    // The same choice the engine made before deciding (`direction`), not a second copy of it.
    match direction(email, settings, Trigger::Manual) {
        // Already sent: `finish` adds no BCC outside a send.
        Direction::Outgoing => {
            decide_outgoing(email, settings, ctx, true, ReasonCode::LoggedManually)
        }
        incoming => decide_from_sender(email, settings, ctx, incoming, ReasonCode::LoggedManually),
    }
}

/// A forwarded original: logged against its original sender (or, when the user forwarded their
/// own sent email, against its external recipients).
fn decide_forwarded(
    email: &Email,
    settings: &Settings,
    ctx: &Context<'_>,
    why: ReasonCode,
) -> Decision {
    let Some(sender) = &email.from else {
        return Decision::not_logged(
            Direction::Forwarded,
            vec![Reason::new(ReasonCode::ForwardNotRecognised)],
        );
    };
    if settings.is_user(&sender.normalized) {
        let mut d = decide_outgoing(email, settings, ctx, true, why);
        d.direction = Direction::Forwarded;
        return d;
    }
    decide_from_sender(email, settings, ctx, Direction::Forwarded, why)
}

fn decide_from_sender(
    email: &Email,
    settings: &Settings,
    ctx: &Context<'_>,
    direction: Direction,
    why: ReasonCode,
) -> Decision {
    let Some(sender) = &email.from else {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::NoSender)]);
    };
    let addr = &sender.normalized;
    if ctx.already_logged {
        return Decision::not_logged(direction, vec![Reason::new(ReasonCode::Duplicate)]);
    }
    if let Some(code) = settings.never_log_reason(addr) {
        return Decision::not_logged(
            direction,
            vec![
                Reason::about(ReasonCode::SenderNeverLog, addr),
                Reason::about(code, addr),
            ],
        );
    }
    if settings.is_internal(addr) {
        // An internal sender: log against the external people on the email, if any.
        let people = recipients_to_log(email, settings);
        let (contacts, excluded) = associate(&people, settings, ctx, true);
        if contacts.is_empty() {
            let mut all: Vec<&Mailbox> = vec![sender];
            all.extend(people);
            let internal_only = all.iter().all(|m| settings.is_internal(&m.normalized));
            return nobody_left(
                direction,
                why,
                all,
                excluded,
                internal_only,
                email,
                settings,
                ctx,
            );
        }
        let reasons = std::iter::once(Reason::new(why)).chain(excluded).collect();
        return finish(
            Decision::logged(direction, contacts, reasons),
            email,
            settings,
            ctx,
        );
    }
    let mut reasons = vec![Reason::new(why)];
    if !settings.create_contacts && !ctx.contacts.is_contact(addr) {
        reasons.push(Reason::about(ReasonCode::RecipientNotContact, addr));
        return Decision::not_logged(direction, {
            let mut r = vec![Reason::new(ReasonCode::NoLoggableRecipients)];
            r.extend(reasons.into_iter().skip(1));
            r
        });
    }
    let contact = contact_ref(sender, settings, ctx);
    if contact.create {
        reasons.push(Reason::about(ReasonCode::ContactCreated, addr));
    }
    finish(
        Decision::logged(direction, vec![contact], reasons),
        email,
        settings,
        ctx,
    )
}

/// Attachments: first-fit within the total limit (the email still logs without the rest);
/// bodies: flagged when over the body limit (the record builder truncates).
fn apply_size_limits(email: &Email, settings: &Settings, d: &mut Decision) {
    for c in &d.contacts {
        if c.create
            && !d.reasons.iter().any(|r| {
                r.code == ReasonCode::ContactCreated && r.address.as_deref() == Some(&c.address)
            })
        {
            d.reasons
                .push(Reason::about(ReasonCode::ContactCreated, &c.address));
        }
    }
    if !settings.include_attachments {
        if !email.attachments.is_empty() {
            d.dropped_attachments = email.attachments.iter().map(Attachment::metadata).collect();
            d.reasons.push(Reason::new(ReasonCode::AttachmentsDisabled));
        }
    } else {
        let mut used: u64 = 0;
        for a in &email.attachments {
            if used.saturating_add(a.size) <= settings.attachment_limit {
                used += a.size;
            } else {
                d.dropped_attachments.push(a.metadata());
                d.reasons.push(
                    Reason::new(ReasonCode::AttachmentsTooLarge).with_detail(format!(
                        "{} ({} bytes)",
                        a.name.as_deref().unwrap_or("attachment"),
                        a.size
                    )),
                );
            }
        }
    }
    let limit = settings.body_limit_bytes();
    if email.text.as_ref().is_some_and(|t| t.len() > limit)
        || email.html.as_ref().is_some_and(|h| h.len() > limit)
    {
        d.reasons.push(Reason::new(ReasonCode::BodyTruncated));
    }
}

/// The recipients a record could be associated with: each once, without the CRM's own
/// BCC and forwarding addresses.
fn recipients_to_log<'a>(email: &'a Email, settings: &Settings) -> Vec<&'a Mailbox> {
    unique(email.recipients())
        .into_iter()
        .filter(|m| !settings.is_crm_address(&m.normalized))
        .collect()
}

/// Mailboxes without repeats (by normalised address), in first-seen order.
fn unique<'a>(items: impl Iterator<Item = &'a Mailbox>) -> Vec<&'a Mailbox> {
    let mut seen = HashSet::new();
    items
        .filter(|m| seen.insert(m.normalized.as_str()))
        .collect()
}
