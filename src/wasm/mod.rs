//! The WebAssembly face of the engine (`wasm-bindgen`). Only compiled for wasm32.
//!
//! JS gets one class, `Engine`, plus a few free functions. Values cross the boundary as plain
//! JS objects with the same camelCase shapes as the native JSON. Inputs travel as one JSON
//! string (`JSON.stringify` in the JS engine, serde_json here); results as a "tape" of numbers
//! and one string that `tape.js` turns into objects (see `tape.rs`). Both were measured against
//! serde-wasm-bindgen's field-by-field conversion and against JSON text both ways: faster, and
//! smaller because every type has one deserializer's generated code instead of two (figures in
//! BENCHMARKS.md). Errors are JS `Error`s carrying a stable `code` property; nothing traps.
//!
//! The engine lives in an `Rc<RefCell<_>>` so the async `flush` never holds a borrow across an
//! `await`: JS may call other methods while a flush is in flight.

mod alloc;
mod extract;
mod transport;

#[global_allocator]
static ALLOCATOR: alloc::SizeClasses = alloc::SizeClasses::new();

use crate::email::{ComposeData, Email};
use crate::engine::{Engine as Core, ProcessOptions};
use crate::outbox::{Change, DeliveryOutcome, Entry};
use crate::policy::Trigger;
use crate::settings::Settings;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

// TypeScript shapes the derives cannot state (see `crate::outbox::Entry`), and the small ones
// that exist only at this boundary.
#[wasm_bindgen(typescript_custom_section)]
const TS_BOUNDARY_TYPES: &'static str = r#"
/** One record in the outbox, as `takeChanges` hands it out for storage and `importState` takes it back. */
export type Entry = EntryState & {
    key: string;
    record: Record | null;
    attempts: number;
    createdAt: number;
    updatedAt: number;
    notBefore: number;
    lastError: DeliveryError | null;
    maybeSent: boolean;
};
/** A record due now, from `takeDue`. */
export interface Due { key: string; record: Record; maybeSent: boolean }
/** What `process`, `processRaw` and `decide` return: `record` is the whole record only with `includeRecord`. */
export type ProcessResult = OutcomeSummary | Outcome;
/** `validateSettings`'s answer. */
export type SettingsReport = { ok: true; settings: Settings; errors: [] } | { ok: false; settings: null; errors: SettingsError[] };
"#;

/// A JS `Error` with a `code` property.
pub(crate) fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Reflect::set on a fresh Error object cannot fail; ignore the Result rather than unwrap.
    let _ = js_sys::Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

#[wasm_bindgen(module = "/src/wasm/tape.js")]
extern "C" {
    fn tape_value(tape: &[f64], strings: &str) -> JsValue;
}

thread_local! {
    /// The property names `tape.js` holds (see `crate::tape`).
    static TAPE_NAMES: RefCell<crate::tape::Names> = RefCell::default();
}

pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    // Results go out as a tape read by a few lines of JS (crate::tape explains why): the same
    // plain values as JSON text + `JSON.parse`, in half the time.
    let (tape, strings) = TAPE_NAMES
        .with(|names| crate::tape::write(value, &mut names.borrow_mut()))
        .map_err(|e| js_error("serialize", &format!("cannot convert the result: {e}")))?;
    Ok(tape_value(&tape, &strings))
}

/// What `process`/`processRaw` hand back for the record unless `includeRecord` is set: who and
/// what it is about, without bodies, attachments or ids. The record itself waits in the outbox
/// (or, for a dry run, is not needed); callers show a result and keep the key. Same field
/// names as the record, so `outcome.record.idempotencyKey` reads the same either way.
#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
struct RecordSummary<'a> {
    idempotency_key: &'a str,
    direction: crate::record::Direction,
    timestamp: i64,
    subject: &'a str,
    from: Option<&'a crate::record::Participant>,
    to: &'a [crate::record::Participant],
    cc: &'a [crate::record::Participant],
    bcc: &'a [crate::record::Participant],
    thread_id: Option<&'a str>,
    source: crate::email::Source,
}

#[derive(Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
struct OutcomeSummary<'a> {
    decision: &'a crate::policy::Decision,
    record: Option<RecordSummary<'a>>,
    queued: bool,
    thread: &'a Option<crate::threads::ThreadMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded: &'a Option<crate::record::ForwardInfo>,
}

