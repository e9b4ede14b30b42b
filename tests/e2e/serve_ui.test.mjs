// The local endpoint's web UI in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): sign-in, contacts and search, a logged email on the right contact's
// timeline, reasons and directions translated (en/ja/pl), connected-inbox status, and hostile
// email HTML that must neither run nor load anything. Screenshots go to test-artifacts/.
//
//   node --test tests/e2e/serve_ui.test.mjs
//
// The binary: $MAILTRAIL_BIN, else target/debug/mailtrail
// (build it first: cargo build -p mailtrail-native).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '..', '..');
const artifacts = join(root, 'test-artifacts');
// The debug build, like the other browser suites (scripts/test builds it first): a release
// binary left from a benchmark may be older than the code under test.
const bin = process.env.MAILTRAIL_BIN ?? join(root, 'target/debug/mailtrail');

let server; let url; let token; let dataDir; let browser;
let canary; let canaryUrl; const canaryHits = [];
const ids = {};

function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-ui-'));
  server = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, MAILTRAIL_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolveUrl, reject) => {
    const lines = createInterface({ input: server.stdout });
    lines.once('line', (line) => {
      const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
      if (m) resolveUrl(m[1]); else reject(new Error(`unexpected first line: ${line}`));
    });
    server.once('exit', (code) => reject(new Error(`mailtrail serve exited with ${code}`)));
  });
}

function record(key, fields) {
  return {
    schema: 'mailtrail.record/1', idempotencyKey: key, direction: 'outgoing',
    timestamp: Date.UTC(2026, 2, 3, 10, 15), subject: 'Hello', from: { address: 'sam@ourco.example', name: 'Sam Sales' },
    to: [], cc: [], bcc: [], text: null, html: null, bodyTruncated: false, attachments: [], droppedAttachments: [],
    messageId: `${key}@mail.ourco.example`, inReplyTo: [], references: [], threadId: null, contacts: [],
    reasons: ['log-checked'], mailbox: 'sam@ourco.example', source: 'gmail', client: 'mailtrail/e2e', ...fields,
  };
}

async function post(rec) {
  const body = JSON.stringify(rec);
  const ts = Math.floor(Date.now() / 1000);
  const sig = createHmac('sha256', token).update(`${ts}.${body}`).digest('hex');
  const r = await fetch(`${url}/v1/records`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'Mailtrail-Timestamp': String(ts), 'Mailtrail-Signature': `v1=${sig}`, 'Idempotency-Key': rec.idempotencyKey },
  });
  const json = await r.json();
  assert.equal(r.status, 201, JSON.stringify(json));
  return json;
}

function hostileHtml(c) {
  return `<html><head><base href="${c}/base/"><meta http-equiv="refresh" content="0;url=${c}/refresh">
<link rel="stylesheet" href="${c}/link.css"><style>@import url(${c}/import.css); p { background: url(${c}/css-sheet) }
input[value^=a] { background: url(${c}/css-attr) } @font-face { font-family: x; src: url(${c}/font) }</style></head>
<body onload="fetch('${c}/onload')"><p id="greeting">Hello from Mallory</p>
<script>window.parent.document.title = 'pwned'; fetch('${c}/script'); alert('pwned')</script>
<img src="${c}/img.png"><img src="x" onerror="fetch('${c}/onerror')"><img srcset="${c}/srcset 1x">
<svg onload="fetch('${c}/svg-onload')"><image href="${c}/svg-image"/><script>fetch('${c}/svg-script')</script></svg>
<div style="background-image: url(${c}/css-inline); width: 10px">styled</div>
<div style="background: u\\72l(${c}/css-escaped)">escaped</div>
<iframe src="${c}/iframe"></iframe><object data="${c}/object"></object><embed src="${c}/embed">
<form action="${c}/form"><input name="a" value="abc"><button id="go">go</button></form>
<a id="jslink" href="javascript:fetch('${c}/js-link')">click me</a>
<video poster="${c}/poster" src="${c}/video"></video><audio src="${c}/audio" autoplay></audio>
<table background="${c}/table-bg"><tr><td background="${c}/td-bg">cell</td></tr></table>
<details open ontoggle="fetch('${c}/ontoggle')"><summary>s</summary></details>
<math><mtext><table><mglyph><style><img src="${c}/mxss" onerror="fetch('${c}/mxss-onerror')"></style></mglyph></table></mtext></math>
</body></html>`;
}

