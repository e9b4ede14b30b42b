// Helpers around the settings document (docs/settings.md) shared by the Chrome extension and
// the Outlook add-in: which fields exist, how administrator-managed values win over the user's,
// what an export may contain, and which origin the browser must be allowed to reach.
// Validation itself is the engine's (`validateSettings`): nothing here decides what is valid.

/** Top-level fields of the engine's Settings (src/settings.rs), in the order the docs list them. */
export const ENGINE_FIELDS = [
  'mode',
  'bccAddress',
  'forwardingAddress',
  'userAddresses',
  'neverLogAddresses',
  'neverLogDomains',
  'internalDomains',
  'logInternalOnly',
  'logByDefault',
  'createContacts',
  'includeAttachments',
  'attachmentLimit',
  'bodyLimit',
  'endpoint',
];

/** Client preferences that are not engine settings (kept beside them, managed the same way). */
export const CLIENT_FIELDS = ['undoSendSeconds'];

/** Gmail's longest Undo Send period: the safe default when we do not know the user's. */
export const DEFAULT_CLIENT_PREFS = Object.freeze({ undoSendSeconds: 30 });

export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8787';

/** Endpoint fields that are secrets: never exported unless asked, never shown to content scripts. */
const SECRET_ENDPOINT_FIELDS = ['token', 'secret'];

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Splits a settings document (an import, a policy) into engine settings, client preferences
 * and the names it had that neither knows (reported to the user rather than dropped silently).
 */
export function splitDocument(doc) {
  const settings = {};
  const prefs = {};
  const unknown = [];
  if (!isPlainObject(doc)) return { settings, prefs, unknown: ['(not an object)'] };
  for (const [name, value] of Object.entries(doc)) {
    if (ENGINE_FIELDS.includes(name)) settings[name] = value;
    else if (CLIENT_FIELDS.includes(name)) prefs[name] = value;
    else if (!name.startsWith('$')) unknown.push(name); // "$schema", "$comment" are fine
  }
  return { settings, prefs, unknown };
}

/**
 * The settings in force: the user's, with every field the administrator set (Chrome
 * `storage.managed`, Outlook's deployment) replacing the user's value. Lists and the endpoint
 * are replaced whole, never merged: an admin's never-log list is the list.
 * Returns `{settings, prefs, locked}` where `locked` names the managed fields.
 */
export function mergeManaged(user = {}, userPrefs = {}, managed = {}) {
  const { settings: managedSettings, prefs: managedPrefs } = splitDocument(managed || {});
  const locked = [...Object.keys(managedSettings), ...Object.keys(managedPrefs)];
  return {
    settings: { ...user, ...managedSettings },
    prefs: { ...DEFAULT_CLIENT_PREFS, ...userPrefs, ...managedPrefs },
    locked,
  };
}

/** A copy without endpoint secrets (for exports and for anything outside the worker). */
export function stripSecrets(settings) {
  const copy = structuredClone(settings || {});
  if (isPlainObject(copy.endpoint)) {
    for (const f of SECRET_ENDPOINT_FIELDS) delete copy.endpoint[f];
  }
  return copy;
}

/** True when the settings carry a secret (so an export can warn). */
export function hasSecrets(settings) {
  const e = settings?.endpoint;
  return isPlainObject(e) && SECRET_ENDPOINT_FIELDS.some((f) => typeof e[f] === 'string' && e[f] !== '');
}

/** The URL the endpoint is reached at (the local endpoint's default when none is set). */
export function endpointUrl(settings) {
  const e = settings?.endpoint;
  if (!isPlainObject(e)) return DEFAULT_LOCAL_URL;
  if (e.type === 'hubspot') return e.baseUrl || 'https://api.hubapi.com';
  return e.url || '';
}

/**
 * The host-permission pattern for the endpoint's origin (`https://crm.example/*`), or null
 * when the URL cannot be read (the engine's validation reports why).
 * Match patterns ignore ports, so `http://127.0.0.1/*` covers every local port.
 */