/// An engine outcome for JS. By default the record is reduced to [`RecordSummary`]: handing a
/// whole record (bodies, attachment metadata) to JS objects that the extension never reads was
/// a fifth of `processRaw`'s time (BENCHMARKS.md "Core engine"). With `include_record`, the
/// whole record crosses.
fn outcome_to_js(
    outcome: crate::engine::Outcome,
    include_record: bool,
) -> Result<JsValue, JsValue> {
    if !include_record {
        let record = outcome.record.as_ref().map(|r| RecordSummary {
            idempotency_key: &r.idempotency_key,
            direction: r.direction,
            timestamp: r.timestamp,
            subject: &r.subject,
            from: r.from.as_ref(),
            to: &r.to,
            cc: &r.cc,
            bcc: &r.bcc,
            thread_id: r.thread_id.as_deref(),
            source: r.source,
        });
        return to_js(&OutcomeSummary {
            decision: &outcome.decision,
            record,
            queued: outcome.queued,
            thread: &outcome.thread,
            forwarded: &outcome.forwarded,
        });
    }
    to_js(&outcome)
}

pub(crate) fn from_js<T: serde::de::DeserializeOwned>(
    value: JsValue,
    what: &str,
) -> Result<T, JsValue> {
    // Inputs come in as one JSON string too (JSON.stringify in the JS engine), so every type is
    // deserialised by one deserializer (serde_json over &str) instead of two: the generated
    // code exists once per type (21 KB gzipped less than with serde-wasm-bindgen as well).
    let json = js_sys::JSON::stringify(&value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            js_error(
                "invalid-input",
                &format!("{what}: expected a JSON-compatible object"),
            )
        })?;
    serde_json::from_str(&json).map_err(|e| js_error("invalid-input", &format!("{what}: {e}")))
}

/// [`from_js`] for an optional argument: `undefined` or `null` is the type's default.
fn from_js_or_default<T: serde::de::DeserializeOwned + Default>(
    value: JsValue,
    what: &str,
) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        Ok(T::default())
    } else {
        from_js(value, what)
    }
}

fn engine_error(e: crate::engine::EngineError) -> JsValue {
    js_error(e.code(), &e.to_string())
}

fn now_or(now: Option<f64>) -> i64 {
    now.map(|n| n as i64)
        .unwrap_or_else(|| js_sys::Date::now() as i64)
}

/// The Mailtrail engine.
#[wasm_bindgen]
pub struct Engine {
    inner: Rc<RefCell<Core>>,
}

