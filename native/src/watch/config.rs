//! The watcher's configuration file (documented in docs/imap.md).
//!
//! Everything is checked up front and every problem is reported at once, each naming its JSON
//! field, so a broken file is fixed in one go rather than one restart per mistake. Secrets are
//! not read here beyond checking that they can be: they are read at every connection attempt, so
//! a refreshed token file or a changed password file is picked up without a restart.

use mailtrail::settings::Settings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a watched account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The address users BCC or forward to: every new message is logged.
    LoggingMailbox,
    /// A user's own mailbox: replies in logged threads are logged, the Sent folder is read to
    /// learn which threads are logged.
    ConnectedInbox,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::LoggingMailbox => "logging-mailbox",
            Role::ConnectedInbox => "connected-inbox",
        }
    }
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `imaps://`: TLS from the first byte (port 993).
    Implicit,
    /// `imap://`: plain connection upgraded with STARTTLS, which is required (port 143).
    StartTls,
}

/// Where the secret comes from. Read at every connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

/// How to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// LOGIN or AUTHENTICATE PLAIN.
    Password(SecretSource),
    /// AUTHENTICATE XOAUTH2 with an OAuth 2.0 access token (Gmail, Office 365). Mailtrail does
    /// not refresh tokens itself: a token file kept fresh by another tool is reread on every
    /// connection attempt.
    OAuth2(SecretSource),
}

impl Credentials {
    pub fn source(&self) -> &SecretSource {
        match self {
            Credentials::Password(s) | Credentials::OAuth2(s) => s,
        }
    }
}

/// How far back the first scan of a folder goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// Every message already in the folder.
    All,
    /// Messages received in the last N days (0: only mail that arrives from now on).
    Days(u32),
}

