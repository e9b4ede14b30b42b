// The engine's home in the service worker: loads the WebAssembly engine, restores its state
// from IndexedDB, persists every outbox change before anything is reported as done, and
// drives delivery (flush) from timers and chrome.alarms.
//
// MV3 stops the worker whenever it is idle (~30 s) and restarts it for the next event, so
// nothing may live only in memory: the outbox is written entry by entry from `takeChanges()`,
// the rest of the engine state as one snapshot whenever `stateDirty()`, and the next delivery
// time as an alarm. A restart runs `boot()` again: import, re-create the alarm, flush.

import init, { Engine, rejectedCredentials, validateSettings } from '@mailtrail/engine';
import { Store } from '../../../shared/idb-store.js';
import { DEFAULT_CLIENT_PREFS, isPlainAddress, parseUndoSeconds } from '../../../shared/settings-form.js';
import { effectiveSettings, readManaged, validate } from './settings.js';
import { addCorrection } from './activity.js';

const ALARM = 'mailtrail-flush';
/** Safety net: even without a due record, look at the outbox this often. */
const SWEEP_MINUTES = 5;
/** Timers shorter than this are run in the worker; longer waits rely on the alarm alone. */
const TIMER_LIMIT_MS = 25_000;
const DRAFTS_LIMIT = 500;
const SEEN_LIMIT = 2000;

export class Host {
  constructor() {
    this.engine = null;
    this.store = null;
    this.config = null; // effectiveSettings(): {settings, prefs, locked, user, managed}
    this.settingsErrors = []; // why the settings in force could not be applied
    // The last settings the engine accepted (normalised), stored as `meta.lastGoodSettings` so
    // a worker restarting with invalid settings keeps running on them instead of on defaults.
    this.active = null;
    this.stateProblems = []; // what importState recovered from (shown like stateError)
    this.lastWrite = Promise.resolve();
    this.flushing = null;
    this.flushAgain = false;
    this.timer = null;
    this.lastFlush = null; // {at, ok, report, error}
    this.stats = { delivered: 0, duplicates: 0, retried: 0, failed: 0 };
    this.sendTimings = []; // ms, click → record durable, last 500 (content script measures)
    this.sendPhases = [];
    this.layout = new Map(); // tabId → {problems, at, url}
    // scheduled: scheduled logs by id (schedule.js); corrections: what the page learned after
    // the engine noted a decision (a BCC address that could not be added), shown by status.js.
    this.meta = { drafts: {}, seen: {}, detected: [], scheduled: {}, corrections: [] };
    // Set by the worker: work that becomes due with time (scheduled logs), run before each
    // flush, and when it is next due (ms or null), for the alarm.
    this.dueWork = null;
    this.nextDueWork = null;
    this.ready = null;
    this.startedAt = performance.timeOrigin; // identifies this worker instance (diagnostics)
  }

  /** Starts (or restarts) the engine. Safe to call once per worker life. */
  boot() {
    if (!this.ready) this.ready = this.#boot();
    return this.ready;
  }

