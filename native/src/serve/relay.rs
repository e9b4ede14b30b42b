//! The HubSpot relay: `mailtrail serve` delivers the records it stores to HubSpot.
//!
//! Why: HubSpot's CRM API does not answer CORS preflights for browser origins, so the Outlook
//! add-in (an ordinary web page, without an extension's host permissions) cannot call it. The
//! add-in sends its records to this server instead, as to any local endpoint; with the relay
//! configured the server passes each stored record on to HubSpot with the core's own delivery
//! code (`mailtrail::delivery`, the mapping the browser uses).
//!
//! - Configuration comes from the server's command line and environment, never from a client
//!   ([`RelaySetting::resolve`]: a flag over its variable, every value checked in one place).
//! - Queue: table `relay`, one row per record, written by the record writer in the transaction
//!   that stores the record while the relay is on (`relay_targets`); see db/relay.rs. A record
//!   stored twice (same key, same Message-ID) is one row: HubSpot gets one email.
//! - Worker: takes due rows with a lease (several servers sharing a PostgreSQL database never
//!   deliver the same record at once), delivers, stores the outcome: done (HubSpot's id),
//!   retrying (backoff as the extension's outbox, Retry-After honoured), dead (HubSpot refused
//!   it, or out of attempts; retried from the UI or the API). An attempt that may have reached
//!   HubSpot (timeout, crash, 5xx on create) is marked `maybe_sent`: the next one looks for the
//!   email in HubSpot before creating it.
//! - Lookups: `POST /v1/contacts/lookup` also asks HubSpot ([`Relay::lookup`]), so the clients'
//!   known-contact decisions match HubSpot's contacts.

use super::api::Authed;
use super::db::{now_ms, RelayCounts, RelayFinish, RelayListRow, RelayRow, StoredRecord};
use super::error::ApiError;
use super::AppState;
use crate::transport::Native;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mailtrail::outbox::{DeliveryOutcome, RetryPolicy};
use mailtrail::settings::EndpointConfig;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The relay target name stored in the database.
pub const TARGET: &str = "hubspot";
/// Records delivered at once (HubSpot allows about 10 requests a second per private app; a
/// record takes 2 to 4).
const IN_FLIGHT: usize = 4;
/// How often the queue is looked at when nothing woke the worker (records stored by another
/// server sharing the database, retries coming due).
const POLL: Duration = Duration::from_secs(5);
/// Default longest time one delivery may take (its HubSpot requests, 30 s each at most).
const DEFAULT_TIMEOUT_SECS: u64 = 240;
/// How long a lookup waits for HubSpot before answering with what it knows (the Outlook add-in
/// gives a lookup at send 800 ms); HubSpot's answer still fills the cache for the next one.
const LOOKUP_WAIT: Duration = Duration::from_millis(500);
/// How long HubSpot's answer about an address is reused.
const KNOWN_TTL: Duration = Duration::from_secs(15 * 60);
const UNKNOWN_TTL: Duration = Duration::from_secs(60);
/// Lookups to HubSpot in flight at once; more are answered without asking.
const LOOKUPS_IN_FLIGHT: usize = 4;
/// The wait after HubSpot refused the token (it stays refused until someone fixes it).
const CREDENTIALS_WAIT_MS: u64 = 5 * 60 * 1000;
/// Addresses remembered, at most.
const CACHE_LIMIT: usize = 50_000;

/// What the environment says about the relay.
#[derive(Debug, Clone)]
pub enum RelaySetting {
    /// Nothing set.
    Unset,
    /// `MAILTRAIL_HUBSPOT_RELAY=off`: stop queuing records for HubSpot.
    Off,
    On(RelayConfig),
}

/// Where and how to relay.
#[derive(Clone)]
pub struct RelayConfig {
    /// Always `EndpointConfig::Hubspot`.
    pub endpoint: EndpointConfig,
    /// Longest time one delivery may take; its lease is this plus `settle`.
    pub timeout: Duration,
    /// How long HubSpot's search is given to show an email that may have been created, before
    /// the relay looks for it.
    pub settle: Duration,
    /// Answer contact lookups from HubSpot too.
    pub lookups: bool,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("RelayConfig")
            .field("base_url", &self.base_url())
            .field("timeout", &self.timeout)
            .field("settle", &self.settle)
            .field("lookups", &self.lookups)
            .finish()
    }
}

impl RelayConfig {
    pub fn base_url(&self) -> &str {
        match &self.endpoint {
            EndpointConfig::Hubspot { base_url, .. } => base_url,
            _ => "",
        }
    }
}

/// The relay's settings as given on `mailtrail serve`'s command line (raw, validated with the
/// environment's by [`RelaySetting::resolve`]). A flag overrides its environment variable.
/// There is no flag for the token itself: a command line shows in `ps` to every user of the
/// machine. `--hubspot-token-file` names a file holding it.
#[derive(Debug, Clone, Default)]
pub struct RelayFlags {
    /// `--relay on|off`
    pub relay: Option<String>,
    /// `--hubspot-token-file PATH`
    pub token_file: Option<std::path::PathBuf>,
    /// `--hubspot-base-url URL`
    pub base_url: Option<String>,
    /// `--hubspot-emails-path PATH`
    pub emails_path: Option<String>,
    /// `--hubspot-contacts-path PATH`
    pub contacts_path: Option<String>,
    /// `--hubspot-timeout SECS`
    pub timeout: Option<String>,
    /// `--hubspot-settle SECS`
    pub settle: Option<String>,
    /// `--hubspot-lookups on|off`
    pub lookups: Option<String>,
}

