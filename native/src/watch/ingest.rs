//! What happens to each message the watcher sees, by role. The engine decides (policy, thread
//! tracking, records, outbox); this module only chooses the trigger, looks contacts up at the
//! endpoint once per batch, and turns outcomes into verdicts the log and the status can show.
//!
//! - Logging mailbox: a message sent to the mailbox directly (To/Cc) is a forward and is logged
//!   as forwarded with its original sender (the engine's forward extraction); one that reached it
//!   as a BCC copy is logged as outgoing, against its recipients. A message CC'd to the mailbox
//!   that is not a forward is logged like a BCC copy. Only messages from the team's own
//!   addresses are accepted, like a CRM's BCC address: otherwise anyone who learns the address
//!   could put mail on customers' timelines.
//! - Connected inbox, INBOX: headers first; the engine's dry run says whether the message could
//!   be a reply to log (logged thread, known contact); only those are fetched in full.
//! - Connected inbox, Sent folder: a sent email whose record the endpoint has (found by its
//!   key, its Message-ID, or the draft id Outlook's `X-Mailtrail-Draft` names), that carried the
//!   CRM's BCC address, or that is itself a reply in a logged thread makes its thread a logged
//!   thread, whatever device sent it (see [`sent_batch`]).

use super::config::Account;
use super::endpoint::Endpoint;
use mailtrail::email::Email;
use mailtrail::engine::{Engine, Outcome, ProcessOptions};
use mailtrail::policy::Trigger;
use mailtrail::reason::{Reason, ReasonCode};
use std::collections::HashSet;

/// A fetched message (headers only or whole, depending on the stage).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub bytes: Vec<u8>,
    pub internal_date_ms: Option<i64>,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A record was queued for the endpoint.
    Logged {
        key: String,
        direction: String,
        contacts: Vec<String>,
    },
    /// Not logged, with the engine's reasons (or the watcher's own).
    Skipped { reasons: String },
    /// The message could not be handled (not an email, too large).
    Failed { error: String },
}

/// A verdict with what people need to recognise the message in a log line.
#[derive(Debug, Clone)]
pub struct Handled {
    pub uid: u32,
    pub subject: String,
    pub from: String,
    pub verdict: Verdict,
}

/// Reasons as one line: `sender-not-contact (carol@example.com), …`.
pub fn reasons_text(reasons: &[Reason]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in reasons {
        let mut s = r.code.as_str().to_string();
        if let Some(a) = &r.address {
            s.push_str(&format!(" ({a})"));
        }
        if let Some(d) = &r.detail {
            s.push_str(&format!(": {d}"));
        }
        if !parts.contains(&s) {
            parts.push(s);
        }
    }
    parts.join(", ")
}

fn verdict_of(outcome: &Outcome) -> Verdict {
    match &outcome.record {
        Some(r) if outcome.decision.log && outcome.queued => Verdict::Logged {
            key: r.idempotency_key.clone(),
            direction: format!("{:?}", outcome.decision.direction).to_lowercase(),
            contacts: outcome
                .decision
                .contacts
                .iter()
                .map(|c| c.address.clone())
                .collect(),
        },
        Some(_) if outcome.decision.log => Verdict::Skipped {
            reasons: "duplicate (already in the outbox)".into(),
        },
        _ => Verdict::Skipped {
            reasons: reasons_text(&outcome.decision.reasons),
        },
    }
}

fn describe(email: &Email) -> (String, String) {
    (
        email.subject.clone(),
        email
            .from
            .as_ref()
            .map(|m| m.normalized.clone())
            .unwrap_or_default(),
    )
}

/// Where a batch stopped because the endpoint could not answer a question its decisions depend
/// on (a contact lookup, "was this sent email logged?"). Messages from `at_uid` on were not
/// decided: the caller keeps its checkpoint before them, so the next pass asks again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub at_uid: u32,
    pub error: String,
}

