// End-to-end: the extension after things went wrong behind its back. Settings that became
// invalid (the worker restarts on the last valid ones, or logs nothing and says so), account
// addresses the page reports that are not addresses, a record the CRM refuses for good (a 422
// from a proxy in front of the real server; Discard in the popup), and saved state that had to
// be repaired (shown in the popup).
// Run: node --test tests/e2e/gmail_e2e_recovery.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeGmail, Serve, activityFor, composeNew, configure, crmProxy, engineStatus, ensureBuilt, launch, openGmail, stopWorkers, waitFor, worker } from './gmail_harness.mjs';

let serve;
const BASE = { userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'] };
const SEND = '.IZ .Up div[role=button][data-tooltip^=Send]';
// Invalid: a webhook must use https://.
const INVALID = { settings: { ...BASE, endpoint: { type: 'webhook', url: 'http://crm.example.com/hook', secret: 's3cret' } }, prefs: { undoSendSeconds: 1 } };

before(async () => {
  await ensureBuilt();
  serve = await Serve.start();
});

after(async () => {
  await serve?.dispose();
});

/** Runs `fn(host)` in the (current) worker. */
async function inWorker(context, fn, arg) {
  return (await worker(context)).evaluate(
    async ({ source, arg }) => {
      const host = await globalThis.mailtrail.ready;
      return new Function('host', 'arg', `return (${source})(host, arg);`)(host, arg);
    },
    { source: fn.toString(), arg },
  );
}

/** Stops the worker and wakes it again with a message (a fresh boot from IndexedDB). */
async function restartWorker(browser, page) {
  const before = await inWorker(browser.context, () => globalThis.mailtrail.startedAt);
  await stopWorkers(browser.context, page);
  await page.evaluate(() => chrome.runtime.sendMessage({ type: 'ping' }));
  await waitFor(async () => (await inWorker(browser.context, () => globalThis.mailtrail.startedAt).catch(() => before)) !== before, { what: 'a new worker' });
}

async function popupPage(browser) {
  const popup = await browser.context.newPage();
  await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
  return popup;
}

test('settings made invalid behind the worker: after a restart it keeps the last valid ones (never-log list, endpoint)', async () => {
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  try {
    await configure(browser.sw, { ...BASE, neverLogAddresses: ['ceo@customer.example'], endpoint: serve.endpoint() });
    await inWorker(browser.context, (host, invalid) => host.store.putMeta('settings', invalid), INVALID);
    const popup = await popupPage(browser);
    await restartWorker(browser, popup);
    const inForce = await inWorker(browser.context, (host) => ({ errors: host.settingsErrors.length, settings: host.engine.settings() }));
    assert.ok(inForce.errors > 0, 'the stored settings are reported invalid');
    assert.deepEqual(inForce.settings.neverLogAddresses, ['ceo@customer.example'], 'the never-log list is still in force');
    assert.equal(inForce.settings.endpoint.url, serve.url, 'still the chosen endpoint, not the default one');
    await waitFor(async () => /keeps using the last valid settings/.test(await popup.locator('#connection-detail').textContent()), { what: 'popup explains' });

    const page = await openGmail(browser.context);
    const subject = 'For the CEO only';
    const compose = await composeNew(page, { to: ['ceo@customer.example'], subject, body: 'Private.' });
    await compose.locator(SEND).click();
    await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
    const a = await activityFor(await worker(browser.context), subject);
    assert.equal(a.logged, false);
    assert.ok(a.reasons.some((r) => r.code === 'never-log-address'));
  } finally {
    await browser.context.close();
  }
});

test('settings invalid and none valid before: nothing is queued, Gmail and the popup say so; fixed, logging resumes', async () => {
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  try {
    // As after an update from a version that did not keep the last valid settings.
    await inWorker(browser.context, (host, invalid) => host.store.write([], { settings: invalid, lastGoodSettings: undefined }), INVALID);
    const popup = await popupPage(browser);
    await restartWorker(browser, popup);
    await waitFor(async () => (await popup.locator('#connection-state').getAttribute('data-blocked')) === 'true', { what: 'popup: blocked' });
    assert.match(await popup.locator('#connection-detail').textContent(), /Nothing is logged or sent until the settings are fixed/);

    const page = await openGmail(browser.context);
    const subject = 'Sent while the settings were broken';
    const compose = await composeNew(page, { to: ['lea@customer.example'], subject, body: 'Hello.' });
    assert.equal(await compose.locator('.mailtrail-log').getAttribute('data-blocked'), 'true');
    await compose.locator(SEND).click();
    await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail still sends' });
    const toast = page.locator('.mailtrail-toast-warn').filter({ hasText: "Mailtrail's settings are invalid" });
    await toast.waitFor();
    assert.match(await toast.textContent(), /Nothing is logged until the settings are fixed/);
    const status = await engineStatus(await worker(browser.context));
    assert.equal(status.activity.some((a) => a.subject === subject), false, 'nothing decided on default settings');
    assert.equal(status.queue.length, 0, 'nothing queued');

    // Fixed: the next email is logged.
    await configure(await worker(browser.context), { ...BASE, endpoint: serve.endpoint() });
    await page.reload();
    const fixed = 'Sent after the settings were fixed';
    const again = await composeNew(page, { to: ['lea@customer.example'], subject: fixed, body: 'Hello again.' });
    await again.locator(SEND).click();
    const a = await activityFor(await worker(browser.context), fixed);
    await waitFor(() => serve.record(a.key), { what: 'delivered' });
  } finally {
    await browser.context.close();
  }
});

test('account addresses the page reports are checked: junk never becomes "the user" nor breaks the settings', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
    const result = await inWorker(browser.context, async (host) => {
      const answers = [];
      for (const a of ['not an address', 'Bob <bob@customer.example>', 'a@b@c.example', 'x'.repeat(300) + '@example.com', 'Mia@Ourco.Example']) answers.push(await host.noteAccount(a));
      return { answers, detected: host.meta.detected, errors: host.settingsErrors };
    });
    assert.deepEqual(result.answers, [false, false, false, false, true]);
    assert.deepEqual(result.detected, ['mia@ourco.example']);
    assert.deepEqual(result.errors, []);
  } finally {
    await browser.context.close();
  }
});