/// One relay setting: its environment variable and its flag.
#[derive(Clone, Copy)]
enum Setting {
    Relay,
    BaseUrl,
    EmailsPath,
    ContactsPath,
    Timeout,
    Settle,
    Lookups,
}

impl Setting {
    fn env(self) -> &'static str {
        match self {
            Setting::Relay => "MAILTRAIL_HUBSPOT_RELAY",
            Setting::BaseUrl => "MAILTRAIL_HUBSPOT_BASE_URL",
            Setting::EmailsPath => "MAILTRAIL_HUBSPOT_EMAILS_PATH",
            Setting::ContactsPath => "MAILTRAIL_HUBSPOT_CONTACTS_PATH",
            Setting::Timeout => "MAILTRAIL_HUBSPOT_TIMEOUT",
            Setting::Settle => "MAILTRAIL_HUBSPOT_SETTLE",
            Setting::Lookups => "MAILTRAIL_HUBSPOT_LOOKUPS",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Setting::Relay => "--relay",
            Setting::BaseUrl => "--hubspot-base-url",
            Setting::EmailsPath => "--hubspot-emails-path",
            Setting::ContactsPath => "--hubspot-contacts-path",
            Setting::Timeout => "--hubspot-timeout",
            Setting::Settle => "--hubspot-settle",
            Setting::Lookups => "--hubspot-lookups",
        }
    }

    fn given(self, flags: &RelayFlags) -> Option<&String> {
        match self {
            Setting::Relay => flags.relay.as_ref(),
            Setting::BaseUrl => flags.base_url.as_ref(),
            Setting::EmailsPath => flags.emails_path.as_ref(),
            Setting::ContactsPath => flags.contacts_path.as_ref(),
            Setting::Timeout => flags.timeout.as_ref(),
            Setting::Settle => flags.settle.as_ref(),
            Setting::Lookups => flags.lookups.as_ref(),
        }
    }
}

/// A setting's value and where it came from (the flag or the variable), for error messages.
struct Given {
    value: String,
    origin: &'static str,
}

impl RelaySetting {
    /// The environment's settings alone (`var` reads a variable).
    #[cfg(test)]
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<RelaySetting> {
        Self::resolve(&RelayFlags::default(), var)
    }

    /// The relay's settings from `mailtrail serve`'s flags, each over its environment variable
    /// (`env` reads one; [`env_var`] for the process's). Every value is checked here, whichever
    /// place it came from; a bad one is a [`super::BadInput`] naming that place.
    pub fn resolve(
        flags: &RelayFlags,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<RelaySetting> {
        let var = |s: Setting| -> Option<Given> {
            if let Some(v) = s.given(flags).filter(|v| !v.trim().is_empty()) {
                return Some(Given {
                    value: v.clone(),
                    origin: s.flag(),
                });
            }
            env(s.env()).map(|value| Given {
                value,
                origin: s.env(),
            })
        };
        let on_off = |s: Setting| -> anyhow::Result<Option<(bool, &'static str)>> {
            match var(s) {
                None => Ok(None),
                Some(g) => match g.value.trim().to_ascii_lowercase().as_str() {
                    "on" => Ok(Some((true, g.origin))),
                    "off" => Ok(Some((false, g.origin))),
                    other => Err(super::bad_input!(
                        "{} must be on or off, not {other:?}",
                        g.origin
                    )),
                },
            }
        };
        let switch = on_off(Setting::Relay)?;
        if let Some((false, _)) = switch {
            return Ok(RelaySetting::Off);
        }
        let token = if let Some(path) = &flags.token_file {
            // The flag overrides the token from the environment, in either variable.
            read_token_file(path, "--hubspot-token-file")?
        } else {
            match (
                env("MAILTRAIL_HUBSPOT_TOKEN"),
                env("MAILTRAIL_HUBSPOT_TOKEN_FILE"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(super::bad_input!(
                        "set MAILTRAIL_HUBSPOT_TOKEN or MAILTRAIL_HUBSPOT_TOKEN_FILE, not both"
                    ))
                }
                (Some(t), None) => t.trim().to_string(),
                (None, Some(path)) => read_token_file(
                    std::path::Path::new(path.trim()),
                    "MAILTRAIL_HUBSPOT_TOKEN_FILE",
                )?,
                (None, None) => {
                    if let Some((_, origin)) = switch {
                        return Err(super::bad_input!(
                            "{origin} on needs the private app's token: --hubspot-token-file, \
                             MAILTRAIL_HUBSPOT_TOKEN_FILE or MAILTRAIL_HUBSPOT_TOKEN"
                        ));
                    }
                    // A HubSpot flag without a token is a mistake (an environment variable
                    // left over from an earlier setup is not: it stays ignored).
                    let flagged = [
                        Setting::BaseUrl,
                        Setting::EmailsPath,
                        Setting::ContactsPath,
                        Setting::Timeout,
                        Setting::Settle,
                        Setting::Lookups,
                    ]
                    .into_iter()
                    .find(|s| s.given(flags).is_some());
                    if let Some(s) = flagged {
                        return Err(super::bad_input!(
                            "{} configures the HubSpot relay, which needs the private app's \
                             token: --hubspot-token-file, MAILTRAIL_HUBSPOT_TOKEN_FILE or \
                             MAILTRAIL_HUBSPOT_TOKEN",
                            s.flag()
                        ));
                    }
                    return Ok(RelaySetting::Unset);
                }
            }
        };
        if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(super::bad_input!(
                "the HubSpot token is empty or has spaces or line breaks inside: paste the private \
                 app's access token (pat-…) alone"
            ));
        }
        let base_url = match var(Setting::BaseUrl) {
            Some(g) => {
                let url = g.value.trim().trim_end_matches('/').to_string();
                check_base_url(&url, g.origin)?;
                url
            }
            None => mailtrail::settings::default_hubspot_base(),
        };
        let path = |s: Setting, default: String| -> anyhow::Result<String> {
            match var(s) {
                None => Ok(default),
                Some(g)
                    if g.value.trim().starts_with('/')
                        && !g.value.trim().contains(char::is_whitespace) =>
                {
                    Ok(g.value.trim().to_string())
                }
                Some(g) => Err(super::bad_input!(
                    "{} must be a path starting with /, not {:?}",
                    g.origin,
                    g.value
                )),
            }
        };
        let emails_path = path(
            Setting::EmailsPath,
            mailtrail::settings::default_hubspot_emails_path(),
        )?;
        let contacts_path = path(
            Setting::ContactsPath,
            mailtrail::settings::default_hubspot_contacts_path(),
        )?;
        let secs = |s: Setting, default: u64, min: u64| -> anyhow::Result<u64> {
            match var(s) {
                None => Ok(default),
                Some(g) => match g.value.trim().parse::<u64>() {
                    Ok(n) if n >= min && n <= 24 * 3600 => Ok(n),
                    _ => Err(super::bad_input!(
                        "{} must be a number of seconds from {min} to 86400, not {:?}",
                        g.origin,
                        g.value
                    )),
                },
            }
        };
        let timeout = secs(Setting::Timeout, DEFAULT_TIMEOUT_SECS, 1)?;
        let settle = secs(
            Setting::Settle,
            mailtrail::delivery::HUBSPOT_SEARCH_SETTLE_MS / 1000,
            0,
        )?;
        let lookups = on_off(Setting::Lookups)?.is_none_or(|(on, _)| on);
        Ok(RelaySetting::On(RelayConfig {
            endpoint: EndpointConfig::Hubspot {
                token,
                base_url,
                emails_path,
                contacts_path,
                owner_id: None,
            },
            timeout: Duration::from_secs(timeout),
            settle: Duration::from_secs(settle),
            lookups,
        }))
    }
}

