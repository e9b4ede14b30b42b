// The settings page. It edits the user's settings document (docs/settings.md); the worker
// validates it with the engine and stores it. Fields an administrator set through Chrome
// policy show the managed value and are locked. Saving asks Chrome for permission to reach
// the endpoint's origin (HTTPS endpoints are optional host permissions; loopback is built in).

import { localizeDocument } from '../../../shared/i18n-dom.js';
import {
  carrySecrets,
  endpointPermissionPattern,
  errorTarget,
  exportDocument,
  formEndpoint,
  hasSecrets,
  linesToList,
  listToLines,
  mergeManaged,
  parseUndoSeconds,
  splitDocument,
  DEFAULT_LOCAL_URL,
} from '../../../shared/settings-form.js';
import { ownerView, withOwnerId } from './owner.js';

const t = (name, subs) => chrome.i18n.getMessage(name, subs);
const $ = (id) => document.getElementById(id);
const form = $('settings');

const LISTS = ['userAddresses', 'neverLogAddresses', 'neverLogDomains', 'internalDomains'];
const CHECKS = ['logByDefault', 'logInternalOnly', 'createContacts', 'includeAttachments'];
const CHECK_DEFAULTS = { logByDefault: true, logInternalOnly: false, createContacts: true, includeAttachments: true };

let current = null; // the worker's settings:get answer
// The document the form was filled from: the stored one, or an imported one until it is saved.
// Save starts from it, so fields the form does not show (attachmentLimit, bodyLimit, HubSpot's
// emailsPath/contactsPath, …) are kept rather than dropped.
let base = { settings: {}, prefs: {} };

function ask(type, payload = {}) {
  return chrome.runtime.sendMessage({ type, ...payload }).then((r) => {
    if (!r?.ok) throw new Error(r?.error?.message || t('error_no_answer'));
    return r.result;
  });
}

function input(name) {
  return form.elements.namedItem(name);
}

// ---------------------------------------------------------------- form ⇄ settings

function showEndpointFields() {
  const type = input('endpoint.type').value;
  for (const el of form.querySelectorAll('[data-for]')) {
    el.hidden = !el.dataset.for.split(' ').includes(type);
  }
}

function fillForm(settings, prefs) {
  const e = settings.endpoint || { type: 'local', url: DEFAULT_LOCAL_URL, token: '' };
  input('endpoint.type').value = e.type || 'local';
  input('endpoint.url').value = e.url || (e.type === 'local' || !e.type ? DEFAULT_LOCAL_URL : '');
  input('endpoint.token').value = e.token || '';
  input('endpoint.secret').value = e.secret || '';
  input('endpoint.baseUrl').value = e.baseUrl || '';
  input('endpoint.ownerId').value = e.type === 'hubspot' && e.ownerId != null ? String(e.ownerId) : '';
  input('mode').value = settings.mode || 'api';
  input('bccAddress').value = settings.bccAddress || '';
  input('forwardingAddress').value = settings.forwardingAddress || '';
  for (const name of CHECKS) input(name).checked = settings[name] ?? CHECK_DEFAULTS[name];
  for (const name of LISTS) input(name).value = listToLines(settings[name]);
  showUndoSeconds(prefs.undoSendSeconds ?? 30);
  showEndpointFields();
}

/** Shows a value the list does not offer (an import, a policy, an older version) as itself. */
function showUndoSeconds(value) {
  const select = input('undoSendSeconds');
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) {
    const option = document.createElement('option');
    option.value = text;
    option.textContent = text;
    option.dataset.extra = 'true';
    select.appendChild(option);
  }
  select.value = text;
}

function readEndpoint() {
  const type = input('endpoint.type').value || 'local';
  const values = {};
  for (const field of ['url', 'token', 'secret', 'baseUrl']) values[field] = input(`endpoint.${field}`).value;
  return withOwnerId(formEndpoint(type, values, base.settings.endpoint), input('endpoint.ownerId').value);
}