export function endpointPermissionPattern(settings) {
  let url;
  try {
    url = new URL(endpointUrl(settings));
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const host = url.hostname; // IPv6 stays bracketed
  return `${url.protocol}//${host}/*`;
}

/** Textarea text → list: one entry per line (commas and semicolons also separate). */
export function linesToList(text) {
  return String(text || '')
    .split(/[\n,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function listToLines(list) {
  return (Array.isArray(list) ? list : []).join('\n');
}

/**
 * Maps an engine settings error field (`endpoint.url`, `neverLogDomains[2]`) to the form
 * field it belongs to (`endpoint.url`, `neverLogDomains`) and the list index when there is one.
 */
export function errorTarget(field) {
  const m = /^([A-Za-z.]+)(?:\[(\d+)\])?$/.exec(String(field || ''));
  if (!m) return { field: String(field || ''), index: null };
  return { field: m[1], index: m[2] === undefined ? null : Number(m[2]) };
}

/** The export file: the documented settings JSON (plus client prefs), secrets removed unless asked. */
export function exportDocument(settings, prefs, { includeSecrets = false } = {}) {
  const body = includeSecrets ? structuredClone(settings || {}) : stripSecrets(settings);
  const doc = {};
  for (const f of ENGINE_FIELDS) if (body[f] !== undefined && body[f] !== null) doc[f] = body[f];
  for (const f of CLIENT_FIELDS) if (prefs?.[f] !== undefined) doc[f] = prefs[f];
  return doc;
}

/**
 * An imported endpoint without its secret (exports leave secrets out) keeps the secret already
 * configured for the same endpoint type and URL, so a team can share one file safely.
 */
export function carrySecrets(imported, current) {
  const out = structuredClone(imported || {});
  const a = out.endpoint;
  const b = current?.endpoint;
  if (!isPlainObject(a) || !isPlainObject(b) || a.type !== b.type) return out;
  if (endpointUrl(out) !== endpointUrl(current)) return out;
  for (const f of SECRET_ENDPOINT_FIELDS) {
    if ((a[f] === undefined || a[f] === '') && typeof b[f] === 'string' && b[f] !== '') a[f] = b[f];
  }
  return out;
}

/** Endpoint fields the settings forms show, per type; any other field is kept as it was. */
export const FORM_ENDPOINT_FIELDS = Object.freeze({ local: ['url', 'token'], webhook: ['url', 'secret'], hubspot: ['token', 'baseUrl'] });

/**
 * The endpoint from a settings form: `values` are the form's fields (trimmed here), `base` the
 * endpoint the form was filled from (stored, or imported). Fields the form does not show
 * (HubSpot's `emailsPath`/`contactsPath`, say) are kept from `base` when the type is unchanged,
 * so saving the form never drops what an import or an earlier version set. An emptied optional
 * field (`baseUrl`) is removed; the local endpoint's URL defaults to DEFAULT_LOCAL_URL.
 */
export function formEndpoint(type, values = {}, base = null) {
  const kept = isPlainObject(base) && base.type === type ? structuredClone(base) : {};
  const endpoint = { ...kept, type };
  for (const field of FORM_ENDPOINT_FIELDS[type] || []) {
    const value = String(values[field] ?? '').trim();
    if (field === 'baseUrl' && !value) delete endpoint[field];
    else endpoint[field] = value;
  }
  if (type === 'local' && !endpoint.url) endpoint.url = DEFAULT_LOCAL_URL;
  return endpoint;
}

/** Longest Undo Send wait accepted (Gmail's longest period is 30 s). */
export const UNDO_SEND_MAX_SECONDS = 60;

/** `undoSendSeconds` as a whole number of seconds in 0–60, or null when it is not one. */
export function parseUndoSeconds(value) {
  if (value === null || value === undefined || typeof value === 'boolean') return null;
  if (typeof value !== 'number' && String(value).trim() === '') return null;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 0 || n > UNDO_SEND_MAX_SECONDS) return null;
  return n;
}

/**
 * True for one plain address (`local@domain.tld`: one @, a dot in the domain, no spaces, angle
 * brackets, quotes or list separators). For addresses reported by a web page (Gmail's account
 * address), checked before the engine's own validation.
 */
export function isPlainAddress(value) {
  return typeof value === 'string' && value.length <= 254 && /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/.test(value);
}
