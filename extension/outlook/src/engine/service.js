// The engine as the add-in's runtimes use it: every operation loads the persisted state, runs
// the WebAssembly engine and writes the changes back before it reports anything (nothing the
// user was told is queued can be lost), under a Web Lock so runtimes do not overwrite each other.
//
// The engine is passed in (`engineModule`: the wasm-bindgen module's exports), so unit tests run
// the same code with the engine built for Node.
import { withLock } from './store.js';
import { withTimeout } from '../office/async.js';
import { handoffQueue, removeHandoff, noteLost } from '../office/roaming.js';

const OUTBOX_LOCK = 'mailtrail-outbox';
const FLUSH_LOCK = 'mailtrail-flush';

export class MailtrailService {
  /**
   * `engineModule`: `{Engine, validateSettings}`; `store`: IndexedDbStore or MemoryStore;
   * `settings`: the full settings document (secrets merged); `mailbox`: the address records are
   * logged from; `now`: clock (ms); `locks`: the Web Locks API (default navigator.locks).
   */
  constructor({ engineModule, store, settings, mailbox = null, now = () => Date.now(), locks }) {
    this.engineModule = engineModule;
    this.store = store;
    this.mailbox = mailbox;
    this.now = now;
    this.locks = locks;
    /** What importing the stored state recovered from (a damaged thread history reset, say). */
    this.stateProblems = [];
    const report = engineModule.validateSettings(settings || {});
    this.settingsErrors = report.ok ? [] : report.errors;
    if (report.ok) {
      this.settings = report.settings;
    } else {
      // An endpoint problem (a secret not entered on this device, say) must not stop records from
      // being decided and queued: the outbox does not depend on the endpoint, and delivery waits
      // until the settings are fixed (`canDeliver`). The rules themselves must be valid, or no
      // decision could be trusted: then there is no service (the handlers fall back to the hand-off).
      const policy = engineModule.validateSettings({ ...settings, endpoint: null });
      if (!policy.ok) {
        throw Object.assign(new Error(`invalid settings: ${report.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`), { code: 'invalid-settings', errors: report.errors });
      }
      this.settings = policy.settings;
    }
    // The engine accepts a local endpoint without its token (it can be pasted later), but
    // `mailtrail serve` refuses every request without it: on this device nothing can be sent
    // (and classic Outlook's hand-off must be left for a device that has the token).
    const endpoint = this.settings.endpoint;
    if (report.ok && (!endpoint || endpoint.type === 'local') && !String((endpoint && endpoint.token) || '').trim()) {
      this.settingsErrors = [{ field: 'endpoint.token', message: 'no token for the local endpoint on this device: enter it in Settings' }];
    }
  }

  /** True when records can be sent (settings valid and an endpoint with its secret). */
  get canDeliver() {
    return this.settingsErrors.length === 0;
  }

  newEngine() {
    return new this.engineModule.Engine(this.settings);
  }

  /** Runs `fn(engine)` on the freshly loaded state and persists what it changed. */
  async withEngine(fn) {
    return withLock(
      OUTBOX_LOCK,
      async () => {
        const engine = this.newEngine();
        try {
          const { snapshot, entries } = await this.store.load();
          this.noteStateProblems(engine.importState(snapshot || undefined, entries));
          const result = await fn(engine);
          await this.persist(engine);
          return result;
        } finally {
          engine.free();
        }
      },
      { locks: this.locks }
    );
  }

  /**
   * Keeps the problems `importState` recovered from, for the pane's banner. The recovery (an
   * empty thread history, say) is persisted by the operation that found it, so the next import
   * no longer reports it: remember it for this runtime's life.
   */
  noteStateProblems(problems) {
    for (const p of Array.isArray(problems) ? problems : []) {
      const text = String(p);
      if (!this.stateProblems.includes(text)) this.stateProblems.push(text);
    }
  }

  async persist(engine) {
    const changes = engine.takeChanges();
    const snapshot = engine.stateDirty() ? engine.exportState(false) : null;
    await this.store.save(changes, snapshot);
  }

  /** Contacts the endpoint knows among `addresses`; `[]` when it cannot say in time. */
  async lookupContacts(addresses, timeoutMs) {
    if (!addresses.length || !this.canDeliver) return [];
    const engine = this.newEngine();
    try {
      const found = await withTimeout(
        engine.lookupContacts(addresses).catch(() => null),
        timeoutMs,
        () => null
      );
      return Array.isArray(found) ? found : [];
    } finally {
      engine.free();
    }
  }

