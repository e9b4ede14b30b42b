// End-to-end: the read view — thread tracking of replies in a logged thread, and "Log this email"
// on forwarded messages (English and Japanese Gmail forwards). Run:
//   node --test tests/e2e/gmail_e2e_read.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, composeNew, recordFor, waitFor, startGmailSuite, stopGmailSuite } from './gmail_harness.mjs';

let serve;
let gmail;
let browser;
let page;
let threadId;
const ME = { address: 'me@ourco.example', name: 'Mia Example' };
const ALICE = { address: 'alice@customer.example', name: 'Alice Customer' };

before(async () => {
  ({ serve, gmail, browser, page } = await startGmailSuite({ userAddresses: [ME.address], internalDomains: ['ourco.example'] }));
  // A logged conversation with Alice to reply into.
  const compose = await composeNew(page, { to: ['Alice Customer <alice@customer.example>'], subject: 'Renewal terms', body: 'Dear Alice, our renewal terms are attached.' });
  await compose.locator('.IZ .Up div[role=button][data-tooltip^=Send]').click();
  const stored = await recordFor(serve, browser.sw, 'Renewal terms');
  threadId = stored.record.threadId;
  assert.ok(threadId, 'the sent record carries Gmail thread id');
});

after(() => stopGmailSuite({ serve, browser }));

async function openThread(id) {
  await page.goto('https://mail.google.com/mail/u/0/#inbox');
  await page.goto(`https://mail.google.com/mail/u/0/#inbox/${id}`);
  await page.waitForSelector(`h2.hP[data-legacy-thread-id="${id}"]`);
}

test('a reply from a contact in a logged thread is logged automatically (incoming)', async () => {
  const reply = gmail.addReply(threadId, { from: ALICE, to: [ME], text: 'Thanks Mia, the terms look fine.' });
  await openThread(threadId);
  const message = page.locator(`div[data-legacy-message-id="${reply.id}"]`);
  const badge = message.locator('.mailtrail-badge');
  await badge.waitFor({ timeout: 15000 });
  assert.equal(await badge.textContent(), 'Logged');
  assert.equal(await badge.getAttribute('data-reasons'), 'reply-in-logged-thread');
  // Our own message in the thread is never logged as incoming.
  assert.equal(await page.locator('div[data-message-id^="#msg-a:"] .mailtrail-badge').count(), 0);
  const stored = await waitFor(async () => {
    const key = (await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.status())).activity.find((a) => a.direction === 'incoming' && a.logged)?.key;
    return key && serve.record(key);
  }, { what: 'incoming record' });
  assert.equal(stored.record.direction, 'incoming');
  assert.equal(stored.record.from.address, ALICE.address);
  assert.equal(`<${stored.record.messageId}>`, reply.messageId);
  assert.deepEqual(stored.record.reasons, ['reply-in-logged-thread']);
  assert.equal(stored.threadKey.length > 0, true);
});

test('a reply from someone who is not a contact is not logged, and the message says why', async () => {
  const stranger = { address: 'newperson@elsewhere.example', name: 'New Person' };
  const reply = gmail.addReply(threadId, { from: stranger, to: [ME, ALICE], text: 'Jumping in on this thread.' });
  const before = (await serve.stats()).records;
  await openThread(threadId);
  const badge = page.locator(`div[data-legacy-message-id="${reply.id}"] .mailtrail-badge`);
  await badge.waitFor({ timeout: 15000 });
  assert.equal(await badge.textContent(), 'Not logged');
  assert.equal(await badge.getAttribute('data-reasons'), 'sender-not-contact');
  assert.match(await badge.getAttribute('title'), /The sender is not a contact: newperson@elsewhere\.example/);
  const status = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.status());
  const decision = status.activity.find((a) => a.direction === 'incoming' && !a.logged);
  assert.deepEqual(decision.reasons.map((r) => r.code), ['sender-not-contact']);
  assert.equal((await serve.stats()).records, before, 'nothing reached the endpoint');
});