/// Asks the endpoint about these addresses (the engine adds the contacts it logged against
/// before). An endpoint that cannot look contacts up (a webhook) answers with none; an error is
/// returned, never taken for "nobody is a contact": that would skip a contact's reply for good.
async fn lookup(endpoint: &Endpoint, addresses: Vec<String>) -> Result<HashSet<String>, String> {
    if addresses.is_empty() {
        return Ok(HashSet::new());
    }
    match endpoint.lookup(&addresses).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Ok(HashSet::new()),
        Err(e) => Err(format!("contact lookup failed: {e}")),
    }
}

fn dry() -> ProcessOptions {
    ProcessOptions {
        dry_run: true,
        ..Default::default()
    }
}

/// True when the logging mailbox is a direct recipient (To/Cc): the message was forwarded (or
/// CC'd) to it rather than BCC'd.
fn addressed_to(email: &Email, addresses: &[String]) -> bool {
    email
        .to
        .iter()
        .chain(email.cc.iter())
        .any(|m| addresses.contains(&m.normalized))
}

/// Whether the sender may log through the logging mailbox. With neither user addresses nor
/// internal domains configured, everyone may (the watcher warns about it at start).
fn sender_allowed(engine: &Engine, email: &Email) -> Result<(), String> {
    let s = engine.settings();
    if s.user_addresses.is_empty() && s.internal_domains.is_empty() {
        return Ok(());
    }
    match &email.from {
        Some(m) if s.is_user(&m.normalized) || s.is_internal(&m.normalized) => Ok(()),
        Some(m) => Err(format!(
            "sender-not-a-user ({}): only mail from userAddresses or internalDomains is logged",
            m.normalized
        )),
        None => Err("no-sender".into()),
    }
}

/// The addresses to ask the endpoint about before deciding on a logging mailbox's message: the
/// people the decision may need to know are contacts, as the engine sees the message
/// ([`Engine::addresses_to_check_raw`]: for a recognised forward, the original's sender and
/// recipients, not the forwarder's). Chrome, Outlook and `push` ask the same way.
///
/// Not a dry run of the decision without contacts, which the watcher used before: with
/// `createContacts` off, that decision names nobody (nobody is a contact yet), so nobody was
/// asked about and mail to existing contacts was skipped as `no-loggable-recipients`.
///
/// - A message forwarded to the mailbox that is not a recognised forward is logged like a BCC
///   copy (see [`logging_batch`]), so its own people are asked about.
/// - Never-log addresses are left out (the engine's `addresses_to_check` does that for every
///   edge: the CRM is not told about them).
fn lookup_addresses(engine: &Engine, raw: &[u8], email: &Email, trigger: Trigger) -> Vec<String> {
    let mut addresses = engine
        .addresses_to_check_raw(raw, trigger, &ProcessOptions::default())
        .unwrap_or_default();
    if addresses.is_empty() && trigger == Trigger::Forwarded {
        addresses = engine.addresses_to_check(email);
    }
    addresses
}