test('popup: a record the CRM refused for good can be discarded (after confirming); it is never sent', async () => {
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  // A record the endpoint will never take: a proxy in front of the real server answers its POST
  // as the server answers a value its database refuses (422 unstorable_value), which the engine
  // treats as permanent. (A wrong token is not that: those records wait for the token.)
  const proxy = await crmProxy(serve.url);
  try {
    const subject = 'Refused by the CRM';
    proxy.refuseRecords((post) => post.subject === subject);
    await configure(browser.sw, { ...BASE, endpoint: { ...serve.endpoint(), url: proxy.url } });
    const page = await openGmail(browser.context);
    const compose = await composeNew(page, { to: ['max@customer.example'], subject, body: 'Hi.' });
    await compose.locator(SEND).click();
    const a = await activityFor(browser.sw, subject);
    const dead = await waitFor(async () => (await engineStatus(browser.sw)).queue.find((q) => q.key === a.key && q.state.state === 'dead'), { what: 'failed (dead) record' });
    assert.equal(dead.lastError.status, 422);
    assert.match(dead.lastError.message, /^the endpoint answered 422: the database refused a value of this request/);
    assert.equal(proxy.posts.filter((p) => p.key === a.key).length, 1, 'refused once, not retried');

    const popup = await popupPage(browser);
    const row = popup.locator(`#outbox-list li[data-key="${a.key}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-state'), 'dead');
    assert.match(await row.locator('.error-message').textContent(), /the database refused a value of this request/, "the CRM's own message");
    await row.locator('button.discard').click();
    assert.match(await row.locator('.confirm').textContent(), /Discard this record\? The email will not be logged\./);
    await row.locator('button.discard-no').click();
    assert.equal(await row.locator('button.discard').count(), 1, '"Keep" leaves it alone');
    await row.locator('button.discard').click();
    await row.locator('button.discard-yes').click();
    await waitFor(async () => (await popup.locator(`#outbox-list li[data-key="${a.key}"]`).count()) === 0, { what: 'row gone' });

    // Persisted, and never sent even once the endpoint would take it: the next email goes
    // through the same proxy and arrives, the discarded one is not sent again.
    await restartWorker(browser, popup);
    const status = await engineStatus(await worker(browser.context));
    assert.equal(status.counts.dead, 0);
    assert.equal(status.queue.some((q) => q.key === a.key), false);
    proxy.acceptRecords();
    await configure(await worker(browser.context), { ...BASE, endpoint: { ...serve.endpoint(), url: proxy.url } });
    const next = 'Sent after the discard';
    const again = await composeNew(page, { to: ['max@customer.example'], subject: next, body: 'Hi again.' });
    await again.locator(SEND).click();
    const b = await activityFor(await worker(browser.context), next);
    await waitFor(() => serve.record(b.key), { what: 'the next email delivered through the proxy' });
    await inWorker(browser.context, (host) => host.flushSoon());
    assert.equal(await serve.record(a.key), null);
    assert.equal(proxy.posts.filter((p) => p.key === a.key).length, 1, 'the discarded record is never sent again');
  } finally {
    await browser.context.close();
    await proxy.close();
  }
});

test('saved state repaired at start (damaged thread history) is shown in the popup', async () => {
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  try {
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
    const page = await openGmail(browser.context);
    const compose = await composeNew(page, { to: ['noa@customer.example'], subject: 'Starts a thread', body: 'Hi.' });
    await compose.locator(SEND).click();
    const a = await activityFor(browser.sw, 'Starts a thread');
    await waitFor(() => serve.record(a.key), { what: 'delivered (no more writes pending)' });
    await inWorker(browser.context, async (host) => {
      await host.flushSoon();
      await host.persist();
      const snapshot = await host.store.getMeta('snapshot');
      const doc = JSON.parse(new TextDecoder().decode(snapshot));
      doc.threads = 'not base64 at all!';
      await host.store.putMeta('snapshot', new TextEncoder().encode(JSON.stringify(doc)));
    });
    const popup = await popupPage(browser);
    await restartWorker(browser, popup);
    const problems = await inWorker(browser.context, (host) => host.stateProblems);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    const box = popup.locator('#state-problems');
    await waitFor(() => box.isVisible(), { what: 'state problems shown' });
    assert.match(await box.textContent(), /recovered from damaged saved data: thread history could not be read and starts empty/);
  } finally {
    await browser.context.close();
  }
});
