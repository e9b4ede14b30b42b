// The manifest and the managed-policy schema: stable id from the key, the CSP the WebAssembly
// engine needs, the content scripts, permissions, and a schema that covers every setting with
// the right JSON type. Run: node --test tests/js/chrome_manifest.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { CLIENT_FIELDS, ENGINE_FIELDS } from '../../extension/shared/settings-form.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = path.join(ROOT, 'extension/chrome');
const manifest = JSON.parse(fs.readFileSync(path.join(EXT, 'manifest.json'), 'utf8'));
const schema = JSON.parse(fs.readFileSync(path.join(EXT, 'managed_schema.json'), 'utf8'));

test('the key gives the stable extension id the docs and policies use', () => {
  const der = Buffer.from(manifest.key, 'base64');
  const hex = crypto.createHash('sha256').update(der).digest('hex').slice(0, 32);
  const id = [...hex].map((c) => String.fromCharCode('a'.charCodeAt(0) + parseInt(c, 16))).join('');
  assert.equal(id, 'edgajidndlomockckiblfinbdiaeoekg');
  const harness = fs.readFileSync(path.join(ROOT, 'tests/e2e/gmail_harness.mjs'), 'utf8');
  assert.ok(harness.includes(id));
  assert.ok(fs.readFileSync(path.join(ROOT, 'docs/settings.md'), 'utf8').includes(id), 'docs/settings.md names the id for policies');
  // A public key, never a private one.
  assert.doesNotThrow(() => crypto.createPublicKey({ key: der, format: 'der', type: 'spki' }));
});

test('Manifest V3, WebAssembly allowed in extension pages only, engine in the worker', () => {
  assert.equal(manifest.manifest_version, 3);
  assert.equal(manifest.content_security_policy.extension_pages, "script-src 'self' 'wasm-unsafe-eval'; object-src 'self'");
  assert.equal(manifest.background.service_worker, 'worker.js');
  const [hook, content] = manifest.content_scripts;
  assert.equal(hook.world, 'MAIN');
  assert.equal(hook.run_at, 'document_start');
  assert.deepEqual(hook.js, ['page-hook.js']);
  assert.equal(content.world, undefined, 'the content script runs isolated');
  for (const cs of manifest.content_scripts) assert.deepEqual(cs.matches, ['https://mail.google.com/*']);
  // The content bundle must not carry the engine: only the worker imports it.
  for (const f of fs.readdirSync(path.join(EXT, 'src/content'))) {
    if (f.endsWith('.js')) assert.ok(!fs.readFileSync(path.join(EXT, 'src/content', f), 'utf8').includes('@mailtrail/engine'), f);
  }
});

test('permissions: storage, alarms, unlimited storage; endpoints as optional host permissions', () => {
  assert.deepEqual(manifest.permissions.sort(), ['alarms', 'storage', 'unlimitedStorage']);
  assert.ok(manifest.host_permissions.includes('https://mail.google.com/*'));
  assert.deepEqual(manifest.optional_host_permissions, ['https://*/*']);
  // Only loopback (the local endpoint) is granted at install, besides Gmail.
  for (const p of manifest.host_permissions) assert.match(p, /^(https:\/\/mail\.google\.com|http:\/\/(127\.0\.0\.1|localhost))\/\*$/);
});

test('files the manifest names exist in the source or are webpack entries', async () => {
  const { default: part } = await import(path.join(EXT, 'webpack.part.js'));
  const config = part({}, { mode: 'production' });
  const entries = Object.keys(config.entry).map((e) => `${e}.js`);
  const copied = config.plugins.flatMap((p) => p.patterns || []).map((p) => path.basename(p.from));
  const named = [
    manifest.background.service_worker,
    ...manifest.content_scripts.flatMap((c) => [...c.js, ...(c.css || [])]),
    manifest.action.default_popup,
    manifest.options_ui.page,
    manifest.storage.managed_schema,
  ];
  for (const f of named) assert.ok(entries.includes(f) || copied.includes(f), `${f} is built or copied`);
  for (const icon of Object.values(manifest.icons)) assert.ok(fs.existsSync(path.join(EXT, icon)), icon);
  assert.equal(config.output.path, path.join(ROOT, 'dist/chrome'));
});

test('the managed schema covers every setting with the type the engine expects', () => {
  assert.equal(schema.type, 'object');
  const props = schema.properties;
  assert.deepEqual(Object.keys(props).sort(), [...ENGINE_FIELDS, ...CLIENT_FIELDS].sort());
  const node = path.join(ROOT, 'dist/engine/node/mailtrail.js');
  if (fs.existsSync(node)) {
    const engine = createRequire(import.meta.url)(node);
    const defaults = new engine.Engine({}).settings();
    // Unset optional fields come back as null: their type is known from the documentation.
    const nullable = { bccAddress: 'string', forwardingAddress: 'string', endpoint: 'object' };
    const jsonType = (k, v) => (v === null ? nullable[k] : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);
    for (const [k, v] of Object.entries(defaults)) assert.equal(props[k].type, jsonType(k, v), `${k} type`);
    // A document using every schema field validates in the engine.
    const doc = { mode: 'both', bccAddress: 'log@bcc.crm.example', forwardingAddress: 'fwd@crm.example', userAddresses: ['me@ourco.example'], neverLogAddresses: ['x@y.example'], neverLogDomains: ['y.example'], internalDomains: ['ourco.example'], logInternalOnly: false, logByDefault: true, createContacts: true, includeAttachments: true, attachmentLimit: 1000, bodyLimit: 4096, endpoint: { type: 'webhook', url: 'https://crm.example/h', secret: 's' } };
    assert.deepEqual(engine.validateSettings(doc).errors, []);
  }
  assert.deepEqual(props.mode.enum, ['api', 'bcc', 'both']);
  assert.deepEqual(props.endpoint.properties.type.enum, ['local', 'webhook', 'hubspot']);
  // Chrome rejects schemas with keywords it does not know; keep to its subset.
  const allowed = new Set(['type', 'properties', 'items', 'enum', 'title', 'description', 'minimum', 'maximum', 'additionalProperties', 'pattern', 'id', '$ref']);
  const walk = (node) => {
    for (const [k, v] of Object.entries(node)) {
      assert.ok(allowed.has(k), `schema keyword ${k}`);
      if (k === 'properties') Object.values(v).forEach(walk);
      if (k === 'items') walk(v);
    }
  };
  walk(schema);
});
