// Settings and storage in Outlook: secrets on the device, the rest in roamingSettings (32 KB),
// the hand-off queue, deferred writes, the durable outbox store and its locking.
//   node --test tests/js/outlook_settings.test.mjs      (needs scripts/build-wasm)
import test from 'node:test';
import assert from 'node:assert/strict';
import { splitSecrets, mergeSettings, loadSecrets, saveSecrets } from '../../extension/outlook/src/engine/settings.js';
import { saveSettings, readSettings, roamingSize, fitSnapshot, enqueueHandoff, handoffQueue, removeHandoff, noteLost, handoffLost } from '../../extension/outlook/src/office/roaming.js';
import { applyDeferred, deferRoamingWrite } from '../../extension/outlook/src/taskpane/deferred.js';
import { MemoryStore, withLock } from '../../extension/outlook/src/engine/store.js';
import { MailtrailService } from '../../extension/outlook/src/engine/service.js';
import { SETTINGS_KEY, HANDOFF_KEY, SETTINGS_BUDGET_BYTES } from '../../extension/outlook/src/office/keys.js';
import { utf8Length } from '../../extension/outlook/src/office/async.js';
import { base64ToBytes, messageFromHeaders } from '../../extension/outlook/src/office/message.js';
import { outlookRuntime, loadEngine } from '../fixtures/outlook/harness.mjs';

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k), map: m };
}

test('tokens and secrets never go to roamingSettings; they come back from this device', () => {
  for (const [endpoint, secret] of [
    [{ type: 'local', url: 'http://127.0.0.1:8787', token: 'mt_abc' }, 'mt_abc'],
    [{ type: 'hubspot', token: 'pat-na1-xyz', baseUrl: 'https://api.hubapi.com' }, 'pat-na1-xyz'],
    [{ type: 'webhook', url: 'https://crm.example/hook', secret: 's3cret' }, 's3cret'],
  ]) {
    const { shared, secrets } = splitSecrets({ mode: 'api', endpoint });
    assert.ok(!JSON.stringify(shared).includes(secret), `${endpoint.type}: secret in shared settings`);
    assert.deepEqual(secrets, { [endpoint.type]: secret });
    const storage = memoryStorage();
    saveSecrets(secrets, storage);
    const merged = mergeSettings(shared, loadSecrets(storage), 'Me@OurCo.example');
    assert.deepEqual(merged.endpoint, endpoint);
    assert.deepEqual(merged.userAddresses, ['Me@OurCo.example']);
  }
  // Secrets of other endpoint types are kept when one is saved.
  const storage = memoryStorage();
  saveSecrets({ local: 'a' }, storage);
  saveSecrets({ hubspot: 'b' }, storage);
  assert.deepEqual(loadSecrets(storage), { local: 'a', hubspot: 'b' });
  assert.deepEqual(loadSecrets({ getItem: () => '{not json' }), {});
});

test('roamingSettings: the settings budget is enforced before saving, and sizes count UTF-8 bytes', async () => {
  const { Office } = outlookRuntime({ mode: 'compose' });
  const roaming = Office.context.roamingSettings;
  const small = { mode: 'api', neverLogDomains: ['competitor.example'] };
  assert.equal(await saveSettings(roaming, small), utf8Length(JSON.stringify(small)));
  assert.deepEqual(readSettings(roaming), small);
  const huge = { neverLogAddresses: Array.from({ length: 600 }, (_, i) => `person${i}@competitor.example`) };
  await assert.rejects(saveSettings(roaming, huge), (e) => e.code === 'too-large' && e.limit === SETTINGS_BUDGET_BYTES);
  assert.deepEqual(readSettings(roaming), small, 'nothing changed');
  assert.equal(utf8Length('日本'), 6);
  assert.equal(utf8Length('ł'), 2);
  assert.equal(utf8Length('😀'), 4);
  assert.ok(roamingSize(roaming) > utf8Length(JSON.stringify(small)));
});