before(async () => {
  assert.ok(bin && existsSync(bin), 'build mailtrail first: cargo build -p mailtrail-native');
  mkdirSync(artifacts, { recursive: true });
  canary = createServer((req, res) => { canaryHits.push(req.url); res.end('x'); });
  await new Promise((r) => canary.listen(0, '127.0.0.1', r));
  canaryUrl = `http://127.0.0.1:${canary.address().port}`;
  url = await startServer();
  token = readFileSync(join(dataDir, 'token'), 'utf8').trim();

  const jane = [{ address: 'jane@customer.example', name: 'Jane Doe', create: true }];
  const pdf = Buffer.from('%PDF-1.4 quote');
  ids.quote = (await post(record('m1-quote', {
    subject: 'Quote for 20 chairs', to: [{ address: 'jane@customer.example', name: 'Jane Doe' }], contacts: jane,
    text: 'Hello Jane, the quote is attached.', reasons: ['log-checked', 'contact-created'],
    attachments: [{ name: 'quote.pdf', contentType: 'application/pdf', size: pdf.length, sha256: createHash('sha256').update(pdf).digest('hex'), inline: false, data: pdf.toString('base64') }],
    droppedAttachments: [{ name: 'video.mp4', contentType: 'video/mp4', size: 60 * 1024 * 1024, inline: false }],
  }))).id;
  ids.reply = (await post(record('m1-reply', {
    direction: 'incoming', subject: 'Re: Quote for 20 chairs', timestamp: Date.UTC(2026, 2, 4, 9, 0),
    from: { address: 'jane@customer.example', name: 'Jane Doe' }, to: [{ address: 'sam@ourco.example' }],
    inReplyTo: ['m1-quote@mail.ourco.example'], contacts: jane, text: 'Thanks, we accept.', reasons: ['reply-in-logged-thread'],
  }))).id;
  ids.forward = (await post(record('m1-fwd', {
    direction: 'forwarded', subject: 'Fwd: Delivery dates', timestamp: Date.UTC(2026, 1, 20, 8, 0),
    from: { address: 'jane@customer.example', name: 'Jane Doe' }, contacts: jane, text: 'When can you deliver?',
    forwarded: { by: { address: 'sam@ourco.example' }, note: 'FYI' }, reasons: ['forwarded-to-crm'],
  }))).id;
  ids.taro = (await post(record('m1-taro', {
    subject: 'お見積もりの件', to: [{ address: 'taro@example.jp', name: '山田太郎' }],
    contacts: [{ address: 'taro@example.jp', name: '山田太郎', create: true }], text: '山田様、お見積もりをお送りします。',
  }))).id;
  ids.zofia = (await post(record('m1-zofia', {
    subject: 'Zamówienie nr 5', to: [{ address: 'zofia@firma.example', name: 'Zofia Żak' }],
    contacts: [{ address: 'zofia@firma.example', name: 'Zofia Żak', create: true }], text: 'Dzień dobry, przesyłam ofertę.',
    reasons: ['log-checked', 'attachments-too-large'],
  }))).id;
  ids.hostile = (await post(record('m1-hostile', {
    direction: 'incoming', subject: 'Invoice <b>overdue</b>', from: { address: 'mallory@evil.example', name: 'Mallory' },
    contacts: [{ address: 'mallory@evil.example', name: 'Mallory <script>', create: true }],
    html: hostileHtml(canaryUrl), text: null, reasons: ['logged-manually'],
  }))).id;
  const put = await fetch(`${url}/v1/watch-status/sam@ourco.example`, {
    method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ state: 'reconnecting', reason: 'server-unreachable', attempt: 4, nextTryAt: Date.now() + 60_000, lastSyncAt: Date.now() - 600_000, dead: 3 }),
  });
  assert.equal(put.status, 200);

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  await new Promise((r) => canary?.close(r));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A signed-in page in the given locale (Accept-Language follows it). */
async function signedIn(locale = 'en-US') {
  const context = await browser.newContext({ locale, viewport: { width: 1200, height: 900 } });
  // Nothing but our server and the canary (which counts) may be reached.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (r) => r.abort());
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.goto(`${url}/contacts`);
  assert.match(page.url(), /\/login\?next=\/contacts$/);
  await page.fill('#token', token);
  await page.click('form.login button');
  await page.waitForURL(`${url}/contacts`);
  return { context, page, dialogs };
}

