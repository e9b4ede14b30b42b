// The HubSpot owner on the Chrome options page (extension/chrome/src/options/owner.js): the
// owner id field into the endpoint, what "Test connection"'s owner lookup shows and when
// "Use this owner" is offered; and, with the engine (dist/engine/node), the lookup itself
// against a HubSpot stand-in on loopback, and the engine's check of `ownerId`.
// Run: node --test tests/js/chrome_settings_owner.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ownerView, withOwnerId } from '../../extension/chrome/src/options/owner.js';
import { validate } from '../../extension/chrome/src/background/settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_ENGINE = path.join(ROOT, 'dist/engine/node/mailtrail.js');
const engine = fs.existsSync(NODE_ENGINE) ? createRequire(import.meta.url)(NODE_ENGINE) : null;
const needsEngine = { skip: !engine && 'dist/engine/node is not built (scripts/build-wasm)' };
const messages = (lang) => JSON.parse(fs.readFileSync(path.join(ROOT, `extension/chrome/_locales/${lang}/messages.json`), 'utf8'));

test('the owner id field sets, trims and clears the HubSpot endpoint’s ownerId (other endpoints have none)', () => {
  const hs = { type: 'hubspot', token: 'pat', emailsPath: '/e' };
  assert.deepEqual(withOwnerId(hs, ' 41629779 '), { ...hs, ownerId: '41629779' });
  assert.deepEqual(withOwnerId({ ...hs, ownerId: '5' }, ''), hs, 'emptied: no owner');
  assert.equal(hs.ownerId, undefined, 'the endpoint given is not changed');
  const local = { type: 'local', url: 'http://127.0.0.1:8787', token: 't' };
  assert.deepEqual(withOwnerId(local, '123'), local);
});

test('a found owner is shown with "Use this owner" unless it is already set or the endpoint is managed', () => {
  const found = { status: 'found', address: 'me@ourco.example', owner: { id: '41629779', name: 'Jane Doe', email: 'me@ourco.example' }, message: '…' };
  const v = ownerView(found, '');
  assert.equal(v.message, 'options_owner_found');
  assert.deepEqual(v.subs, ['Jane Doe <me@ourco.example>', '41629779']);
  assert.equal(v.offer, '41629779');
  assert.equal(ownerView(found, '7').offer, '41629779', 'another owner set: offered');
  const inUse = ownerView(found, ' 41629779');
  assert.equal(inUse.offer, null);
  assert.equal(inUse.extra, 'options_owner_in_use');
  assert.equal(ownerView(found, '', { locked: true }).offer, null, 'a managed endpoint is not changed here');
  assert.deepEqual(ownerView({ ...found, owner: { id: '9' } }, '').subs, ['me@ourco.example', '9'], 'no name: the address');
});

test('why no owner was found is said, the missing scope named; no lookup shows nothing', () => {
  assert.deepEqual(ownerView({ status: 'not-found', address: 'me@ourco.example', owner: null, message: '' }, '').subs, ['me@ourco.example']);
  const scope = ownerView({ status: 'missing-scope', address: 'me@ourco.example', owner: null, message: '' }, '');
  assert.equal(scope.message, 'options_owner_missing_scope');
  assert.deepEqual(scope.subs, ['crm.objects.owners.read']);
  assert.equal(ownerView({ status: 'no-address', owner: null, message: '' }, '').message, 'options_owner_no_address');
  const failed = ownerView({ status: 'failed', address: 'me@ourco.example', owner: null, message: 'could not reach' }, '');
  assert.deepEqual([failed.message, failed.subs], ['options_owner_failed', ['could not reach']]);
  assert.equal(ownerView(undefined, ''), null);
  assert.equal(ownerView(null, ''), null);
  for (const lang of ['en', 'ja', 'pl']) {
    const m = messages(lang);
    for (const name of ['options_owner_found', 'options_owner_in_use', 'options_owner_not_found', 'options_owner_missing_scope', 'options_owner_no_address', 'options_owner_failed', 'options_use_owner', 'options_hubspot_owner_id', 'options_hubspot_owner_id_help']) {
      assert.ok(m[name]?.message, `${lang}: ${name}`);
    }
  }
  assert.ok(fs.readFileSync(path.join(ROOT, 'extension/chrome/src/options/options.html'), 'utf8').includes('name="endpoint.ownerId"'));
});

test('the engine checks ownerId: digits only, a field error otherwise', needsEngine, () => {
  const endpoint = (ownerId) => ({ endpoint: { type: 'hubspot', token: 'pat-1', ownerId } });
  assert.equal(validate(engine.validateSettings, endpoint('41629779')).ok, true);
  assert.equal(validate(engine.validateSettings, { endpoint: { type: 'hubspot', token: 'pat-1' } }).ok, true, 'optional');
  const bad = validate(engine.validateSettings, endpoint('jane@ourco.example'));
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.errors.map((e) => [e.field, e.code]), [['endpoint.ownerId', 'invalid-owner-id']]);
});

/** HubSpot on loopback: contacts and emails answer 200; owners as `owners` says. */
async function hubspotStandIn(owners) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url);
    res.setHeader('content-type', 'application/json');
    if (req.url.startsWith('/crm/v3/owners/')) {
      res.writeHead(owners.status);
      return res.end(JSON.stringify(owners.body));
    }
    res.writeHead(200);
    res.end(JSON.stringify({ results: [] }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

test('Test connection reports the owner for the first own address, and a missing scope without failing', needsEngine, async () => {
  const found = await hubspotStandIn({ status: 200, body: { results: [{ id: '41629779', email: 'me@ourco.example', firstName: 'Jane', lastName: 'Doe', userId: 9586504 }] } });
  try {
    const e = new engine.Engine({ userAddresses: ['me@ourco.example', 'alias@ourco.example'], endpoint: { type: 'hubspot', token: 'pat-1', baseUrl: found.url } });
    const r = await e.testConnection();
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.owner.status, 'found');
    assert.deepEqual(r.owner.owner, { id: '41629779', email: 'me@ourco.example', name: 'Jane Doe' });
    assert.ok(found.seen.includes('/crm/v3/owners/?email=me%40ourco.example&limit=1'), found.seen.join(' '));
    const view = ownerView(r.owner, '');
    assert.equal(view.offer, '41629779');
  } finally {
    await found.close();
  }
  const refused = await hubspotStandIn({ status: 403, body: { status: 'error', message: 'This app hasn\'t been granted all required scopes to make this call.', category: 'MISSING_SCOPES' } });
  try {
    const e = new engine.Engine({ userAddresses: ['me@ourco.example'], endpoint: { type: 'hubspot', token: 'pat-1', baseUrl: refused.url } });
    const r = await e.testConnection();
    assert.equal(r.ok, true);
    assert.equal(r.owner.status, 'missing-scope');
    assert.match(r.owner.message, /crm\.objects\.owners\.read/);
  } finally {
    await refused.close();
  }
});