test('the hand-off queue: append, shorten to fit, remove by id, count what was lost', async () => {
  const rt = outlookRuntime({ mode: 'compose' });
  const roaming = rt.Office.context.roamingSettings;
  const snap = (id, html) => ({ v: 1, id, at: 1, logChecked: true, compose: { subject: id, to: [{ address: 'a@b.example' }], html } });
  assert.deepEqual(await enqueueHandoff(roaming, snap('h1', '<p>hi</p>'), null, 'en'), { stored: true, shortened: false });
  const big = '<p>' + 'x'.repeat(40_000) + '</p>';
  assert.deepEqual(await enqueueHandoff(roaming, snap('h2', big), () => Promise.resolve('y'.repeat(40_000)), 'ja'), { stored: true, shortened: true });
  const queue = handoffQueue(roaming);
  assert.deepEqual(queue.map((s) => s.id), ['h1', 'h2']);
  assert.match(queue[1].compose.text, /短縮されました/);
  assert.ok(Buffer.byteLength(JSON.stringify(rt.fake.state.roaming)) <= 32 * 1024);
  await removeHandoff(roaming, ['h1']);
  assert.deepEqual(handoffQueue(roaming).map((s) => s.id), ['h2']);
  await removeHandoff(roaming, ['h2']);
  assert.equal(rt.fake.state.roaming[HANDOFF_KEY], undefined);
  noteLost(roaming, snap('h3'), 'too-large');
  assert.equal(handoffLost(roaming).count, 1);
  // fitSnapshot keeps a body that fits untouched and gives up when even an empty body is too much.
  const s = snap('h4', '<p>ok</p>');
  assert.equal(fitSnapshot(s, 10_000, 'ok'), s);
  assert.equal(fitSnapshot(s, 50, 'ok'), null);
});

test('each runtime writes back the copy of roamingSettings it loaded: why the task pane reloads before writing', async () => {
  const saveOf = (roaming) => new Promise((resolve) => roaming.saveAsync(resolve));
  // The hazard, reproduced: a pane opened earlier saves its stale copy after a snapshot was added.
  const hazard = outlookRuntime({ mode: 'compose', roaming: { [SETTINGS_KEY]: { mode: 'api' } } });
  const stalePane = outlookRuntime({ mode: 'compose' }, hazard.fake.state);
  await enqueueHandoff(outlookRuntime({ mode: 'compose' }, hazard.fake.state).Office.context.roamingSettings, { v: 1, id: 'h1', at: 1, compose: { subject: 'x' } });
  assert.equal(hazard.fake.state.roaming[HANDOFF_KEY].length, 1);
  stalePane.Office.context.roamingSettings.set(SETTINGS_KEY, { mode: 'bcc' });
  await saveOf(stalePane.Office.context.roamingSettings);
  assert.equal(hazard.fake.state.roaming[HANDOFF_KEY], undefined, 'the stale copy dropped the snapshot');

  // What the pane does instead: defer the write, reload, apply it on a fresh copy.
  const first = outlookRuntime({ mode: 'compose', roaming: { [SETTINGS_KEY]: { mode: 'api' } } });
  await enqueueHandoff(outlookRuntime({ mode: 'compose' }, first.fake.state).Office.context.roamingSettings, { v: 1, id: 'h1', at: 1, compose: { subject: 'x' } });
  const session = memoryStorage();
  let reloaded = false;
  deferRoamingWrite({ kind: 'settings', shared: { mode: 'bcc', bccAddress: 'log@bcc.crm.example' } }, { storage: session, reload: () => (reloaded = true) });
  assert.equal(reloaded, true);
  assert.equal(first.fake.state.roaming[SETTINGS_KEY].mode, 'api', 'nothing written before the reload');
  const fresh = outlookRuntime({ mode: 'compose' }, first.fake.state);
  const applied = await applyDeferred(fresh.Office.context.roamingSettings, { storage: session });
  assert.deepEqual(applied, { kind: 'settings', ok: true, size: utf8Length(JSON.stringify({ mode: 'bcc', bccAddress: 'log@bcc.crm.example' })) });
  assert.equal(first.fake.state.roaming[SETTINGS_KEY].mode, 'bcc');
  assert.equal(first.fake.state.roaming[HANDOFF_KEY].length, 1, 'the snapshot survived');
  assert.equal(await applyDeferred(fresh.Office.context.roamingSettings, { storage: session }), null, 'applied once');
});

