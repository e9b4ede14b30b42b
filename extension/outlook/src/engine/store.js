// Durable engine state on the add-in's origin: IndexedDB database "mailtrail-outlook" with the
// outbox (one entry per record, written from the engine's `takeChanges()` in order) and the
// snapshot of threads, known contacts and activity (`exportState()`) under `meta`.
//
// Several Outlook runtimes can hold an engine at the same time (a pinned task pane and the send
// handler's runtime in Outlook on the web, say). Each operation therefore loads the state fresh,
// changes it and writes the changes back under a Web Lock (`navigator.locks`), so one runtime
// never overwrites what another just queued.

import { Store } from '../../../shared/idb-store.js';

const DB_NAME = 'mailtrail-outlook';
const SNAPSHOT_KEY = 'snapshot';

/**
 * The add-in's store on the Chrome extension's IndexedDB layer (extension/shared/idb-store.js:
 * `outbox` rows by idempotency key, `meta` by name), with the interface the service uses.
 */
export class IndexedDbStore {
  constructor(indexedDB = globalThis.indexedDB, name = DB_NAME) {
    this.idb = indexedDB;
    this.name = name;
    this.store = null;
  }

  async open() {
    if (this.store) return this.store;
    if (!this.idb) throw Object.assign(new Error('IndexedDB is not available in this Outlook runtime'), { code: 'no-storage' });
    this.store = await Store.open(this.name, this.idb);
    // Another page upgrading the schema: let it, reopen next time.
    this.store.db.onversionchange = () => {
      this.store.close();
      this.store = null;
    };
    return this.store;
  }

  /** `{snapshot: Uint8Array|null, entries: [outbox entries]}` */
  async load() {
    const store = await this.open();
    const [entries, snapshot] = await Promise.all([store.loadOutbox(), store.getMeta(SNAPSHOT_KEY)]);
    return { entries, snapshot: snapshot ? new Uint8Array(snapshot) : null };
  }

  /** Applies outbox changes in order and, when given, replaces the snapshot; one transaction. */
  async save(changes, snapshot) {
    if (!changes.length && !snapshot) return;
    const store = await this.open();
    await store.write(changes, snapshot ? { [SNAPSHOT_KEY]: snapshot } : {});
  }
}

/** The same interface in memory, for unit tests and as the last resort when IndexedDB is missing. */
export class MemoryStore {
  constructor() {
    this.entries = new Map();
    this.snapshot = null;
    this.saves = 0;
  }
  async load() {
    return { entries: [...this.entries.values()].map((e) => structuredClone(e)), snapshot: this.snapshot };
  }
  async save(changes, snapshot) {
    for (const change of changes) {
      if (change.put) this.entries.set(change.put.key, structuredClone(change.put));
      else if (change.remove !== undefined) this.entries.delete(change.remove);
    }
    if (snapshot) this.snapshot = snapshot;
    this.saves++;
  }
}

/**
 * Runs `fn` holding the named Web Lock (shared across every page and worker of the origin).
 * `ifAvailable`: do not wait; `fn` gets `null` instead of a lock when another holder has it.
 * Without the Web Locks API (old webviews), runs `fn` directly.
 */
export function withLock(name, fn, { ifAvailable = false, locks = globalThis.navigator && globalThis.navigator.locks } = {}) {
  if (!locks || typeof locks.request !== 'function') return fn({ name });
  return locks.request(name, { ifAvailable }, (lock) => fn(lock));
}