/// A variable of the process's environment; unset and blank are the same.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The token held in a file (trimmed: files end with a line break).
fn read_token_file(path: &std::path::Path, origin: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map(|t| t.trim().to_string())
        .map_err(|e| super::bad_input!("{origin} {}: {e}", path.display()))
}

/// HTTPS, or plain HTTP to this machine only (a test server, a local proxy): the token goes in
/// every request. `origin` names where the URL came from.
fn check_base_url(url: &str, origin: &str) -> anyhow::Result<()> {
    let bad = |why: &str| super::bad_input!("{origin} {url:?}: {why}");
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(bad("not a URL (https://api.hubapi.com is HubSpot's)"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let hostname = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    if hostname.is_empty() {
        return Err(bad("no host"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" => {
            let loopback = hostname.eq_ignore_ascii_case("localhost")
                || hostname
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(bad("plain http is allowed to this machine only (the token travels in every request): use https"))
            }
        }
        _ => Err(bad("must start with https://")),
    }
}

/// The running relay, shared by the worker and the request handlers.
pub struct Relay {
    pub config: RelayConfig,
    /// This process's name on the leases it takes.
    owner: String,
    transport: Arc<Native>,
    wake: tokio::sync::Notify,
    stop: tokio::sync::watch::Sender<bool>,
    cache: Arc<Mutex<HashMap<String, (bool, Instant)>>>,
    lookups: Arc<tokio::sync::Semaphore>,
    policy: RetryPolicy,
}

impl Relay {
    pub fn new(config: RelayConfig) -> anyhow::Result<Relay> {
        let transport = Native::new().map_err(|e| anyhow::anyhow!(e))?;
        let mut bytes = [0u8; 12];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| anyhow::anyhow!("no randomness for the relay's lease name: {e}"))?;
        let (stop, _) = tokio::sync::watch::channel(false);
        Ok(Relay {
            config,
            owner: super::ingest::hex(&bytes),
            transport: Arc::new(transport),
            wake: tokio::sync::Notify::new(),
            stop,
            cache: Arc::new(Mutex::new(HashMap::new())),
            lookups: Arc::new(tokio::sync::Semaphore::new(LOOKUPS_IN_FLIGHT)),
            policy: RetryPolicy::default(),
        })
    }

    /// A record was stored: look at the queue now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn lease(&self) -> Duration {
        self.config.timeout + self.config.settle
    }

    /// Starts the worker. `stop` then waits for it.
    pub fn start(self: &Arc<Self>, st: Arc<AppState>) -> tokio::task::JoinHandle<()> {
        let relay = self.clone();
        tokio::spawn(async move { relay.run(st).await })
    }

    /// Stops taking records, waits up to `grace` for the attempts in flight, then gives back
    /// what is still out (marked `maybe_sent`: HubSpot may have it).
    pub async fn stop(&self, st: &AppState, worker: tokio::task::JoinHandle<()>, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = worker.abort_handle();
        if tokio::time::timeout(grace, worker).await.is_err() {
            abort.abort();
            let now = now_ms();
            let again = now.saturating_add(millis(self.config.settle));
            match st.store.relay_release(&self.owner, again, now).await {
                Ok(n) if n > 0 => tracing::warn!(
                    records = n,
                    "HubSpot relay: stopped while HubSpot was answering; those records are checked in HubSpot before they are sent again"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "HubSpot relay: could not give back the records in flight; they are taken again when their lease ends"),
            }
        }
    }

    async fn run(self: Arc<Self>, st: Arc<AppState>) {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut stop = self.stop.subscribe();
        let mut in_flight = FuturesUnordered::new();
        let mut db_failures: u32 = 0;
        loop {
            let stopping = *stop.borrow();
            if stopping && in_flight.is_empty() {
                break;
            }
            let mut idle_wait = POLL;
            if !stopping && in_flight.len() < IN_FLIGHT {
                let now = now_ms();
                let room = (IN_FLIGHT - in_flight.len()) as i64;
                let lease_until = now.saturating_add(millis(self.lease()));
                match st
                    .store
                    .relay_claim(TARGET, &self.owner, now, lease_until, room)
                    .await
                {
                    Ok(claims) => {
                        db_failures = 0;
                        let took = claims.len();
                        for c in claims {
                            let relay = self.clone();
                            let st = st.clone();
                            in_flight.push(async move { relay.attempt(&st, c).await });
                        }
                        if took > 0 && in_flight.len() < IN_FLIGHT {
                            // There may be more due: look again at once.
                            continue;
                        }
                        if in_flight.is_empty() {
                            if let Ok(Some(next)) = st.store.relay_next_due(TARGET).await {
                                let ms = next.saturating_sub(now_ms()).max(0) as u64;
                                idle_wait = idle_wait.min(Duration::from_millis(ms.max(50)));
                            }
                        }
                    }
                    Err(e) => {
                        db_failures += 1;
                        if db_failures == 1 || db_failures.is_multiple_of(60) {
                            tracing::warn!(error = %e, "HubSpot relay: cannot read the queue; trying again");
                        }
                    }
                }
            }
            tokio::select! {
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                _ = self.wake.notified(), if !stopping => {}
                _ = stop.changed(), if !stopping => {}
                _ = tokio::time::sleep(idle_wait) => {}
            }
        }
    }

    /// One attempt at one record, and its result stored.
    async fn attempt(&self, st: &AppState, claim: super::db::RelayClaim) {
        let finish = self.deliver(&claim).await;
        let state = finish.state;
        // The result must be stored: a lost "done" would send the email again (after a search
        // that should find it, but still). The lease bounds how long this may keep trying.
        let deadline = Instant::now() + self.config.settle.max(Duration::from_secs(30));
        loop {
            match st
                .store
                .relay_finish(TARGET, &self.owner, claim.record_id, &finish, now_ms())
                .await
            {
                Ok(_) => break,
                Err(e) if Instant::now() < deadline => {
                    tracing::warn!(error = %e, record = claim.record_id, "HubSpot relay: cannot store a result; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, record = claim.record_id, "HubSpot relay: result not stored; the record is checked in HubSpot when its lease ends");
                    return;
                }
            }
        }
        match state {
            "done" => tracing::debug!(record = claim.record_id, "relayed to HubSpot"),
            "dead" => tracing::warn!(
                record = claim.record_id,
                error = finish.last_error.as_deref().unwrap_or(""),
                "HubSpot relay: record refused; fix the cause and retry it from the web UI or the API"
            ),
            _ => tracing::info!(
                record = claim.record_id,
                attempt = claim.attempts,
                error = finish.last_error.as_deref().unwrap_or(""),
                "HubSpot relay: will retry"
            ),
        }
    }

    async fn deliver(&self, claim: &super::db::RelayClaim) -> RelayFinish {
        let now = now_ms();
        let dead = |code: &str, message: String| RelayFinish {
            state: "dead",
            next_at: now,
            maybe_sent: claim.maybe_sent,
            last_status: None,
            last_code: Some(code.to_string()),
            last_error: Some(message),
            remote_id: None,
            uncount: false,
        };
        let Some(body) = &claim.body else {
            return dead(
                "record-missing",
                "the record is no longer stored; it cannot be sent".into(),
            );
        };
        let record: mailtrail::Record = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(e) => {
                return dead(
                    "record-unreadable",
                    format!("the stored record cannot be read: {e}"),
                )
            }
        };
        if claim.attempts > i64::from(self.policy.max_attempts) {
            return dead(
                "out-of-attempts",
                format!(
                    "given up after {} attempts that never reported back",
                    claim.attempts - 1
                ),
            );
        }
        let outcome = match tokio::time::timeout(
            self.config.timeout,
            mailtrail::delivery::deliver(
                &self.config.endpoint,
                &record,
                claim.maybe_sent,
                now,
                &*self.transport,
            ),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                // Cut off mid-way: the email may have been created.
                return self.retry(
                    claim,
                    true,
                    None,
                    Some("timeout".into()),
                    format!(
                        "HubSpot did not finish answering within {} s",
                        self.config.timeout.as_secs()
                    ),
                    0,
                );
            }
        };
        match outcome {
            DeliveryOutcome::Delivered { remote_id, .. }
            | DeliveryOutcome::Duplicate { remote_id } => RelayFinish {
                state: "done",
                next_at: now_ms(),
                maybe_sent: claim.maybe_sent,
                last_status: None,
                last_code: None,
                last_error: None,
                remote_id,
                uncount: false,
            },
            DeliveryOutcome::Retry {
                error,
                retry_after_ms,
                maybe_sent,
                ..
            } => {
                // The core asks a create that may have landed to wait for HubSpot's search
                // (its settle time); this server's own settle time replaces it.
                let retry_after = retry_after_ms
                    .filter(|ms| *ms != mailtrail::delivery::HUBSPOT_SEARCH_SETTLE_MS)
                    .unwrap_or(0);
                self.retry(
                    claim,
                    maybe_sent,
                    error.status,
                    error.code,
                    error.message,
                    retry_after,
                )
            }
            DeliveryOutcome::Permanent { error } if matches!(error.status, Some(401 | 403)) => {
                self.retry(claim, false, error.status, error.code, error.message, 0)
            }
            DeliveryOutcome::Permanent { error } => RelayFinish {
                state: "dead",
                next_at: now_ms(),
                maybe_sent: claim.maybe_sent,
                last_status: error.status.map(i64::from),
                last_code: error.code,
                last_error: Some(error.message),
                remote_id: None,
                uncount: false,
            },
        }
    }

    /// A failed attempt to try again: after the backoff (at least `retry_after_ms`, and at
    /// least the settle time when HubSpot may have the email), or dead when out of attempts.
    /// HubSpot refusing the token (401/403) is not the record's fault: the attempt is not
    /// counted, the record never goes dead for it, and it is tried again every few minutes
    /// until the token is fixed.
    fn retry(
        &self,
        claim: &super::db::RelayClaim,
        maybe_sent: bool,
        status: Option<u16>,
        code: Option<String>,
        message: String,
        retry_after_ms: u64,
    ) -> RelayFinish {
        let now = now_ms();
        let maybe_sent = claim.maybe_sent || maybe_sent;
        let credentials = matches!(status, Some(401 | 403));
        let attempts = u32::try_from(claim.attempts).unwrap_or(u32::MAX);
        let floor = if maybe_sent {
            millis(self.config.settle) as u64
        } else {
            0
        };
        let wait = if credentials {
            CREDENTIALS_WAIT_MS
        } else {
            self.policy
                .backoff_ms(attempts, crate::watch::endpoint::jitter())
                .max(retry_after_ms.min(24 * 3600 * 1000))
        }
        .max(floor);
        let dead = !credentials && attempts >= self.policy.max_attempts;
        RelayFinish {
            state: if dead { "dead" } else { "retrying" },
            next_at: now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
            maybe_sent,
            last_status: status.map(i64::from),
            last_code: code,
            last_error: Some(if credentials {
                format!("{message} — give the server the right token (--hubspot-token-file, MAILTRAIL_HUBSPOT_TOKEN_FILE or MAILTRAIL_HUBSPOT_TOKEN) and restart it; the records wait meanwhile")
            } else {
                message
            }),
            remote_id: None,
            uncount: credentials,
        }
    }

    /// Which of these (normalised) addresses are HubSpot contacts, as far as known within
    /// [`LOOKUP_WAIT`]: answers come from the cache, or from HubSpot when it answers in time
    /// (a late answer fills the cache for the next lookup). `complete` is false when some
    /// addresses could not be asked about; `error` says why.
    pub async fn lookup(&self, addresses: &[String]) -> HubspotLookup {
        let mut out = HubspotLookup {
            known: Vec::new(),
            complete: true,
            error: None,
        };
        if !self.config.lookups || addresses.is_empty() {
            return out;
        }
        let now = Instant::now();
        let mut ask: Vec<String> = Vec::new();
        if let Ok(cache) = self.cache.lock() {
            for a in addresses {
                match cache.get(a) {
                    Some((known, until)) if *until > now => {
                        if *known {
                            out.known.push(a.clone());
                        }
                    }
                    _ => ask.push(a.clone()),
                }
            }
        }
        if ask.is_empty() {
            return out;
        }
        let Ok(permit) = self.lookups.clone().try_acquire_owned() else {
            out.complete = false;
            out.error =
                Some("HubSpot is being asked too much at once; answered from what is known".into());
            return out;
        };
        let endpoint = self.config.endpoint.clone();
        let transport = self.transport.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cache = self.cache.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let result = mailtrail::delivery::lookup_contacts(&endpoint, &ask, &*transport).await;
            // Remembered even when the lookup that asked has answered without it: the next
            // lookup (the send after the compose window's check) finds it here.
            if let Ok(Some(found)) = &result {
                remember(&cache, &ask, found);
            }
            let _ = tx.send(result);
        });
        match tokio::time::timeout(LOOKUP_WAIT, rx).await {
            Ok(Ok(Ok(Some(found)))) => out.known.extend(found),
            Ok(Ok(Ok(None))) => {}
            Ok(Ok(Err(e))) => {
                out.complete = false;
                out.error = Some(e.message);
            }
            Ok(Err(_)) => {
                out.complete = false;
                out.error = Some("the HubSpot lookup stopped".into());
            }
            Err(_) => {
                out.complete = false;
                out.error = Some(format!(
                    "HubSpot did not answer within {} ms",
                    LOOKUP_WAIT.as_millis()
                ));
            }
        }
        out
    }
}