test('the outbox store keeps changes in order; locks serialise; the service persists before it reports', async () => {
  const store = new MemoryStore();
  await store.save([{ put: { key: 'a', state: 'pending' } }, { put: { key: 'a', state: 'done' } }, { put: { key: 'b', state: 'pending' } }, { remove: 'b' }], new Uint8Array([1, 2]));
  const loaded = await store.load();
  assert.deepEqual(loaded.entries, [{ key: 'a', state: 'done' }]);
  assert.deepEqual([...loaded.snapshot], [1, 2]);

  // A Web Locks implementation: the second holder waits; ifAvailable gets null instead.
  const held = new Set();
  const waiting = new Map();
  const locks = {
    async request(name, options, fn) {
      if (held.has(name)) {
        if (options.ifAvailable) return fn(null);
        await new Promise((resolve) => waiting.set(name, [...(waiting.get(name) || []), resolve]));
      }
      held.add(name);
      try {
        return await fn({ name });
      } finally {
        held.delete(name);
        const next = (waiting.get(name) || []).shift();
        if (next) next();
      }
    },
  };
  const order = [];
  await Promise.all([
    withLock('x', async () => {
      order.push('a1');
      await new Promise((r) => setTimeout(r, 20));
      order.push('a2');
    }, { locks }),
    withLock('x', async () => order.push('b'), { locks }),
  ]);
  assert.deepEqual(order, ['a1', 'a2', 'b']);

  const engineModule = await loadEngine();
  // An endpoint this device can send to (with its token), so the flush below reaches the lock.
  const service = new MailtrailService({ engineModule, store: new MemoryStore(), settings: { userAddresses: ['me@ourco.example'], endpoint: { type: 'local', url: 'http://127.0.0.1:9', token: 'mt_test' } }, locks });
  const outcome = await service.processCompose({ from: { address: 'me@ourco.example' }, to: [{ address: 'bob@client.example' }], subject: 'S' }, { kind: 'send', logChecked: true }, { at: 1_700_000_000_000 });
  assert.equal(outcome.queued, true);
  const after = await service.store.load();
  assert.equal(after.entries.length, 1, 'queued means persisted');
  assert.ok(after.snapshot, 'threads and activity persisted too');
  // Another runtime flushing: this one skips rather than sending the same records.
  held.add('mailtrail-flush');
  assert.deepEqual(await service.flush(), { skipped: true, reason: 'another runtime is sending' });
  held.delete('mailtrail-flush');
});

test('an endpoint not usable on this device: records are decided by the rules and queued; delivery waits', async () => {
  const engineModule = await loadEngine();
  const store = new MemoryStore();
  const settings = { neverLogDomains: ['competitor.example'], endpoint: { type: 'webhook', url: 'http://crm.example/hook', secret: '' } };
  const service = new MailtrailService({ engineModule, store, settings });
  assert.equal(service.canDeliver, false);
  assert.deepEqual(service.settingsErrors.map((e) => e.field).sort(), ['endpoint.secret', 'endpoint.url']);
  const trigger = { kind: 'send', logChecked: true };
  const never = await service.processCompose({ from: { address: 'me@x.example' }, to: [{ address: 'buyer@competitor.example' }], subject: 'N' }, trigger);
  assert.equal(never.decision.log, false, 'the never-log list still applies');
  const outcome = await service.processCompose({ from: { address: 'me@x.example' }, to: [{ address: 'bob@client.example' }], subject: 'S' }, trigger);
  assert.equal(outcome.queued, true);
  assert.deepEqual(await service.flush(), { skipped: true, reason: 'invalid-settings' });
  assert.equal((await store.load()).entries[0].state, 'pending');
  // Rules that are themselves invalid: no decision can be trusted, so there is no service.
  assert.throws(() => new MailtrailService({ engineModule, store, settings: { mode: 'bcc' } }), (e) => e.code === 'invalid-settings' && /bccAddress/.test(e.message));
});

test('adapters: base64 without atob, the header-block message', () => {
  assert.deepEqual([...base64ToBytes('SGVs\nbG8=')], [...Buffer.from('Hello')]);
  assert.deepEqual([...base64ToBytes('4pyT')], [...Buffer.from('✓')]);
  assert.throws(() => base64ToBytes('ab$c'), /not valid base64/);
  const msg = messageFromHeaders('From: a@b.example\r\nContent-Type: multipart/mixed;\r\n boundary="x"\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n', '<p>Hi</p>');
  assert.equal(msg, 'From: a@b.example\r\nSubject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>Hi</p>');
});

