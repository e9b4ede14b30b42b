// The settings document (src/settings.rs, docs/settings.md) split in two for Outlook:
//
//   shared  → roamingSettings: everything but secrets. It follows the user to every Outlook
//             (classic Windows needs mode, BCC address and never-log lists at send time) but is
//             stored in the mailbox, where mailbox administrators and any add-in-capable client
//             of this mailbox can read it, and it is capped at 32 KB.
//   secrets → this device only: localStorage of the add-in's origin (the HTTPS origin the add-in
//             is served from). The local endpoint's token belongs to one machine's
//             `mailtrail serve` anyway; a HubSpot private-app token or webhook secret is entered
//             once per device rather than copied into the mailbox. The JavaScript-only runtime of
//             classic Outlook never needs them: it does not push records.

const SECRETS_KEY = 'mailtrail.secrets';

/** The secret field of each endpoint type. */
const SECRET_FIELD = { local: 'token', webhook: 'secret', hubspot: 'token' };

/** `{shared, secrets}` from a full settings document. */
export function splitSecrets(settings) {
  const shared = { ...settings };
  const secrets = {};
  if (settings.endpoint && typeof settings.endpoint === 'object') {
    const endpoint = { ...settings.endpoint };
    const field = SECRET_FIELD[endpoint.type];
    if (field && endpoint[field] !== undefined) {
      secrets[endpoint.type] = endpoint[field];
      delete endpoint[field];
    }
    shared.endpoint = endpoint;
  }
  return { shared, secrets };
}

/** The full settings document the engine takes: shared + this device's secret + the user's own address. */
export function mergeSettings(shared, secrets, profileAddress) {
  const settings = { ...(shared || {}) };
  if (settings.endpoint && typeof settings.endpoint === 'object') {
    const endpoint = { ...settings.endpoint };
    const field = SECRET_FIELD[endpoint.type];
    if (field) endpoint[field] = (secrets && secrets[endpoint.type]) || '';
    settings.endpoint = endpoint;
  }
  if (profileAddress) {
    const own = (settings.userAddresses || []).map((a) => String(a).toLowerCase());
    if (!own.includes(String(profileAddress).toLowerCase())) settings.userAddresses = [...(settings.userAddresses || []), profileAddress];
  }
  return settings;
}

export function loadSecrets(storage = globalThis.localStorage) {
  try {
    const raw = storage && storage.getItem(SECRETS_KEY);
    const parsed = raw ? JSON.parse(raw) : {};
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** Stores this device's secrets (merged with the ones for other endpoint types). */
export function saveSecrets(secrets, storage = globalThis.localStorage) {
  if (!storage) throw Object.assign(new Error('this Outlook runtime has no local storage for the token'), { code: 'no-storage' });
  storage.setItem(SECRETS_KEY, JSON.stringify({ ...loadSecrets(storage), ...secrets }));
}

/** The local endpoint `mailtrail serve` listens on by default. */
export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8787';
