// Settings helpers shared by the extension and the add-in (extension/shared/settings-form.js)
// and the worker's merge of stored, managed and detected values (background/settings.js),
// checked against the engine's own validation where it matters.
// Run: node --test tests/js/chrome_settings.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  CLIENT_FIELDS,
  ENGINE_FIELDS,
  carrySecrets,
  endpointPermissionPattern,
  errorTarget,
  exportDocument,
  formEndpoint,
  hasSecrets,
  linesToList,
  mergeManaged,
  parseUndoSeconds,
  splitDocument,
  stripSecrets,
} from '../../extension/shared/settings-form.js';
import { effectiveSettings, validate } from '../../extension/chrome/src/background/settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_ENGINE = path.join(ROOT, 'dist/engine/node/mailtrail.js');
const engine = fs.existsSync(NODE_ENGINE) ? createRequire(import.meta.url)(NODE_ENGINE) : null;
const needsEngine = { skip: !engine && 'dist/engine/node is not built (scripts/build-wasm)' };

test('the field list matches the engine settings (every field, nothing else)', needsEngine, () => {
  const defaults = new engine.Engine({}).settings();
  const known = Object.keys(defaults).sort();
  // `endpoint` is omitted from the engine's output while unset.
  assert.deepEqual([...ENGINE_FIELDS].filter((f) => f !== 'endpoint').sort(), known.filter((f) => f !== 'endpoint'));
});

test('managed values replace the user values field by field; lists replaced whole', () => {
  const user = { neverLogDomains: ['a.example', 'b.example'], logByDefault: false, endpoint: { type: 'local', url: 'http://127.0.0.1:1', token: 'u' } };
  const managed = { neverLogDomains: ['corp-blocked.example'], endpoint: { type: 'hubspot', token: 'admin' }, undoSendSeconds: 10, someAdminNote: 'x' };
  const m = mergeManaged(user, { undoSendSeconds: 5 }, managed);
  assert.deepEqual(m.settings.neverLogDomains, ['corp-blocked.example']);
  assert.deepEqual(m.settings.endpoint, { type: 'hubspot', token: 'admin' });
  assert.equal(m.settings.logByDefault, false, 'unmanaged user value kept');
  assert.equal(m.prefs.undoSendSeconds, 10);
  assert.deepEqual(m.locked.sort(), ['endpoint', 'neverLogDomains', 'undoSendSeconds']);
  assert.equal('someAdminNote' in m.settings, false);
  assert.deepEqual(mergeManaged({}, {}, {}).prefs, { undoSendSeconds: 30 }, 'Gmail’s longest Undo Send by default');
});

test('the account addresses found in Gmail are added to the own addresses', () => {
  const e = effectiveSettings({ settings: { userAddresses: ['alias@ourco.example'] }, prefs: {} }, { internalDomains: ['ourco.example'] }, ['me@ourco.example']);
  assert.deepEqual(e.settings.userAddresses, ['alias@ourco.example', 'me@ourco.example']);
  assert.deepEqual(e.settings.internalDomains, ['ourco.example']);
  assert.deepEqual(e.locked, ['internalDomains']);
});

test('documents: unknown fields reported, secrets stripped from exports, carried over on import', () => {
  const { settings, prefs, unknown } = splitDocument({ $schema: 'x', mode: 'bcc', undoSendSeconds: 10, fancy: 1 });
  assert.deepEqual(settings, { mode: 'bcc' });
  assert.deepEqual(prefs, { undoSendSeconds: 10 });
  assert.deepEqual(unknown, ['fancy']);
  assert.deepEqual(splitDocument([1, 2]).unknown, ['(not an object)']);

  const s = { mode: 'api', bccAddress: null, endpoint: { type: 'webhook', url: 'https://crm.example/h', secret: 'shh' } };
  assert.equal(hasSecrets(s), true);
  assert.deepEqual(stripSecrets(s).endpoint, { type: 'webhook', url: 'https://crm.example/h' });
  assert.equal(s.endpoint.secret, 'shh', 'the original is untouched');
  assert.deepEqual(exportDocument(s, { undoSendSeconds: 20 }), { mode: 'api', endpoint: { type: 'webhook', url: 'https://crm.example/h' }, undoSendSeconds: 20 });
  assert.equal(exportDocument(s, {}, { includeSecrets: true }).endpoint.secret, 'shh');

  const imported = { endpoint: { type: 'webhook', url: 'https://crm.example/h' } };
  assert.equal(carrySecrets(imported, s).endpoint.secret, 'shh', 'same endpoint: secret kept');
  assert.equal(carrySecrets({ endpoint: { type: 'webhook', url: 'https://other.example/h' } }, s).endpoint.secret, undefined, 'other endpoint: not carried');
  assert.equal(carrySecrets({ endpoint: { type: 'local', url: 'https://crm.example/h' } }, s).endpoint.secret, undefined);
});

