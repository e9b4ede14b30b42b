// End-to-end: compose windows in (fake, realistic) Gmail with the real extension in Chromium and
// the real local endpoint. Run: node --test tests/e2e/gmail_e2e_compose.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  GMAIL_URL,
  activityFor,
  composeNew,
  configure,
  engineStatus,
  recordFor,
  sleep,
  waitFor,
  startGmailSuite,
  stopGmailSuite,
} from './gmail_harness.mjs';

let serve;
let gmail;
let browser;
let page;

const BASE = {
  userAddresses: ['me@ourco.example'],
  internalDomains: ['ourco.example'],
};

before(async () => {
  ({ serve, gmail, browser, page } = await startGmailSuite(BASE));
});

after(() => stopGmailSuite({ serve, browser }));

test('log a new email: record durable before Gmail sends, delivered with Gmail ids', async () => {
  const subject = 'Quote for 40 seats';
  const compose = await composeNew(page, { to: ['Alice Customer <alice@customer.example>'], subject, body: 'Hello Alice,\nhere is the quote.' });
  assert.equal(await compose.locator('.mailtrail-log input').isChecked(), true, 'Log is checked by default');
  await page.evaluate(() => window.__fakeGmail.attachToLast('Quote-2026.pdf', '212 KB'));
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  // Gmail sent it once, as the user wrote it.
  await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
  assert.equal(gmail.sent.filter((s) => s.subject === subject).length, 1);
  await page.locator('.mailtrail-toast-ok').filter({ hasText: 'Logged to the CRM' }).waitFor();

  const stored = await recordFor(serve, browser.sw, subject);
  const record = stored.record;
  const sent = gmail.sent.find((s) => s.subject === subject);
  assert.equal(record.direction, 'outgoing');
  assert.equal(record.subject, subject);
  assert.deepEqual(record.to.map((p) => p.address), ['alice@customer.example']);
  assert.equal(record.source, 'gmail');
  assert.match(record.text, /here is the quote/);
  const attachments = [...record.attachments, ...record.droppedAttachments];
  assert.deepEqual(attachments.map((a) => [a.name, a.size]), [['Quote-2026.pdf', 212 * 1024]], 'attachment name and size recorded');
  // The ids Gmail assigned at send were attached before delivery (no Undo period here).
  assert.equal(`<${record.messageId}>`, sent.messageId);
  assert.equal(record.threadId, sent.threadId);
  assert.deepEqual(record.reasons.includes('log-checked'), true);
  const lookup = await serve.api('/v1/contacts/lookup', { method: 'POST', body: { addresses: ['alice@customer.example'] } });
  assert.ok(lookup.json.contacts['alice@customer.example'], 'the recipient became a contact');
});

test('Log unchecked: Gmail sends, nothing is logged, the decision says why', async () => {
  const subject = 'Lunch on Friday?';
  const compose = await composeNew(page, { to: ['bob@customer.example'], subject, body: 'Not for the CRM.' });
  await compose.locator('.mailtrail-log input').uncheck();
  await compose.locator('[g_editable=true]').press('Control+Enter');
  await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
  const a = await activityFor(browser.sw, subject);
  assert.equal(a.logged, false);
  assert.deepEqual(a.reasons.map((r) => r.code), ['log-unchecked']);
  assert.equal(a.key, undefined);
  const status = await engineStatus(browser.sw);
  assert.equal(status.queue.some((q) => q.subject === subject), false);
});