/// Logging mailbox: every message, BCC copy or forward.
pub async fn logging_batch(
    engine: &mut Engine,
    endpoint: &Endpoint,
    account: &Account,
    messages: &[Fetched],
    now: i64,
) -> (Vec<Handled>, Option<Stopped>) {
    struct Plan<'a> {
        message: &'a Fetched,
        email: Email,
        trigger: Trigger,
    }
    let mut out = Vec::new();
    let mut plans = Vec::new();
    let mut addresses: Vec<String> = Vec::new();
    let own = vec![account.address.clone()];
    for m in messages {
        let email = match engine.parse(&m.bytes) {
            Ok(e) => e,
            Err(e) => {
                out.push(Handled {
                    uid: m.uid,
                    subject: String::new(),
                    from: String::new(),
                    verdict: Verdict::Failed {
                        error: e.to_string(),
                    },
                });
                continue;
            }
        };
        if let Err(why) = sender_allowed(engine, &email) {
            let (subject, from) = describe(&email);
            out.push(Handled {
                uid: m.uid,
                subject,
                from,
                verdict: Verdict::Skipped { reasons: why },
            });
            continue;
        }
        let trigger = if addressed_to(&email, &own) {
            Trigger::Forwarded
        } else {
            Trigger::BccCopy
        };
        addresses.extend(lookup_addresses(engine, &m.bytes, &email, trigger));
        plans.push(Plan {
            message: m,
            email,
            trigger,
        });
    }
    addresses.sort();
    addresses.dedup();
    let contacts = match lookup(endpoint, addresses).await {
        Ok(c) => c,
        Err(error) => {
            // Nothing from the first message that needed the answer on is decided.
            let at_uid = plans.first().map_or(u32::MAX, |p| p.message.uid);
            out.retain(|h| h.uid < at_uid);
            out.sort_by_key(|h| h.uid);
            return (out, Some(Stopped { at_uid, error }));
        }
    };
    for p in plans {
        let mailbox = p.email.from.as_ref().map(|m| m.normalized.clone());
        let options = ProcessOptions {
            mailbox,
            ..Default::default()
        };
        let (subject, from) = describe(&p.email);
        let verdict =
            match engine.process_raw(&p.message.bytes, p.trigger, &contacts, now, &options) {
                Err(e) => Verdict::Failed {
                    error: e.to_string(),
                },
                Ok(outcome)
                    if p.trigger == Trigger::Forwarded
                        && outcome.decision.has(ReasonCode::ForwardNotRecognised) =>
                {
                    // Not a forward: the mailbox was CC'd on an email the user sent. Log it the way a
                    // BCC copy is logged.
                    let copy = engine.process(&p.email, Trigger::BccCopy, &contacts, now, &options);
                    verdict_of(&copy)
                }
                Ok(outcome) => verdict_of(&outcome),
            };
        out.push(Handled {
            uid: p.message.uid,
            subject,
            from,
            verdict,
        });
    }
    out.sort_by_key(|h| h.uid);
    (out, None)
}

/// What [`inbox_screen`] found.
#[derive(Debug, Default)]
pub struct Screen {
    /// Messages to fetch whole: replies the engine would log.
    pub fetch: Vec<u32>,
    /// The contacts the endpoint confirmed.
    pub contacts: HashSet<String>,
    /// Verdicts for the others.
    pub skipped: Vec<Handled>,
    /// Set when the contact lookup failed: nothing from `at_uid` on is in `fetch` or `skipped`.
    pub stopped: Option<Stopped>,
}

/// Connected inbox, first stage: which of these messages (headers only) are worth fetching in
/// full (see [`Screen`]).
/// `window`: (last UID of the first scan, earliest arrival time): messages up to that UID that
/// arrived earlier are from before the inbox was connected.
pub async fn inbox_screen(
    engine: &mut Engine,
    endpoint: &Endpoint,
    headers: &[Fetched],
    window: Option<(u32, i64)>,
    now: i64,
) -> Screen {
    let empty: HashSet<String> = HashSet::new();
    let mut fetch = Vec::new();
    let mut skipped = Vec::new();
    let mut candidates: Vec<(u32, Email)> = Vec::new();
    for m in headers {
        if let (Some((end_uid, since)), Some(at)) = (window, m.internal_date_ms) {
            if m.uid <= end_uid && at < since {
                // Arrived before the inbox was connected (seen again after a UIDVALIDITY change).
                continue;
            }
        }
        let email = match engine.parse(&m.bytes) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(Handled {
                    uid: m.uid,
                    subject: String::new(),
                    from: String::new(),
                    verdict: Verdict::Failed {
                        error: e.to_string(),
                    },
                });
                continue;
            }
        };
        // Here a dry run is the point: it screens headers (is this a reply in a logged thread,
        // could its sender's contact status change the answer?) before anything is fetched
        // whole. Only the messages it leaves open are looked up, with the same addresses
        // Chrome and Outlook ask about (an incoming message is not a forward).
        let outcome = engine.process(&email, Trigger::Incoming, &empty, now, &dry());
        if outcome.decision.log {
            fetch.push(m.uid);
        } else if outcome.decision.has(ReasonCode::SenderNotContact) {
            candidates.push((m.uid, email));
        } else {
            let (subject, from) = describe(&email);
            skipped.push(Handled {
                uid: m.uid,
                subject,
                from,
                verdict: verdict_of(&outcome),
            });
        }
    }
    let mut addresses: Vec<String> = candidates
        .iter()
        .flat_map(|(_, e)| engine.addresses_to_check(e))
        .collect();
    addresses.sort();
    addresses.dedup();
    let contacts = match lookup(endpoint, addresses).await {
        Ok(c) => c,
        Err(error) => {
            // Deciding without the answer would skip a contact's reply as sender-not-contact,
            // and the checkpoint would move past it for good: stop before the first candidate.
            let at_uid = candidates.first().map_or(u32::MAX, |(uid, _)| *uid);
            fetch.retain(|u| *u < at_uid);
            fetch.sort_unstable();
            skipped.retain(|h| h.uid < at_uid);
            return Screen {
                fetch,
                contacts: HashSet::new(),
                skipped,
                stopped: Some(Stopped { at_uid, error }),
            };
        }
    };
    for (uid, email) in candidates {
        let outcome = engine.process(&email, Trigger::Incoming, &contacts, now, &dry());
        if outcome.decision.log {
            fetch.push(uid);
        } else {
            let (subject, from) = describe(&email);
            skipped.push(Handled {
                uid,
                subject,
                from,
                verdict: verdict_of(&outcome),
            });
        }
    }
    fetch.sort_unstable();
    Screen {
        fetch,
        contacts,
        skipped,
        stopped: None,
    }
}

