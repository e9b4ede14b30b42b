//! The IMAP connection: TCP, TLS (implicit or STARTTLS), login (password or XOAUTH2), and the few
//! commands the watcher needs, each with a timeout and with failures sorted into what the user
//! has to know (see [`ImapError`]).
//!
//! The protocol itself is async-imap's; this module adds the policy: every command is bounded in
//! time (a half-open TCP connection would otherwise hang the watcher forever), mailboxes are
//! opened read-only (EXAMINE) and bodies fetched with BODY.PEEK so nothing is marked as read, and
//! server answers are classified by their RFC 5530 response codes.

use super::config::{Account, Credentials, Security};
use super::tls;
use async_imap::imap_proto::{self, Response};
use async_imap::types::{Fetch, NameAttribute};
use futures_util::TryStreamExt;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;
pub type Session = async_imap::Session<TlsStream>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// A fetch of one batch may move megabytes over a slow link.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Why the connection failed or ended, sorted by what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapError {
    /// DNS, refused, timeout, reset before login: try again later.
    Unreachable(String),
    /// The server's certificate is not trusted for this name.
    Certificate(String),
    /// Password or token refused (changed, expired, revoked token).
    AuthFailed(String),
    /// The login is valid but the server refuses this account or connection
    /// (RFC 5530 AUTHORIZATIONFAILED, CONTACTADMIN; access disabled by an administrator).
    AccessRevoked(String),
    /// The server is temporarily unable to serve the account (RFC 5530 UNAVAILABLE).
    Unavailable(String),
    /// The password or token could not be read here (missing file or variable).
    Credentials(String),
    /// The connection dropped or the server said BYE after login.
    Lost(String),
    /// A folder could not be opened.
    Mailbox(String),
    /// The server answered something the watcher cannot work with.
    Protocol(String),
}

impl std::fmt::Display for ImapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, detail) = match self {
            ImapError::Unreachable(d) => ("cannot reach the server", d),
            ImapError::Certificate(d) => ("the server's certificate is not trusted", d),
            ImapError::AuthFailed(d) => ("authentication failed", d),
            ImapError::AccessRevoked(d) => ("the server refuses access to this account", d),
            ImapError::Unavailable(d) => ("the server is temporarily unavailable", d),
            ImapError::Credentials(d) => ("cannot read the credentials", d),
            ImapError::Lost(d) => ("connection lost", d),
            ImapError::Mailbox(d) => ("cannot open the folder", d),
            ImapError::Protocol(d) => ("unexpected server answer", d),
        };
        if detail.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {detail}")
        }
    }
}

/// What the server offers that the watcher uses.
#[derive(Debug, Clone, Default)]
pub struct Caps {
    pub idle: bool,
}

/// A logged-in connection.
pub struct Connection {
    pub session: Session,
    pub caps: Caps,
}

/// A folder as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// The name as the server spells it (modified UTF-7): what SELECT needs.
    pub raw: String,
    /// The name for people (decoded).
    pub name: String,
    pub sent: bool,
    pub selectable: bool,
}

/// The state of a folder after EXAMINE.
#[derive(Debug, Clone, Copy)]
pub struct Opened {
    pub uid_validity: u32,
    pub uid_next: Option<u32>,
}