test('never-log recipient: excluded, the others still logged; all never-log: not logged with the reason shown', async () => {
  await configure(browser.sw, { ...BASE, neverLogAddresses: ['ceo@customer.example'], neverLogDomains: ['competitor.example'], endpoint: serve.endpoint() });
  const mixed = 'Contract draft v2';
  let compose = await composeNew(page, { to: ['carol@customer.example', 'ceo@customer.example'], subject: mixed, body: 'Attached.' });
  await compose.locator('[g_editable=true]').press('Control+Enter'); // the shortcut takes the same path
  const stored = await recordFor(serve, browser.sw, mixed);
  assert.deepEqual(stored.record.contacts.map((c) => c.address), ['carol@customer.example']);
  assert.ok(stored.record.reasons.includes('never-log-address'));

  const excluded = 'Benchmark numbers';
  compose = await composeNew(page, { to: ['spy@eu.competitor.example'], subject: excluded, body: 'Numbers.' });
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  await waitFor(() => gmail.sent.find((s) => s.subject === excluded), { what: 'Gmail send' });
  const toast = page.locator('.mailtrail-toast-warn').filter({ hasText: 'Not logged' }).last();
  await toast.waitFor();
  assert.match(await toast.textContent(), /Domain on the never-log list: spy@eu\.competitor\.example/);
  const a = await activityFor(browser.sw, excluded);
  assert.equal(a.logged, false);
  assert.deepEqual(a.reasons.map((r) => r.code).sort(), ['never-log-domain', 'no-loggable-recipients']);
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
});

test('BCC mode adds the CRM BCC address exactly once, also when it is already there', async () => {
  const bcc = 'log@bcc.crm.example';
  await configure(browser.sw, { ...BASE, mode: 'bcc', bccAddress: bcc, endpoint: serve.endpoint() });
  const subject = 'Intro call notes';
  let compose = await composeNew(page, { to: ['dave@customer.example'], subject, body: 'Notes.' });
  await compose.locator('.mailtrail-log[data-mode=bcc]').waitFor();
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  const sent = await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
  assert.deepEqual(sent.bcc.map((r) => r.address), [bcc]);
  const a = await activityFor(browser.sw, subject);
  assert.ok(a.reasons.some((r) => r.code === 'bcc-added'));
  assert.equal(a.key, undefined, 'BCC mode pushes no record');

  // The user already put the BCC address on: it is not added a second time.
  const again = 'Follow-up with BCC already there';
  compose = await composeNew(page, { to: ['dave@customer.example'], subject: again, body: 'More notes.' });
  await compose.locator('span.pB').click();
  await compose.locator('[name=bcc] input').fill(bcc);
  await compose.locator('[name=bcc] input').press('Enter');
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  const sent2 = await waitFor(() => gmail.sent.find((s) => s.subject === again), { what: 'Gmail send' });
  assert.deepEqual(sent2.bcc.map((r) => r.address), [bcc]);
  assert.ok((await activityFor(browser.sw, again)).reasons.some((r) => r.code === 'bcc-already-present'));
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
});

test('Log state is remembered per draft: a compose restored after a reload keeps it', async () => {
  const subject = 'Draft to keep unlogged';
  const compose = await composeNew(page, { to: ['erin@customer.example'], subject, body: 'Draft.' });
  await compose.locator('.mailtrail-log input').uncheck();
  // Gmail saves the draft (id appears) shortly after typing.
  const draftId = await waitFor(async () => {
    const v = await compose.locator('input[name=draft]').inputValue();
    return v !== 'undefined' && v;
  }, { what: 'draft id' });
  // The state follows the draft to its new id (the worker remembers it under that id).
  const key = draftId.replace('#msg-a:', '');
  await waitFor(() => browser.sw.evaluate((k) => globalThis.mailtrail.meta.drafts[k]?.checked === false, key), { what: 'Log state stored for the draft' });
  gmail.openComposes = [{ to: [{ address: 'erin@customer.example' }], subject, body: 'Draft.', draftId: draftId.replace('#msg-a:', '') }];
  await page.reload();
  const restored = page.locator('div[role=dialog]').filter({ has: page.locator(`input[name=draft][value="${draftId}"]`) });
  await restored.locator('.mailtrail-log[data-ready=true]').waitFor();
  assert.equal(await restored.locator('.mailtrail-log input').isChecked(), false);
  // A new compose still starts from the default.
  await page.click('div[gh=cm]');
  const fresh = page.locator('div[role=dialog]').last();
  await fresh.locator('.mailtrail-log[data-ready=true]').waitFor();
  assert.equal(await fresh.locator('.mailtrail-log input').isChecked(), true);
  gmail.openComposes = [];
  await page.reload();
});

