// Writes to roamingSettings from the task pane go through a page reload.
//
// Each Outlook runtime works on its own copy of roamingSettings, loaded when the page starts, and
// `saveAsync` writes the whole copy back. A task pane that stays open (pinned) would therefore
// overwrite a snapshot that classic Outlook's send handler added in the meantime. So the task
// pane never writes a long-lived copy: it stores the intended change in sessionStorage, reloads
// (which loads current roamingSettings), and applies the change at once on the fresh copy.
import { saveSettings, clearHandoffLost } from '../office/roaming.js';

const KEY = 'mailtrail.deferredRoaming';

export function deferRoamingWrite(action, { storage = globalThis.sessionStorage, reload = () => globalThis.location.reload() } = {}) {
  storage.setItem(KEY, JSON.stringify(action));
  reload();
}

/** Applies a change left before the reload; `{kind, ...result}` or null when there was none. */
export async function applyDeferred(roaming, { storage = globalThis.sessionStorage } = {}) {
  const raw = storage && storage.getItem(KEY);
  if (!raw) return null;
  storage.removeItem(KEY);
  let action;
  try {
    action = JSON.parse(raw);
  } catch {
    return null;
  }
  try {
    if (action.kind === 'settings') {
      const size = await saveSettings(roaming, action.shared);
      return { kind: 'settings', ok: true, size };
    }
    if (action.kind === 'dismiss-lost') {
      await clearHandoffLost(roaming);
      return { kind: 'dismiss-lost', ok: true };
    }
  } catch (e) {
    return { kind: action.kind, ok: false, error: e.message || String(e) };
  }
  return null;
}