/// Keeps HubSpot's answer about `asked` addresses (`known` among them) for a while.
fn remember(cache: &Mutex<HashMap<String, (bool, Instant)>>, asked: &[String], known: &[String]) {
    let now = Instant::now();
    if let Ok(mut cache) = cache.lock() {
        if cache.len() + asked.len() > CACHE_LIMIT {
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() + asked.len() > CACHE_LIMIT {
                cache.clear();
            }
        }
        for a in asked {
            let is_known = known.contains(a);
            let ttl = if is_known { KNOWN_TTL } else { UNKNOWN_TTL };
            cache.insert(a.clone(), (is_known, now + ttl));
        }
    }
}

/// What HubSpot said about a lookup's addresses.
#[derive(Debug, Clone, Default)]
pub struct HubspotLookup {
    pub known: Vec<String>,
    pub complete: bool,
    pub error: Option<String>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

// ---- what the API and the UI show

/// A relay row as the API shows it.
pub fn relay_json(r: &RelayRow, now: i64) -> Value {
    let in_flight = r.lease_until.is_some_and(|t| t > now);
    let waiting = matches!(r.state.as_str(), "pending" | "retrying");
    let error = r
        .last_error
        .as_ref()
        .map(|m| json!({"status": r.last_status, "code": r.last_code, "message": m}));
    json!({
        "target": r.target,
        "state": r.state,
        "attempts": r.attempts,
        "inFlight": in_flight,
        "nextAttemptAt": if waiting && !in_flight { Some(r.next_at) } else { None },
        "maybeSent": r.maybe_sent,
        "lastError": error,
        "remoteId": r.remote_id,
        "queuedAt": r.created_at,
        "updatedAt": r.updated_at,
    })
}

/// `{"hubspot": {...}}` for a record (`{}` when it is not queued anywhere).
fn relay_map(rows: Option<&Vec<RelayRow>>, now: i64) -> Value {
    let mut map = serde_json::Map::new();
    for r in rows.into_iter().flatten() {
        map.insert(r.target.clone(), relay_json(r, now));
    }
    Value::Object(map)
}

/// Record JSON (`api::record_json`'s, an object) with `"relay"` added.
pub async fn with_relay(
    st: &AppState,
    records: &[&StoredRecord],
    jsons: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let rows = st.store.relay_rows(&ids).await?;
    let now = now_ms();
    Ok(records
        .iter()
        .zip(jsons)
        .map(|(r, mut j)| {
            if j.ends_with('}') {
                j.pop();
                j.push_str(",\"relay\":");
                j.push_str(&relay_map(rows.get(&r.id), now).to_string());
                j.push('}');
            }
            j
        })
        .collect())
}

// ---- routes

type St = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/relay", get(relay_status))
        .route("/v1/relay/retry", post(retry_failed))
        .route("/v1/relay/backfill", post(backfill))
        .route("/v1/records/{key}/relay", post(retry_record))
        .layer(axum::middleware::from_fn(super::api::cors))
}

