//! User and team settings: how to log, where to, and what never to log.
//!
//! The same JSON document (camelCase) is stored by the Chrome extension, set by Chrome enterprise
//! policy, kept in Outlook's roaming settings and read by the CLI from `--config`. It is documented
//! in docs/settings.md. [`Settings::validate`] returns a normalised copy or every error at once,
//! so a settings page can show them all.

use crate::address::{domain_matches, normalize_address, normalize_domain};
use crate::json_read::required;
use serde::{Deserialize, Serialize};

/// 50 MiB: the attachment limit CRMs apply (HubSpot drops larger attachments and logs the email).
pub const DEFAULT_ATTACHMENT_LIMIT: u64 = 50 * 1024 * 1024;
/// 1 MiB of body text/HTML: larger bodies are truncated (and say so).
pub const DEFAULT_BODY_LIMIT: u64 = 1024 * 1024;
/// The largest body limit accepted: what Mailtrail's local endpoint stores per body. A larger
/// limit would produce records the endpoint refuses for good; a CRM shows at most a few
/// hundred kilobytes of an email anyway.
pub const MAX_BODY_LIMIT: u64 = 4 * DEFAULT_BODY_LIMIT;

/// How a checked email reaches the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum LogMode {
    /// Push a record to the configured endpoint.
    #[default]
    Api,
    /// Add the CRM's BCC address to the email.
    Bcc,
    /// Both: the BCC copy is a safety net, the Message-ID deduplicates the two.
    Both,
}

impl LogMode {
    pub fn pushes(self) -> bool {
        matches!(self, LogMode::Api | LogMode::Both)
    }
    pub fn adds_bcc(self) -> bool {
        matches!(self, LogMode::Bcc | LogMode::Both)
    }
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EndpointConfig {
    /// Mailtrail's own endpoint (`mailtrail serve`): the token is both the bearer token and the
    /// signing secret.
    Local { url: String, token: String },
    /// Any HTTPS endpoint that accepts Mailtrail's signed record format.
    Webhook { url: String, secret: String },
    /// HubSpot's CRM API with a private-app token.
    #[serde(rename_all = "camelCase")]
    Hubspot {
        token: String,
        #[serde(default = "default_hubspot_base")]
        base_url: String,
        /// Path of the emails object (HubSpot is moving to date-versioned paths).
        #[serde(default = "default_hubspot_emails_path")]
        emails_path: String,
        #[serde(default = "default_hubspot_contacts_path")]
        contacts_path: String,
        /// The HubSpot owner (`hubspot_owner_id`, digits) every email is created with, so the
        /// timeline names who logged it and per-rep reports count it. `None`: no owner is sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner_id: Option<String>,
    },
}

/// `EndpointConfig` as JSON: `type` and the fields of every kind, read by hand (why:
/// `crate::json_read`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointFields {
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    token: Option<String>,
    secret: Option<String>,
    base_url: Option<String>,
    emails_path: Option<String>,
    contacts_path: Option<String>,
    /// A string, or a number as someone writing JSON by hand may give it (`"ownerId": 41629779`).
    #[serde(default, deserialize_with = "string_or_number")]
    owner_id: Option<String>,
}

/// An optional string that may be written as a JSON number (read without buffering, see
/// `crate::json_read`).
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Visit;
    impl serde::de::Visitor<'_> for Visit {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Kept as written so validation names it (`1.5` is no owner id).
            Ok(Some(v.to_string()))
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Visit)
}

impl<'de> Deserialize<'de> for EndpointConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let f = EndpointFields::deserialize(d)?;
        Ok(match f.kind.as_str() {
            "local" => EndpointConfig::Local {
                url: required(f.url, "url")?,
                token: required(f.token, "token")?,
            },
            "webhook" => EndpointConfig::Webhook {
                url: required(f.url, "url")?,
                secret: required(f.secret, "secret")?,
            },
            "hubspot" => EndpointConfig::Hubspot {
                token: required(f.token, "token")?,
                base_url: f.base_url.unwrap_or_else(default_hubspot_base),
                emails_path: f.emails_path.unwrap_or_else(default_hubspot_emails_path),
                contacts_path: f
                    .contacts_path
                    .unwrap_or_else(default_hubspot_contacts_path),
                owner_id: f.owner_id,
            },
            other => {
                return Err(D::Error::unknown_variant(
                    other,
                    &["local", "webhook", "hubspot"],
                ))
            }
        })
    }
}