test('"Log this email" on a forward asks the endpoint about the original\'s people, and the answer counts', async () => {
  const engineModule = await loadEngine();
  const service = new MailtrailService({ engineModule, store: new MemoryStore(), settings: { userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'] } });
  const asked = [];
  service.lookupContacts = async (addresses) => {
    asked.push(addresses);
    return addresses.filter((a) => a === 'piotr@firma.example');
  };
  const raw = Buffer.from('From: Maria <maria@ourco.example>\r\nTo: me@ourco.example\r\nSubject: Fwd: Offer\r\nMessage-ID: <f1@ourco.example>\r\n\r\nFYI\r\n\r\n---------- Forwarded message ---------\r\nFrom: Piotr <piotr@firma.example>\r\nDate: Tue, 3 Mar 2026 14:05\r\nSubject: Offer\r\nTo: Maria <maria@ourco.example>\r\n\r\nPlease quote.\r\n');
  const outcome = await service.processRaw(raw, { kind: 'manual' }, { at: 1_772_500_500_000 });
  assert.deepEqual(asked, [['piotr@firma.example', 'maria@ourco.example']]);
  assert.equal(outcome.record.direction, 'forwarded');
  const piotr = outcome.decision.contacts.find((c) => c.address === 'piotr@firma.example');
  assert.equal(piotr.create, false, 'a known contact is not reported as created');
  assert.ok(!outcome.decision.reasons.some((r) => r.code === 'contact-created' && r.address === 'piotr@firma.example'));
});

/** A CRM endpoint on loopback that refuses every token but `good` (401), counting record POSTs. */
async function tokenCheckingEndpoint(good) {
  const http = await import('node:http');
  const posts = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const token = String(req.headers.authorization || '').replace(/^Bearer /, '');
      if (req.url === '/v1/records') posts.push({ token, subject: JSON.parse(body).subject });
      res.writeHead(token === good ? (req.url === '/v1/records' ? 201 : 200) : 401, { 'content-type': 'application/json' });
      if (token !== good) return res.end(JSON.stringify({ error: { code: 'invalid_token', message: 'the token is not valid' } }));
      res.end(JSON.stringify(req.url === '/v1/records' ? { id: `r-${posts.length}`, duplicate: false } : { contacts: {} }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, posts, close: () => new Promise((r) => server.close(r)) };
}

test('a refused token stops the flush at the first record: the rest wait unsent, nothing is dead; a new token sends them at once', async () => {
  const engineModule = await loadEngine();
  const endpoint = await tokenCheckingEndpoint('mt_good');
  try {
    const store = new MemoryStore();
    const settings = (token) => ({ userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'], endpoint: { type: 'local', url: endpoint.url, token } });
    let clock = 1_700_000_000_000;
    const now = () => clock;
    const wrong = new MailtrailService({ engineModule, store, settings: settings('mt_wrong'), now });
    for (const n of [1, 2, 3, 4]) {
      const queued = await wrong.processCompose({ from: { address: 'me@ourco.example' }, to: [{ address: `buyer${n}@client.example` }], subject: `Token ${n}` }, { kind: 'send', logChecked: true }, { lookupTimeoutMs: 2000 });
      assert.equal(queued.queued, true);
    }
    const report = await wrong.flush();
    assert.equal(report.tokenRejected, true);
    assert.equal(report.retrying, 1);
    assert.equal(report.errors[0][1].code, 'token-rejected');
    assert.equal(endpoint.posts.length, 1, 'one request, not one per record');
    const status = await wrong.status();
    assert.equal(status.counts.dead, 0);
    assert.equal(status.counts.retrying, 4);
    assert.deepEqual(status.queue.map((e) => e.attempts), [0, 0, 0, 0], 'a refused token costs no record an attempt');
    for (const e of status.queue) {
      assert.equal(e.lastError.code, 'token-rejected');
      assert.ok(e.state.nextAttemptAt - clock >= 25 * 60_000, 'waits for the token, not a short backoff');
    }
    // Nothing is due again on its own soon: a flush a minute later sends nothing.
    clock += 60_000;
    await wrong.flush();
    assert.equal(endpoint.posts.length, 1);

    // The settings are saved with the right token: the waiting records are due now.
    await wrong.endpointChanging(settings('mt_good'));
    const fixed = new MailtrailService({ engineModule, store, settings: settings('mt_good'), now });
    const sent = await fixed.flush();
    assert.equal(sent.delivered, 4);
    assert.equal(sent.tokenRejected, false);
    assert.deepEqual(endpoint.posts.filter((p) => p.token === 'mt_good').map((p) => p.subject).sort(), ['Token 1', 'Token 2', 'Token 3', 'Token 4']);
    assert.equal((await fixed.status()).counts.done, 4);
  } finally {
    await endpoint.close();
  }
});

test('HubSpot from Outlook: HubSpot’s own API cannot be reached from the add-in (not saved); a proxy base URL an admin set can', async () => {
  const { unreachableHubspot } = await import('../../extension/outlook/src/taskpane/settings.js');
  assert.equal(unreachableHubspot({ type: 'hubspot', token: 'pat-na1-x' }), true);
  assert.equal(unreachableHubspot({ type: 'hubspot', token: 'pat-na1-x', baseUrl: 'https://api.hubapi.com' }), true);
  assert.equal(unreachableHubspot({ type: 'hubspot', token: 'pat-eu1-x', baseUrl: 'https://api-eu1.hubapi.com/' }), true);
  assert.equal(unreachableHubspot({ type: 'hubspot', token: 'pat-na1-x', baseUrl: 'https://crm-proxy.ourco.example' }), false);
  assert.equal(unreachableHubspot({ type: 'local', url: 'http://127.0.0.1:8787', token: 't' }), false);
  assert.equal(unreachableHubspot(null), false);
  const { MESSAGES } = await import('../../extension/outlook/src/i18n/index.js');
  for (const lang of ['en', 'ja', 'pl']) {
    assert.match(MESSAGES[lang]['settings.hubspotNoOutlook'], /mailtrail serve/, lang);
    assert.match(MESSAGES[lang]['settings.hubspotNoOutlook'], /HubSpot/, lang);
  }
});