fn relay_off() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "relay_off",
        "this server does not relay to HubSpot: give it the private app's token \
         (--hubspot-token-file, or MAILTRAIL_HUBSPOT_TOKEN_FILE / MAILTRAIL_HUBSPOT_TOKEN in its \
         environment) and restart it (docs/server.md, \"Relay to HubSpot\")",
    )
}

#[derive(serde::Deserialize)]
struct ListParams {
    state: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub const STATES: &[&str] = &["pending", "retrying", "done", "dead"];

/// The states a list shows: one named, or everything not done.
pub fn list_states(state: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    match state.filter(|s| !s.is_empty()) {
        None => Ok(vec!["dead", "retrying", "pending"]),
        Some(s) => match STATES.iter().find(|x| **x == s) {
            Some(x) => Ok(vec![*x]),
            None => Err(ApiError::bad_request(
                "invalid_state",
                "state",
                "state must be pending, retrying, done or dead",
            )),
        },
    }
}

pub fn list_cursor(r: &RelayListRow) -> String {
    format!("{}.{}", r.relay.updated_at, r.relay.record_id)
}

pub fn parse_list_cursor(c: &str) -> Result<(i64, i64), ApiError> {
    super::api::parse_email_cursor(c)
}

/// Whether records are relayed, queued, and how many are in each state.
pub struct Overview {
    pub configured: bool,
    pub queuing_since: Option<i64>,
    pub counts: RelayCounts,
}

pub async fn overview(st: &AppState) -> Result<Overview, super::db::StoreError> {
    Ok(Overview {
        configured: st.relay.is_some(),
        queuing_since: st.store.relay_enabled_at(TARGET).await?,
        counts: st.store.relay_counts(TARGET).await?,
    })
}

async fn relay_status(
    _: Authed,
    State(st): St,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query", "query", e.body_text()))?;
    let states = list_states(p.state.as_deref())?;
    let limit = match p.limit.as_deref() {
        None | Some("") => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("invalid_limit", "limit", "limit must be 1 to 500")
            })?,
    };
    let before = p
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_list_cursor)
        .transpose()?;
    let o = overview(&st).await?;
    let rows = st.store.relay_list(TARGET, &states, limit, before).await?;
    let now = now_ms();
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(list_cursor))
        .flatten();
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut v = relay_json(&r.relay, now);
            v["idempotencyKey"] = json!(r.idempotency_key);
            v["emailId"] = json!(r.relay.record_id);
            v["subject"] = json!(r.subject);
            v["timestamp"] = json!(r.sent_at);
            v["direction"] = json!(r.direction);
            v
        })
        .collect();
    Ok(Json(json!({
        "target": TARGET,
        "configured": o.configured,
        "baseUrl": st.relay.as_ref().map(|r| r.config.base_url().to_string()),
        "lookups": st.relay.as_ref().map(|r| r.config.lookups),
        "queuingSince": o.queuing_since,
        "counts": o.counts,
        "records": records,
        "nextCursor": next,
    }))
    .into_response())
}