/// Connected inbox, second stage: the whole messages chosen by [`inbox_screen`].
pub fn inbox_log(
    engine: &mut Engine,
    account: &Account,
    messages: &[Fetched],
    contacts: &HashSet<String>,
    now: i64,
) -> Vec<Handled> {
    let options = ProcessOptions {
        mailbox: Some(account.address.clone()),
        ..Default::default()
    };
    messages
        .iter()
        .map(|m| match engine.parse(&m.bytes) {
            Err(e) => Handled {
                uid: m.uid,
                subject: String::new(),
                from: String::new(),
                verdict: Verdict::Failed {
                    error: e.to_string(),
                },
            },
            Ok(email) => {
                let (subject, from) = describe(&email);
                let verdict = match engine.process_raw(
                    &m.bytes,
                    Trigger::Incoming,
                    contacts,
                    now,
                    &options,
                ) {
                    Ok(outcome) => verdict_of(&outcome),
                    Err(e) => Verdict::Failed {
                        error: e.to_string(),
                    },
                };
                Handled {
                    uid: m.uid,
                    subject,
                    from,
                    verdict,
                }
            }
        })
        .collect()
}

/// What the Sent folder taught about one sent email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentVerdict {
    /// Its thread is now a logged thread.
    Tracked(&'static str),
    /// Not logged (as far as the endpoint knows now).
    NotLogged,
    /// The endpoint cannot say (not Mailtrail's local endpoint): only BCC copies, replies in
    /// logged threads and emails Outlook logged at send time (`X-Mailtrail-Draft`) are
    /// recognised.
    Unknown,
    /// No Message-ID: replies could not be matched to it anyway.
    Unusable,
}

/// The header the Outlook add-in puts on an email it logs at send time, naming the compose
/// window (the record's `draftId`): a brand-new email has no Message-ID when its record is made.
pub const DRAFT_HEADER: &str = "X-Mailtrail-Draft";

/// The value of a header in a message's header block (unfolded, trimmed), if present and not
/// empty. Only for headers that are plain ASCII tokens, like [`DRAFT_HEADER`].
pub fn header_value(raw: &[u8], name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    let mut in_it = false;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header block
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_it {
                if let Some(v) = value.as_mut() {
                    v.push(' ');
                    v.push_str(String::from_utf8_lossy(line).trim());
                }
            }
            continue;
        }
        if value.is_some() {
            break; // the first occurrence wins
        }
        in_it = false;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
        {
            in_it = true;
            value = Some(
                String::from_utf8_lossy(&line[colon + 1..])
                    .trim()
                    .to_string(),
            );
        }
    }
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 998 && !v.chars().any(char::is_control))
}