  /** Email object from compose data (no state involved). */
  emailFromCompose(data) {
    const engine = this.newEngine();
    try {
      return engine.fromCompose(data);
    } finally {
      engine.free();
    }
  }

  /** Email object from raw RFC 5322 bytes (no state involved). */
  parseRaw(bytes) {
    const engine = this.newEngine();
    try {
      return engine.parseRaw(bytes);
    } finally {
      engine.free();
    }
  }

  /** Ties a sent message's Message-ID and conversation to the record queued from its compose window. */
  async attachSentIds(draftId, messageId, threadId) {
    return this.withEngine((engine) => engine.attachSentIds(draftId, messageId, threadId ?? undefined, this.now()));
  }

  options(extra) {
    return { mailbox: this.mailbox || undefined, ...extra };
  }

  /**
   * Decides and queues an email given as compose data. Contacts are looked up first (outside the
   * lock: it is network) within `lookupTimeoutMs`. Resolves with the engine's outcome.
   */
  async processCompose(data, trigger, { at, lookupTimeoutMs = 1500, dryRun = false } = {}) {
    const email = this.emailFromCompose(data);
    return this.processEmail(email, trigger, { at, lookupTimeoutMs, dryRun });
  }

  async processEmail(email, trigger, { at, lookupTimeoutMs = 1500, dryRun = false } = {}) {
    const scratch = this.newEngine();
    let addresses;
    try {
      addresses = scratch.addressesToCheck(email);
    } finally {
      scratch.free();
    }
    const contacts = await this.lookupContacts(addresses, lookupTimeoutMs);
    const now = at ?? this.now();
    if (dryRun) {
      return this.withEngine((engine) => engine.decide(email, trigger, contacts, now));
    }
    return this.withEngine((engine) => engine.process(email, trigger, contacts, now, this.options()));
  }

  /**
   * Decides and queues a raw message ("Log this email"): forwards are recognised by the engine,
   * which also tells which addresses the decision is about (for a forward: the original's), so
   * the contact lookup asks about the right people.
   */
  async processRaw(bytes, trigger, { at, lookupTimeoutMs = 3000 } = {}) {
    const now = at ?? this.now();
    const addresses = await this.withEngine((engine) => engine.addressesToCheckRaw(bytes, trigger, this.options()));
    const contacts = await this.lookupContacts(addresses, lookupTimeoutMs);
    return this.withEngine((engine) => engine.processRaw(bytes, trigger, contacts, now, this.options()));
  }

  /** The logged thread an email belongs to, or null. */
  async matchReply(email) {
    return this.withEngine((engine) => engine.matchReply(email));
  }

  async status() {
    return this.withEngine((engine) => engine.status());
  }

  async retry(key) {
    return this.withEngine((engine) => engine.retry(key, this.now()));
  }

  /** The user's Discard on a record that is not being sent (a failed one, say): never logged. */
  async discard(key) {
    return this.withEngine((engine) => engine.cancel(key, this.now()));
  }

  /**
   * Sends due records. Returns within `deadlineMs` (`{pending: true}` if still running: the send
   * goes on in the background while the runtime lives). Only one runtime flushes at a time;
   * another gets `{skipped: true}`.
   *
   * Crash safety: a record is marked "sending" (with a lease) and that is persisted *before* the
   * network request, then the result is persisted. If the runtime is closed mid-request (Outlook
   * ends event runtimes when the event completes), the lease expires and the record is sent again
   * flagged "maybe sent", which the endpoint deduplicates by idempotency key (HubSpot: the engine
   * looks for an existing copy first).
   */
  flush({ deadlineMs = 10_000, rounds = 10 } = {}) {
    if (!this.canDeliver) return Promise.resolve({ skipped: true, reason: 'invalid-settings' });
    const run = withLock(
      FLUSH_LOCK,
      async (lock) => {
        if (!lock) return { skipped: true, reason: 'another runtime is sending' };
        const total = { delivered: 0, duplicates: 0, retrying: 0, failed: 0, errors: [], tokenRejected: false };
        for (let round = 0; round < rounds; round++) {
          const due = await this.leaseDue();
          if (!due.length) break;
          const report = await this.deliver(due);
          total.delivered += report.delivered;
          total.duplicates += report.duplicates;
          total.retrying += report.retrying;
          total.failed += report.failed;
          total.errors.push(...(report.errors || []));
          // A refused token: every further request would be refused the same way.
          if (report.tokenRejected) {
            total.tokenRejected = true;
            break;
          }
          if (report.retrying) break; // the endpoint is struggling: try the rest later
        }
        await this.compact();
        return total;
      },
      { ifAvailable: true, locks: this.locks }
    );
    return withTimeout(run, deadlineMs, () => ({ pending: true }));
  }