/// Sends a record (again) now: dead, retrying, or stored before the relay was on.
pub async fn retry_key(st: &AppState, key: &str) -> Result<RelayRow, ApiError> {
    let Some(relay) = &st.relay else {
        return Err(relay_off());
    };
    match st.store.relay_retry_now(TARGET, key, now_ms()).await? {
        Some(row) => {
            relay.wake();
            Ok(row)
        }
        None => Err(ApiError::not_found(format!(
            "no record with idempotency key {key:?}"
        ))),
    }
}

async fn retry_record(
    _: Authed,
    State(st): St,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let row = retry_key(&st, &key).await?;
    let status = if row.state == "done" {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(relay_json(&row, now_ms()))).into_response())
}

/// Every dead or retrying record is due again now, attempts reset (after fixing the token, its
/// scopes, or what HubSpot refused).
pub async fn retry_all_failed(st: &AppState) -> Result<i64, ApiError> {
    let Some(relay) = &st.relay else {
        return Err(relay_off());
    };
    let mut n = 0;
    loop {
        let rows = st
            .store
            .relay_list(TARGET, &["dead", "retrying"], 500, None)
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            st.store
                .relay_retry_now(TARGET, &r.idempotency_key, now_ms())
                .await?;
            n += 1;
        }
        if rows.len() < 500 {
            break;
        }
    }
    relay.wake();
    Ok(n)
}