/// Connects, secures and logs in.
pub async fn connect(
    account: &Account,
    tls_config: Arc<ClientConfig>,
) -> Result<Connection, ImapError> {
    // Read the secret first: a missing token file is a local problem, not the server's.
    let secret =
        super::config::read_secret(account.credentials.source()).map_err(ImapError::Credentials)?;
    let server_name = tls::server_name(&account.host).map_err(ImapError::Unreachable)?;
    let tcp = tcp_connect(&account.host, account.port).await?;
    let connector = TlsConnector::from(tls_config);
    let tls_stream = match account.security {
        Security::Implicit => tls_handshake(&connector, server_name, tcp).await?,
        Security::StartTls => {
            let mut plain = async_imap::Client::new(tcp);
            read_greeting(&mut plain).await?;
            timed(
                COMMAND_TIMEOUT,
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await?
            .map_err(|e| {
                ImapError::Protocol(format!(
                    "the server does not offer STARTTLS ({}); use imaps:// if it has a TLS port",
                    server_text(&e)
                ))
            })?;
            tls_handshake(&connector, server_name, plain.into_inner()).await?
        }
    };
    let mut client = async_imap::Client::new(tls_stream);
    let greeting_caps = match account.security {
        Security::Implicit => read_greeting(&mut client).await?,
        // After STARTTLS there is no second greeting.
        Security::StartTls => None,
    };
    let user = account.user.clone();
    let login = match &account.credentials {
        Credentials::OAuth2(_) => {
            let auth = XOAuth2 {
                user: user.clone(),
                token: secret,
                sent: false,
            };
            timed(COMMAND_TIMEOUT, client.authenticate("XOAUTH2", auth)).await?
        }
        Credentials::Password(_) => {
            let plain = greeting_caps == Some(true);
            if plain {
                let auth = Plain {
                    user: user.clone(),
                    password: secret,
                    sent: false,
                };
                timed(COMMAND_TIMEOUT, client.authenticate("PLAIN", auth)).await?
            } else {
                timed(COMMAND_TIMEOUT, client.login(&user, &secret)).await?
            }
        }
    };
    let mut session = login.map_err(|(e, _client)| classify_login_error(&e))?;
    let caps = timed(COMMAND_TIMEOUT, session.capabilities())
        .await?
        .map_err(|e| lost(&e))?;
    let caps = Caps {
        idle: caps.has_str("IDLE"),
    };
    Ok(Connection { session, caps })
}

async fn tcp_connect(host: &str, port: u16) -> Result<TcpStream, ImapError> {
    let addrs: Vec<std::net::SocketAddr> =
        timed(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| ImapError::Unreachable(format!("looking up {host} timed out")))?
            .map_err(|e| ImapError::Unreachable(format!("cannot resolve {host}: {e}")))?
            .collect();
    let mut last = format!("{host} has no address");
    for addr in addrs {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        };
        let Ok(socket) = socket else { continue };
        // Keepalive finds a connection that died silently (NAT timeout, server crash) during IDLE.
        let _ = socket.set_keepalive(true);
        match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(ImapError::Unreachable(last))
}

async fn tls_handshake(
    connector: &TlsConnector,
    name: tokio_rustls::rustls::pki_types::ServerName<'static>,
    tcp: TcpStream,
) -> Result<TlsStream, ImapError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Err(_) => Err(ImapError::Unreachable("the TLS handshake timed out".into())),
        Ok(Err(e)) if tls::is_certificate_error(&e) => Err(ImapError::Certificate(e.to_string())),
        Ok(Err(e)) => Err(ImapError::Unreachable(format!("TLS handshake failed: {e}"))),
        Ok(Ok(s)) => Ok(s),
    }
}

/// Reads the server greeting; when it announces capabilities, says whether AUTH=PLAIN is one.
async fn read_greeting<T>(client: &mut async_imap::Client<T>) -> Result<Option<bool>, ImapError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let resp = timed(CONNECT_TIMEOUT, client.read_response())
        .await?
        .map_err(|e| ImapError::Unreachable(format!("no greeting: {e}")))?
        .ok_or_else(|| {
            ImapError::Unreachable("the server closed the connection before greeting".into())
        })?;
    match resp.parsed() {
        Response::Data {
            status: imap_proto::Status::Bye,
            outcome,
        } => {
            let text = outcome.information.as_deref().unwrap_or("").to_string();
            Err(ImapError::Unavailable(format!(
                "the server refused the connection: {text}"
            )))
        }
        Response::Data {
            outcome:
                imap_proto::Outcome {
                    code: Some(imap_proto::ResponseCode::Capabilities(caps)),
                    ..
                },
            ..
        } => Ok(Some(caps.iter().any(
            |c| matches!(c, imap_proto::Capability::Auth(m) if m.eq_ignore_ascii_case("PLAIN")),
        ))),
        _ => Ok(None),
    }
}

