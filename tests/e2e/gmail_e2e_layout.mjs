// End-to-end: when Gmail's markup is not what the extension knows, it says so (popup: "Gmail
// layout not recognised", naming the part) instead of failing silently — and it never stands in
// the way of sending. Run: node --test tests/e2e/gmail_e2e_layout.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { artifact, openGmail, waitFor, startGmailSuite, stopGmailSuite } from './gmail_harness.mjs';

let serve;
let browser;
let gmail;

before(async () => {
  ({ serve, gmail, browser } = await startGmailSuite({ userAddresses: ['me@ourco.example'] }, { open: false }));
});

after(() => stopGmailSuite({ serve, browser }));

async function popupGmailRow() {
  const popup = await browser.context.newPage();
  await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
  const row = popup.locator('#gmail-tabs li').first();
  await row.waitFor();
  return { popup, row };
}

test('a recognised Gmail is reported as such', async () => {
  const page = await openGmail(browser.context);
  await page.click('div[gh=cm]');
  await page.locator('div[role=dialog] .mailtrail-log').waitFor();
  const { popup, row } = await popupGmailRow();
  assert.equal(await row.getAttribute('data-layout'), 'ok');
  assert.equal(await row.textContent(), 'me@ourco.example: recognised');
  await popup.close();
  await page.close();
});

test('a changed send toolbar: no checkbox, "Gmail layout not recognised" in the popup, Send still works', async () => {
  gmail.variant = 'renamed-toolbar';
  const page = await openGmail(browser.context);
  await page.click('div[gh=cm]');
  const compose = page.locator('div[role=dialog]').last();
  await compose.locator('input[name=subjectbox]').fill('Sent through a changed Gmail');
  await compose.locator('[name=to] input').fill('someone@customer.example');
  await compose.locator('[name=to] input').press('Enter');
  await page.waitForTimeout(300);
  assert.equal(await compose.locator('.mailtrail-log').count(), 0, 'no checkbox where the send button is unknown');

  const { popup, row } = await waitFor(async () => {
    const r = await popupGmailRow();
    if ((await r.row.getAttribute('data-layout')) === 'not-recognised') return r;
    await r.popup.close();
    return null;
  }, { what: 'not-recognised report' });
  assert.match(await row.textContent(), /Gmail layout not recognised/);
  assert.match(await row.locator('.detail').textContent(), /compose window send button/);
  await popup.screenshot({ path: artifact('chrome-popup-layout-not-recognised.png'), fullPage: true });
  await popup.close();

  await compose.locator('.T-I.aoO').click();
  await waitFor(() => gmail.sent.find((s) => s.subject === 'Sent through a changed Gmail'), { what: 'Gmail still sends' });
  gmail.variant = null;
  await page.close();
});
