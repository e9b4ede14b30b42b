// End-to-end: the options page (save, reload, validation errors from the engine, Test
// connection, export/import), enterprise policy (managed values win and are locked), the popup,
// and the Japanese and Polish UI (screenshots in test-artifacts/). Run:
//   node --test tests/e2e/gmail_e2e_settings.mjs
// The policy test writes /etc/chromium/policies/managed/mailtrail-e2e.json (root needed) and
// removes it afterwards; it is skipped when that directory cannot be written.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EXTENSION_ID, FakeGmail, Serve, artifact, composeNew, configure, ensureBuilt, launch, openGmail, recordFor, waitFor } from './gmail_harness.mjs';

let serve;

before(async () => {
  await ensureBuilt();
  serve = await Serve.start();
});

after(async () => {
  await serve?.dispose();
});

async function optionsPage(browser) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/options.html`);
  await page.locator('#endpoint-type').waitFor();
  await waitFor(async () => (await page.locator('#endpoint-url').inputValue()) !== '', { what: 'settings loaded' });
  return page;
}

test('options page: settings saved, reloaded, used by the engine and by Gmail', async () => {
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  try {
    const page = await optionsPage(browser);
    assert.equal(await page.locator('#endpoint-url').inputValue(), 'http://127.0.0.1:8787', 'local endpoint by default');
    await page.locator('#endpoint-url').fill(serve.url);
    await page.locator('#endpoint-token').fill(serve.token);
    await page.locator('#user-addresses').fill('me@ourco.example\nmia@ourco.example');
    await page.locator('#never-log-addresses').fill('ceo@customer.example');
    await page.locator('#never-log-domains').fill('competitor.example\n@rivals.example');
    await page.locator('#internal-domains').fill('ourco.example');
    await page.locator('#log-by-default').uncheck();
    await page.locator('#undo-send-seconds').selectOption('10');
    await page.locator('#save').click();
    await page.locator('#save-result.ok').waitFor();
    assert.equal(await page.locator('#save-result').textContent(), 'Saved.');

    await page.reload();
    await waitFor(async () => (await page.locator('#endpoint-url').inputValue()) === serve.url, { what: 'saved URL after reload' });
    assert.equal(await page.locator('#endpoint-token').inputValue(), serve.token);
    assert.equal(await page.locator('#never-log-domains').inputValue(), 'competitor.example\n@rivals.example');
    assert.equal(await page.locator('#log-by-default').isChecked(), false);
    assert.equal(await page.locator('#undo-send-seconds').inputValue(), '10');

    const inForce = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.settings());
    assert.deepEqual(inForce.neverLogDomains, ['competitor.example', 'rivals.example'], 'normalised by the engine');
    assert.equal(inForce.logByDefault, false);

    // Test connection against the real endpoint, then with a wrong token.
    await page.locator('#test-connection').click();
    await waitFor(async () => (await page.locator('#test-result').getAttribute('class')) === 'ok', { what: 'connection ok' });
    await page.locator('#endpoint-token').fill('mt_wrong');
    await page.locator('#test-connection').click();
    await waitFor(async () => (await page.locator('#test-result').getAttribute('class')) === 'warn', { what: 'connection refused' });
    assert.match(await page.locator('#test-result').textContent(), /^Connection failed/);
    await page.locator('#endpoint-token').fill(serve.token);
    await page.locator('#save').click();
    await page.locator('#save-result.ok').waitFor();

    // The Log checkbox now starts unchecked in Gmail.
    const gpage = await openGmail(browser.context);
    await gpage.click('div[gh=cm]');
    const compose = gpage.locator('div[role=dialog]').last();
    await compose.locator('.mailtrail-log[data-ready=true]').waitFor();
    assert.equal(await compose.locator('.mailtrail-log input').isChecked(), false);
  } finally {
    await browser.context.close();
  }
});

test('options page: invalid settings are shown field by field and not saved', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    const page = await optionsPage(browser);
    await page.locator('#endpoint-type').selectOption('webhook');
    await page.locator('#endpoint-url').fill('http://crm.example.com/hook');
    await page.locator('#endpoint-secret').fill('s3cret');
    await page.locator('#never-log-addresses').fill('ok@customer.example\nnot an address');
    await page.locator('#mode').selectOption('bcc');
    await page.locator('#save').click();
    await page.locator('#save-result.warn').waitFor();
    const urlError = page.locator('.field[data-field="endpoint.url"] .error');
    assert.match(await urlError.textContent(), /must use https:\/\//);
    assert.match(await page.locator('.field[data-field="neverLogAddresses"] .error').textContent(), /^Line 2: /);
    assert.ok((await page.locator('.field[data-field="bccAddress"] .error').textContent()).includes('BCC'));
    await page.reload();
    await waitFor(async () => (await page.locator('#endpoint-type').inputValue()) === 'local', { what: 'nothing was saved' });
  } finally {
    await browser.context.close();
  }
});

test('options page: export leaves secrets out; import keeps the token for the same endpoint', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    await configure(browser.sw, { endpoint: serve.endpoint(), neverLogDomains: ['competitor.example'] }, { undoSendSeconds: 20 });
    const page = await optionsPage(browser);
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export').click()]);
    const file = artifact('mailtrail-settings-export.json');
    await download.saveAs(file);
    const exported = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(exported.endpoint, { type: 'local', url: serve.url });
    assert.deepEqual(exported.neverLogDomains, ['competitor.example']);
    assert.equal(exported.undoSendSeconds, 20);

    // A colleague's file: one more domain, something this version does not know.
    const incoming = { ...exported, neverLogDomains: ['competitor.example', 'press.example'], futureOption: true };
    const importFile = artifact('mailtrail-settings-import.json');
    fs.writeFileSync(importFile, JSON.stringify(incoming));
    await page.locator('#import-file').setInputFiles(importFile);
    await waitFor(async () => /futureOption/.test(await page.locator('#transfer-result').textContent()), { what: 'import report' });
    assert.equal(await page.locator('#never-log-domains').inputValue(), 'competitor.example\npress.example');
    assert.equal(await page.locator('#endpoint-token').inputValue(), serve.token, 'the token stays');
    await page.locator('#save').click();
    await page.locator('#save-result.ok').waitFor();
    const inForce = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.settings());
    assert.deepEqual(inForce.neverLogDomains, ['competitor.example', 'press.example']);
    assert.equal(inForce.endpoint.token, serve.token);
  } finally {
    await browser.context.close();
  }
});

test('options page: an import keeps what the form does not show (limits, HubSpot paths, any Undo period); saving again keeps it', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    await configure(browser.sw, { endpoint: serve.endpoint() }, { undoSendSeconds: 20 });
    const page = await optionsPage(browser);
    const doc = {
      endpoint: { type: 'hubspot', token: 'pat-na1-test', baseUrl: 'http://127.0.0.1:9', emailsPath: '/crm/v3/objects/emails', contactsPath: '/crm/v3/objects/contacts' },
      attachmentLimit: 10485760,
      bodyLimit: 65536,
      undoSendSeconds: 15,
    };
    const file = artifact('mailtrail-settings-import-hidden-fields.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    await page.locator('#import-file').setInputFiles(file);
    await waitFor(async () => (await page.locator('#endpoint-type').inputValue()) === 'hubspot', { what: 'import shown' });
    assert.equal(await page.locator('#undo-send-seconds').inputValue(), '15', 'a period the list does not offer is shown as itself');
    await page.locator('#save').click();
    await page.locator('#save-result.ok').waitFor();
    const stored = async () => browser.sw.evaluate(async () => {
      const host = await globalThis.mailtrail.ready;
      return { user: host.storedSettings, inForce: host.engine.settings() };
    });
    let s = await stored();
    assert.equal(s.user.settings.attachmentLimit, 10485760);
    assert.equal(s.user.settings.bodyLimit, 65536);
    assert.deepEqual(s.user.settings.endpoint, doc.endpoint);
    assert.equal(s.user.prefs.undoSendSeconds, 15, 'not 0');
    assert.equal(s.inForce.bodyLimit, 65536);
    assert.equal(s.inForce.endpoint.emailsPath, '/crm/v3/objects/emails');

    // Later, an edit in the form: the fields it does not show stay as they are.
    await page.reload();
    await waitFor(async () => (await page.locator('#endpoint-type').inputValue()) === 'hubspot', { what: 'stored settings shown' });
    await page.locator('#never-log-domains').fill('competitor.example');
    await page.locator('#endpoint-token').fill('pat-na1-rotated');
    await page.locator('#save').click();
    await page.locator('#save-result.ok').waitFor();
    s = await stored();
    assert.deepEqual(s.user.settings.endpoint, { ...doc.endpoint, token: 'pat-na1-rotated' });
    assert.equal(s.user.settings.attachmentLimit, 10485760);
    assert.equal(s.user.settings.bodyLimit, 65536);
    assert.deepEqual(s.user.settings.neverLogDomains, ['competitor.example']);
    assert.equal(s.user.prefs.undoSendSeconds, 15);
  } finally {
    await browser.context.close();
  }
});

test('options page: an Undo period that is not 0-60 whole seconds is refused, never saved as 0', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    await configure(browser.sw, { endpoint: serve.endpoint() }, { undoSendSeconds: 20 });
    const page = await optionsPage(browser);
    const file = artifact('mailtrail-settings-import-bad-undo.json');
    fs.writeFileSync(file, JSON.stringify({ endpoint: serve.endpoint(), undoSendSeconds: 90 }));
    await page.locator('#import-file').setInputFiles(file);
    await waitFor(async () => (await page.locator('#undo-send-seconds').inputValue()) === '90', { what: 'import shown' });
    await page.locator('#save').click();
    await page.locator('#save-result.warn').waitFor();
    assert.match(await page.locator('.field[data-field="undoSendSeconds"] .error').textContent(), /whole number of seconds from 0 to 60/);
    const prefs = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).storedSettings.prefs);
    assert.equal(prefs.undoSendSeconds, 20, 'nothing saved');
    // The worker refuses it too (another page, an older options page).
    const report = await page.evaluate(() => chrome.runtime.sendMessage({ type: 'settings:save', settings: {}, prefs: { undoSendSeconds: '' } }));
    assert.equal(report.result.ok, false);
    assert.equal(report.result.errors[0].field, 'undoSendSeconds');
  } finally {
    await browser.context.close();
  }
});

test('an HTTPS endpoint without Chrome permission is reported, not silently failing', async () => {
  const browser = await launch({ gmail: new FakeGmail() });
  try {
    await configure(browser.sw, { endpoint: { type: 'webhook', url: 'https://crm.example.com/mailtrail', secret: 's3cret' } });
    const popup = await browser.context.newPage();
    await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
    await waitFor(async () => (await popup.locator('#connection-state').getAttribute('data-state')) === 'error', { what: 'error state' });
    assert.match(await popup.locator('#connection-state').textContent(), /no permission to reach this endpoint/);
    assert.match(await popup.locator('#connection-detail').textContent(), /https:\/\/crm\.example\.com\/mailtrail/);
    await popup.locator('#test-connection').click();
    await waitFor(async () => /no permission/.test(await popup.locator('#test-result').textContent()), { what: 'test connection explains' });
    const granted = await browser.sw.evaluate(() => chrome.permissions.contains({ origins: ['https://crm.example.com/*'] }));
    assert.equal(granted, false);
  } finally {
    await browser.context.close();
  }
});

const POLICY_DIR = '/etc/chromium/policies/managed';
const POLICY_FILE = path.join(POLICY_DIR, 'mailtrail-e2e.json');
function canWritePolicy() {
  try {
    fs.mkdirSync(POLICY_DIR, { recursive: true });
    fs.accessSync(POLICY_DIR, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

test('enterprise policy: managed values win, show as locked, and drive logging', { skip: !canWritePolicy() && 'cannot write ' + POLICY_DIR }, async () => {
  const managed = {
    mode: 'api',
    endpoint: { type: 'local', url: serve.url, token: serve.token },
    neverLogDomains: ['competitor.example'],
    internalDomains: ['ourco.example'],
    undoSendSeconds: 1,
  };
  fs.writeFileSync(POLICY_FILE, JSON.stringify({ '3rdparty': { extensions: { [EXTENSION_ID]: managed } } }));
  const gmail = new FakeGmail();
  let browser;
  try {
    browser = await launch({ gmail });
    const fromPolicy = await browser.sw.evaluate(() => chrome.storage.managed.get(null));
    assert.deepEqual(fromPolicy.neverLogDomains, ['competitor.example']);
    // The user tries to point elsewhere and to clear the admin's list: the admin's values stay in force.
    await configure(browser.sw, { endpoint: { type: 'local', url: 'http://127.0.0.1:9', token: 'x' }, neverLogDomains: [], userAddresses: ['me@ourco.example'] });
    const inForce = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.settings());
    assert.equal(inForce.endpoint.url, serve.url);
    assert.deepEqual(inForce.neverLogDomains, ['competitor.example']);

    const page = await optionsPage(browser);
    await page.locator('#managed-note').waitFor();
    for (const id of ['#endpoint-url', '#endpoint-token', '#endpoint-type', '#never-log-domains', '#internal-domains', '#undo-send-seconds', '#mode']) {
      assert.equal(await page.locator(id).isDisabled(), true, `${id} is locked`);
    }
    assert.equal(await page.locator('#never-log-addresses').isDisabled(), false, 'unmanaged fields stay editable');
    assert.equal(await page.locator('#never-log-domains').inputValue(), 'competitor.example', 'the managed value is shown');
    assert.equal(await page.locator('.field[data-field="neverLogDomains"]').getAttribute('data-locked-text'), 'Set by your administrator');
    await page.screenshot({ path: artifact('chrome-options-managed-en.png'), fullPage: true });

    // And it logs with the managed endpoint and rules.
    const gpage = await openGmail(browser.context);
    const compose = await composeNew(gpage, { to: ['client@customer.example', 'analyst@competitor.example'], subject: 'Managed policy email', body: 'Hi' });
    await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
    const stored = await recordFor(serve, browser.sw, 'Managed policy email');
    assert.deepEqual(stored.record.contacts.map((c) => c.address), ['client@customer.example']);
  } finally {
    fs.rmSync(POLICY_FILE, { force: true });
    await browser?.context.close();
  }
});

for (const [lang, expect] of [
  ['ja', { options: 'Mailtrail の設定', log: '記録', popup: '送信待ち', reason: '「記録」チェックボックスがオンでした' }],
  ['pl', { options: 'Ustawienia Mailtrail', log: 'Rejestruj', popup: 'Do wysłania', reason: 'Pole „Rejestruj” było zaznaczone' }],
]) {
  test(`${lang} UI: options, popup and Gmail compose translated (screenshots)`, async () => {
    const gmail = new FakeGmail();
    const browser = await launch({ gmail, lang });
    try {
      await configure(browser.sw, { userAddresses: ['me@ourco.example'], internalDomains: ['ourco.example'], neverLogDomains: ['competitor.example'], endpoint: serve.endpoint() });
      const gpage = await openGmail(browser.context);
      const compose = await composeNew(gpage, { to: ['klient@customer.example'], subject: `UI ${lang}`, body: 'Test' });
      assert.equal(await compose.locator('.mailtrail-log span').textContent(), expect.log);
      await gpage.screenshot({ path: artifact(`chrome-compose-${lang}.png`) });
      await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
      await recordFor(serve, browser.sw, `UI ${lang}`);
      const c2 = await composeNew(gpage, { to: ['x@competitor.example'], subject: `UI ${lang} never`, body: 'Test' });
      await c2.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
      await gpage.locator('.mailtrail-toast-warn').waitFor();

      const options = await optionsPage(browser);
      assert.equal(await options.locator('h1').textContent(), expect.options);
      assert.equal(await options.evaluate(() => document.documentElement.lang.slice(0, 2)), lang);
      await options.screenshot({ path: artifact(`chrome-options-${lang}.png`), fullPage: true });

      const popup = await browser.context.newPage();
      await popup.setViewportSize({ width: 400, height: 760 });
      await popup.goto(`chrome-extension://${browser.extensionId}/popup.html`);
      await popup.locator('#logged-list li[data-logged=true]').first().waitFor();
      await popup.locator('#not-logged-list li[data-logged=false]').first().waitFor();
      assert.equal(await popup.locator('#outbox-title').textContent(), expect.popup);
      assert.ok((await popup.locator('#logged-list').textContent()).includes(expect.reason));
      await popup.screenshot({ path: artifact(`chrome-popup-${lang}.png`), fullPage: true });
    } finally {
      await browser.context.close();
    }
  });
}
