// Where the settings in force come from, in the worker:
//   1. the user's settings (options page / import), stored in IndexedDB `meta.settings`
//      — IndexedDB, not chrome.storage, because content scripts can read chrome.storage.local
//      and the endpoint token must never reach them;
//   2. the administrator's values (Chrome enterprise policy → `chrome.storage.managed`,
//      declared in managed_schema.json), which replace the user's field by field;
//   3. the Gmail account addresses seen in open tabs, added to `userAddresses` so the
//      user's own address is never taken for a contact.
// The engine validates the result; invalid settings are reported, never half-applied.

import { mergeManaged } from '../../../shared/settings-form.js';

export async function readManaged() {
  try {
    return (await chrome.storage.managed.get(null)) || {};
  } catch {
    // No policy store on this platform / profile: nothing is managed.
    return {};
  }
}

/**
 * The settings in force: `{settings, prefs, locked, user, managed}`.
 * `stored` is `meta.settings` (`{settings, prefs}`), `detected` the account addresses.
 */
export function effectiveSettings(stored, managed, detected = []) {
  const user = stored?.settings || {};
  const { settings, prefs, locked } = mergeManaged(user, stored?.prefs || {}, managed);
  const own = new Set([...(settings.userAddresses || []), ...detected]);
  const withAccounts = { ...settings, userAddresses: [...own] };
  return { settings: withAccounts, prefs, locked, user, managed };
}

/**
 * The engine's validation, never throwing: a document the engine cannot even read (a string
 * where a list belongs, an unknown mode) comes back as one error naming the problem.
 */
export function validate(validateSettings, settings) {
  try {
    return validateSettings(settings);
  } catch (e) {
    const message = String(e?.message || e);
    const field = /unknown variant/.test(message) ? 'mode' : '';
    return { ok: false, errors: [{ field, message }] };
  }
}