test('sign-in, contacts list and search', async () => {
  const { context, page } = await signedIn();
  // A wrong token is refused with a message.
  const other = await browser.newPage();
  await other.goto(`${url}/login`);
  await other.fill('#token', 'mt_wrong');
  await other.click('form.login button');
  assert.match(await other.locator('.error').innerText(), /does not match/);
  await other.close();

  const rows = page.locator('tr.contact');
  assert.equal(await rows.count(), 4);
  assert.equal(await page.locator('h1').innerText(), 'Contacts');
  await page.screenshot({ path: join(artifacts, 'serve-contacts-en.png'), fullPage: true });
  await page.fill('input[name=q]', 'żak');
  await page.press('input[name=q]', 'Enter');
  await page.waitForURL(/q=/);
  assert.deepEqual(await page.locator('tr.contact td:nth-child(2)').allInnerTexts(), ['zofia@firma.example']);
  await page.fill('input[name=q]', '山田');
  await page.press('input[name=q]', 'Enter');
  await page.waitForURL(/q=%E5%B1%B1/);
  assert.deepEqual(await page.locator('tr.contact td:nth-child(2)').allInnerTexts(), ['taro@example.jp']);
  await page.fill('input[name=q]', 'nobody-here');
  await page.press('input[name=q]', 'Enter');
  await page.waitForURL(/nobody-here/);
  assert.match(await page.locator('.notice.empty').innerText(), /No contact matches/);
  // Escaped, not interpreted: the contact named "Mallory <script>".
  await page.goto(`${url}/contacts?q=mallory`);
  assert.equal(await page.locator('tr.contact td:first-child').innerText(), 'Mallory <script>');
  await context.close();
});

test('a logged email appears on the right contact, threaded, with directions, attachments and reasons', async () => {
  const { context, page } = await signedIn();
  await page.click('text=Jane Doe');
  await page.waitForURL(/\/contacts\/\d+$/);
  assert.equal(await page.locator('h1.contact-name').innerText(), 'Jane Doe');
  const threads = page.locator('section.thread');
  assert.equal(await threads.count(), 2, 'the quote thread and the forward');
  const first = threads.nth(0);
  assert.match(await first.locator('h3').innerText(), /^Quote for 20 chairs\s+2 emails$/);
  const emails = first.locator('li.email');
  assert.deepEqual(await emails.evaluateAll((els) => els.map((e) => e.dataset.emailId)), [String(ids.reply), String(ids.quote)], 'newest first');
  assert.equal(await emails.nth(0).locator('.dir').getAttribute('aria-label'), 'Received');
  assert.equal(await emails.nth(1).locator('.dir').getAttribute('aria-label'), 'Sent');
  assert.equal(await threads.nth(1).locator('.dir').getAttribute('aria-label'), 'Forwarded');
  assert.match(await threads.nth(1).locator('.forwarded').innerText(), /Forwarded by sam@ourco\.example/);
  assert.match(await emails.nth(1).locator('.reasons').innerText(), /The Log checkbox was checked/);
  assert.match(await emails.nth(0).locator('.reasons').innerText(), /A reply from a contact in a logged conversation/);
  assert.match(await emails.nth(1).locator('ul.attachments:not(.dropped)').innerText(), /quote\.pdf/);
  assert.match(await emails.nth(1).locator('ul.attachments.dropped').innerText(), /video\.mp4/);
  await page.screenshot({ path: join(artifacts, 'serve-contact-en.png'), fullPage: true });
  // The attachment downloads (never rendered in our origin).
  const [download] = await Promise.all([page.waitForEvent('download'), emails.nth(1).locator('ul.attachments:not(.dropped) a').click()]);
  assert.equal(download.suggestedFilename(), 'quote.pdf');
  // Not on another contact's page.
  await page.goto(`${url}/contacts?q=zofia`);
  await page.click('text=Zofia Żak');
  assert.equal(await page.locator('li.email').count(), 1);
  assert.equal(await page.locator('text=Quote for 20 chairs').count(), 0);
  // The email view.
  await page.goto(`${url}/emails/${ids.quote}`);
  assert.match(await page.locator('h1.email-subject').innerText(), /Quote for 20 chairs/);
  assert.match(await page.locator('pre.email-text').innerText(), /the quote is attached/);
  await page.screenshot({ path: join(artifacts, 'serve-email-en.png'), fullPage: true });
  await context.close();
});