/** The user's document from the form; fields the form does not show are kept from `base`. */
function readForm() {
  const settings = { ...base.settings };
  settings.endpoint = readEndpoint();
  settings.mode = input('mode').value;
  settings.bccAddress = input('bccAddress').value.trim() || null;
  settings.forwardingAddress = input('forwardingAddress').value.trim() || null;
  for (const name of CHECKS) settings[name] = input(name).checked;
  for (const name of LISTS) settings[name] = linesToList(input(name).value);
  const prefs = { ...base.prefs, undoSendSeconds: parseUndoSeconds(input('undoSendSeconds').value) };
  // A locked field keeps the user's own stored value (the managed one wins anyway).
  for (const name of current?.locked || []) {
    if (name in (current.user || {})) settings[name] = current.user[name];
    else if (name in settings) delete settings[name];
    if (name in (current.userPrefs || {})) prefs[name] = current.userPrefs[name];
    else if (name === 'undoSendSeconds') delete prefs[name];
  }
  return { settings, prefs };
}

function applyLocks(locked) {
  const lockedText = t('options_locked');
  for (const field of form.querySelectorAll('.field')) {
    const name = field.dataset.field.split('.')[0];
    const isLocked = locked.includes(name);
    field.classList.toggle('locked', isLocked);
    if (isLocked) field.dataset.lockedText = lockedText;
    for (const control of field.querySelectorAll('input, select, textarea')) control.disabled = isLocked;
  }
  $('managed-note').hidden = locked.length === 0;
}

// ---------------------------------------------------------------- errors