#[wasm_bindgen]
impl Engine {
    /// `new Engine(settings)`: settings is the documented settings object (`{}` for defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Partial<Settings> | null | void")] settings: JsValue,
    ) -> Result<Engine, JsValue> {
        let settings: Settings = from_js_or_default(settings, "settings")?;
        let core = Core::new(&settings).map_err(engine_error)?;
        Ok(Engine {
            inner: Rc::new(RefCell::new(core)),
        })
    }

    /// Replaces the settings; throws (code `invalid-settings`) and changes nothing when invalid.
    /// A changed endpoint makes records that waited on a refused token due now.
    pub fn configure(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Partial<Settings>")] settings: JsValue,
        now: Option<f64>,
    ) -> Result<(), JsValue> {
        let settings: Settings = from_js(settings, "settings")?;
        self.inner
            .borrow_mut()
            .configure(&settings, now_or(now))
            .map_err(engine_error)
    }

    /// The current (normalised) settings.
    #[wasm_bindgen(unchecked_return_type = "Settings")]
    pub fn settings(&self) -> Result<JsValue, JsValue> {
        to_js(self.inner.borrow().settings())
    }

    /// Parses raw RFC 5322 bytes into an email object.
    #[wasm_bindgen(js_name = parseRaw, unchecked_return_type = "Email")]
    pub fn parse_raw(&self, raw: &[u8]) -> Result<JsValue, JsValue> {
        let email = self.inner.borrow().parse(raw).map_err(engine_error)?;
        to_js(&email)
    }

    /// Builds an email object from compose-window fields.
    #[wasm_bindgen(js_name = fromCompose, unchecked_return_type = "Email")]
    pub fn from_compose(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ComposeData")] data: JsValue,
    ) -> Result<JsValue, JsValue> {
        let data: ComposeData = from_js(data, "compose data")?;
        let email =
            Email::from_compose(&data).map_err(|e| js_error("invalid-compose", &e.to_string()))?;
        to_js(&email)
    }

    /// Addresses whose contact status the decision needs (look them up, pass the known ones).
    #[wasm_bindgen(js_name = addressesToCheck)]
    pub fn addresses_to_check(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Email")] email: JsValue,
    ) -> Result<Vec<String>, JsValue> {
        let email: Email = from_js(email, "email")?;
        Ok(self.inner.borrow().addresses_to_check(&email))
    }

    /// `addressesToCheck` for raw bytes as `processRaw` will see them: for a recognised forward,
    /// the original's people rather than the forwarder's. `options` as for `processRaw`.
    #[wasm_bindgen(js_name = addressesToCheckRaw)]
    pub fn addresses_to_check_raw(
        &self,
        raw: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Trigger")] trigger: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Partial<ProcessOptions> | null | void")]
        options: JsValue,
    ) -> Result<Vec<String>, JsValue> {
        let trigger: Trigger = from_js(trigger, "trigger")?;
        let options = from_js_or_default::<ProcessOptions>(options, "options")?;
        self.inner
            .borrow()
            .addresses_to_check_raw(raw, trigger, &options)
            .map_err(engine_error)
    }

    /// Decides without queueing or remembering anything (`process` with `dryRun`; `options`
    /// as for `process`, e.g. `{includeRecord: true}` to preview the whole record).
    #[wasm_bindgen(unchecked_return_type = "ProcessResult")]
    pub fn decide(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Email")] email: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Trigger")] trigger: JsValue,
        contacts: Vec<String>,
        now: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "Partial<ProcessOptions> | null | void")]
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let mut options = from_js_or_default::<ProcessOptions>(options, "options")?;
        options.dry_run = true;
        self.run(email, trigger, contacts, now, options)
    }

    /// Decides and, when the email is to be logged, queues its record and remembers the thread.
    /// Returns `{decision, record, queued, thread, forwarded}`; `record` is a summary (key,
    /// direction, timestamp, subject, people, thread id, source) unless `options.includeRecord`.
    #[wasm_bindgen(unchecked_return_type = "ProcessResult")]
    pub fn process(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Email")] email: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Trigger")] trigger: JsValue,
        contacts: Vec<String>,
        now: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "Partial<ProcessOptions> | null | void")]
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let options = from_js_or_default::<ProcessOptions>(options, "options")?;
        self.run(email, trigger, contacts, now, options)
    }

    fn run(
        &self,
        email: JsValue,
        trigger: JsValue,
        contacts: Vec<String>,
        now: Option<f64>,
        options: ProcessOptions,
    ) -> Result<JsValue, JsValue> {
        let email: Email = from_js(email, "email")?;
        let trigger: Trigger = from_js(trigger, "trigger")?;
        let contacts: HashSet<String> = contacts.into_iter().collect();
        let outcome =
            self.inner
                .borrow_mut()
                .process(&email, trigger, &contacts, now_or(now), &options);
        outcome_to_js(outcome, options.include_record)
    }

    /// Like `process` for raw bytes ("Log this email", a BCC copy): recognises forwards.
    #[wasm_bindgen(js_name = processRaw, unchecked_return_type = "ProcessResult")]
    pub fn process_raw(
        &self,
        raw: &[u8],
        #[wasm_bindgen(unchecked_param_type = "Trigger")] trigger: JsValue,
        contacts: Vec<String>,
        now: Option<f64>,
        #[wasm_bindgen(unchecked_param_type = "Partial<ProcessOptions> | null | void")]
        options: JsValue,
    ) -> Result<JsValue, JsValue> {
        let trigger: Trigger = from_js(trigger, "trigger")?;
        let options = from_js_or_default::<ProcessOptions>(options, "options")?;
        let contacts: HashSet<String> = contacts.into_iter().collect();
        let outcome = self
            .inner
            .borrow_mut()
            .process_raw(raw, trigger, &contacts, now_or(now), &options)
            .map_err(engine_error)?;
        outcome_to_js(outcome, options.include_record)
    }

    /// The logged thread an email belongs to, or `null`.
    #[wasm_bindgen(js_name = matchReply, unchecked_return_type = "ThreadMatch | null")]
    pub fn match_reply(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Email")] email: JsValue,
    ) -> Result<JsValue, JsValue> {
        let email: Email = from_js(email, "email")?;
        to_js(&self.inner.borrow().threads().match_reply(&email))
    }

    /// Remembers an email's thread as logged (without logging it).
    #[wasm_bindgen(js_name = trackThread)]
    pub fn track_thread(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Email")] email: JsValue,
        now: Option<f64>,
    ) -> Result<f64, JsValue> {
        let email: Email = from_js(email, "email")?;
        Ok(self.inner.borrow_mut().track_thread(&email, now_or(now)) as f64)
    }

    /// Attaches the Message-ID and thread id the provider assigned after sending.
    #[wasm_bindgen(js_name = attachSentIds)]
    pub fn attach_sent_ids(
        &self,
        draft_id: &str,
        message_id: Option<String>,
        thread_id: Option<String>,
        now: Option<f64>,
    ) -> bool {
        self.inner.borrow_mut().attach_sent_ids(
            draft_id,
            message_id.as_deref(),
            thread_id.as_deref(),
            now_or(now),
        )
    }

    /// Records due now: `[{key, record, maybeSent}]`, marked as being sent.
    #[wasm_bindgen(js_name = takeDue, unchecked_return_type = "Due[]")]
    pub fn take_due(&self, now: Option<f64>, limit: Option<u32>) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Due {
            key: String,
            record: crate::record::Record,
            maybe_sent: bool,
        }
        let due: Vec<Due> = self
            .inner
            .borrow_mut()
            .take_due(now_or(now), limit.unwrap_or(20) as usize)
            .into_iter()
            .map(|(key, record, maybe_sent)| Due {
                key,
                record,
                maybe_sent,
            })
            .collect();
        to_js(&due)
    }

    /// Reports a delivery outcome for a key taken with `takeDue`.
    pub fn complete(
        &self,
        key: &str,
        #[wasm_bindgen(unchecked_param_type = "DeliveryOutcome")] outcome: JsValue,
        now: Option<f64>,
    ) -> Result<(), JsValue> {
        let outcome: DeliveryOutcome = from_js(outcome, "outcome")?;
        self.inner
            .borrow_mut()
            .complete(key, outcome, now_or(now), js_sys::Math::random());
        Ok(())
    }

    /// The user's retry button on a failed record.
    pub fn retry(&self, key: &str, now: Option<f64>) -> bool {
        self.inner.borrow_mut().retry(key, now_or(now))
    }

    /// Cancels a record not yet sent.
    pub fn cancel(&self, key: &str, now: Option<f64>) -> bool {
        self.inner.borrow_mut().cancel(key, now_or(now))
    }

    /// Cancels what a compose window queued (Undo Send). Returns how many records.
    #[wasm_bindgen(js_name = cancelDraft)]
    pub fn cancel_draft(&self, draft_id: &str, now: Option<f64>) -> u32 {
        self.inner.borrow_mut().cancel_draft(draft_id, now_or(now)) as u32
    }

    /// Outbox changes to persist, in order: `[{put: entry} | {remove: key}]`.
    #[wasm_bindgen(js_name = takeChanges, unchecked_return_type = "Change[]")]
    pub fn take_changes(&self) -> Result<JsValue, JsValue> {
        let changes: Vec<Change> = self.inner.borrow_mut().take_changes();
        to_js(&changes)
    }

    /// True when `exportState` has something new to save.
    #[wasm_bindgen(js_name = stateDirty)]
    pub fn state_dirty(&self) -> bool {
        self.inner.borrow().state_dirty()
    }

    /// Threads, known contacts and activity (and the outbox when asked) as bytes.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self, include_outbox: Option<bool>) -> Vec<u8> {
        self.inner
            .borrow_mut()
            .export_state(include_outbox.unwrap_or(false))
    }

    /// Restores `exportState` bytes and persisted outbox entries. Resolves to a list of problems
    /// that did not stop the import (a damaged thread history starts empty); throws (code
    /// `invalid-state`, nothing changed) when the snapshot cannot be read at all.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(
        &self,
        snapshot: Option<Vec<u8>>,
        #[wasm_bindgen(unchecked_param_type = "Entry[] | null | void")] entries: JsValue,
    ) -> Result<Vec<String>, JsValue> {
        let entries: Vec<Entry> = from_js_or_default(entries, "outbox entries")?;
        self.inner
            .borrow_mut()
            .import_state(snapshot.as_deref().unwrap_or(&[]), entries)
            .map_err(engine_error)
    }

    /// Drops old done entries, expires old threads.
    pub fn compact(&self, now: Option<f64>) {
        self.inner.borrow_mut().compact(now_or(now));
    }

    /// `{counts, queue, activity, nextWakeup, threads}` for the popup.
    #[wasm_bindgen(unchecked_return_type = "Status")]
    pub fn status(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.borrow().status())
    }

    /// When the next record becomes due (ms), or undefined.
    #[wasm_bindgen(js_name = nextWakeup)]
    pub fn next_wakeup(&self) -> Option<f64> {
        self.inner.borrow().next_wakeup().map(|t| t as f64)
    }

    /// Sends one record taken with `takeDue` and resolves to its outcome, changing nothing:
    /// report it with `complete`. For callers that persist the "sending" lease (`takeChanges`)
    /// before any request leaves: `takeDue` → persist → `deliver` each → `complete` → persist.
    #[wasm_bindgen(unchecked_return_type = "Promise<DeliveryOutcome>")]
    pub fn deliver(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Record")] record: JsValue,
        maybe_sent: Option<bool>,
        now: Option<f64>,
    ) -> Result<js_sys::Promise, JsValue> {
        let record: crate::record::Record = from_js(record, "record")?;
        let endpoint = self.inner.borrow().settings().endpoint_or_default();
        let now_ms = now_or(now);
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let outcome = crate::delivery::deliver(
                &endpoint,
                &record,
                maybe_sent.unwrap_or(false),
                now_ms,
                &transport::Fetch,
            )
            .await;
            to_js(&outcome)
        }))
    }

    /// Sends every due record with `fetch` and reports `{delivered, duplicates, retrying, failed}`.
    #[wasm_bindgen(unchecked_return_type = "Promise<FlushReport>")]
    pub fn flush(&self, now: Option<f64>) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let report = transport::flush(&inner, now).await;
            to_js(&report)
        })
    }

    /// "Test connection": reaches the endpoint with the configured credentials (and, for
    /// HubSpot, finds the owner with the user's first address: `owner` in the report).
    #[wasm_bindgen(js_name = testConnection, unchecked_return_type = "Promise<ConnectionReport>")]
    pub fn test_connection(&self) -> js_sys::Promise {
        let (endpoint, address) = {
            let inner = self.inner.borrow();
            let settings = inner.settings();
            (
                settings.endpoint_or_default(),
                settings.user_addresses.first().cloned(),
            )
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let report = crate::delivery::test_connection_as(
                &endpoint,
                address.as_deref(),
                &transport::Fetch,
            )
            .await;
            to_js(&report)
        })
    }

    /// Asks the endpoint which addresses are contacts. Resolves to an array, or `null` when the
    /// endpoint cannot answer (generic webhook).
    #[wasm_bindgen(js_name = lookupContacts, unchecked_return_type = "Promise<string[] | null>")]
    pub fn lookup_contacts(&self, addresses: Vec<String>) -> js_sys::Promise {
        let endpoint = self.inner.borrow().settings().endpoint_or_default();
        wasm_bindgen_futures::future_to_promise(async move {
            match crate::delivery::lookup_contacts(&endpoint, &addresses, &transport::Fetch).await {
                Ok(found) => to_js(&found),
                Err(e) => Err(js_error("lookup-failed", &e.message)),
            }
        })
    }
}