test('Undo Send cancels the queued record; sending again logs once', async () => {
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 5 });
  const subject = 'Oops, wrong attachment';
  const compose = await composeNew(page, { to: ['frank@customer.example'], subject, body: 'First version.' });
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  await page.locator('#link_undo').click();
  await waitFor(async () => (await engineStatus(browser.sw)).counts.cancelled >= 1, { what: 'cancelled record' });
  const restored = page.locator('div[role=dialog]').filter({ has: page.locator('input[name=subjectbox]') }).last();
  await restored.locator('.mailtrail-log[data-ready=true]').waitFor();
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 1 });
  await restored.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  const stored = await waitFor(async () => {
    const status = await engineStatus(browser.sw);
    const keys = status.activity.filter((x) => x.subject === subject && x.logged).map((x) => x.key);
    for (const k of keys) {
      const r = await serve.record(k);
      if (r) return r;
    }
    return null;
  }, { what: 'record after re-send' });
  const sent = gmail.sent.filter((s) => s.subject === subject);
  assert.equal(sent.length, 1, 'Gmail kept one sent message');
  assert.equal(`<${stored.record.messageId}>`, sent[0].messageId, 'the record is the message that was really sent');
  // The undone send never reached the CRM: every other key for this subject is absent there.
  const activity = (await engineStatus(browser.sw)).activity.filter((x) => x.subject === subject && x.logged);
  assert.equal(activity.length, 2, 'two decisions: the undone send and the real one');
  const present = [];
  for (const a of activity) if (await serve.record(a.key)) present.push(a.key);
  assert.deepEqual(present, [stored.idempotencyKey], 'logged once, not twice');
  assert.deepEqual(stored.record.contacts.map((c) => c.address), ['frank@customer.example']);
});

test('after Undo Send and a re-send the recipient still becomes a contact at the endpoint', async () => {
  const lookup = await serve.api('/v1/contacts/lookup', { method: 'POST', body: { addresses: ['frank@customer.example'] } });
  assert.ok(lookup.json.contacts['frank@customer.example'], 'frank is a contact');
});

test('inline reply and pop-out compose get the Log checkbox too', async () => {
  const thread = [...gmail.threads.entries()].find(([, t]) => t.subject === 'Quote for 40 seats');
  await page.goto(`https://mail.google.com/mail/u/0/#inbox/${thread[0]}`);
  await page.locator('.adn [aria-label=Reply]').first().click();
  const inline = page.locator('.ip.adB');
  await inline.locator('.mailtrail-log[data-ready=true]').waitFor();
  assert.equal(await inline.locator('.mailtrail-log input').count(), 1);
  await inline.locator('.mailtrail-log input').uncheck();

  gmail.popout = { to: [{ address: 'gina@customer.example' }], subject: 'Pop-out compose', body: 'Hi' };
  const popout = await browser.context.newPage();
  await popout.goto('https://mail.google.com/mail/u/0/?view=cm&fs=1&tf=1');
  await popout.locator('.mailtrail-log[data-ready=true]').waitFor();
  await popout.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  const stored = await recordFor(serve, browser.sw, 'Pop-out compose');
  assert.deepEqual(stored.record.to.map((p) => p.address), ['gina@customer.example']);
  await popout.close();
  await page.goto('https://mail.google.com/mail/u/0/#inbox');
});

const SEND = '.IZ .Up div[role=button][data-tooltip^=Send]';