test('host permission patterns for endpoints', () => {
  assert.equal(endpointPermissionPattern({}), 'http://127.0.0.1/*', 'default local endpoint');
  assert.equal(endpointPermissionPattern({ endpoint: { type: 'webhook', url: 'https://crm.example.com:8443/hooks/mail' } }), 'https://crm.example.com/*');
  assert.equal(endpointPermissionPattern({ endpoint: { type: 'hubspot', token: 't' } }), 'https://api.hubapi.com/*');
  assert.equal(endpointPermissionPattern({ endpoint: { type: 'local', url: 'http://[::1]:8787' } }), 'http://[::1]/*');
  assert.equal(endpointPermissionPattern({ endpoint: { type: 'webhook', url: 'not a url' } }), null);
  assert.equal(endpointPermissionPattern({ endpoint: { type: 'webhook', url: 'ftp://x.example' } }), null);
});

test('form helpers', () => {
  assert.deepEqual(linesToList(' a@x.example \n\nb@x.example, c@x.example;d@x.example'), ['a@x.example', 'b@x.example', 'c@x.example', 'd@x.example']);
  assert.deepEqual(errorTarget('neverLogDomains[2]'), { field: 'neverLogDomains', index: 2 });
  assert.deepEqual(errorTarget('endpoint.url'), { field: 'endpoint.url', index: null });
  assert.deepEqual(CLIENT_FIELDS, ['undoSendSeconds']);
});

test('validation is the engine’s and never throws, even on a document it cannot read', needsEngine, () => {
  assert.equal(validate(engine.validateSettings, {}).ok, true);
  const bad = validate(engine.validateSettings, { mode: 'sometimes' });
  assert.equal(bad.ok, false);
  assert.equal(bad.errors[0].field, 'mode');
  const wrongType = validate(engine.validateSettings, { neverLogDomains: 'competitor.example' });
  assert.equal(wrongType.ok, false);
  assert.ok(wrongType.errors[0].message.length > 0);
  const http = validate(engine.validateSettings, { endpoint: { type: 'webhook', url: 'http://crm.example', secret: 's' } });
  assert.deepEqual(http.errors.map((e) => e.field), ['endpoint.url']);
});

test('the endpoint from the form keeps the fields the form does not show (same type only)', () => {
  const hubspot = { type: 'hubspot', token: 'pat-old', baseUrl: 'https://api.hubapi.example', emailsPath: '/crm/v3/objects/emails', contactsPath: '/crm/v3/objects/contacts' };
  assert.deepEqual(formEndpoint('hubspot', { token: ' pat-new ', baseUrl: 'https://api.hubapi.example' }, hubspot), { ...hubspot, token: 'pat-new' });
  // Emptying the optional base URL removes it; the paths stay.
  const noBase = formEndpoint('hubspot', { token: 'pat-new', baseUrl: '' }, hubspot);
  assert.equal('baseUrl' in noBase, false);
  assert.equal(noBase.emailsPath, '/crm/v3/objects/emails');
  // Another type starts clean: nothing of the HubSpot endpoint leaks into it.
  assert.deepEqual(formEndpoint('local', { url: '', token: 't' }, hubspot), { type: 'local', url: 'http://127.0.0.1:8787', token: 't' });
  assert.deepEqual(formEndpoint('webhook', { url: 'https://h.example/in', secret: 's', token: 'ignored' }, null), { type: 'webhook', url: 'https://h.example/in', secret: 's' });
});

test('undoSendSeconds: a whole number of seconds 0-60, else null (never 0 by accident)', () => {
  assert.equal(parseUndoSeconds('10'), 10);
  assert.equal(parseUndoSeconds(15), 15);
  assert.equal(parseUndoSeconds('0'), 0);
  assert.equal(parseUndoSeconds(60), 60);
  for (const bad of ['', ' ', null, undefined, 'abc', '7.5', 61, -1, NaN, true, '1e1x']) assert.equal(parseUndoSeconds(bad), null, String(bad));
});