async fn retry_failed(_: Authed, State(st): St) -> Result<Response, ApiError> {
    let n = retry_all_failed(&st).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"requeued": n}))).into_response())
}

/// Queues every stored record never sent to HubSpot (stored before the relay was switched on,
/// or while it was off), those dated `since` or later when given. Each record once: a second
/// run queues nothing new. Returns how many were queued.
pub async fn backfill_records(st: &AppState, since: Option<i64>) -> Result<u64, ApiError> {
    let Some(relay) = &st.relay else {
        return Err(relay_off());
    };
    let n = st.store.relay_backfill(TARGET, since, now_ms()).await?;
    if n > 0 {
        tracing::info!(records = n, since, "HubSpot relay: earlier records queued");
        relay.wake();
    }
    Ok(n)
}

/// A `since` given as text: an RFC 3339 time (`2026-03-01T09:00:00Z`, `…+01:00`), or a date
/// (`2026-03-01`, its start in `zone`). Milliseconds since the epoch.
pub fn parse_since_text(text: &str, zone: &jiff::tz::TimeZone) -> Result<i64, String> {
    let text = text.trim();
    let wrong = || {
        format!(
            "since must be a date (2026-03-01), an RFC 3339 time (2026-03-01T09:00:00Z) or \
             milliseconds since the epoch, not {text:?}"
        )
    };
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    let date = text.parse::<jiff::civil::Date>().map_err(|_| wrong())?;
    date.to_zoned(zone.clone())
        .map(|z| z.timestamp().as_millisecond())
        .map_err(|_| wrong())
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct BackfillBody {
    since: Option<Value>,
}

/// `POST /v1/relay/backfill` with `{"since": …}` or no body.
async fn backfill(
    _: Authed,
    State(st): St,
    super::api::SmallBody(body): super::api::SmallBody,
) -> Result<Response, ApiError> {
    let b: BackfillBody = if body.iter().all(u8::is_ascii_whitespace) {
        BackfillBody::default()
    } else {
        super::error::parse_json(&body)?
    };
    let bad = |m: String| ApiError::bad_request("invalid_since", "since", m);
    let since = match b.since {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| bad("since must be whole milliseconds since the epoch".into()))?,
        ),
        Some(Value::String(s)) => {
            Some(parse_since_text(&s, &jiff::tz::TimeZone::UTC).map_err(bad)?)
        }
        Some(_) => {
            return Err(bad(
                "since must be milliseconds since the epoch or a date/time string".into(),
            ))
        }
    };
    let n = backfill_records(&st, since).await?;
    let counts = st.store.relay_counts(TARGET).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"queued": n, "since": since, "counts": counts})),
    )
        .into_response())
}