test('the `z` shortcut undoes like the Undo link: the record is withdrawn (and not when Gmail ignored `z`)', async () => {
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 5 });
  try {
    const subject = 'Undone with the z key';
    let compose = await composeNew(page, { to: ['lena@customer.example'], subject, body: 'Wrong price.' });
    await compose.locator(SEND).click();
    await page.locator('.vh #link_undo').waitFor();
    const a = await activityFor(browser.sw, subject);
    const cancelledBefore = (await engineStatus(browser.sw)).counts.cancelled;
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('z');
    await waitFor(() => gmail.undone.some((m) => m.subject === subject), { what: 'Gmail undid the send' });
    await waitFor(async () => (await engineStatus(browser.sw)).counts.cancelled === cancelledBefore + 1, { what: 'the record withdrawn' });
    assert.equal((await engineStatus(browser.sw)).queue.some((q) => q.key === a.key), false);
    await page.locator('.mailtrail-toast').filter({ hasText: 'Sending undone: nothing will be logged' }).last().waitFor();
    await sleep(5500); // past the Undo period: it would have been delivered
    assert.equal(await serve.record(a.key), null, 'the undone email never reached the CRM');
    await page.locator('div[role=dialog]').filter({ has: page.locator(`input[name=subjectbox][value="${subject}"]`) }).locator('[aria-label="Discard draft"]').click().catch(() => {});

    // Gmail's keyboard shortcuts off: `z` does nothing in Gmail, so nothing is withdrawn.
    gmail.shortcutsOff = true;
    await page.reload();
    const kept = 'z pressed with shortcuts off';
    compose = await composeNew(page, { to: ['lena@customer.example'], subject: kept, body: 'Stays sent.' });
    await compose.locator(SEND).click();
    await page.locator('.vh #link_undo').waitFor();
    const b = await activityFor(browser.sw, kept);
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('z');
    const stored = await waitFor(() => serve.record(b.key), { timeout: 25000, what: 'the sent email at the endpoint' });
    assert.equal(stored.record.subject, kept);
    assert.ok(gmail.sent.some((s) => s.subject === kept), 'Gmail kept it sent');
  } finally {
    gmail.shortcutsOff = false;
    await page.reload();
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});

test('with no Undo period the record still waits for the ids Gmail assigned (slow "show original")', async () => {
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 0 });
  // Gmail's answer names the message but not its Message-ID: it is read from "show original".
  const original = gmail.handleSync.bind(gmail);
  gmail.handleSync = (body) => original(body).replace(/,"<[^"]+@mail\.gmail\.com>"/, ',null');
  gmail.rawDelayMs = 800;
  try {
    const subject = 'Sent with no Undo period';
    const compose = await composeNew(page, { to: ['max@customer.example'], subject, body: 'Quick one.' });
    await compose.locator(SEND).click();
    const sent = await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
    const stored = await recordFor(serve, browser.sw, subject);
    assert.equal(`<${stored.record.messageId}>`, sent.messageId, 'delivered with Gmail\'s Message-ID');
    assert.equal(stored.record.threadId, sent.threadId);
  } finally {
    gmail.handleSync = original;
    gmail.rawDelayMs = 0;
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});

test('Undo right after an unlogged send withdraws nothing: the earlier logged email still arrives', async () => {
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 8 });
  const logged = 'Logged, then a private one undone';
  let compose = await composeNew(page, { to: ['hana@customer.example'], subject: logged, body: 'For the CRM.' });
  await compose.locator(SEND).click();
  await waitFor(() => gmail.sent.find((s) => s.subject === logged), { what: 'Gmail send' });
  const a = await activityFor(browser.sw, logged);
  assert.ok(a.key, 'queued, waiting for its Undo period');

  const unlogged = 'Private note, undone';
  compose = await composeNew(page, { to: ['hana@customer.example'], subject: unlogged, body: 'Not for the CRM.' });
  await compose.locator('.mailtrail-log input').uncheck();
  await compose.locator(SEND).click();
  await waitFor(() => gmail.sent.find((s) => s.subject === unlogged), { what: 'Gmail send' });
  // Gmail's Undo undoes the most recent send: the unlogged one, within the first one's Undo period.
  await page.locator('#link_undo').click();
  await waitFor(() => gmail.undone.some((m) => m.subject === unlogged), { what: 'Gmail undid the private note' });
  const stored = await waitFor(() => serve.record(a.key), { timeout: 25000, what: 'the logged email at the endpoint' });
  assert.equal(stored.record.subject, logged);
  const status = await engineStatus(browser.sw);
  assert.equal(status.queue.some((q) => q.key === a.key), false);
  // The restored draft is discarded by the user.
  await page.locator('div[role=dialog]').filter({ has: page.locator(`input[name=subjectbox][value="${unlogged}"]`) }).locator('[aria-label="Discard draft"]').click().catch(() => {});
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
});