/// Connected inbox, Sent folder: learns the logged threads among these sent emails (headers).
/// `crm_addresses` are the CRM's BCC/forwarding addresses (and the logging mailboxes). Stops at
/// the first email the endpoint cannot answer about (it is down): that one and the later ones
/// get no verdict, so the caller can ask again later instead of passing over them.
///
/// A sent email makes its thread a logged thread when:
/// - this watcher logged it, or it carried the CRM's BCC address;
/// - it is itself a reply in a logged thread (a follow-up sent without logging, from a phone
///   say): its ids join the thread, so a reply naming only it is matched (nothing is logged);
/// - the endpoint has its record, by idempotency key or Message-ID;
/// - it carries `X-Mailtrail-Draft` (Outlook logged it at send time, before it had a
///   Message-ID) and the endpoint has a record with that draft id; an endpoint that cannot be
///   asked (HubSpot, a webhook, an older local endpoint) is not asked: the header is only put
///   on emails the add-in logs, so it is taken as logged.
pub async fn sent_batch(
    engine: &mut Engine,
    endpoint: &Endpoint,
    headers: &[Fetched],
    crm_addresses: &[String],
    now: i64,
) -> (Vec<(u32, SentVerdict)>, Option<Stopped>) {
    let mut out = Vec::with_capacity(headers.len());
    for m in headers {
        let Ok(mut email) = engine.parse(&m.bytes) else {
            out.push((m.uid, SentVerdict::Unusable));
            continue;
        };
        let Some(message_id) = email.message_id.clone() else {
            out.push((m.uid, SentVerdict::Unusable));
            continue;
        };
        let draft = header_value(&m.bytes, DRAFT_HEADER);
        let key = mailtrail::record::idempotency_key(&email, mailtrail::Direction::Outgoing);
        let stop = |error: String| Stopped {
            at_uid: m.uid,
            error: format!("cannot ask the endpoint about a sent email: {error}"),
        };
        let verdict = if engine.outbox().get(&key).is_some() {
            SentVerdict::Tracked("logged by this watcher")
        } else if email.recipients().any(|r| {
            crm_addresses.contains(&r.normalized) || engine.settings().is_crm_address(&r.normalized)
        }) {
            SentVerdict::Tracked("sent with the CRM's BCC address")
        } else if engine.match_reply(&email).is_some() {
            SentVerdict::Tracked("a reply in a logged thread")
        } else {
            match endpoint.is_logged(&key, &message_id).await {
                Ok(Some(true)) => SentVerdict::Tracked("the endpoint has its record"),
                Ok(found) => match &draft {
                    None if found.is_none() => SentVerdict::Unknown,
                    None => SentVerdict::NotLogged,
                    Some(d) => match endpoint.draft_logged(d).await {
                        Ok(Some(true)) => SentVerdict::Tracked(
                            "the endpoint has the record Outlook made at send time (X-Mailtrail-Draft)",
                        ),
                        Ok(Some(false)) => SentVerdict::NotLogged,
                        Ok(None) => SentVerdict::Tracked(
                            "sent from Outlook with Log checked (X-Mailtrail-Draft); the endpoint cannot be asked",
                        ),
                        Err(error) => return (out, Some(stop(error))),
                    },
                },
                Err(error) => return (out, Some(stop(error))),
            }
        };
        if matches!(verdict, SentVerdict::Tracked(_)) {
            if email.draft_id.is_none() {
                email.draft_id = draft;
            }
            engine.track_thread(&email, now);
        }
        out.push((m.uid, verdict));
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A logging mailbox's engine: alice is the team, log@crm.test the mailbox.
    fn mailbox_engine(create_contacts: bool) -> Engine {
        let settings = mailtrail::Settings {
            user_addresses: vec!["alice@ours.test".into()],
            internal_domains: vec!["ours.test".into()],
            forwarding_address: Some("log@crm.test".into()),
            never_log_addresses: vec!["private@client.test".into()],
            create_contacts,
            ..Default::default()
        };
        Engine::new(&settings).unwrap()
    }

    fn asked(engine: &Engine, raw: &str, trigger: Trigger) -> Vec<String> {
        let email = engine.parse(raw.as_bytes()).unwrap();
        let mut a = lookup_addresses(engine, raw.as_bytes(), &email, trigger);
        a.sort();
        a
    }

    #[test]
    fn lookups_name_the_people_whatever_the_contact_settings() {
        let copy = "From: alice@ours.test\r\nTo: bob@client.test, private@client.test\r\n\
                    Cc: carol@client.test\r\nSubject: Quote\r\nMessage-ID: <q1@ours.test>\r\n\r\nHi\r\n";
        for create in [true, false] {
            let engine = mailbox_engine(create);
            // With createContacts off, the decision without contacts names nobody: the
            // lookup must not depend on it. The never-log address is not asked about.
            assert_eq!(
                asked(&engine, copy, Trigger::BccCopy),
                ["bob@client.test", "carol@client.test"],
                "createContacts {create}"
            );
        }
    }

    #[test]
    fn a_forward_is_looked_up_by_its_original() {
        let engine = mailbox_engine(false);
        let forward = "From: alice@ours.test\r\nTo: log@crm.test\r\nCc: bob@client.test\r\n\
            Subject: Fwd: Pricing\r\nMessage-ID: <f1@ours.test>\r\n\r\nFYI\r\n\r\n\
            ---------- Forwarded message ---------\r\nFrom: Dana <dana@client.test>\r\n\
            Date: Mon, 2 Mar 2026 at 16:05\r\nSubject: Pricing\r\nTo: alice@ours.test\r\n\r\n\
            What would it cost?\r\n";
        assert_eq!(
            asked(&engine, forward, Trigger::Forwarded),
            ["dana@client.test"]
        );
        // Not a forward after all (the mailbox was CC'd): logged like a BCC copy, so its own
        // people are asked about.
        let cc = "From: alice@ours.test\r\nTo: bob@client.test\r\nCc: log@crm.test\r\n\
            Subject: Quote\r\nMessage-ID: <c1@ours.test>\r\n\r\nHi Bob\r\n";
        assert_eq!(asked(&engine, cc, Trigger::Forwarded), ["bob@client.test"]);
    }

    #[test]
    fn the_draft_header_is_read_from_the_header_block() {
        let raw = b"From: alice@ours.test\r\nx-mailtrail-draft:  ol-123\r\n  abc \r\n\
                    Subject: Hi\r\n\r\nX-Mailtrail-Draft: body-not-header\r\n";
        assert_eq!(
            header_value(raw, DRAFT_HEADER).as_deref(),
            Some("ol-123 abc")
        );
        // Only in the body, empty, or with control characters: none.
        let body_only = b"From: a@b.test\n\nX-Mailtrail-Draft: ol-1\n";
        assert_eq!(header_value(body_only, DRAFT_HEADER), None);
        assert_eq!(
            header_value(b"X-Mailtrail-Draft:   \r\n\r\n", DRAFT_HEADER),
            None
        );
        assert_eq!(
            header_value(b"X-Mailtrail-Draft: a\x01b\r\n\r\n", DRAFT_HEADER),
            None
        );
        // The first occurrence wins; a similar name is another header.
        let two =
            b"X-Mailtrail-Drafts: no\nX-Mailtrail-Draft: first\nX-Mailtrail-Draft: second\n\n";
        assert_eq!(header_value(two, DRAFT_HEADER).as_deref(), Some("first"));
        // Headers only (what the watcher fetches from a Sent folder): no blank line at all.
        assert_eq!(
            header_value(b"X-Mailtrail-Draft: ol-9", DRAFT_HEADER).as_deref(),
            Some("ol-9")
        );
    }

    #[test]
    fn reasons_read_as_one_line() {
        let r = vec![
            Reason::about(ReasonCode::SenderNotContact, "carol@x.test"),
            Reason::new(ReasonCode::AttachmentsTooLarge).with_detail("big.zip (60 bytes)"),
            Reason::about(ReasonCode::SenderNotContact, "carol@x.test"),
        ];
        assert_eq!(
            reasons_text(&r),
            "sender-not-contact (carol@x.test), attachments-too-large: big.zip (60 bytes)"
        );
    }
}