/// Validates a settings object: `{ok: true, settings}` or `{ok: false, errors: [{field, message}]}`.
#[wasm_bindgen(js_name = validateSettings, unchecked_return_type = "SettingsReport")]
pub fn validate_settings(
    #[wasm_bindgen(unchecked_param_type = "Partial<Settings>")] settings: JsValue,
) -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    struct Report {
        ok: bool,
        settings: Option<Settings>,
        errors: Vec<crate::settings::SettingsError>,
    }
    let settings: Settings = from_js(settings, "settings")?;
    let report = match settings.validate() {
        Ok(s) => Report {
            ok: true,
            settings: Some(s),
            errors: Vec::new(),
        },
        Err(errors) => Report {
            ok: false,
            settings: None,
            errors,
        },
    };
    to_js(&report)
}

/// When `outcome` says the endpoint refused the token (401/403), the outcome to complete the
/// rest of the round's records with, unsent (their attempt is given back, they wait for the
/// token to be fixed); otherwise `null`. For edges that run their own delivery loop, as
/// `flush` does internally: stop the round there.
#[wasm_bindgen(js_name = rejectedCredentials, unchecked_return_type = "DeliveryOutcome | null")]
pub fn rejected_credentials(
    #[wasm_bindgen(unchecked_param_type = "DeliveryOutcome")] outcome: JsValue,
) -> Result<JsValue, JsValue> {
    let outcome: DeliveryOutcome = from_js(outcome, "outcome")?;
    to_js(&crate::delivery::rejected_credentials(&outcome))
}

/// Every reason code (for translation tables and tests).
#[wasm_bindgen(js_name = reasonCodes, unchecked_return_type = "ReasonCode[]")]
pub fn reason_codes() -> Vec<String> {
    crate::reason::ReasonCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect()
}

/// The engine's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