test('BCC mode: when the BCC address cannot be added, the notice says "Not logged" and why', async () => {
  const bcc = 'log@bcc.crm.example';
  await configure(browser.sw, { ...BASE, mode: 'bcc', bccAddress: bcc, endpoint: serve.endpoint() });
  const subject = 'Sent where the Bcc field is missing';
  const compose = await composeNew(page, { to: ['ines@customer.example'], subject, body: 'Notes.' });
  await compose.locator('.mailtrail-log[data-mode=bcc]').waitFor();
  // A Gmail layout where the Bcc row cannot be opened: adding the address fails.
  await compose.evaluate((root) => {
    root.querySelector('span[role=link].pB')?.remove();
    root.querySelector('[name=bcc]')?.closest('tr')?.remove();
  });
  const okBefore = await page.locator('.mailtrail-toast-ok').count();
  await compose.locator(SEND).click();
  const sent = await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
  assert.deepEqual(sent.bcc, [], 'Gmail sent it without the BCC address');
  const toast = page.locator('.mailtrail-toast-warn').filter({ hasText: 'Not logged' }).last();
  await toast.waitFor();
  assert.match(await toast.textContent(), /without the CRM's BCC address, so the CRM did not get it\. Forward the sent email to log@bcc\.crm\.example/);
  await sleep(300);
  assert.equal(await page.locator('.mailtrail-toast-ok').count(), okBefore, 'no "Logged to the CRM" notice');
  // The popup's activity list says the same as the page: not logged, and why.
  const popup = await browser.context.newPage();
  await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
  const row = popup.locator('#not-logged-list li').filter({ hasText: subject });
  await row.waitFor();
  assert.match(await row.textContent(), /Not logged: Gmail sent it without the CRM's BCC address \(log@bcc\.crm\.example\)/);
  assert.doesNotMatch(await row.textContent(), /BCC address added/i);
  assert.equal(await popup.locator('#logged-list li').filter({ hasText: subject }).count(), 0, 'not under "Recently logged"');
  await popup.close();
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
});

test('the worker answering after Gmail sent: the notice says "may not have been logged", then what happened', async () => {
  await browser.sw.evaluate(async () => {
    const host = await globalThis.mailtrail.ready;
    host.slowPersistForTest = host.persistOutboxFirst;
    host.persistOutboxFirst = function () {
      const committed = host.slowPersistForTest.call(host);
      return new Promise((resolve) => setTimeout(() => resolve(committed), 5500));
    };
  });
  try {
    const subject = 'Sent while the worker was slow';
    const compose = await composeNew(page, { to: ['jun@customer.example'], subject, body: 'Slow.' });
    await compose.locator(SEND).click();
    await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send after the 4 s wait' });
    const notice = page.locator('.mailtrail-toast').filter({ hasText: 'may not have been logged' }).last();
    await notice.waitFor();
    assert.match(await notice.textContent(), /Check the Mailtrail popup before logging it again/);
    assert.doesNotMatch(await notice.textContent(), /Use "Log this email"/);
    // The late answer corrects the same notice.
    const updated = page.locator('.mailtrail-toast[data-updated=true]').filter({ hasText: 'Logged to the CRM' });
    await updated.waitFor({ timeout: 10000 });
    await recordFor(serve, browser.sw, subject);
  } finally {
    await browser.sw.evaluate(async () => {
      const host = await globalThis.mailtrail.ready;
      host.persistOutboxFirst = host.slowPersistForTest;
    });
  }
});

test('a send before Mailtrail said what the checkbox starts as follows the default (Log off by default: not logged)', async () => {
  await configure(browser.sw, { ...BASE, logByDefault: false, endpoint: serve.endpoint() });
  const subject = 'Sent before the checkbox was ready';
  gmail.openComposes = [{ to: [{ address: 'kai@customer.example' }], subject, body: 'Quick.' }];
  const quick = await browser.context.newPage();
  try {
    // Press Send the moment the checkbox appears, before the worker can have answered draft:get.
    await quick.addInitScript((selector) => {
      new MutationObserver((_records, observer) => {
        const box = document.querySelector('.mailtrail-log');
        if (!box) return;
        observer.disconnect();
        window.__mtAtSend = { ready: box.dataset.ready || null };
        const button = box.closest('[role=dialog]').querySelector(selector);
        for (const type of ['mousedown', 'mouseup', 'click']) button.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0 }));
      }).observe(document, { childList: true, subtree: true });
    }, SEND);
    await quick.goto(GMAIL_URL);
    await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
    assert.deepEqual(await quick.evaluate(() => window.__mtAtSend), { ready: null }, 'sent before the worker answered');
    const a = await activityFor(browser.sw, subject);
    assert.equal(a.logged, false);
    assert.deepEqual(a.reasons.map((r) => r.code), ['log-unchecked']);
    assert.equal(a.key, undefined);
  } finally {
    gmail.openComposes = [];
    await quick.close();
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});