/// One account, validated.
#[derive(Debug, Clone)]
pub struct Account {
    /// Stable name: the state directory, the status line and the server's status key.
    pub name: String,
    pub role: Role,
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    /// The mailbox owner's address (normalised): the user of a connected inbox, the logging
    /// mailbox's own address.
    pub address: String,
    pub credentials: Credentials,
    pub trust_any_certificate: bool,
    /// Extra trusted CA certificates (PEM), for servers with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Use IDLE when the server offers it.
    pub idle: bool,
    /// How often to look for new mail without IDLE (and how long one IDLE lasts at most).
    pub poll_interval: Duration,
    /// First scan of INBOX.
    pub backfill: Backfill,
    /// First scan of the Sent folder (connected inbox): how far back logged threads are learnt.
    pub sent_lookback_days: u32,
    /// Overrides Sent folder detection (the folder's name as the server lists it, decoded).
    pub sent_folder: Option<String>,
    /// The watched folder. INBOX, always: replies filtered into other folders are not logged.
    pub inbox: String,
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    pub accounts: Vec<Account>,
    pub settings: Settings,
    pub state_dir: PathBuf,
    /// How long the server may stay unreachable before the account shows "disconnected".
    pub unreachable_after: Duration,
    /// The longest wait between reconnection attempts.
    pub max_backoff: Duration,
    /// Scanning pauses when the records waiting for the endpoint hold this many bytes (they
    /// are in memory, attachments included).
    pub max_waiting_bytes: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileDoc {
    accounts: Vec<AccountDoc>,
    /// The Mailtrail settings document, inline, or the path of a file holding it.
    #[serde(default)]
    settings: Option<serde_json::Value>,
    #[serde(default)]
    state_dir: Option<PathBuf>,
    #[serde(default)]
    unreachable_after_minutes: Option<f64>,
    #[serde(default)]
    max_backoff_seconds: Option<u64>,
    #[serde(default)]
    max_waiting_megabytes: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AccountDoc {
    #[serde(default)]
    name: Option<String>,
    url: String,
    role: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
    #[serde(default)]
    oauth2_token_env: Option<String>,
    #[serde(default)]
    oauth2_token_file: Option<PathBuf>,
    #[serde(default)]
    trust_any_certificate: bool,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    idle: Option<bool>,
    #[serde(default)]
    poll_interval_seconds: Option<u64>,
    #[serde(default)]
    backfill_days: Option<serde_json::Value>,
    #[serde(default)]
    sent_lookback_days: Option<u32>,
    #[serde(default)]
    sent_folder: Option<String>,
}

/// One problem in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Every problem, one per line.
pub fn describe(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The explanation users get for a POP3 account.
pub const POP3_EXPLANATION: &str = "POP3 is not supported. Mailtrail follows replies in mail that stays on the server, \
and POP3 downloads mail to one device and usually deletes it from the server, so other devices (and Mailtrail) \
never see it. Use the same account over IMAP instead: ask your provider or IT team for the IMAP server \
(usually imaps://USER@imap.example.com:993), then put that URL here.";

const DEFAULT_POLL_SECONDS: u64 = 60;
const DEFAULT_SENT_LOOKBACK_DAYS: u32 = 90;
const DEFAULT_UNREACHABLE_MINUTES: f64 = 60.0;
const DEFAULT_MAX_BACKOFF_SECONDS: u64 = 300;
/// Records waiting for the endpoint, in MiB, beyond which scanning pauses.
const DEFAULT_MAX_WAITING_MEGABYTES: u64 = 512;

/// A parsed `imap(s)://user@host:port` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapUrl {
    pub security: Security,
    pub user: String,
    pub host: String,
    pub port: u16,
}

/// Parses an account URL. The user name may contain `@` (the last `@` ends it) and
/// percent-escapes (`%40`).
pub fn parse_url(url: &str) -> Result<ImapUrl, String> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "{url:?} is not a URL; write it as imaps://USER@HOST:993"
        ));
    };
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "imaps" => (Security::Implicit, 993),
        "imap" => (Security::StartTls, 143),
        "pop" | "pop3" | "pop3s" | "pops" => return Err(POP3_EXPLANATION.to_string()),
        other => return Err(format!("unsupported scheme {other:?}: use imaps://USER@HOST:993 (or imap:// for STARTTLS on port 143)")),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') || authority.contains('?') || authority.contains('#') {
        return Err("the URL must not have a path or query: write imaps://USER@HOST:PORT (INBOX is always the watched folder)".into());
    }
    let Some((user_part, host_part)) = authority.rsplit_once('@') else {
        return Err(format!(
            "the URL has no user name: write {scheme}://USER@{authority}"
        ));
    };
    if user_part.contains(':') {
        return Err("do not put the password in the URL; use passwordEnv or passwordFile".into());
    }
    let user = percent_decode(user_part).ok_or("the user name has an invalid %-escape")?;
    if user.is_empty() {
        return Err(format!(
            "the URL has an empty user name: write {scheme}://USER@HOST"
        ));
    }
    let (host, port) = split_host_port(host_part, default_port)?;
    Ok(ImapUrl {
        security,
        user,
        host,
        port,
    })
}

fn split_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    if let Some(rest) = text.strip_prefix('[') {
        // [IPv6]:port
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("unclosed [ in the host".into());
        };
        let port = match after.strip_prefix(':') {
            Some(p) => p
                .parse()
                .map_err(|_| format!("{p:?} is not a port number"))?,
            None if after.is_empty() => default_port,
            None => return Err("unexpected text after the host".into()),
        };
        return Ok((ip.to_string(), port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number"))?,
        ),
        None => (text, default_port),
    };
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    if port == 0 {
        return Err("port 0 is not a valid port".into());
    }
    Ok((host.to_ascii_lowercase(), port))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Reads and validates the configuration file. `check_secrets`: also check that every password
/// or token can be read (not needed to show the status).
pub fn load(path: &Path, check_secrets: bool) -> Result<WatchConfig, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            field: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, &base, check_secrets)
}

