// End-to-end: Gmail's Schedule send (the menu beside Send) with the Log checkbox, in (fake,
// realistic) Gmail with the real extension in Chromium and the real local endpoint.
// Run: node --test tests/e2e/gmail_e2e_schedule.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { activityFor, composeNew, configure, engineStatus, recordFor, sleep, startGmailSuite, stopGmailSuite, stopWorkers, waitFor } from './gmail_harness.mjs';

let serve;
let gmail;
let browser;
let page;

const BASE = { userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'] };
const MORE_SEND_OPTIONS = '.IZ .Up div[role=button][aria-haspopup]';

before(async () => {
  ({ serve, gmail, browser, page } = await startGmailSuite(BASE));
});

after(() => stopGmailSuite({ serve, browser }));

/** The scheduled logs the worker keeps (what the popup lists). */
function scheduledLogs() {
  return browser.sw.evaluate(async () => Object.values((await globalThis.mailtrail.ready).meta.scheduled));
}

async function openScheduleDialog(compose) {
  await compose.locator(MORE_SEND_OPTIONS).click();
  await page.locator('[role=menu] [role=menuitem]').filter({ hasText: 'Schedule send' }).click();
  return page.locator('[role=dialog][aria-label="Schedule send"]');
}

/** Schedule send → Pick date & time → `sendAt` (to the second) → Schedule send. */
async function scheduleAt(compose, sendAt) {
  const dialog = await openScheduleDialog(compose);
  await dialog.locator('[role=menuitem]').filter({ hasText: 'Pick date & time' }).click();
  const picker = page.locator('[role=dialog][aria-label="Pick date & time"]');
  // The picker's fields in the page's own time zone.
  const [date, time] = await page.evaluate((ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return [`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`, `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`];
  }, sendAt);
  await picker.locator('input[aria-label=Date]').fill(date);
  await picker.locator('input[aria-label=Time]').fill(time);
  await picker.locator('button[name=ok]').click();
}

async function popupPage() {
  const popup = await browser.context.newPage();
  await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
  return popup;
}

test('scheduled with Log checked: nothing is logged until Gmail sends it, then it is logged once, dated when it was sent, with Gmail\'s ids', async () => {
  const subject = 'Proposal for Monday, scheduled';
  const compose = await composeNew(page, { to: ['Sara Customer <sara@customer.example>'], subject, body: 'Hello Sara,\nthe proposal.' });
  const sendAt = Math.floor((Date.now() + 9000) / 1000) * 1000;
  await scheduleAt(compose, sendAt);
  const held = await waitFor(() => gmail.scheduled.find((s) => s.subject === subject), { what: 'Gmail holds the scheduled message' });
  assert.equal(held.sendAt, sendAt);
  assert.equal(gmail.sent.some((s) => s.subject === subject), false, 'not sent yet');
  await page.locator('.mailtrail-toast-ok').filter({ hasText: 'Scheduled: will be logged when Gmail sends it' }).waitFor();

  // Kept as a scheduled log with Gmail's send time; nothing queued, nothing decided yet.
  const [log] = await waitFor(async () => {
    const logs = (await scheduledLogs()).filter((s) => s.subject === subject && s.sendAt);
    return logs.length ? logs : null;
  }, { what: 'the scheduled log with its send time' });
  assert.equal(log.sendAt, sendAt);
  let status = await engineStatus(browser.sw);
  assert.equal(status.activity.some((a) => a.subject === subject), false, 'no decision noted before it is sent');
  assert.equal(status.queue.some((q) => q.subject === subject), false, 'no record queued before it is sent');
  const popup = await popupPage();
  const row = popup.locator('#scheduled-list li[data-state=scheduled]').filter({ hasText: subject });
  await row.waitFor();
  assert.match(await row.textContent(), /To be logged when Gmail sends it/);
  assert.equal(await popup.locator('#scheduled').isVisible(), true);
  await popup.close(); // its refreshes would wake the worker

  // The worker is stopped (as Chrome does when idle): the scheduled log is in IndexedDB and the
  // alarm wakes the worker at the send time.
  await stopWorkers(browser.context, page);
  await sleep(Math.max(0, sendAt - Date.now()));
  gmail.sendDue(); // Gmail's servers send it on time
  const stored = await recordFor(serve, browser.sw, subject, { timeout: 30000 });
  const sent = gmail.sent.find((s) => s.subject === subject);
  assert.ok(sent, 'Gmail sent it');
  assert.equal(stored.record.timestamp, sendAt, 'the record is dated when Gmail sent it, not when it was scheduled');
  assert.equal(`<${stored.record.messageId}>`, sent.messageId, 'with the Message-ID Gmail gave the scheduled message');
  assert.equal(stored.record.threadId, sent.threadId);
  assert.deepEqual(stored.record.to.map((p) => p.address), ['sara@customer.example']);
  const a = await activityFor(browser.sw, subject);
  assert.equal(a.logged, true);
  status = await engineStatus(browser.sw);
  assert.equal(status.activity.filter((x) => x.subject === subject).length, 1, 'logged once');
  assert.deepEqual((await scheduledLogs()).filter((s) => s.subject === subject), [], 'the scheduled log is done');
  const after = await popupPage();
  await after.locator('#logged-list li').filter({ hasText: subject }).waitFor();
  assert.equal(await after.locator('#scheduled').isVisible(), false, 'no longer listed as scheduled');
  await after.close();
});

test('Cancel send in the Scheduled folder withdraws the scheduled log (kept across a worker restart until then)', async () => {
  const subject = 'Renewal reminder, scheduled for tomorrow';
  const compose = await composeNew(page, { to: ['tom@customer.example'], subject, body: 'Reminder.' });
  const dialog = await openScheduleDialog(compose);
  await dialog.locator('[role=menuitem]').filter({ hasText: 'Tomorrow morning' }).click();
  const held = await waitFor(() => gmail.scheduled.find((s) => s.subject === subject), { what: 'Gmail holds it' });
  await waitFor(async () => (await scheduledLogs()).find((s) => s.subject === subject && s.sendAt === held.sendAt), { what: 'the scheduled log' });

  await stopWorkers(browser.context, page);
  await page.goto(`https://mail.google.com/mail/u/0/#scheduled/${held.threadId}`);
  const cancel = page.locator('.aDE [role=button]').filter({ hasText: 'Cancel send' });
  await cancel.click();
  await waitFor(() => gmail.cancelledSchedules.some((m) => m.subject === subject), { what: 'Gmail cancelled it' });
  await page.locator('.mailtrail-toast').filter({ hasText: 'Scheduled send cancelled: it will not be logged' }).waitFor();
  assert.deepEqual((await scheduledLogs()).filter((s) => s.subject === subject), []);
  const status = await engineStatus(browser.sw);
  assert.equal(status.activity.some((a) => a.subject === subject), false, 'never logged');
  // The draft Gmail gave back is discarded.
  await page.locator('div[role=dialog]').filter({ has: page.locator(`input[name=subjectbox][value="${subject}"]`) }).locator('[aria-label="Discard draft"]').click().catch(() => {});
  await page.goto('https://mail.google.com/mail/u/0/#inbox');
});

test('`z` right after scheduling (Gmail undoes it) withdraws the scheduled log', async () => {
  const subject = 'Scheduled, then undone with z';
  const compose = await composeNew(page, { to: ['uma@customer.example'], subject, body: 'Oops.' });
  const dialog = await openScheduleDialog(compose);
  await dialog.locator('[role=menuitem]').filter({ hasText: 'Tomorrow afternoon' }).click();
  await waitFor(async () => (await scheduledLogs()).find((s) => s.subject === subject && s.sendAt), { what: 'the scheduled log' });
  await page.locator('.vh #link_undo').waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('z');
  await waitFor(() => gmail.undone.some((m) => m.subject === subject), { what: 'Gmail undid the scheduled send' });
  await waitFor(async () => !(await scheduledLogs()).some((s) => s.subject === subject), { what: 'the scheduled log withdrawn' });
  await page.locator('div[role=dialog]').filter({ has: page.locator(`input[name=subjectbox][value="${subject}"]`) }).locator('[aria-label="Discard draft"]').click().catch(() => {});
});

test('scheduled with Log unchecked: decided at once, not logged, nothing kept', async () => {
  const subject = 'Private, scheduled';
  const compose = await composeNew(page, { to: ['vic@customer.example'], subject, body: 'Not for the CRM.' });
  await compose.locator('.mailtrail-log input').uncheck();
  const dialog = await openScheduleDialog(compose);
  await dialog.locator('[role=menuitem]').filter({ hasText: 'Monday morning' }).click();
  await waitFor(() => gmail.scheduled.find((s) => s.subject === subject), { what: 'Gmail holds it' });
  const a = await activityFor(browser.sw, subject);
  assert.equal(a.logged, false);
  assert.deepEqual(a.reasons.map((r) => r.code), ['log-unchecked']);
  await page.locator('.mailtrail-toast-warn').filter({ hasText: 'Not logged' }).last().waitFor();
  assert.equal((await scheduledLogs()).some((s) => s.subject === subject), false);
});

test('BCC mode: the CRM\'s BCC address is added to the scheduled message before Gmail stores it', async () => {
  const bcc = 'log@bcc.crm.example';
  await configure(browser.sw, { ...BASE, mode: 'bcc', bccAddress: bcc, endpoint: serve.endpoint() });
  try {
    const subject = 'Scheduled in BCC mode';
    const compose = await composeNew(page, { to: ['wes@customer.example'], subject, body: 'Notes.' });
    await compose.locator('.mailtrail-log[data-mode=bcc]').waitFor();
    const sendAt = Math.floor((Date.now() + 5000) / 1000) * 1000;
    await scheduleAt(compose, sendAt);
    const held = await waitFor(() => gmail.scheduled.find((s) => s.subject === subject), { what: 'Gmail holds it' });
    assert.deepEqual(held.bcc.map((r) => r.address), [bcc], 'the BCC address travels with the scheduled message');
    await sleep(Math.max(0, sendAt - Date.now()));
    gmail.sendDue();
    const a = await activityFor(browser.sw, subject, { timeout: 20000 });
    assert.equal(a.logged, true);
    assert.ok(a.reasons.some((r) => r.code === 'bcc-added'));
    assert.equal(a.at, sendAt, 'noted at the time Gmail sent it');
  } finally {
    await configure(browser.sw, { ...BASE, endpoint: serve.endpoint() });
  }
});