pub fn default_hubspot_base() -> String {
    "https://api.hubapi.com".into()
}
pub fn default_hubspot_emails_path() -> String {
    "/crm/v3/objects/emails".into()
}
pub fn default_hubspot_contacts_path() -> String {
    "/crm/v3/objects/contacts".into()
}

/// The local endpoint's default address (`mailtrail serve`).
pub const DEFAULT_LOCAL_URL: &str = "http://127.0.0.1:8787";

impl EndpointConfig {
    /// The URL whose origin the browser must be allowed to reach.
    pub fn url(&self) -> &str {
        match self {
            EndpointConfig::Local { url, .. } | EndpointConfig::Webhook { url, .. } => url,
            EndpointConfig::Hubspot { base_url, .. } => base_url,
        }
    }
}

/// All settings. Every field has a sensible default so `{}` is a valid document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub mode: LogMode,
    /// The CRM's BCC address (BCC mode).
    pub bcc_address: Option<String>,
    /// The CRM's forwarding address: emails forwarded there are logged as forwards.
    pub forwarding_address: Option<String>,
    /// The mailbox owner's own addresses (aliases included): they are never contacts.
    pub user_addresses: Vec<String>,
    /// Addresses never logged.
    pub never_log_addresses: Vec<String>,
    /// Domains never logged (a domain also covers its subdomains).
    pub never_log_domains: Vec<String>,
    /// The organisation's own domains: mail among them only is "internal".
    pub internal_domains: Vec<String>,
    /// Log emails whose participants are all internal (default: no).
    pub log_internal_only: bool,
    /// Initial state of the Log checkbox.
    pub log_by_default: bool,
    /// Unknown recipients become contacts (default: yes).
    pub create_contacts: bool,
    /// Send attachments (names and sizes are always recorded).
    pub include_attachments: bool,
    /// Total attachment size allowed per email, in bytes; larger attachments are dropped.
    pub attachment_limit: u64,
    /// Longest text or HTML body kept, in bytes.
    pub body_limit: u64,
    /// Where records go. `None` means the local endpoint at its default address.
    pub endpoint: Option<EndpointConfig>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: LogMode::Api,
            bcc_address: None,
            forwarding_address: None,
            user_addresses: Vec::new(),
            never_log_addresses: Vec::new(),
            never_log_domains: Vec::new(),
            internal_domains: Vec::new(),
            log_internal_only: false,
            log_by_default: true,
            create_contacts: true,
            include_attachments: true,
            attachment_limit: DEFAULT_ATTACHMENT_LIMIT,
            body_limit: DEFAULT_BODY_LIMIT,
            endpoint: None,
        }
    }
}

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
#[error("{field}: {message}")]
pub struct SettingsError {
    /// The JSON field (with an index for list entries, e.g. `neverLogDomains[2]`).
    pub field: String,
    /// Machine-readable, for translated messages: `invalid-address`, `invalid-domain`,
    /// `bcc-required`, `https-required`, `invalid-url`, `invalid-token`, `required`,
    /// `too-small`, `too-large`, `invalid-owner-id`.
    pub code: String,
    /// An English explanation (the UI shows a translation of `code` when it has one).
    pub message: String,
}