test('the ids of an unlogged send are never attached to a logged record waiting for its own', async () => {
  await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() }, { undoSendSeconds: 6 });
  // Gmail's answer to the first send is one the page hook cannot read: that record waits for ids.
  const original = gmail.handleSync.bind(gmail);
  let garble = true;
  gmail.handleSync = (body) => {
    const answer = original(body);
    if (!garble) return answer;
    garble = false;
    return ")]}'\n[]";
  };
  try {
    const logged = 'Logged, its ids never seen';
    let compose = await composeNew(page, { to: ['olga@customer.example'], subject: logged, body: 'For the CRM.' });
    // Both sent before Gmail saved a draft: no draft id to pair them by.
    await compose.evaluate((root) => (root.querySelector('input[name=draft]').value = 'undefined'));
    await compose.locator(SEND).click();
    await waitFor(() => gmail.sent.find((s) => s.subject === logged), { what: 'Gmail send' });
    const a = await activityFor(browser.sw, logged);

    const unlogged = 'Not logged, its ids seen';
    compose = await composeNew(page, { to: ['olga@customer.example'], subject: unlogged, body: 'Private.' });
    await compose.locator('.mailtrail-log input').uncheck();
    await compose.evaluate((root) => (root.querySelector('input[name=draft]').value = 'undefined'));
    await compose.locator(SEND).click();
    const other = await waitFor(() => gmail.sent.find((s) => s.subject === unlogged), { what: 'Gmail send' });

    const stored = await waitFor(() => serve.record(a.key), { timeout: 25000, what: 'the logged email at the endpoint' });
    assert.notEqual(`<${stored.record.messageId}>`, other.messageId, 'not the unlogged email\'s Message-ID');
    assert.notEqual(stored.record.threadId, other.threadId, 'not the unlogged email\'s thread');
  } finally {
    gmail.handleSync = original;
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});

test('BCC mode: the sent email\'s Gmail ids still reach the thread tracker (replies in its thread can be matched)', async () => {
  await configure(browser.sw, { ...BASE, mode: 'bcc', bccAddress: 'log@bcc.crm.example', endpoint: serve.endpoint() });
  try {
    const subject = 'BCC-logged, then answered';
    const compose = await composeNew(page, { to: ['pia@customer.example'], subject, body: 'Hello.' });
    await compose.locator('.mailtrail-log[data-mode=bcc]').waitFor();
    // Gmail has saved the draft: the send is paired with its ids by draft id.
    await waitFor(async () => (await compose.locator('input[name=draft]').inputValue()) !== 'undefined', { what: 'draft id' });
    await compose.locator(SEND).click();
    const sent = await waitFor(() => gmail.sent.find((s) => s.subject === subject), { what: 'Gmail send' });
    await waitFor(
      () =>
        browser.sw.evaluate(async ({ threadId, subject }) => {
          const host = await globalThis.mailtrail.ready;
          const probe = host.engine.fromCompose({ source: 'gmail', threadId, subject: `Re: ${subject}`, from: { address: 'pia@customer.example' } });
          return !!host.engine.matchReply(probe);
        }, { threadId: sent.threadId, subject }),
      { what: 'the thread known to the tracker by Gmail\'s thread id' },
    );
  } finally {
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});
