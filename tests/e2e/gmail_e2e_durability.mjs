// End-to-end: nothing lost, nothing sent twice. The endpoint goes down and comes back, the
// service worker is stopped mid-queue (as Chrome does after 30 s idle), the browser restarts.
// "Arrives once" is checked at both ends: the endpoint stores one record for the key, and the
// extension's own delivery counters (persisted across restarts) show no duplicate delivery —
// a second POST of the same record would be counted as a duplicate.
// A refused token (401 from the real server) stops delivery at the first request of each flush;
// the records wait (never dead), the popup says what to do, and fixing the token sends them.
// Run: node --test tests/e2e/gmail_e2e_durability.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { activityFor, composeNew, configure, crmProxy, engineStatus, launch, openGmail, stopWorkers, waitFor, worker, startGmailSuite, stopGmailSuite } from './gmail_harness.mjs';

let serve;
let gmail;
let browser;
let page;
const BASE = { userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'] };

before(async () => {
  ({ serve, gmail, browser, page } = await startGmailSuite(BASE));
});

after(() => stopGmailSuite({ serve, browser }));

async function send(subject, to = 'buyer@customer.example') {
  const compose = await composeNew(page, { to: [to], subject, body: `Body of ${subject}` });
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
  return activityFor(await worker(browser.context), subject);
}

const counters = async () => (await worker(browser.context)).evaluate(async () => ({ ...(await globalThis.mailtrail.ready).stats }));
const bootId = async () => (await worker(browser.context)).evaluate(async () => (await globalThis.mailtrail.ready).bootMs + ':' + globalThis.mailtrail.startedAt);

test('endpoint down, then up: the record waits (retrying, with the error in the popup) and arrives once', async () => {
  await serve.stop();
  const before = await counters();
  const a = await send('Sent while the CRM was down');
  const sw = await worker(browser.context);
  const entry = await waitFor(async () => (await engineStatus(sw)).queue.find((q) => q.key === a.key && q.state.state === 'retrying'), { what: 'retrying state' });
  assert.equal(entry.lastError.code, 'network');

  // The popup shows it, with the error and a Retry button.
  const popup = await browser.context.newPage();
  await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
  const row = popup.locator(`#outbox-list li[data-key="${a.key}"]`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'retrying');
  assert.match(await row.locator('.meta').textContent(), /Next attempt/);
  assert.ok((await row.locator('.error-message').textContent()).length > 0);
  assert.equal(await popup.locator('#connection-state').getAttribute('data-state'), 'error');

  await serve.start(); // same port, same database
  await row.locator('button.retry').click();
  const stored = await waitFor(() => serve.record(a.key), { timeout: 30000, what: 'record after the endpoint came back' });
  assert.equal(stored.record.subject, 'Sent while the CRM was down');
  await waitFor(async () => (await popup.locator('#connection-state').getAttribute('data-state')) === 'ok', { what: 'popup shows connected' });
  await popup.close();
  const after = await counters();
  assert.equal(after.delivered - before.delivered, 1);
  assert.equal(after.duplicates - before.duplicates, 0, 'never sent twice');
});

test('service worker stopped mid-queue: the record survives in IndexedDB and arrives once', async () => {
  await configure(await worker(browser.context), { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 3 });
  const before = await counters();
  const records = (await serve.stats()).records;
  const boot = await bootId();
  const a = await send('Queued when the worker stopped');
  assert.equal(await serve.record(a.key), null, 'still waiting for the Undo Send period');
  await stopWorkers(browser.context, page);
  // Nothing talks to the worker now: the alarm for the record's due time must start it again.
  const stored = await waitFor(() => serve.record(a.key), { timeout: 40000, interval: 250, what: 'record after the worker restarted' });
  assert.equal(stored.record.subject, 'Queued when the worker stopped');
  assert.notEqual(await bootId(), boot, 'the worker really restarted');
  const after = await counters();
  assert.equal(after.delivered - before.delivered, 1);
  assert.equal(after.duplicates - before.duplicates, 0);
  assert.equal((await serve.stats()).records, records + 1);
  await configure(await worker(browser.context), { ...BASE, endpoint: serve.endpoint() });
});

test('worker stopped while retrying (endpoint down), endpoint back: arrives once', async () => {
  await serve.stop();
  const before = await counters();
  const a = await send('Retrying when the worker stopped');
  await waitFor(async () => (await engineStatus(await worker(browser.context))).queue.find((q) => q.key === a.key && q.state.state === 'retrying'), { what: 'retrying' });
  await stopWorkers(browser.context, page);
  await serve.start();
  const stored = await waitFor(() => serve.record(a.key), { timeout: 60000, interval: 250, what: 'record after restart and retry' });
  assert.equal(stored.record.subject, 'Retrying when the worker stopped');
  const after = await counters();
  assert.equal(after.duplicates - before.duplicates, 0);
  assert.equal(after.delivered - before.delivered, 1);
});

test('browser closed with a record waiting, reopened: delivered once on start', async () => {
  await serve.stop();
  const a = await send('Waiting across a browser restart');
  await waitFor(async () => (await engineStatus(await worker(browser.context))).queue.find((q) => q.key === a.key), { what: 'queued' });
  const profile = browser.userDataDir;
  await browser.context.close();
  await serve.start();
  browser = await launch({ gmail, userDataDir: profile });
  const stored = await waitFor(() => serve.record(a.key), { timeout: 30000, what: 'record after the browser restarted' });
  assert.equal(stored.record.subject, 'Waiting across a browser restart');
  const status = await engineStatus(browser.sw);
  assert.equal(status.queue.some((q) => q.key === a.key), false, 'nothing left in the outbox for it');
  assert.equal((await counters()).duplicates, 0);
  page = await openGmail(browser.context);
});

test('the outbox is compacted: a delivered record keeps only its key in IndexedDB, and is gone after the retention', async () => {
  await configure(await worker(browser.context), { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 1 });
  const a = await send('Compacted after delivery');
  await waitFor(() => serve.record(a.key), { timeout: 20000, what: 'delivered' });
  // What the next worker start would load: the row in IndexedDB.
  const row = async () =>
    (await worker(browser.context)).evaluate(async (key) => {
      const host = await globalThis.mailtrail.ready;
      return (await host.store.loadOutbox()).find((r) => r.key === key) ?? null;
    }, a.key);
  const done = await waitFor(async () => {
    const r = await row();
    return r && r.state === 'done' && !r.record ? r : null;
  }, { timeout: 10000, what: 'the delivered row without its body' });
  assert.equal(done.key, a.key, 'the key stays, for deduplication');

  // A month later (past the 30-day retention) the next flush removes the row.
  await (await worker(browser.context)).evaluate(async () => {
    const host = await globalThis.mailtrail.ready;
    const realNow = Date.now;
    Date.now = () => realNow() + 31 * 24 * 3600 * 1000;
    try {
      await host.flushSoon();
    } finally {
      Date.now = realNow;
    }
    host.scheduleWake();
  });
  assert.equal(await row(), null);
});

test('a wrong token: one request per flush reaches the endpoint, the popup says the CRM rejected the token, nothing dies; fixed in the options page, all arrive at once', async () => {
  // A proxy in front of the server counts the record POSTs and holds the first one.
  const proxy = await crmProxy(serve.url);
  try {
    const sw = await worker(browser.context);
    await configure(sw, { ...BASE, endpoint: { type: 'local', url: proxy.url, token: 'mt_wrong_token' } }, { undoSendSeconds: 1 });
    const before = await counters();
    // The first record's request is held at the door while three more are queued: when it is
    // refused, the next flush finds the three due together, in one round.
    proxy.hold();
    const first = await send('Refused token 1');
    await waitFor(() => proxy.waiting === 1, { what: 'the first request at the endpoint' });
    const rest = [];
    for (const n of [2, 3, 4]) rest.push(await send(`Refused token ${n}`));
    const keys = [first.key, ...rest.map((a) => a.key)];
    await waitFor(async () => {
      const q = (await engineStatus(await worker(browser.context))).queue.filter((e) => keys.includes(e.key));
      return q.length === 4 && q.filter((e) => e.key !== first.key).every((e) => e.state.state === 'pending' && e.notBefore <= Date.now());
    }, { what: 'three records due while the first is being sent' });
    proxy.release();

    const settled = await waitFor(async () => {
      const q = (await engineStatus(await worker(browser.context))).queue.filter((e) => keys.includes(e.key));
      return q.length === 4 && q.every((e) => e.state.state === 'retrying') ? q : null;
    }, { what: 'all four waiting on the token' });
    await (await worker(browser.context)).evaluate(async () => (await globalThis.mailtrail.ready).flushSoon());
    // Two flushes (the held one, then the three queued meanwhile): one request each.
    assert.deepEqual(proxy.posts.map((p) => p.subject), ['Refused token 1', 'Refused token 2'], 'the rest of the round is not sent');
    for (const e of settled) {
      assert.equal(e.lastError.code, 'token-rejected', e.subject);
      // Waits for the token (30 minutes), not the usual backoff.
      assert.ok(e.state.nextAttemptAt - Date.now() > 25 * 60_000, `${e.subject} waits for the token`);
    }
    const unsent = settled.filter((e) => !['Refused token 1', 'Refused token 2'].includes(e.subject));
    assert.ok(unsent.every((e) => e.attempts === 0), 'records not sent keep their attempts');
    const status = await engineStatus(await worker(browser.context));
    assert.equal(status.counts.dead, 0, 'nothing is dead');
    const lastFlush = await (await worker(browser.context)).evaluate(async () => (await globalThis.mailtrail.ready).lastFlush);
    assert.equal(lastFlush.report.tokenRejected, true);
    assert.equal(lastFlush.ok, false);

    // The popup names the problem and what to do.
    const popup = await browser.context.newPage();
    await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
    await waitFor(async () => (await popup.locator('#connection-state').getAttribute('data-problem')) === 'token-rejected', { what: 'popup: token rejected' });
    assert.match(await popup.locator('#connection-state').textContent(), /^The CRM rejected the token/);
    assert.doesNotMatch(await popup.locator('#connection-state').textContent(), /Cannot deliver/);
    assert.match(await popup.locator('#connection-detail').textContent(), /Fix the token in Mailtrail's settings\. Nothing is lost: records wait and are sent as soon as it is fixed\./);
    assert.equal(await popup.locator('#fix-token').isVisible(), true);
    assert.equal((await popup.locator('#outbox-list li[data-state="dead"]').count()), 0);

    // Fixed in the options page (same URL, the right token): delivered at once, not in 30 minutes.
    const options = await browser.context.newPage();
    await options.goto(`chrome-extension://${browser.extensionId}/options.html`);
    await waitFor(async () => (await options.locator('#endpoint-url').inputValue()) === proxy.url, { what: 'options loaded' });
    await options.locator('#endpoint-token').fill(serve.token);
    const fixedAt = Date.now();
    await options.locator('#save').click();
    await options.locator('#save-result.ok').waitFor();
    for (const key of keys) await waitFor(() => serve.record(key), { timeout: 15000, what: `record ${key} after the token was fixed` });
    assert.ok(Date.now() - fixedAt < 15000);
    assert.equal(proxy.posts.filter((p) => p.token === serve.token).length, 4, 'each sent once with the new token');
    await waitFor(async () => (await popup.locator('#connection-state').getAttribute('data-state')) === 'ok', { what: 'popup shows connected' });
    assert.equal(await popup.locator('#connection-state').getAttribute('data-problem'), null);
    assert.equal(await popup.locator('#fix-token').isVisible(), false);
    const after = await counters();
    assert.equal(after.delivered - before.delivered, 4);
    assert.equal(after.duplicates - before.duplicates, 0);
    await popup.close();
    await options.close();
  } finally {
    proxy.release();
    await configure(await worker(browser.context), { ...BASE, endpoint: serve.endpoint() });
    await proxy.close();
  }
});