/// SASL PLAIN: works with any password (LOGIN's quoted string is 7-bit by the RFC).
struct Plain {
    user: String,
    password: String,
    sent: bool,
}

impl async_imap::Authenticator for Plain {
    type Response = Vec<u8>;
    fn process(&mut self, _challenge: &[u8]) -> Vec<u8> {
        if std::mem::replace(&mut self.sent, true) {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        out.push(0);
        out.extend_from_slice(self.user.as_bytes());
        out.push(0);
        out.extend_from_slice(self.password.as_bytes());
        out
    }
}

/// XOAUTH2 (Gmail, Office 365). On failure the server sends a JSON challenge and waits for an
/// empty answer before its NO: the second call answers it.
struct XOAuth2 {
    user: String,
    token: String,
    sent: bool,
}

impl async_imap::Authenticator for XOAuth2 {
    type Response = String;
    fn process(&mut self, _challenge: &[u8]) -> String {
        if std::mem::replace(&mut self.sent, true) {
            return String::new();
        }
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// The server's own words in an async-imap error: `info: Some("[CODE] text")`.
pub fn server_text(e: &async_imap::error::Error) -> String {
    let s = e.to_string();
    if let Some(start) = s.find("info: Some(\"") {
        let rest = &s[start + 12..];
        if let Some(end) = rest.rfind("\")") {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    s
}

fn classify_login_error(e: &async_imap::error::Error) -> ImapError {
    use async_imap::error::Error as E;
    match e {
        E::No(_) | E::Bad(_) => {
            let text = server_text(e);
            let upper = text.to_ascii_uppercase();
            let human = strip_code(&text);
            if upper.contains("[UNAVAILABLE]")
                || upper.contains("[INUSE]")
                || upper.contains("[LIMIT]")
            {
                ImapError::Unavailable(human)
            } else if upper.contains("[AUTHORIZATIONFAILED]")
                || upper.contains("[CONTACTADMIN]")
                || upper.contains("[PRIVACYREQUIRED]")
            {
                ImapError::AccessRevoked(human)
            } else if upper.contains("[EXPIRED]") {
                ImapError::AuthFailed(format!("the password has expired ({human})"))
            } else {
                ImapError::AuthFailed(human)
            }
        }
        E::Io(io) => ImapError::Unreachable(format!("connection failed during login: {io}")),
        E::ConnectionLost => {
            ImapError::Unreachable("the server closed the connection during login".into())
        }
        other => ImapError::Protocol(format!("login: {other}")),
    }
}

fn strip_code(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((_, rest)) => rest.trim().to_string(),
        None => t.to_string(),
    }
}

/// Any failure of a command after login: the connection cannot be trusted any more.
pub fn lost(e: &async_imap::error::Error) -> ImapError {
    ImapError::Lost(e.to_string())
}

async fn timed<F: std::future::Future>(limit: Duration, f: F) -> Result<F::Output, ImapError> {
    tokio::time::timeout(limit, f).await.map_err(|_| {
        ImapError::Lost(format!(
            "the server did not answer within {} s",
            limit.as_secs()
        ))
    })
}

impl Connection {
    /// Every folder, with special-use flags when the server has them.
    pub async fn list(&mut self) -> Result<Vec<Folder>, ImapError> {
        let names: Vec<async_imap::types::Name> = timed(COMMAND_TIMEOUT, async {
            let stream = self.session.list(Some(""), Some("*")).await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?
        .map_err(|e| lost(&e))?;
        Ok(names
            .iter()
            .map(|n| Folder {
                raw: n.name().to_string(),
                name: super::folders::decode_mutf7(n.name()),
                sent: n
                    .attributes()
                    .iter()
                    .any(|a| matches!(a, NameAttribute::Sent)),
                selectable: !n
                    .attributes()
                    .iter()
                    .any(|a| matches!(a, NameAttribute::NoSelect)),
            })
            .collect())
    }

    /// Opens a folder read-only.
    pub async fn examine(&mut self, raw_name: &str) -> Result<Opened, ImapError> {
        let mbox = timed(COMMAND_TIMEOUT, self.session.examine(raw_name))
            .await?
            .map_err(|e| match e {
                async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_) => {
                    ImapError::Mailbox(format!("{raw_name}: {}", server_text(&e)))
                }
                other => lost(&other),
            })?;
        let uid_validity = mbox.uid_validity.ok_or_else(|| {
            ImapError::Protocol(format!("{raw_name}: the server gave no UIDVALIDITY"))
        })?;
        Ok(Opened {
            uid_validity,
            uid_next: mbox.uid_next,
        })
    }

    /// UIDs matching a search, sorted.
    pub async fn uid_search(&mut self, query: &str) -> Result<Vec<u32>, ImapError> {
        let set = timed(COMMAND_TIMEOUT, self.session.uid_search(query))
            .await?
            .map_err(|e| lost(&e))?;
        let sorted: BTreeSet<u32> = set.into_iter().collect();
        Ok(sorted.into_iter().collect())
    }

    /// UID FETCH of a set of UIDs; only answers for the requested UIDs are kept (a server may
    /// add unsolicited FETCH responses for flag changes made by other clients).
    pub async fn uid_fetch(&mut self, uids: &[u32], items: &str) -> Result<Vec<Fetch>, ImapError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: BTreeSet<u32> = uids.iter().copied().collect();
        let set = uid_set(uids);
        let fetched: Vec<Fetch> = timed(FETCH_TIMEOUT, async {
            let stream = self.session.uid_fetch(&set, items).await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await?
        .map_err(|e| lost(&e))?;
        Ok(fetched
            .into_iter()
            .filter(|f| f.uid.is_some_and(|u| wanted.contains(&u)))
            .collect())
    }

    /// Empties the notifications the server sent while other commands ran; true when one of
    /// them says mail arrived (EXISTS/RECENT). The server tells a client about new mail once:
    /// mail that arrived during a sync, after its UID SEARCH, is announced here and not again
    /// by the IDLE that follows, so the caller must sync again rather than wait.
    pub fn new_mail_hint(&mut self) -> bool {
        let rx = &self.session.unsolicited_responses;
        mail_hint(|| rx.try_recv().ok())
    }

    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.session.logout()).await;
    }
}

/// How an IDLE ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEnd {
    /// The server reported a change.
    Changed,
    /// Nothing happened before the deadline.
    Timeout,
    /// The watcher is stopping.
    Stopped,
    /// Something else needs the account's attention (a `--retry-failed` request).
    Woken,
}

/// IDLE on the selected folder until the server reports a change, `max` passes, `stop` fires
/// or `wake` changes; always ends with DONE so the connection can be used again.
pub async fn idle(
    conn: Connection,
    max: Duration,
    stop: &tokio::sync::watch::Receiver<bool>,
    wake: &mut tokio::sync::watch::Receiver<u64>,
) -> Result<(Connection, IdleEnd), ImapError> {
    let caps = conn.caps;
    let notifications = conn.session.unsolicited_responses.clone();
    let mut handle = conn.session.idle();
    timed(COMMAND_TIMEOUT, handle.init())
        .await?
        .map_err(|e| lost(&e))?;
    let mut stop = stop.clone();
    // Mail announced while IDLE was starting is not announced again.
    let arrived_meanwhile = mail_hint(|| notifications.try_recv().ok());
    let end = if arrived_meanwhile {
        IdleEnd::Changed
    } else {
        // The library's own timeout restarts with every keepalive the server sends, so the
        // deadline is enforced here by interrupting the wait.
        let (wait, interrupt) = handle.wait_with_timeout(max + Duration::from_secs(5));
        tokio::pin!(wait);
        let mut interrupt = Some(interrupt);
        let mut reason = IdleEnd::Timeout;
        let deadline = tokio::time::sleep(max);
        tokio::pin!(deadline);
        let result = loop {
            tokio::select! {
                r = &mut wait => break r,
                _ = &mut deadline, if interrupt.is_some() => {
                    interrupt = None;
                }
                changed = stop.changed(), if interrupt.is_some() => {
                    if changed.is_err() || *stop.borrow() {
                        reason = IdleEnd::Stopped;
                        interrupt = None;
                    }
                }
                _ = super::retry::woken(wake), if interrupt.is_some() => {
                    reason = IdleEnd::Woken;
                    interrupt = None;
                }
            }
        };
        match result {
            Ok(async_imap::extensions::idle::IdleResponse::NewData(data)) => {
                if let Response::Data {
                    status: imap_proto::Status::Bye,
                    outcome,
                } = data.parsed()
                {
                    return Err(ImapError::Lost(format!(
                        "the server closed the connection ({})",
                        outcome.information.as_deref().unwrap_or("BYE")
                    )));
                }
                IdleEnd::Changed
            }
            Ok(async_imap::extensions::idle::IdleResponse::Timeout) => IdleEnd::Timeout,
            // The library reports a closed connection like an interruption: tell them apart.
            Ok(async_imap::extensions::idle::IdleResponse::ManualInterrupt)
                if interrupt.is_some() =>
            {
                return Err(ImapError::Lost(
                    "the server closed the connection during IDLE".into(),
                ));
            }
            Ok(async_imap::extensions::idle::IdleResponse::ManualInterrupt) => reason,
            Err(e) => return Err(lost(&e)),
        }
    };
    let session = timed(COMMAND_TIMEOUT, handle.done())
        .await?
        .map_err(|e| lost(&e))?;
    Ok((Connection { session, caps }, end))
}

fn mail_hint(mut next: impl FnMut() -> Option<async_imap::types::UnsolicitedResponse>) -> bool {
    let mut hint = false;
    while let Some(r) = next() {
        hint |= matches!(
            r,
            async_imap::types::UnsolicitedResponse::Exists(_)
                | async_imap::types::UnsolicitedResponse::Recent(_)
        );
    }
    hint
}

/// A compact UID set: `1:5,7,9:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted: Vec<u32> = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8, 9, 12]), "1:3,5,7:9,12");
        assert_eq!(uid_set(&[9, 1, 2, 2]), "1:2,9");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(
            uid_set(&[u32::MAX - 1, u32::MAX]),
            format!("{}:{}", u32::MAX - 1, u32::MAX)
        );
    }

