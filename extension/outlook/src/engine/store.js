// Durable engine state on the add-in's origin: IndexedDB database "mailtrail-outlook" with the
// outbox (one entry per record, written from the engine's `takeChanges()` in order) and the
// snapshot of threads, known contacts and activity (`exportState()`).
//
// Several Outlook runtimes can hold an engine at the same time (a pinned task pane and the send
// handler's runtime in Outlook on the web, say). Each operation therefore loads the state fresh,
// changes it and writes the changes back under a Web Lock (`navigator.locks`), so one runtime
// never overwrites what another just queued.

const DB_NAME = 'mailtrail-outlook';
const DB_VERSION = 1;
const OUTBOX = 'outbox';
const STATE = 'state';
const SNAPSHOT_KEY = 'snapshot';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function transactionDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error || new Error('IndexedDB transaction failed'));
  });
}

export class IndexedDbStore {
  constructor(indexedDB = globalThis.indexedDB, name = DB_NAME) {
    this.idb = indexedDB;
    this.name = name;
    this.db = null;
  }

  async open() {
    if (this.db) return this.db;
    if (!this.idb) throw Object.assign(new Error('IndexedDB is not available in this Outlook runtime'), { code: 'no-storage' });
    const req = this.idb.open(this.name, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: 'key' });
      if (!db.objectStoreNames.contains(STATE)) db.createObjectStore(STATE);
    };
    this.db = await request(req);
    // Another page upgrading the schema: let it, reopen next time.
    this.db.onversionchange = () => {
      this.db.close();
      this.db = null;
    };
    return this.db;
  }

  /** `{snapshot: Uint8Array|null, entries: [outbox entries]}` */
  async load() {
    const db = await this.open();
    const tx = db.transaction([OUTBOX, STATE], 'readonly');
    const [entries, snapshot] = await Promise.all([request(tx.objectStore(OUTBOX).getAll()), request(tx.objectStore(STATE).get(SNAPSHOT_KEY))]);
    return { entries, snapshot: snapshot ? new Uint8Array(snapshot) : null };
  }

  /** Applies outbox changes in order and, when given, replaces the snapshot; one transaction. */
  async save(changes, snapshot) {
    if (!changes.length && !snapshot) return;
    const db = await this.open();
    const tx = db.transaction([OUTBOX, STATE], 'readwrite');
    const outbox = tx.objectStore(OUTBOX);
    for (const change of changes) {
      if (change.put) outbox.put(change.put);
      else if (change.remove !== undefined) outbox.delete(change.remove);
    }
    if (snapshot) tx.objectStore(STATE).put(snapshot, SNAPSHOT_KEY);
    await transactionDone(tx);
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