/// The lookup answer's contacts, with HubSpot's added: `contacts` maps every asked address to
/// its local contact, `{"address", "source": "hubspot"}` for a HubSpot contact not stored here,
/// or null. Adds `"hubspot": {"complete", "message"}` to the answer.
pub async fn merge_lookup(
    st: &AppState,
    contacts: &mut serde_json::Map<String, Value>,
    body: &mut serde_json::Map<String, Value>,
) {
    let Some(relay) = &st.relay else {
        return;
    };
    if !relay.config.lookups {
        return;
    }
    let asked: Vec<String> = contacts.keys().cloned().collect();
    let answer = relay.lookup(&asked).await;
    for a in &answer.known {
        if let Some(v) = contacts.get_mut(a) {
            if v.is_null() {
                *v = json!({"address": a, "source": "hubspot"});
            } else if let Some(o) = v.as_object_mut() {
                o.insert("inHubspot".into(), json!(true));
            }
        }
    }
    body.insert(
        "hubspot".into(),
        json!({"complete": answer.complete, "message": answer.error}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn configuration_from_the_environment() {
        assert!(matches!(
            RelaySetting::from_vars(vars(&[])).unwrap(),
            RelaySetting::Unset
        ));
        assert!(matches!(
            RelaySetting::from_vars(vars(&[("MAILTRAIL_HUBSPOT_RELAY", "off")])).unwrap(),
            RelaySetting::Off
        ));
        let RelaySetting::On(c) =
            RelaySetting::from_vars(vars(&[("MAILTRAIL_HUBSPOT_TOKEN", "pat-eu1-abc")])).unwrap()
        else {
            panic!("expected on");
        };
        assert_eq!(c.base_url(), "https://api.hubapi.com");
        assert!(c.lookups);
        assert_eq!(c.settle, Duration::from_secs(60));
        assert!(
            !format!("{c:?}").contains("pat-eu1-abc"),
            "the token is never printed"
        );
        for bad in [
            vec![("MAILTRAIL_HUBSPOT_RELAY", "on")],
            vec![("MAILTRAIL_HUBSPOT_RELAY", "maybe")],
            vec![("MAILTRAIL_HUBSPOT_TOKEN", "a b")],
            vec![
                ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
                ("MAILTRAIL_HUBSPOT_BASE_URL", "http://hubspot.example"),
            ],
            vec![
                ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
                ("MAILTRAIL_HUBSPOT_EMAILS_PATH", "crm/v3"),
            ],
            vec![
                ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
                ("MAILTRAIL_HUBSPOT_TIMEOUT", "0"),
            ],
            vec![
                ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
                ("MAILTRAIL_HUBSPOT_TOKEN_FILE", "/nonexistent"),
            ],
        ] {
            let err = RelaySetting::from_vars(vars(&bad)).unwrap_err();
            assert!(
                err.downcast_ref::<super::super::BadInput>().is_some(),
                "{bad:?}: {err}"
            );
        }
        let RelaySetting::On(c) = RelaySetting::from_vars(vars(&[
            ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
            ("MAILTRAIL_HUBSPOT_BASE_URL", "http://127.0.0.1:9/"),
            ("MAILTRAIL_HUBSPOT_LOOKUPS", "off"),
        ]))
        .unwrap() else {
            panic!("expected on");
        };
        assert_eq!(c.base_url(), "http://127.0.0.1:9");
        assert!(!c.lookups);
    }

    #[test]
    fn flags_override_the_environment() {
        let dir =
            std::env::temp_dir().join(format!("mailtrail-relay-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "pat-from-file\n").unwrap();
        let env = vars(&[
            ("MAILTRAIL_HUBSPOT_TOKEN", "pat-from-env"),
            ("MAILTRAIL_HUBSPOT_BASE_URL", "https://env.example"),
            ("MAILTRAIL_HUBSPOT_LOOKUPS", "on"),
            ("MAILTRAIL_HUBSPOT_TIMEOUT", "30"),
        ]);
        let flags = RelayFlags {
            token_file: Some(file.clone()),
            base_url: Some("http://localhost:9/".into()),
            lookups: Some("OFF".into()),
            settle: Some("2".into()),
            ..RelayFlags::default()
        };
        let RelaySetting::On(c) = RelaySetting::resolve(&flags, &env).unwrap() else {
            panic!("expected on");
        };
        let EndpointConfig::Hubspot { token, .. } = &c.endpoint else {
            panic!("hubspot");
        };
        assert_eq!(token, "pat-from-file", "the flag's file over the variable");
        assert_eq!(c.base_url(), "http://localhost:9");
        assert!(!c.lookups);
        assert_eq!(
            c.timeout,
            Duration::from_secs(30),
            "unflagged: the environment's"
        );
        assert_eq!(c.settle, Duration::from_secs(2));
        // --relay off wins over a token; --relay on over MAILTRAIL_HUBSPOT_RELAY=off.
        let off = RelayFlags {
            relay: Some("off".into()),
            ..RelayFlags::default()
        };
        assert!(matches!(
            RelaySetting::resolve(&off, &env).unwrap(),
            RelaySetting::Off
        ));
        let on = RelayFlags {
            relay: Some("on".into()),
            ..RelayFlags::default()
        };
        let env_off = vars(&[
            ("MAILTRAIL_HUBSPOT_TOKEN", "t"),
            ("MAILTRAIL_HUBSPOT_RELAY", "off"),
        ]);
        assert!(matches!(
            RelaySetting::resolve(&on, &env_off).unwrap(),
            RelaySetting::On(_)
        ));
        // Bad flags name the flag.
        for (flags, says) in [
            (
                RelayFlags {
                    lookups: Some("maybe".into()),
                    ..flags.clone()
                },
                "--hubspot-lookups",
            ),
            (
                RelayFlags {
                    timeout: Some("0".into()),
                    ..flags.clone()
                },
                "--hubspot-timeout",
            ),
            (
                RelayFlags {
                    base_url: Some("http://hub.example".into()),
                    ..flags.clone()
                },
                "--hubspot-base-url",
            ),
            (
                RelayFlags {
                    emails_path: Some("crm".into()),
                    ..flags.clone()
                },
                "--hubspot-emails-path",
            ),
            (
                RelayFlags {
                    token_file: Some(dir.join("missing")),
                    ..flags.clone()
                },
                "--hubspot-token-file",
            ),
            (
                RelayFlags {
                    relay: Some("yes".into()),
                    ..flags.clone()
                },
                "--relay",
            ),
            (on.clone(), "--relay on needs"),
            (
                RelayFlags {
                    base_url: Some("https://x.example".into()),
                    ..RelayFlags::default()
                },
                "--hubspot-base-url configures",
            ),
        ] {
            let err = RelaySetting::resolve(&flags, vars(&[])).unwrap_err();
            assert!(
                err.downcast_ref::<super::super::BadInput>().is_some(),
                "{err}"
            );
            assert!(err.to_string().contains(says), "{says}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn since_as_text() {
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(parse_since_text("2026-03-01", &utc), Ok(1_772_323_200_000));
        assert_eq!(
            parse_since_text("2026-03-01T01:00:00+01:00", &utc),
            Ok(1_772_323_200_000)
        );
        let warsaw = jiff::tz::db().get("Europe/Warsaw").unwrap();
        assert_eq!(
            parse_since_text("2026-03-01", &warsaw),
            Ok(1_772_319_600_000)
        );
        assert!(parse_since_text("March", &utc).is_err());
    }
}