    #[test]
    fn login_errors_are_sorted_by_response_code() {
        let no = |s: &str| async_imap::error::Error::No(format!("code: None, info: Some({s:?})"));
        assert!(
            matches!(classify_login_error(&no("[AUTHENTICATIONFAILED] Authentication failed.")), ImapError::AuthFailed(t) if t == "Authentication failed.")
        );
        assert!(
            matches!(classify_login_error(&no("[CONTACTADMIN] Access revoked")), ImapError::AccessRevoked(t) if t == "Access revoked")
        );
        assert!(matches!(
            classify_login_error(&no("[AUTHORIZATIONFAILED] no")),
            ImapError::AccessRevoked(_)
        ));
        assert!(matches!(
            classify_login_error(&no("[UNAVAILABLE] Try later")),
            ImapError::Unavailable(_)
        ));
        assert!(
            matches!(classify_login_error(&no("[EXPIRED] Password expired")), ImapError::AuthFailed(t) if t.contains("expired"))
        );
        assert!(matches!(
            classify_login_error(&no("Invalid credentials (Failure)")),
            ImapError::AuthFailed(_)
        ));
        assert!(matches!(
            classify_login_error(&async_imap::error::Error::ConnectionLost),
            ImapError::Unreachable(_)
        ));
    }
}
