//! Machine-readable reasons attached to every logging decision.
//!
//! The UI turns a code into a sentence in the user's language (`_locales/*/messages.json` in the
//! extension, the server's translation table), so the codes are a stable, documented contract:
//! renaming one is a breaking change (see docs/reasons.md).

use serde::{Deserialize, Serialize};

/// Why an email (or one recipient of it) was or was not logged. In JSON, the kebab-case name
/// ([`ReasonCode::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
// TypeScript's view of the same names (the union is checked against `reasonCodes()` in
// tests/js/engine_types.test.mjs).
#[cfg_attr(
    target_arch = "wasm32",
    derive(tsify::Tsify),
    serde(rename_all = "kebab-case")
)]
pub enum ReasonCode {
    // ---- why it is logged
    /// The Log checkbox was checked when the email was sent.
    LogChecked,
    /// The user asked for it ("Log this email").
    LoggedManually,
    /// The email was forwarded to the CRM's forwarding address.
    ForwardedToCrm,
    /// A BCC copy reached the logging mailbox.
    BccCopy,
    /// A reply in a logged thread, from a known contact.
    ReplyInLoggedThread,
    /// The BCC address was added to the outgoing email (BCC mode).
    BccAdded,
    /// The BCC address was already on the email: not added twice.
    BccAlreadyPresent,
    /// A recipient who is not yet a contact will be created as one.
    ContactCreated,

    // ---- why it is not logged (whole email)
    /// Sent with the Log checkbox unchecked.
    LogUnchecked,
    /// Every participant is internal (our own domains) and internal mail is not logged.
    InternalOnly,
    /// After excluding never-log and internal recipients, nobody was left to log it against.
    NoLoggableRecipients,
    /// An incoming email that does not belong to any logged thread.
    ThreadNotLogged,
    /// An incoming email in a logged thread, but its sender is not a contact.
    SenderNotContact,
    /// The sender is on the never-log list.
    SenderNeverLog,
    /// Already logged (same Message-ID or idempotency key).
    Duplicate,
    /// An automatic message (auto-reply, bounce, mailing list).
    AutoSubmitted,
    /// A forward whose original sender could not be found.
    ForwardNotRecognised,
    /// The email has no sender address to log it by.
    NoSender,
    /// An incoming message that the user sent themself (seen in a thread or mailbox).
    OwnMessage,

    // ---- per recipient / per part
    /// This recipient's address is on the never-log list.
    NeverLogAddress,
    /// This recipient's domain (or a parent domain) is on the never-log list.
    NeverLogDomain,
    /// This recipient is internal and is not associated.
    InternalRecipient,
    /// This recipient is not a contact and contact creation is off: not associated.
    RecipientNotContact,
    /// The CRM refused to create a contact for this address (HubSpot: an invalid email
    /// address): not associated, and the email is logged with the others. The detail is the
    /// CRM's message. Added after delivery.
    ContactRejected,
    /// Attachments above the size limit were dropped; the email still logs.
    AttachmentsTooLarge,
    /// Attachments are turned off in the settings; only their names are kept.
    AttachmentsDisabled,
    /// The body was longer than the limit and was truncated.
    BodyTruncated,
    /// The message forwards more than one email (several attached, or Gmail's "Forward all"):
    /// the first was logged, the others were not; the detail says how many.
    MoreForwardedEmails,
}

impl ReasonCode {
    /// The kebab-case code, as in JSON.
    pub fn as_str(self) -> &'static str {
        use ReasonCode::*;
        match self {
            LogChecked => "log-checked",
            LoggedManually => "logged-manually",
            ForwardedToCrm => "forwarded-to-crm",
            BccCopy => "bcc-copy",
            ReplyInLoggedThread => "reply-in-logged-thread",
            BccAdded => "bcc-added",
            BccAlreadyPresent => "bcc-already-present",
            ContactCreated => "contact-created",
            LogUnchecked => "log-unchecked",
            InternalOnly => "internal-only",
            NoLoggableRecipients => "no-loggable-recipients",
            ThreadNotLogged => "thread-not-logged",
            SenderNotContact => "sender-not-contact",
            SenderNeverLog => "sender-never-log",
            Duplicate => "duplicate",
            AutoSubmitted => "auto-submitted",
            ForwardNotRecognised => "forward-not-recognised",
            NoSender => "no-sender",
            OwnMessage => "own-message",
            NeverLogAddress => "never-log-address",
            NeverLogDomain => "never-log-domain",
            InternalRecipient => "internal-recipient",
            RecipientNotContact => "recipient-not-contact",
            ContactRejected => "contact-rejected",
            AttachmentsTooLarge => "attachments-too-large",
            AttachmentsDisabled => "attachments-disabled",
            BodyTruncated => "body-truncated",
            MoreForwardedEmails => "more-forwarded-emails",
        }
    }

    /// Every code, for documentation and translation-completeness tests.
    pub const ALL: &'static [ReasonCode] = &[
        ReasonCode::LogChecked,
        ReasonCode::LoggedManually,
        ReasonCode::ForwardedToCrm,
        ReasonCode::BccCopy,
        ReasonCode::ReplyInLoggedThread,
        ReasonCode::BccAdded,
        ReasonCode::BccAlreadyPresent,
        ReasonCode::ContactCreated,
        ReasonCode::LogUnchecked,
        ReasonCode::InternalOnly,
        ReasonCode::NoLoggableRecipients,
        ReasonCode::ThreadNotLogged,
        ReasonCode::SenderNotContact,
        ReasonCode::SenderNeverLog,
        ReasonCode::Duplicate,
        ReasonCode::AutoSubmitted,
        ReasonCode::ForwardNotRecognised,
        ReasonCode::NoSender,
        ReasonCode::OwnMessage,
        ReasonCode::NeverLogAddress,
        ReasonCode::NeverLogDomain,
        ReasonCode::InternalRecipient,
        ReasonCode::RecipientNotContact,
        ReasonCode::ContactRejected,
        ReasonCode::AttachmentsTooLarge,
        ReasonCode::AttachmentsDisabled,
        ReasonCode::BodyTruncated,
        ReasonCode::MoreForwardedEmails,
    ];
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reason with what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub code: ReasonCode,
    /// The address concerned (a recipient, the sender), normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Extra detail for people (an attachment name, a size), never needed to understand the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Reason {
    pub fn new(code: ReasonCode) -> Self {
        Reason {
            code,
            address: None,
            detail: None,
        }
    }
    pub fn about(code: ReasonCode, address: &str) -> Self {
        Reason {
            code,
            address: Some(address.to_string()),
            detail: None,
        }
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

// Written and read through `as_str`/`ALL` rather than serde's derive, which generates a
// string match per code for each direction (a few KB of the browser engine for ~40 codes).
impl Serialize for ReasonCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReasonCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ReasonCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| {
                serde::de::Error::invalid_value(
                    serde::de::Unexpected::Str(&text),
                    &"a reason code (docs/policy.md)",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_its_kebab_case_name_and_reads_back() {
        for &code in ReasonCode::ALL {
            // The name in JSON is the variant's name in kebab case (LogChecked → log-checked).
            let mut kebab = String::new();
            for (i, ch) in format!("{code:?}").chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(ch.to_ascii_lowercase());
            }
            assert_eq!(code.as_str(), kebab);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{kebab}\""));
            let back: ReasonCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
        let err = serde_json::from_str::<ReasonCode>("\"too-nice\"").unwrap_err();
        assert!(err.to_string().contains("expected a reason code"), "{err}");
    }
}