impl SettingsError {
    fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        SettingsError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Checks and normalises every field; returns all errors, not just the first.
    pub fn validate(&self) -> Result<Settings, Vec<SettingsError>> {
        let mut errors = Vec::new();
        let mut out = self.clone();
        let addr =
            |field: String, value: &str, errors: &mut Vec<SettingsError>| match normalize_address(
                value,
            ) {
                Ok(a) => Some(a),
                Err(e) => {
                    errors.push(SettingsError::new(field, "invalid-address", e.to_string()));
                    None
                }
            };
        out.bcc_address = self
            .bcc_address
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|a| addr("bccAddress".into(), a, &mut errors));
        out.forwarding_address = self
            .forwarding_address
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .and_then(|a| addr("forwardingAddress".into(), a, &mut errors));
        if self.mode.adds_bcc()
            && out.bcc_address.is_none()
            && !errors.iter().any(|e| e.field == "bccAddress")
        {
            errors.push(SettingsError::new(
                "bccAddress",
                "bcc-required",
                "BCC mode needs the CRM's BCC address",
            ));
        }
        let addresses = |name: &str, list: &[String], errors: &mut Vec<SettingsError>| {
            let mut v: Vec<String> = list
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.trim().is_empty())
                .filter_map(|(i, s)| addr(format!("{name}[{i}]"), s, errors))
                .collect();
            // Order matters: the first user address is the mailbox records are logged from.
            dedup_keeping_order(&mut v);
            v
        };
        out.user_addresses = addresses("userAddresses", &self.user_addresses, &mut errors);
        out.never_log_addresses =
            addresses("neverLogAddresses", &self.never_log_addresses, &mut errors);
        let domains = |name: &str, list: &[String], errors: &mut Vec<SettingsError>| {
            let mut v: Vec<String> = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let s = s.trim();
                if s.is_empty() {
                    continue;
                }
                // Accept "@example.com", "*.example.com" and "example.com".
                let d = s.trim_start_matches("*.").trim_start_matches('@');
                match normalize_domain(d) {
                    Some(d) if d.contains('.') || d.starts_with('[') => v.push(d),
                    _ => errors.push(SettingsError::new(
                        format!("{name}[{i}]"),
                        "invalid-domain",
                        format!("{s:?} is not a domain"),
                    )),
                }
            }
            dedup_keeping_order(&mut v);
            v
        };
        out.never_log_domains = domains("neverLogDomains", &self.never_log_domains, &mut errors);
        out.internal_domains = domains("internalDomains", &self.internal_domains, &mut errors);
        if self.attachment_limit == 0 {
            out.include_attachments = false;
        }
        if self.body_limit < 1024 {
            errors.push(SettingsError::new(
                "bodyLimit",
                "too-small",
                "must be at least 1024 bytes",
            ));
        } else if self.body_limit > MAX_BODY_LIMIT {
            errors.push(SettingsError::new(
                "bodyLimit",
                "too-large",
                format!("must be at most {MAX_BODY_LIMIT} bytes (4 MiB)"),
            ));
        }
        if let Some(endpoint) = &mut out.endpoint {
            trim_credentials(endpoint);
            check_endpoint(endpoint, &mut errors);
            if let EndpointConfig::Hubspot { owner_id, .. } = endpoint {
                *owner_id = check_owner_id(owner_id.as_deref(), &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The endpoint records go to (the local endpoint when none is configured).
    pub fn endpoint_or_default(&self) -> EndpointConfig {
        self.endpoint.clone().unwrap_or(EndpointConfig::Local {
            url: DEFAULT_LOCAL_URL.into(),
            token: String::new(),
        })
    }

    /// Why this (normalised) address must never be logged, if it must not.
    pub fn never_log_reason(&self, normalized: &str) -> Option<crate::reason::ReasonCode> {
        use crate::reason::ReasonCode;
        if self.never_log_addresses.iter().any(|a| a == normalized) {
            return Some(ReasonCode::NeverLogAddress);
        }
        let domain = crate::address::domain_of(normalized);
        if self
            .never_log_domains
            .iter()
            .any(|d| domain_matches(domain, d))
        {
            return Some(ReasonCode::NeverLogDomain);
        }
        None
    }

    /// True for the organisation's own addresses (internal domains and the user's addresses).
    pub fn is_internal(&self, normalized: &str) -> bool {
        let domain = crate::address::domain_of(normalized);
        self.user_addresses.iter().any(|a| a == normalized)
            || self
                .internal_domains
                .iter()
                .any(|d| domain_matches(domain, d))
    }

    /// True for the mailbox owner's own addresses.
    pub fn is_user(&self, normalized: &str) -> bool {
        self.user_addresses.iter().any(|a| a == normalized)
    }

    /// The CRM's own addresses (BCC, forwarding), normalised.
    pub fn crm_addresses(&self) -> Vec<&str> {
        self.bcc_address
            .iter()
            .chain(self.forwarding_address.iter())
            .map(String::as_str)
            .collect()
    }

    /// The body limit as a length. On wasm32 `usize` is 32 bits: a limit of 4 GiB or more
    /// means "no limit", not its low 32 bits (which could be 0 and empty every body).
    pub fn body_limit_bytes(&self) -> usize {
        usize::try_from(self.body_limit).unwrap_or(usize::MAX)
    }

    /// True for the CRM's own addresses (BCC, forwarding): never contacts.
    pub fn is_crm_address(&self, normalized: &str) -> bool {
        self.bcc_address.as_deref() == Some(normalized)
            || self.forwarding_address.as_deref() == Some(normalized)
    }
}

fn check_endpoint(endpoint: &EndpointConfig, errors: &mut Vec<SettingsError>) {
    let (field, url) = match endpoint {
        EndpointConfig::Local { url, .. } | EndpointConfig::Webhook { url, .. } => {
            ("endpoint.url", url.as_str())
        }
        EndpointConfig::Hubspot { base_url, .. } => ("endpoint.baseUrl", base_url.as_str()),
    };
    if let Err((code, message)) = check_endpoint_url_coded(url) {
        errors.push(SettingsError::new(field, code, message));
    }
    let secret_missing = match endpoint {
        EndpointConfig::Local { .. } => false, // the local endpoint's token can be pasted later
        EndpointConfig::Webhook { secret, .. } => secret.trim().is_empty(),
        EndpointConfig::Hubspot { token, .. } => token.trim().is_empty(),
    };
    let (field, credential) = match endpoint {
        EndpointConfig::Webhook { secret, .. } => ("endpoint.secret", secret),
        EndpointConfig::Local { token, .. } | EndpointConfig::Hubspot { token, .. } => {
            ("endpoint.token", token)
        }
    };
    if secret_missing {
        errors.push(SettingsError::new(field, "required", "is required"));
    } else if let Some(message) = credential_problem(credential) {
        errors.push(SettingsError::new(field, "invalid-token", message));
    }
}

/// The longest owner id accepted: HubSpot's ids are 64-bit numbers (at most 19 digits).
const OWNER_ID_MAX_DIGITS: usize = 19;

/// HubSpot's `hubspot_owner_id` is a number (`41629779`): surrounding whitespace is dropped, an
/// empty value means "no owner", anything else that is not digits is refused with a field error
/// (HubSpot would refuse every email created with it).
fn check_owner_id(owner_id: Option<&str>, errors: &mut Vec<SettingsError>) -> Option<String> {
    let id = owner_id.map(str::trim).filter(|s| !s.is_empty())?;
    if id.len() <= OWNER_ID_MAX_DIGITS && id.bytes().all(|b| b.is_ascii_digit()) {
        return Some(id.to_string());
    }
    errors.push(SettingsError::new(
        "endpoint.ownerId",
        "invalid-owner-id",
        format!(
            "{id:?} is not a HubSpot owner id: it is a number of up to {OWNER_ID_MAX_DIGITS} \
             digits (such as 41629779), not a name, email address or user id; \
             \"Test connection\" finds yours"
        ),
    ));
    None
}

/// Leading and trailing whitespace (a line break copied with the token) is never part of a
/// token or secret: dropped.
fn trim_credentials(endpoint: &mut EndpointConfig) {
    let credential = match endpoint {
        EndpointConfig::Webhook { secret, .. } => secret,
        EndpointConfig::Local { token, .. } | EndpointConfig::Hubspot { token, .. } => token,
    };
    let trimmed = credential.trim();
    if trimmed.len() != credential.len() {
        *credential = trimmed.to_string();
    }
}

/// Tokens and secrets are visible ASCII: the token travels in an `Authorization` header, which
/// `fetch` refuses outright for anything else (a zero-width space or a line break pasted from a
/// document), and a secret that looks right but holds an invisible character signs records no
/// receiver can check. The message names the character and where it is, not the secret.
fn credential_problem(credential: &str) -> Option<String> {
    let (position, c) = credential
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, '\x21'..='\x7e'))?;
    Some(format!(
        "contains {} at character {}: tokens and secrets are visible ASCII characters only; \
         paste it again (from a plain-text source)",
        crate::http::describe_char(c),
        position + 1
    ))
}

