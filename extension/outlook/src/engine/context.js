// What every browser-runtime page of the add-in (task pane, commands/event page) shares: the
// Office objects, the user's language, and the engine service, started lazily on first use
// (loading the WebAssembly module costs a few tens of milliseconds; the Log checkbox does not
// have to wait for it).
import { translator } from '../i18n/index.js';
import { readSettings } from '../office/roaming.js';
import { MailtrailService } from './service.js';
import { IndexedDbStore } from './store.js';
import { loadSecrets, mergeSettings } from './settings.js';

export function createContext({ Office, loadEngine, store, storage = globalThis.localStorage, now = () => Date.now(), locks }) {
  const t = translator(Office.context.displayLanguage);
  let started = null;
  const ctx = {
    Office,
    t,
    now,
    engineError: null,
    /** The full settings the service runs with (secrets merged), once started. */
    settings: null,
    getService() {
      if (!started) started = start();
      return started;
    },
    /** Forgets the running service (after the settings changed). */
    restart() {
      started = null;
      ctx.engineError = null;
    },
  };
  async function start() {
    try {
      const engineModule = await loadEngine();
      const profile = Office.context.mailbox && Office.context.mailbox.userProfile && Office.context.mailbox.userProfile.emailAddress;
      ctx.settings = mergeSettings(readSettings(Office.context.roamingSettings), loadSecrets(storage), profile);
      return new MailtrailService({
        engineModule,
        store: store || new IndexedDbStore(),
        settings: ctx.settings,
        mailbox: profile ? String(profile).toLowerCase() : null,
        now,
        locks,
      });
    } catch (e) {
      ctx.engineError = e;
      return null;
    }
  }
  return ctx;
}