function clearErrors() {
  for (const f of form.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
  for (const e of form.querySelectorAll('.field .error')) e.remove();
  $('errors').replaceChildren();
}

function showErrors(errors) {
  clearErrors();
  for (const err of errors) {
    const { field, index } = errorTarget(err.field);
    const box = form.querySelector(`.field[data-field="${CSS.escape(field)}"]`) || form.querySelector(`.field[data-field="${CSS.escape(field.split('.')[0])}"]`);
    const text = index === null ? err.message : t('options_error_item', [String(index + 1), err.message]);
    if (box) {
      box.classList.add('invalid');
      const p = document.createElement('p');
      p.className = 'error';
      p.textContent = text;
      box.appendChild(p);
    }
    const li = document.createElement('li');
    li.textContent = `${err.field || t('options_settings')}: ${err.message}`;
    $('errors').appendChild(li);
  }
}

// ---------------------------------------------------------------- actions

async function requestPermission(settings) {
  const pattern = endpointPermissionPattern(settings);
  if (!pattern) return { granted: true, pattern };
  try {
    // Loopback is granted at install; asking again would be refused as not optional.
    if (await chrome.permissions.contains({ origins: [pattern] })) return { granted: true, pattern };
    return { granted: await chrome.permissions.request({ origins: [pattern] }), pattern };
  } catch {
    // Not a requestable origin (plain http to a remote host): validation explains why.
    return { granted: false, pattern, invalid: true };
  }
}

async function save() {
  const result = $('save-result');
  const { settings, prefs } = readForm();
  if (prefs.undoSendSeconds === null && !(current?.locked || []).includes('undoSendSeconds')) {
    // Never saved as '' or NaN (which the worker would read as "no Undo period").
    showErrors([{ field: 'undoSendSeconds', message: t('options_undo_send_invalid') }]);
    result.className = 'warn';
    result.textContent = t('options_not_saved');
    return false;
  }
  // Ask for the origin first, while the click still counts as a user gesture.
  const effective = mergeManaged(settings, prefs, current?.managed || {}).settings;
  const permission = await requestPermission(effective);
  result.className = '';
  result.textContent = t('options_saving');
  let r;
  try {
    r = await ask('settings:save', { settings, prefs });
  } catch (e) {
    result.className = 'warn';
    result.textContent = e.message;
    return false;
  }
  if (!r.ok) {
    showErrors(r.errors);
    result.className = 'warn';
    result.textContent = t('options_not_saved');
    return false;
  }
  clearErrors();
  await load();
  if (!permission.granted && !permission.invalid) {
    result.className = 'warn';
    result.textContent = t('options_saved_no_permission', [permission.pattern]);
  } else {
    result.className = 'ok';
    result.textContent = t('options_saved');
  }
  return true;
}

/** The owner "Test connection" found (or why none was), with "Use this owner" when it helps. */
function showOwner(lookup) {
  const box = $('owner-result');
  const button = $('use-owner');
  const locked = (current?.locked || []).includes('endpoint');
  const view = ownerView(lookup, input('endpoint.ownerId').value, { locked });
  box.hidden = !view;
  button.hidden = true;
  if (!view) return;
  box.className = `owner-result ${view.className}`;
  $('owner-text').textContent = [t(view.message, view.subs), view.extra ? t(view.extra) : ''].filter(Boolean).join(' ');
  if (view.offer) {
    button.hidden = false;
    button.dataset.ownerId = view.offer;
  }
}

/** "Use this owner": fills the owner id field and saves, so the next email is created with it. */
async function useOwner() {
  const id = $('use-owner').dataset.ownerId;
  if (!id) return;
  input('endpoint.ownerId').value = id;
  $('use-owner').hidden = true;
  if (await save()) $('owner-text').textContent += ` ${t('options_owner_in_use')}`;
}

async function testConnection() {
  const out = $('test-result');
  $('owner-result').hidden = true;
  if (!(await save())) return;
  out.className = '';
  out.textContent = t('popup_testing');
  try {
    const r = await ask('connection:test');
    if (r.code === 'no-permission') {
      out.className = 'warn';
      out.textContent = t('popup_permission_missing');
      return;
    }
    out.className = r.ok ? 'ok' : 'warn';
    out.textContent = r.ok ? t('popup_test_ok') : t('popup_test_failed', [r.message || String(r.status || '')]);
    showOwner(r.owner);
  } catch (e) {
    out.className = 'warn';
    out.textContent = t('popup_test_failed', [e.message]);
  }
}

function exportSettings() {
  const includeSecrets = $('export-secrets').checked;
  const { settings, prefs } = mergeManaged(current.user, current.userPrefs, current.managed);
  const doc = exportDocument(settings, prefs, { includeSecrets });
  const blob = new Blob([JSON.stringify(doc, null, 2) + '\n'], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'mailtrail-settings.json';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  $('transfer-result').textContent = includeSecrets && hasSecrets(settings) ? t('options_exported_with_secrets') : t('options_exported');
}

async function importSettings(file) {
  const out = $('transfer-result');
  let doc;
  try {
    doc = JSON.parse(await file.text());
  } catch (e) {
    out.className = 'warn';
    out.textContent = t('options_import_invalid', [e.message]);
    return;
  }
  const { settings, prefs, unknown } = splitDocument(doc);
  if (unknown.includes('(not an object)')) {
    out.className = 'warn';
    out.textContent = t('options_import_invalid', ['{ … }']);
    return;
  }
  const merged = carrySecrets({ ...current.user, ...settings }, current.user);
  base = { settings: merged, prefs: { ...current.userPrefs, ...prefs } };
  fillForm(merged, base.prefs);
  applyLocks(current.locked);
  out.className = unknown.length ? 'warn' : '';
  out.textContent = unknown.length ? t('options_imported_unknown', [unknown.join(', ')]) : t('options_imported');
}

async function load() {
  current = await ask('settings:get');
  base = { settings: current.user || {}, prefs: current.userPrefs || {} };
  // Show what is in force for managed fields, the user's own values elsewhere.
  const shown = { ...current.user };
  for (const name of current.locked) if (name in current.managed) shown[name] = current.managed[name];
  const prefs = { ...current.userPrefs };
  for (const name of current.locked) if (name in current.prefs) prefs[name] = current.prefs[name];
  fillForm(shown, prefs);
  applyLocks(current.locked);
  $('detected').textContent = current.detected.length ? t('options_detected', [current.detected.join(', ')]) : '';
  if (current.errors?.length) showErrors(current.errors);
}

localizeDocument(document, t, chrome.i18n.getUILanguage());
input('endpoint.type').addEventListener('change', showEndpointFields);
form.addEventListener('submit', (e) => {
  e.preventDefault();
  save();
});
$('test-connection').addEventListener('click', testConnection);
$('use-owner').addEventListener('click', useOwner);
$('export').addEventListener('click', exportSettings);
$('import-file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) importSettings(file);
  e.target.value = '';
});
load().catch((e) => {
  $('save-result').className = 'warn';
  $('save-result').textContent = e.message;
});