/// Endpoint URLs must be HTTPS, except on the loopback interface (the local endpoint).
pub fn check_endpoint_url(url: &str) -> Result<(), String> {
    check_endpoint_url_coded(url).map_err(|(_, message)| message)
}

fn check_endpoint_url_coded(url: &str) -> Result<(), (&'static str, String)> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        (
            "invalid-url",
            format!("{url:?} is not a URL (it needs https://)"),
        )
    })?;
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(host_port);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(("invalid-url", format!("{url:?} has no host")));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err((
            "https-required",
            format!("{url:?} must use https:// (plain http is only allowed for 127.0.0.1 and localhost)"),
        )),
        other => Err(("invalid-url", format!("{url:?}: unsupported scheme {other:?}"))),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    // An address, not a name that starts like one: `127.mail.example` is anyone's host.
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Removes repeated entries, keeping the first of each where the user put it.
fn dedup_keeping_order(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    v.retain(|s| seen.insert(s.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::ReasonCode;

    #[test]
    fn plain_http_only_to_loopback_addresses() {
        for ok in [
            "http://127.0.0.1:8787",
            "http://127.1.2.3/hook",
            "http://localhost:8787",
            "http://[::1]:8787/",
            "https://127.mail.example/hook",
        ] {
            assert!(check_endpoint_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.mail.attacker.example/hook",
            "http://127.0.0.1.example/hook",
            "http://10.0.0.1/hook",
            "http://[::2]/hook",
        ] {
            assert_eq!(
                check_endpoint_url_coded(bad).map_err(|e| e.0),
                Err("https-required"),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_document_is_valid_with_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        let s = s.validate().unwrap();
        assert_eq!(s.mode, LogMode::Api);
        assert_eq!(s.attachment_limit, 50 * 1024 * 1024);
        assert!(!s.log_internal_only);
        assert!(s.log_by_default);
        assert!(matches!(
            s.endpoint_or_default(),
            EndpointConfig::Local { .. }
        ));
    }

    #[test]
    fn normalises_lists_and_reports_every_error() {
        let s = Settings {
            mode: LogMode::Bcc,
            never_log_addresses: vec!["Boss@Example.com".into(), "broken".into()],
            never_log_domains: vec![
                "@Competitor.example".into(),
                "*.rivals.example".into(),
                "not a domain".into(),
            ],
            internal_domains: vec!["OurCo.example".into()],
            ..Settings::default()
        };
        let errors = s.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["bccAddress", "neverLogAddresses[1]", "neverLogDomains[2]"]
        );
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            vec!["bcc-required", "invalid-address", "invalid-domain"]
        );

        let ok = Settings {
            bcc_address: Some("Log@Bcc.CRM.example".into()),
            never_log_addresses: vec!["Boss@Example.com".into()],
            never_log_domains: vec!["@Competitor.example".into(), "*.rivals.example".into()],
            ..s
        }
        .validate()
        .unwrap();
        assert_eq!(ok.bcc_address.as_deref(), Some("log@bcc.crm.example"));
        assert_eq!(
            ok.never_log_domains,
            vec!["competitor.example", "rivals.example"]
        );
        assert_eq!(
            ok.never_log_reason("boss@example.com"),
            Some(ReasonCode::NeverLogAddress)
        );
        assert_eq!(
            ok.never_log_reason("x@eu.rivals.example"),
            Some(ReasonCode::NeverLogDomain)
        );
        assert_eq!(ok.never_log_reason("x@notrivals.example"), None);
        assert!(ok.is_internal("anyone@ourco.example"));
    }

    #[test]
    fn user_addresses_keep_their_order_and_lose_repeats() {
        // The first user address is the mailbox records are logged from: sorting the list would
        // silently log a user's mail under an alias that happens to sort first.
        let s = Settings {
            user_addresses: vec![
                "Zoe@OurCo.example".into(),
                "alias@ourco.example".into(),
                "zoe@ourco.example ".into(),
            ],
            ..Settings::default()
        };
        let ok = s.validate().unwrap();
        assert_eq!(
            ok.user_addresses,
            vec!["zoe@ourco.example", "alias@ourco.example"]
        );
    }

    #[test]
    fn endpoint_urls_need_https_except_loopback() {
        assert!(check_endpoint_url("https://crm.example/hook").is_ok());
        assert!(check_endpoint_url("http://127.0.0.1:8787").is_ok());
        assert!(check_endpoint_url("http://localhost:8787/v1").is_ok());
        assert!(check_endpoint_url("http://[::1]:8787").is_ok());
        assert!(check_endpoint_url("http://crm.example/hook").is_err());
        assert!(check_endpoint_url("http://127.0.0.1.evil.example/").is_err());
        assert!(check_endpoint_url("ftp://x").is_err());
        assert!(check_endpoint_url("crm.example").is_err());
        let s = Settings {
            endpoint: Some(EndpointConfig::Webhook {
                url: "http://crm.example".into(),
                secret: " ".into(),
            }),
            ..Settings::default()
        };
        let errors = s.validate().unwrap_err();
        let fields: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("endpoint.url", "https-required"),
                ("endpoint.secret", "required")
            ]
        );
    }

    #[test]
    fn tokens_and_secrets_with_invisible_characters_are_refused() {
        let with = |endpoint| Settings {
            endpoint: Some(endpoint),
            ..Settings::default()
        };
        let hubspot = |token: &str| EndpointConfig::Hubspot {
            token: token.into(),
            base_url: default_hubspot_base(),
            emails_path: default_hubspot_emails_path(),
            contacts_path: default_hubspot_contacts_path(),
            owner_id: None,
        };
        // A line break copied with the token is trimmed, not an error.
        let ok = with(hubspot(" pat-na1-abc\n")).validate().unwrap();
        assert_eq!(ok.endpoint, Some(hubspot("pat-na1-abc")));
        for (bad, what) in [
            (
                "pat-na1\u{200b}-abc",
                "U+200B (zero-width space) at character 8",
            ),
            ("pat-na1-\nabc", "a line break at character 9"),
            ("pat na1", "a space at character 4"),
            ("pat-na1-ąbc", "U+0105 (ą) at character 9"),
        ] {
            let errors = with(hubspot(bad)).validate().unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].field, "endpoint.token");
            assert_eq!(errors[0].code, "invalid-token");
            assert!(errors[0].message.contains(what), "{}", errors[0].message);
        }
        let errors = with(EndpointConfig::Webhook {
            url: "https://crm.example/hook".into(),
            secret: "s3cr\u{feff}et".into(),
        })
        .validate()
        .unwrap_err();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("endpoint.secret", "invalid-token")
        );
        let errors = with(EndpointConfig::Local {
            url: DEFAULT_LOCAL_URL.into(),
            token: "tok\u{a0}en".into(),
        })
        .validate()
        .unwrap_err();
        assert_eq!(errors[0].field, "endpoint.token");
        // The local endpoint's token may still be empty (pasted later).
        assert!(with(EndpointConfig::Local {
            url: DEFAULT_LOCAL_URL.into(),
            token: String::new(),
        })
        .validate()
        .is_ok());
    }

    #[test]
    fn endpoint_json_shape() {
        let e: EndpointConfig =
            serde_json::from_str(r#"{"type":"hubspot","token":"pat-x"}"#).unwrap();
        assert_eq!(
            e,
            EndpointConfig::Hubspot {
                token: "pat-x".into(),
                base_url: "https://api.hubapi.com".into(),
                emails_path: "/crm/v3/objects/emails".into(),
                contacts_path: "/crm/v3/objects/contacts".into(),
                owner_id: None,
            }
        );
    }
}