test('hostile email HTML runs nothing and loads nothing', async () => {
  const { context, page, dialogs } = await signedIn();
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const consoleErrors = [];
  page.on('console', (m) => consoleErrors.push(m.text()));
  await page.goto(`${url}/emails/${ids.hostile}`);
  const frameEl = page.locator('iframe.email-body');
  assert.equal(await frameEl.getAttribute('sandbox'), '', 'sandboxed, no allow-scripts');
  const frame = page.frameLocator('iframe.email-body');
  await frame.locator('p', { hasText: 'Hello from Mallory' }).waitFor();
  // Click everything clickable inside the email.
  await frame.locator('text=click me').click({ timeout: 2000 }).catch(() => {});
  await frame.locator('text=styled').hover();
  await page.waitForTimeout(1500);
  const body = page.frames().find((f) => f.url().endsWith(`/emails/${ids.hostile}/body`));
  assert.ok(body, 'the body frame loaded from our origin');
  assert.equal(await body.locator('body :is(script, iframe, object, embed, form, input, link, meta, base, style, svg, video, audio)').count(), 0);
  assert.equal(await body.locator('head :is(script, link, base)').count(), 0);
  const attrs = await body.locator('body, body *').evaluateAll((els) => els.flatMap((e) => [...e.attributes].map((a) => `${a.name}=${a.value}`)));
  assert.ok(!attrs.some((a) => /^on|javascript:|127\.0\.0\.1|url\(/i.test(a)), attrs.join('\n'));
  // Our page's title untouched, no dialog, nothing reached the canary, no request left our origin.
  assert.match(await page.title(), /Mailtrail/);
  assert.deepEqual(dialogs, []);
  assert.deepEqual(canaryHits, []);
  assert.deepEqual(requests.filter((r) => !r.startsWith(url)), []);
  await page.screenshot({ path: join(artifacts, 'serve-hostile-email.png'), fullPage: true });

  // Opened directly (not framed), the body is still sandboxed by its own CSP.
  const direct = await page.goto(`${url}/emails/${ids.hostile}/body`);
  assert.match(direct.headers()['content-security-policy'], /default-src 'none'.*sandbox/);
  await page.waitForTimeout(500);
  assert.deepEqual(canaryHits, []);
  assert.deepEqual(dialogs, []);
  assert.ok(!consoleErrors.some((e) => /pwned/.test(e)));
  await context.close();
});

const retryCommand = 'mailtrail watch --config \u2026 --once --retry-failed';

test('Japanese and Polish UI (Accept-Language), connected-inbox status translated', async () => {
  for (const [locale, expect] of [
    ['ja-JP', { contacts: 'コンタクト', sent: '送信', received: '受信', reason: '「記録」チェックボックスがオンでした', reconnecting: '再接続中', unreachable: 'メールサーバーに長時間接続できません。', count: '2 件のメール', dead: /^3 件の記録がエンドポイントに拒否され/ }],
    ['pl-PL', { contacts: 'Kontakty', sent: 'Wysłany', received: 'Odebrany', reason: 'Pole „Rejestruj” było zaznaczone', reconnecting: 'Ponowne łączenie', unreachable: 'Serwer poczty jest od dłuższego czasu nieosiągalny.', count: '2 e-maile', dead: /^3 wpisy zostały odrzucone/ }],
  ]) {
    const { context, page } = await signedIn(locale);
    const lang = locale.slice(0, 2);
    assert.equal(await page.locator('html').getAttribute('lang'), lang);
    assert.equal(await page.locator('h1').innerText(), expect.contacts);
    await page.screenshot({ path: join(artifacts, `serve-contacts-${lang}.png`), fullPage: true });
    await page.click('text=Jane Doe');
    const first = page.locator('section.thread').nth(0);
    assert.match(await first.locator('.count').innerText(), new RegExp(expect.count));
    assert.equal(await first.locator('li.email').nth(0).locator('.dir').getAttribute('aria-label'), expect.received);
    assert.equal(await first.locator('li.email').nth(1).locator('.dir').getAttribute('aria-label'), expect.sent);
    assert.match(await first.locator('li.email').nth(1).locator('.reasons').innerText(), new RegExp(expect.reason));
    await page.screenshot({ path: join(artifacts, `serve-contact-${lang}.png`), fullPage: true });
    await page.goto(`${url}/status`);
    assert.equal(await page.locator('.state').innerText(), expect.reconnecting);
    assert.equal(await page.locator('.watch-reason').innerText(), expect.unreachable);
    assert.match(await page.locator('.watch-dead').innerText(), expect.dead);
    assert.equal(await page.locator('.watch-dead code').innerText(), retryCommand);
    await page.screenshot({ path: join(artifacts, `serve-status-${lang}.png`), fullPage: true });
    // ?lang= switches and is remembered.
    await page.goto(`${url}/contacts?lang=en`);
    assert.equal(await page.locator('h1').innerText(), 'Contacts');
    await page.goto(`${url}/status`);
    assert.equal(await page.locator('.state').innerText(), 'Reconnecting');
    // Records the endpoint refused, with the command that sends them again.
    assert.match(await page.locator('.watch-dead').innerText(), /^3 records were refused by the endpoint/);
    assert.equal(await page.locator('.watch-dead code').innerText(), retryCommand);
    await context.close();
  }
});
