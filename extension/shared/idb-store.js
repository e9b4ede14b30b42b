// Durable storage for the engine's state in IndexedDB (the extension's own origin, so neither
// Gmail's page nor content scripts can read it — the endpoint token lives here too).
//
//   outbox  one row per outbox entry, keyed by idempotency key: the engine's `takeChanges()`
//           ({put: entry} | {remove: key}) applied in order. Per-entry rows keep each write
//           small, which is what keeps "Send" fast however long the outbox grows.
//   meta    everything else, by name: the engine snapshot (`exportState()`), settings,
//           per-draft Log state, counters.
//
// Writes are one transaction each and IndexedDB runs read-write transactions over the same
// stores in the order they were created, so callers may fire writes without awaiting each
// one and still get them applied in order. A write resolves when the transaction commits.

const VERSION = 1;

function promisify(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    tx.onerror = () => reject(tx.error || new Error('IndexedDB transaction failed'));
  });
}

export class Store {
  /** Opens (and creates or upgrades) the database. `idb` is `indexedDB` unless testing. */
  static async open(name = 'mailtrail', idb = globalThis.indexedDB) {
    const request = idb.open(name, VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'key' });
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta');
    };
    const db = await promisify(request);
    return new Store(db);
  }

  constructor(db, { durability = 'strict' } = {}) {
    this.db = db;
    this.durability = durability;
  }

  /** Every persisted outbox entry, for `engine.importState(snapshot, entries)`. */
  async loadOutbox() {
    const tx = this.db.transaction('outbox', 'readonly');
    return promisify(tx.objectStore('outbox').getAll());
  }

  async getMeta(name) {
    const tx = this.db.transaction('meta', 'readonly');
    return promisify(tx.objectStore('meta').get(name));
  }

  async getMetaMany(names) {
    const tx = this.db.transaction('meta', 'readonly');
    const store = tx.objectStore('meta');
    const values = await Promise.all(names.map((n) => promisify(store.get(n))));
    return Object.fromEntries(names.map((n, i) => [n, values[i]]));
  }

  /**
   * Applies outbox changes and meta values in one transaction. `changes` is the engine's
   * `takeChanges()` output; `meta` maps names to values (`undefined` deletes).
   * Resolves when committed (with `strict` durability: flushed to disk).
   */
  write(changes = [], meta = {}) {
    for (const change of changes) {
      if (!change || !(change.put || change.remove !== undefined)) {
        return Promise.reject(new Error(`unknown outbox change: ${JSON.stringify(change).slice(0, 80)}`));
      }
    }
    const tx = this.db.transaction(['outbox', 'meta'], 'readwrite', { durability: this.durability });
    const committed = done(tx);
    const outbox = tx.objectStore('outbox');
    for (const change of changes) {
      if (change.put) outbox.put(change.put);
      else outbox.delete(change.remove);
    }
    const metaStore = tx.objectStore('meta');
    for (const [name, value] of Object.entries(meta)) {
      if (value === undefined) metaStore.delete(name);
      else metaStore.put(value, name);
    }
    return committed;
  }

  putMeta(name, value) {
    return this.write([], { [name]: value });
  }

  close() {
    this.db.close();
  }
}