  async #boot() {
    const started = performance.now();
    await init();
    this.store = await Store.open();
    const [entries, meta] = await Promise.all([
      this.store.loadOutbox(),
      this.store.getMetaMany(['snapshot', 'settings', 'drafts', 'seen', 'detected', 'stats', 'lastGoodSettings', 'scheduled', 'corrections', 'lastFlush']),
    ]);
    // What the last delivery attempt said (a refused token, say) outlives the worker: the popup
    // keeps telling the user until a flush says otherwise.
    if (meta.lastFlush && typeof meta.lastFlush === 'object') this.lastFlush = meta.lastFlush;
    this.meta.drafts = meta.drafts || {};
    this.meta.scheduled = meta.scheduled || {};
    this.meta.corrections = Array.isArray(meta.corrections) ? meta.corrections : [];
    this.meta.seen = meta.seen || {};
    this.meta.detected = meta.detected || [];
    this.stats = { ...this.stats, ...(meta.stats || {}) };
    this.storedSettings = meta.settings || { settings: {}, prefs: {} };
    this.engine = this.#engineWith(meta.lastGoodSettings);
    await this.applySettings(await readManaged());
    try {
      const problems = this.engine.importState(meta.snapshot ? new Uint8Array(meta.snapshot) : undefined, entries);
      this.stateProblems = Array.isArray(problems) ? problems.map(String) : [];
    } catch (e) {
      // A snapshot this version cannot read: keep the outbox (records are never dropped) and
      // start with empty threads rather than not starting at all.
      console.error('[mailtrail] saved state could not be read, threads start empty:', e);
      this.engine.importState(undefined, entries);
      this.stateError = String(e.message || e);
    }
    if (this.stateProblems.length) console.warn('[mailtrail] saved state partly recovered:', this.stateProblems);
    this.bootMs = performance.now() - started;
    this.scheduleWake();
    this.flushSoon();
    return this;
  }

  // ------------------------------------------------------------------ settings

  /** An engine on the last settings it accepted (none yet: defaults, and `settingsBlocked`). */
  #engineWith(lastGood) {
    if (lastGood) {
      try {
        const engine = new Engine(lastGood);
        this.active = engine.settings();
        return engine;
      } catch (e) {
        // Written by an older version this one no longer accepts: as if there were none.
        console.error('[mailtrail] last valid settings no longer accepted:', e);
      }
    }
    this.active = null;
    return new Engine({});
  }

  /**
   * True while the settings are invalid and no valid ones were ever in force: the engine would
   * only have its defaults (no never-log lists, the local endpoint), so nothing is queued,
   * logged or sent until the user fixes the settings (popup, Gmail notice, options page).
   */
  get settingsBlocked() {
    return this.settingsErrors.length > 0 && !this.active;
  }

  /** Re-reads settings (after a save, a policy change, a new account address). */
  async applySettings(managed) {
    if (managed === undefined) managed = await readManaged();
    const config = effectiveSettings(this.storedSettings, managed, this.meta.detected);
    const report = validate(validateSettings, config.settings);
    this.config = config;
    if (report.ok) {
      // A changed endpoint (a new token) makes the records that waited on a refused one due now.
      this.engine.configure(config.settings, Date.now());
      this.settingsErrors = [];
      const active = this.engine.settings();
      if (JSON.stringify(active) !== JSON.stringify(this.active)) {
        this.active = active;
        await this.putMeta('lastGoodSettings', active);
      }
    } else {
      // Keep the last working configuration (this worker's, or the stored one it started
      // with); the popup and options page show the errors.
      this.settingsErrors = report.errors;
    }
    return report;
  }

  /** Throws (code `settings-invalid`) when nothing may be queued: see `settingsBlocked`. */
  assertCanLog() {
    if (!this.settingsBlocked) return;
    const e = new Error(`Mailtrail's settings are invalid: ${this.settingsErrors.map((x) => `${x.field}: ${x.message}`).join('; ')}`);
    e.code = 'settings-invalid';
    throw e;
  }

  async saveUserSettings(settings, prefs) {
    this.storedSettings = { settings, prefs };
    await this.store.putMeta('settings', this.storedSettings);
    return this.applySettings();
  }

  /**
   * Gmail account addresses seen in tabs: the user's own, never contacts. The page reports
   * them, so each must be one address the engine accepts (else it would make every setting
   * invalid, or silently hide a customer as "the user"); anything else is ignored.
   */
  async noteAccount(address) {
    const a = String(address || '').trim().toLowerCase();
    if (!isPlainAddress(a) || this.meta.detected.includes(a)) return false;
    if (!validate(validateSettings, { userAddresses: [a] }).ok) return false;
    this.meta.detected = [...this.meta.detected, a].slice(-10);
    await this.store.putMeta('detected', this.meta.detected);
    await this.applySettings();
    return true;
  }

  get prefs() {
    return this.config?.prefs || { undoSendSeconds: 30 };
  }

  /**
   * The Undo Send wait in ms. A value that is not 0–60 whole seconds (a document from before
   * this was checked) counts as Gmail's longest period, never as "no wait".
   */
  get undoMs() {
    const seconds = parseUndoSeconds(this.prefs.undoSendSeconds);
    return (seconds === null ? DEFAULT_CLIENT_PREFS.undoSendSeconds : seconds) * 1000;
  }

  // ------------------------------------------------------------------ persistence

  /**
   * Writes the engine's pending outbox changes (and the snapshot when dirty) in one
   * transaction. Writes are queued in order; the returned promise resolves when this one
   * is committed. Call it right after every engine call that may change state.
   */
  persist({ snapshot = true, meta: extra = {} } = {}) {
    const changes = this.engine.takeChanges();
    const meta = { ...extra };
    if (snapshot && this.engine.stateDirty()) meta.snapshot = this.engine.exportState(false);
    if (!changes.length && !Object.keys(meta).length) return this.lastWrite;
    const write = this.store.write(changes, meta);
    this.lastWrite = write.catch(() => {});
    return write;
  }

  /**
   * The send path's write: the outbox changes alone, committed before Send proceeds; the
   * snapshot (threads, contacts, activity: larger, and not what makes the record safe) follows
   * in its own transaction right after, which IndexedDB orders behind this one.
   */
  persistOutboxFirst() {
    const committed = this.persist({ snapshot: false });
    clearTimeout(this.snapshotTimer);
    this.snapshotTimer = setTimeout(() => this.persist(), 0);
    return committed;
  }

  putMeta(name, value) {
    const write = this.store.putMeta(name, value);
    this.lastWrite = write.catch(() => {});
    return write;
  }

  // ------------------------------------------------------------------ delivery

  /** Starts a flush now, or once the running one ends. Resolves with the last report. */
  flushSoon() {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      let report = null;
      try {
        do {
          this.flushAgain = false;
          try {
            await this.dueWork?.();
          } catch (e) {
            console.error('[mailtrail] scheduled work failed:', e);
          }
          report = await this.#flushOnce();
        } while (this.flushAgain);
      } finally {
        this.flushing = null;
        this.scheduleWake();
      }
      return report;
    })();
    return this.flushing;
  }

  async #flushOnce() {
    const report = { delivered: 0, duplicates: 0, retrying: 0, failed: 0, errors: [], tokenRejected: false };
    // On defaults only (see settingsBlocked): nothing may go to an endpoint the user never chose.
    if (this.settingsBlocked) return report;
    const before = this.lastFlush;
    try {
      // Bounded rounds: records that keep becoming due cannot hold the worker forever.
      rounds: for (let round = 0; round < 10; round++) {
        const due = this.engine.takeDue(Date.now(), 20);
        if (!due.length) break;
        // The "sending" lease is committed before any request leaves, so a worker killed
        // mid-request resumes knowing the record may have reached the CRM (`maybeSent`).
        await this.persist({ snapshot: false });
        for (let i = 0; i < due.length; i++) {
          const { key, record, maybeSent } = due[i];
          const outcome = await this.engine.deliver(record, maybeSent, Date.now());
          this.engine.complete(key, outcome, Date.now());
          countOutcome(report, key, outcome);
          // The endpoint refused the token (401/403): it would refuse every other record the
          // same way. The rest of the round goes back unsent (no attempt counted) to wait for
          // the token to be fixed (saving new settings makes them due at once), and no further
          // round is taken.
          const rest = rejectedCredentials(outcome);
          if (rest) {
            for (const other of due.slice(i + 1)) this.engine.complete(other.key, rest, Date.now());
            report.tokenRejected = true;
            await this.persist();
            break rounds;
          }
          // A success is committed at once: it must never be sent again.
          await this.persist();
        }
        if (report.retrying) break; // the endpoint is struggling: try the rest later
      }
      // Only attempts say anything about the connection; an empty flush keeps the last word.
      if (report.delivered + report.duplicates + report.retrying + report.failed > 0) {
        this.lastFlush = { at: Date.now(), ok: report.failed === 0 && report.retrying === 0, report };
      }
    } catch (e) {
      this.lastFlush = { at: Date.now(), ok: false, error: String(e?.message || e) };
    }
    this.stats.delivered += report.delivered;
    this.stats.duplicates += report.duplicates;
    this.stats.retried += report.retrying;
    this.stats.failed += report.failed;
    this.compact();
    const write = this.persist(this.lastFlush !== before ? { meta: { lastFlush: this.lastFlush } } : undefined);
    if (report.delivered + report.duplicates + report.retrying + report.failed > 0) {
      this.putMeta('stats', this.stats);
    }
    await write;
    return report;
  }

  /**
   * Drops the bodies of delivered and cancelled records (only the key stays, for dedup) and
   * removes them after the engine's retention; expires old threads. What it changed is in the
   * engine's change log: the next `persist()` writes it to IndexedDB, so the outbox loaded at
   * each worker start stays small. Runs after every flush (and so at every worker start).
   */
  compact(now = Date.now()) {
    try {
      this.engine.compact(now);
    } catch (e) {
      console.error('[mailtrail] compaction failed:', e);
    }
  }

  /** Re-creates the alarm (and a short timer while the worker lives) for the next due record. */
  scheduleWake() {
    const outbox = this.engine?.nextWakeup();
    const other = this.nextDueWork?.() ?? null;
    const next = outbox === undefined || outbox === null ? other : other === null ? outbox : Math.min(outbox, other);
    clearTimeout(this.timer);
    this.timer = null;
    if (next === undefined || next === null) {
      chrome.alarms.clear(ALARM);
    } else {
      const when = Math.max(next, Date.now() + 50);
      chrome.alarms.create(ALARM, { when });
      const wait = when - Date.now();
      if (wait <= TIMER_LIMIT_MS) this.timer = setTimeout(() => this.flushSoon(), wait);
    }
    chrome.alarms.get('mailtrail-sweep').then((a) => {
      if (!a) chrome.alarms.create('mailtrail-sweep', { periodInMinutes: SWEEP_MINUTES });
    });
  }

  // ------------------------------------------------------------------ small stores

  draftLog(key) {
    return key ? this.meta.drafts[key] : undefined;
  }

  setDraftLog(key, checked) {
    if (!key) return;
    this.meta.drafts[key] = { checked: !!checked, at: Date.now() };
    this.meta.drafts = trimOldest(this.meta.drafts, DRAFTS_LIMIT);
    return this.putMeta('drafts', this.meta.drafts);
  }

  /** What happened to a Gmail message already looked at by thread tracking. */
  seen(messageId) {
    return this.meta.seen[messageId];
  }

  markSeen(messageId, summary) {
    this.meta.seen[messageId] = { ...summary, at: Date.now() };
    this.meta.seen = trimOldest(this.meta.seen, SEEN_LIMIT);
    return this.putMeta('seen', this.meta.seen);
  }

  /**
   * Something the page learned after the engine noted its decision: the CRM's BCC address could
   * not be added to the email (`pushed`: a record was pushed as well). Matched to the activity
   * entry by its time and subject; persisted by the caller.
   */
  noteCorrection(correction) {
    this.meta.corrections = addCorrection(this.meta.corrections, correction);
  }

  /** Where the worker's part of a send went (engine work, IndexedDB commit), last 500. */
  notePhases(phases) {
    this.sendPhases.push(phases);
    if (this.sendPhases.length > 500) this.sendPhases.shift();
  }

  noteSendTiming(ms) {
    if (!Number.isFinite(ms)) return;
    this.sendTimings.push(ms);
    if (this.sendTimings.length > 500) this.sendTimings.shift();
  }
}

function trimOldest(map, limit) {
  const keys = Object.keys(map);
  if (keys.length <= limit) return map;
  const sorted = keys.sort((a, b) => (map[a].at || 0) - (map[b].at || 0));
  const out = {};
  for (const k of sorted.slice(keys.length - limit)) out[k] = map[k];
  return out;
}

export const ALARMS = { flush: ALARM, sweep: 'mailtrail-sweep' };

/** Adds one delivery outcome (`{outcome: "delivered"|"duplicate"|"retry"|"permanent", …}`) to a report. */
function countOutcome(report, key, outcome) {
  switch (outcome.outcome) {
    case 'delivered': report.delivered++; break;
    case 'duplicate': report.duplicates++; break;
    case 'retry': report.retrying++; report.errors.push([key, outcome.error]); break;
    default: report.failed++; report.errors.push([key, outcome.error]); break;
  }
}