  /**
   * Drops the bodies of delivered and cancelled records (their keys stay, for dedup), removes
   * them after the engine's retention and expires old threads; the changes are persisted like
   * any other. Keeps the store every operation re-imports small. Runs after each flush.
   */
  async compact() {
    return this.withEngine((engine) => engine.compact(this.now()));
  }

  /** Marks due records as being sent and persists that; returns their entries. */
  async leaseDue() {
    return this.withEngine(async (engine) => {
      const due = engine.takeDue(this.now(), 20);
      if (!due.length) return [];
      const keys = new Set(due.map((d) => d.key));
      // Persist the "sending" state (with its lease) now, before any request leaves.
      const changes = engine.takeChanges();
      await this.store.save(changes, null);
      return changes.filter((c) => c.put && keys.has(c.put.key)).map((c) => c.put);
    });
  }

  /**
   * Sends leased entries one by one (`engine.deliver` touches no state, so no lock is held across
   * the network) and records each outcome in the persisted outbox with `complete`, which also
   * makes the record's contacts known once it is delivered.
   */
  async deliver(leased) {
    const report = { delivered: 0, duplicates: 0, retrying: 0, failed: 0, errors: [], tokenRejected: false };
    for (let i = 0; i < leased.length; i++) {
      const entry = leased[i];
      const scratch = this.newEngine();
      let outcome;
      try {
        outcome = await scratch.deliver(entry.record, entry.maybeSent, this.now());
      } finally {
        scratch.free();
      }
      // The endpoint refused the token (401/403): it would refuse the rest the same way. They are
      // handed back unsent (their attempt given back) to wait for the token to be fixed, in the
      // same write as this record's outcome.
      const rest = this.engineModule.rejectedCredentials(outcome);
      const unsent = rest ? leased.slice(i + 1) : [];
      await this.withEngine((engine) => {
        engine.complete(entry.key, outcome, this.now());
        for (const other of unsent) engine.complete(other.key, rest, this.now());
      });
      switch (outcome.outcome) {
        case 'delivered': report.delivered++; break;
        case 'duplicate': report.duplicates++; break;
        case 'retry': report.retrying++; report.errors.push([entry.key, outcome.error]); break;
        default: report.failed++; report.errors.push([entry.key, outcome.error]); break;
      }
      if (rest) {
        report.tokenRejected = true;
        break;
      }
    }
    return report;
  }

  /**
   * Before new settings are saved: a changed endpoint (a new token) makes the records that waited
   * on a refused token due now (the engine decides which), so the next flush sends them instead
   * of waiting half an hour. The stored outbox is changed; the settings themselves are not stored
   * here.
   */
  async endpointChanging(nextSettings) {
    return this.withEngine((engine) => engine.configure(nextSettings, this.now()));
  }

  /**
   * Runs compose snapshots left by classic Outlook's JavaScript-only runtime through the engine,
   * then removes them from roamingSettings. Call only with a freshly loaded roamingSettings (at
   * page start): a stale copy would overwrite snapshots added since it was loaded.
   *
   * Only a runtime that can deliver takes them over: the hand-off roams with the mailbox, this
   * device's outbox does not, so a device without the endpoint's secret would strand them here.
   * It leaves them for one that can (`{drained: 0, failed: 0, skipped: 'cannot-deliver'}`).
   */
  async drainHandoff(roaming) {
    const queue = handoffQueue(roaming);
    if (queue.length && !this.canDeliver) return { drained: 0, failed: 0, skipped: 'cannot-deliver', waiting: queue.length };
    if (!queue.length) return { drained: 0, failed: 0 };
    const done = [];
    let failed = 0;
    for (const snapshot of queue) {
      try {
        const trigger = { kind: 'send', logChecked: snapshot.logChecked !== false };
        await this.processCompose(snapshot.compose, trigger, { at: snapshot.at, lookupTimeoutMs: 1500 });
        done.push(snapshot.id);
      } catch (e) {
        if (e && (e.code === 'invalid-compose' || e.code === 'invalid-input')) {
          // Data the engine can never accept: keep a visible trace instead of retrying forever.
          noteLost(roaming, snapshot, String(e.message || e));
          done.push(snapshot.id);
          failed++;
        } else {
          throw e;
        }
      }
    }
    await removeHandoff(roaming, done);
    return { drained: done.length - failed, failed };
  }
}