test('reopening the conversation does not log or fetch the same reply again', async () => {
  const fetched = gmail.rawRequests.length;
  const records = (await serve.stats()).records;
  await openThread(threadId);
  await page.locator('.mailtrail-badge').first().waitFor();
  await page.waitForTimeout(500);
  assert.equal(gmail.rawRequests.length, fetched, 'no new "show original" fetches');
  assert.equal((await serve.stats()).records, records);
});


for (const [file, original, forwarder] of [
  ['forwarded-attached-pl.eml', { from: 'agnieszka.wojcik@klient.example', subject: 'Zamówienie 2026/11/042', text: /Proszę o fakturę/ }, 'tomasz@ourco.example'],
  // Keiko is already a contact in the CRM: the lookup must ask about her (the original's
  // sender), not only about the colleague who forwarded the email.
  ['forwarded-en.eml', { from: 'keiko.tanaka@kunde.example', subject: 'Pricing for 40 seats', cc: 'jan.kowalski@kunde.example', text: /quote for 40 seats/, knownContact: true }, 'tomasz@ourco.example'],
  ['forwarded-ja.eml', { from: 'hanako.yamada@torihiki.example', subject: '見積もりのお願い', text: /ライセンス 25 本/ }, 'ichiro.suzuki@ourco.example'],
]) {
  test(`"Log this email" on a forwarded message logs the original (${file})`, async () => {
    const raw = fs.readFileSync(path.join(FIXTURES, 'messages', file), 'utf8');
    if (original.knownContact) {
      const created = await serve.api('/v1/contacts', { method: 'POST', body: { address: original.from, name: 'Keiko Tanaka' } });
      assert.equal(created.status, 201, created.text);
    }
    const msg = gmail.addRaw(raw);
    await openThread(msg.threadId);
    const button = page.locator(`div[data-legacy-message-id="${msg.id}"] .mailtrail-log-email`);
    await button.click();
    await waitFor(async () => ['logged', 'not-logged', 'error'].includes(await button.getAttribute('data-state')), { what: 'an answer' });
    assert.equal(await button.getAttribute('data-state'), 'logged', await button.getAttribute('title'));
    await page.locator('.mailtrail-toast-ok').filter({ hasText: 'Forwarded email logged with its original sender' }).last().waitFor();
    const stored = await waitFor(async () => {
      const status = await browser.sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.status());
      const a = status.activity.find((x) => x.subject === original.subject && x.logged);
      return a && serve.record(a.key);
    }, { what: 'forwarded record' });
    const r = stored.record;
    assert.equal(r.direction, 'forwarded');
    assert.equal(r.from.address, original.from, 'logged with the original sender');
    assert.equal(r.subject, original.subject);
    assert.match(r.text, original.text);
    assert.equal(r.forwarded.by.address, forwarder);
    const contact = r.contacts.find((c) => c.address === original.from);
    assert.ok(contact, 'associated with the original sender');
    assert.equal(contact.create, !original.knownContact, 'a contact already in the CRM is not created again');
    if (original.cc) assert.deepEqual(r.cc.map((p) => p.address), [original.cc]);
  });
}

test('"Log this email" twice on the same message logs it once', async () => {
  const msg = [...gmail.messages.values()].find((m) => m.subject === 'Fwd: Zamówienie 2026/11/042');
  await openThread(msg.threadId);
  const before = (await serve.stats()).records;
  const button = page.locator(`div[data-legacy-message-id="${msg.id}"] .mailtrail-log-email`);
  await button.click();
  await waitFor(async () => ['not-logged', 'logged'].includes(await button.getAttribute('data-state')), { what: 'answer' });
  assert.equal(await button.getAttribute('data-state'), 'not-logged');
  assert.match(await button.getAttribute('title'), /Already logged/);
  await page.waitForTimeout(300);
  assert.equal((await serve.stats()).records, before);
});