/// Validates a configuration document; relative paths are resolved against `base`.
pub fn parse(
    text: &str,
    base: &Path,
    check_secrets: bool,
) -> Result<WatchConfig, Vec<ConfigError>> {
    let doc: FileDoc = serde_json::from_str(text).map_err(|e| {
        vec![ConfigError {
            field: String::new(),
            message: format!("not a valid watch configuration: {e}"),
        }]
    })?;
    let mut errors = Vec::new();
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };

    let settings = match &doc.settings {
        None => Settings::default(),
        Some(serde_json::Value::String(p)) => {
            let p = resolve(Path::new(p));
            match std::fs::read_to_string(&p) {
                Ok(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
                    errors.push(ConfigError {
                        field: "settings".into(),
                        message: format!("{} is not valid settings JSON: {e}", p.display()),
                    });
                    Settings::default()
                }),
                Err(e) => {
                    errors.push(ConfigError {
                        field: "settings".into(),
                        message: format!("cannot read {}: {e}", p.display()),
                    });
                    Settings::default()
                }
            }
        }
        Some(v @ serde_json::Value::Object(_)) => {
            serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                errors.push(ConfigError {
                    field: "settings".into(),
                    message: format!("not valid settings: {e}"),
                });
                Settings::default()
            })
        }
        Some(_) => {
            errors.push(ConfigError {
                field: "settings".into(),
                message: "give the settings document inline (an object) or the path of its file (a string)".into(),
            });
            Settings::default()
        }
    };
    let settings = match settings.validate() {
        Ok(s) => s,
        Err(list) => {
            for e in list {
                errors.push(ConfigError {
                    field: format!("settings.{}", e.field),
                    message: e.message,
                });
            }
            settings
        }
    };

    if doc.accounts.is_empty() {
        errors.push(ConfigError {
            field: "accounts".into(),
            message: "no account to watch".into(),
        });
    }
    let mut accounts: Vec<Account> = Vec::new();
    for (i, a) in doc.accounts.iter().enumerate() {
        let at = |f: &str| format!("accounts[{i}].{f}");
        let url = match parse_url(&a.url) {
            Ok(u) => Some(u),
            Err(message) => {
                errors.push(ConfigError {
                    field: at("url"),
                    message,
                });
                None
            }
        };
        let role = match a.role.as_deref() {
            Some("logging-mailbox") => Some(Role::LoggingMailbox),
            Some("connected-inbox") => Some(Role::ConnectedInbox),
            Some(other) => {
                errors.push(ConfigError {
                    field: at("role"),
                    message: format!(
                        "{other:?} is not a role: use \"logging-mailbox\" or \"connected-inbox\""
                    ),
                });
                None
            }
            None => {
                errors.push(ConfigError {
                    field: at("role"),
                    message: "missing: \"logging-mailbox\" (the address users BCC or forward to) or \"connected-inbox\" (a user's own mailbox)".into(),
                });
                None
            }
        };
        // The owner's address: given, else the login name when it is an address.
        let address_text = a
            .address
            .clone()
            .or_else(|| url.as_ref().map(|u| u.user.clone()));
        let address = match address_text.as_deref().map(mailtrail::normalize_address) {
            Some(Ok(addr)) => Some(addr),
            Some(Err(e)) if a.address.is_some() => {
                errors.push(ConfigError {
                    field: at("address"),
                    message: format!("not an email address: {e}"),
                });
                None
            }
            _ => {
                if url.is_some() {
                    errors.push(ConfigError {
                        field: at("address"),
                        message: "missing: the login name is not an email address, so give the mailbox's address".into(),
                    });
                }
                None
            }
        };
        let sources: Vec<(&str, Option<SecretSource>, bool)> = vec![
            (
                "passwordEnv",
                a.password_env.clone().map(SecretSource::Env),
                false,
            ),
            (
                "passwordFile",
                a.password_file
                    .as_deref()
                    .map(|p| SecretSource::File(resolve(p))),
                false,
            ),
            (
                "oauth2TokenEnv",
                a.oauth2_token_env.clone().map(SecretSource::Env),
                true,
            ),
            (
                "oauth2TokenFile",
                a.oauth2_token_file
                    .as_deref()
                    .map(|p| SecretSource::File(resolve(p))),
                true,
            ),
        ];
        let given: Vec<_> = sources
            .into_iter()
            .filter(|(_, s, _)| s.is_some())
            .collect();
        let credentials = match given.as_slice() {
            [] => {
                errors.push(ConfigError {
                    field: at("passwordEnv"),
                    message: "no credentials: give one of passwordEnv, passwordFile, oauth2TokenEnv, oauth2TokenFile".into(),
                });
                None
            }
            [(field, Some(source), oauth)] => {
                if let Err(message) = if check_secrets {
                    check_secret(source)
                } else {
                    Ok(())
                } {
                    errors.push(ConfigError {
                        field: at(field),
                        message,
                    });
                }
                Some(if *oauth {
                    Credentials::OAuth2(source.clone())
                } else {
                    Credentials::Password(source.clone())
                })
            }
            more => {
                let names: Vec<&str> = more.iter().map(|(f, _, _)| *f).collect();
                errors.push(ConfigError {
                    field: at(names[0]),
                    message: format!("give only one of {}", names.join(", ")),
                });
                None
            }
        };
        let ca_file = a.ca_file.as_deref().map(resolve);
        if let Some(p) = &ca_file {
            if let Err(e) = std::fs::metadata(p) {
                errors.push(ConfigError {
                    field: at("caFile"),
                    message: format!("cannot read {}: {e}", p.display()),
                });
            }
        }
        let backfill = match &a.backfill_days {
            None => None,
            Some(serde_json::Value::String(s)) if s == "all" => Some(Backfill::All),
            Some(v) => match v.as_u64().and_then(|d| u32::try_from(d).ok()) {
                Some(d) => Some(Backfill::Days(d)),
                None => {
                    errors.push(ConfigError {
                        field: at("backfillDays"),
                        message: "a number of days (0: only new mail) or \"all\"".into(),
                    });
                    None
                }
            },
        };
        let poll = a.poll_interval_seconds.unwrap_or(DEFAULT_POLL_SECONDS);
        if poll == 0 {
            errors.push(ConfigError {
                field: at("pollIntervalSeconds"),
                message: "must be at least 1".into(),
            });
        }
        let name = a
            .name
            .clone()
            .map(|n| n.trim().to_string())
            .or_else(|| address.clone())
            .unwrap_or_else(|| format!("account-{i}"));
        if name.is_empty()
            || name.len() > 200
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
            || name.starts_with('.')
        {
            errors.push(ConfigError {
                field: at("name"),
                message:
                    "1 to 200 characters, without / \\ or control characters, not starting with '.'"
                        .into(),
            });
        }
        if accounts.iter().any(|x| x.name == name) {
            errors.push(ConfigError {
                field: at("name"),
                message: format!("another account is already named {name:?}"),
            });
        }
        if let (Some(url), Some(role), Some(address), Some(credentials)) =
            (url, role, address, credentials)
        {
            accounts.push(Account {
                name,
                role,
                host: url.host,
                port: url.port,
                security: url.security,
                user: url.user,
                address,
                credentials,
                trust_any_certificate: a.trust_any_certificate,
                ca_file,
                idle: a.idle.unwrap_or(true),
                poll_interval: Duration::from_secs(poll.max(1)),
                backfill: backfill.unwrap_or(match role {
                    // The logging mailbox exists for the CRM: whatever is in it is meant to be
                    // logged (records deduplicate, so a rescan logs nothing twice).
                    Role::LoggingMailbox => Backfill::All,
                    // A connected inbox logs replies that arrive while it is connected.
                    Role::ConnectedInbox => Backfill::Days(0),
                }),
                sent_lookback_days: a.sent_lookback_days.unwrap_or(DEFAULT_SENT_LOOKBACK_DAYS),
                sent_folder: a.sent_folder.clone().filter(|s| !s.trim().is_empty()),
                inbox: "INBOX".into(),
            });
        }
    }
    if let Some(m) = doc.unreachable_after_minutes {
        if !(m.is_finite() && m > 0.0 && m <= 525_600.0) {
            errors.push(ConfigError {
                field: "unreachableAfterMinutes".into(),
                message: "a number of minutes above 0 (fractions allowed)".into(),
            });
        }
    }
    if doc.max_waiting_megabytes == Some(0) {
        errors.push(ConfigError {
            field: "maxWaitingMegabytes".into(),
            message: "a number of megabytes (MiB) above 0".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let state_dir = doc
        .state_dir
        .as_deref()
        .map(resolve)
        .unwrap_or_else(default_state_dir);
    Ok(WatchConfig {
        accounts,
        settings,
        state_dir,
        unreachable_after: Duration::from_secs_f64(
            60.0 * doc
                .unreachable_after_minutes
                .unwrap_or(DEFAULT_UNREACHABLE_MINUTES),
        ),
        max_backoff: Duration::from_secs(
            doc.max_backoff_seconds
                .unwrap_or(DEFAULT_MAX_BACKOFF_SECONDS)
                .max(1),
        ),
        max_waiting_bytes: doc
            .max_waiting_megabytes
            .unwrap_or(DEFAULT_MAX_WAITING_MEGABYTES)
            .saturating_mul(1024 * 1024),
    })
}

/// `$MAILTRAIL_DATA_DIR/watch`, else `~/.local/share/mailtrail/watch`.
pub fn default_state_dir() -> PathBuf {
    let data = match std::env::var_os("MAILTRAIL_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".local/share/mailtrail"),
    };
    data.join("watch")
}

fn check_secret(source: &SecretSource) -> Result<(), String> {
    read_secret(source).map(|_| ())
}

/// Reads a password or token (surrounding whitespace removed). Never logged.
pub fn read_secret(source: &SecretSource) -> Result<String, String> {
    let value = match source {
        SecretSource::Env(name) => std::env::var(name)
            .map_err(|_| format!("the environment variable {name} is not set"))?,
        SecretSource::File(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(match source {
            SecretSource::Env(name) => format!("the environment variable {name} is empty"),
            SecretSource::File(p) => format!("{} is empty", p.display()),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("imaps://alice@mail.example.com").unwrap();
        assert_eq!(
            (u.security, u.user.as_str(), u.host.as_str(), u.port),
            (Security::Implicit, "alice", "mail.example.com", 993)
        );
        let u = parse_url("imap://alice@example.com@Mail.Example.com:1143/").unwrap();
        assert_eq!(
            (u.security, u.user.as_str(), u.host.as_str(), u.port),
            (
                Security::StartTls,
                "alice@example.com",
                "mail.example.com",
                1143
            )
        );
        let u = parse_url("imaps://a%40b.c@[::1]:9993").unwrap();
        assert_eq!(
            (u.user.as_str(), u.host.as_str(), u.port),
            ("a@b.c", "::1", 9993)
        );
        assert!(parse_url("pop3://alice@pop.example.com")
            .unwrap_err()
            .contains("POP3 is not supported"));
        assert!(parse_url("pop3s://alice@pop.example.com:995")
            .unwrap_err()
            .contains("IMAP"));
        assert!(parse_url("imaps://mail.example.com")
            .unwrap_err()
            .contains("no user name"));
        assert!(parse_url("imaps://alice:pw@mail.example.com")
            .unwrap_err()
            .contains("password"));
        assert!(parse_url("imaps://alice@mail.example.com/INBOX")
            .unwrap_err()
            .contains("path"));
        assert!(parse_url("imaps://alice@mail.example.com:99999")
            .unwrap_err()
            .contains("port"));
        assert!(parse_url("https://alice@mail.example.com")
            .unwrap_err()
            .contains("unsupported scheme"));
        assert!(parse_url("alice@mail.example.com")
            .unwrap_err()
            .contains("not a URL"));
    }

    #[test]
    fn full_document_and_defaults() {
        std::env::set_var("MT_TEST_CONFIG_PW", "secret");
        let doc = r#"{
            "stateDir": "state",
            "settings": {"userAddresses": ["alice@example.com"]},
            "accounts": [
                {"url": "imaps://log@crm.example.com", "role": "logging-mailbox", "passwordEnv": "MT_TEST_CONFIG_PW", "address": "log@crm.example.com"},
                {"name": "alice", "url": "imaps://alice@example.com@imap.example.com", "role": "connected-inbox", "oauth2TokenEnv": "MT_TEST_CONFIG_PW", "backfillDays": 3}
            ]
        }"#;
        let c = parse(doc, Path::new("/etc/mailtrail"), true).unwrap();
        assert_eq!(c.state_dir, PathBuf::from("/etc/mailtrail/state"));
        assert_eq!(c.accounts[0].name, "log@crm.example.com");
        assert_eq!(c.accounts[0].backfill, Backfill::All);
        assert_eq!(c.accounts[1].address, "alice@example.com");
        assert_eq!(c.accounts[1].backfill, Backfill::Days(3));
        assert!(matches!(
            c.accounts[1].credentials,
            Credentials::OAuth2(SecretSource::Env(_))
        ));
        assert_eq!(c.max_waiting_bytes, 512 * 1024 * 1024);
    }

    #[test]
    fn waiting_budget() {
        let doc = |mb: u64| {
            format!(
                r#"{{"maxWaitingMegabytes": {mb}, "accounts": [{{"url": "imaps://log@crm.example.com", "role": "logging-mailbox", "address": "log@crm.example.com", "passwordEnv": "HOME"}}]}}"#
            )
        };
        let c = parse(&doc(64), Path::new("/"), true).unwrap();
        assert_eq!(c.max_waiting_bytes, 64 * 1024 * 1024);
        let e = parse(&doc(0), Path::new("/"), true).unwrap_err();
        assert!(
            describe(&e).contains("maxWaitingMegabytes"),
            "{}",
            describe(&e)
        );
    }

    #[test]
    fn every_error_at_once() {
        let doc = r#"{"accounts": [
            {"url": "pop3://bob@pop.example.com", "role": "connected-inbox", "passwordEnv": "MT_TEST_UNSET_VARIABLE"},
            {"url": "imaps://bob@imap.example.com", "role": "inbox", "passwordEnv": "A", "passwordFile": "/x"},
            {"url": "imaps://bob@imap.example.com"}
        ]}"#;
        let errors = parse(doc, Path::new("/"), true).unwrap_err();
        let text = describe(&errors);
        assert!(
            text.contains("accounts[0].url: POP3 is not supported"),
            "{text}"
        );
        assert!(text.contains("accounts[0].passwordEnv: the environment variable MT_TEST_UNSET_VARIABLE is not set"), "{text}");
        assert!(text.contains("accounts[1].role"), "{text}");
        assert!(
            text.contains("give only one of passwordEnv, passwordFile"),
            "{text}"
        );
        assert!(text.contains("accounts[2].role: missing"), "{text}");
        assert!(
            text.contains("accounts[2].passwordEnv: no credentials"),
            "{text}"
        );
        assert!(text.contains("accounts[2].address"), "{text}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = parse(
            r#"{"accounts": [], "stateDirectory": "x"}"#,
            Path::new("/"),
            true,
        )
        .unwrap_err();
        assert!(describe(&e).contains("unknown field"), "{}", describe(&e));
    }
}
