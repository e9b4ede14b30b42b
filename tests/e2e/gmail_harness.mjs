// Shared pieces of the Gmail end-to-end tests: build the extension, run the real local endpoint
// (`mailtrail serve`) on loopback, launch Debian's Chromium with the unpacked extension, and
// serve a realistic Gmail at https://mail.google.com/ (tests/fixtures/gmail/) whose "server
// side" — mailbox, send sync calls, "show original" — lives in the FakeGmail class below.
//
// Every request that is neither Gmail (routed) nor loopback (the real endpoint) is aborted, and
// PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK=1 keeps Playwright away from the service worker's own
// requests, so a missing host permission fails the way it would for a user.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// A proxy in front of the real server: counts, holds or refuses record POSTs (see crm_proxy.mjs).
export { crmProxy, UNSTORABLE } from './crm_proxy.mjs';

process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK = '1';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const EXT = path.join(ROOT, 'dist/chrome');
export const FIXTURES = path.join(ROOT, 'tests/fixtures/gmail');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
export const EXTENSION_ID = 'edgajidndlomockckiblfinbdiaeoekg'; // from the manifest's key
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const MAILTRAIL = path.join(ROOT, 'target/debug/mailtrail');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (returned) or the time is up (throws with `what`). */
export async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(interval);
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

// ------------------------------------------------------------------ build

function newest(dir) {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds what the tests need when it is missing or older than its sources: the WASM engine
 * (scripts/build-wasm), the extension (webpack, Chrome part only) and the native binary.
 * MAILTRAIL_E2E_NO_BUILD=1 skips this (CI builds first).
 */
export async function ensureBuilt() {
  if (process.env.MAILTRAIL_E2E_NO_BUILD) return;
  const engine = path.join(ROOT, 'dist/engine/web/mailtrail_bg.wasm');
  if (!fs.existsSync(engine)) execFileSync(path.join(ROOT, 'scripts/build-wasm'), { cwd: ROOT, stdio: 'inherit' });
  // Another build may be rewriting the engine right now: bundle only a settled glue + .wasm pair.
  await waitFor(() => {
    const files = ['mailtrail.js', 'mailtrail_bg.wasm'].map((f) => fs.statSync(path.join(ROOT, 'dist/engine/web', f)));
    return files[1].size > 0 && files.every((f) => Date.now() - f.mtimeMs > 3000);
  }, { timeout: 300000, interval: 1000, what: 'a settled engine build in dist/engine/web' });
  const worker = path.join(EXT, 'worker.js');
  const sources = Math.max(newest(path.join(ROOT, 'extension/chrome')), newest(path.join(ROOT, 'extension/shared')), fs.statSync(engine).mtimeMs);
  if (!fs.existsSync(worker) || fs.statSync(worker).mtimeMs < sources) {
    const { default: webpack } = await import('webpack');
    const { default: chromePart } = await import(path.join(ROOT, 'extension/chrome/webpack.part.js'));
    await new Promise((resolve, reject) =>
      webpack(chromePart({}, { mode: 'production' })).run((err, stats) => {
        if (err) return reject(err);
        if (stats.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
        resolve();
      }),
    );
  }
  if (!fs.existsSync(MAILTRAIL)) execFileSync('cargo', ['build', '-q', '-p', 'mailtrail-native', '--bin', 'mailtrail'], { cwd: ROOT, stdio: 'inherit' });
}

// ------------------------------------------------------------------ the local endpoint

/** `mailtrail serve` on loopback with its own data directory; can be stopped and restarted on the same port. */
export class Serve {
  constructor(dataDir) {
    this.dataDir = dataDir;
    this.port = 0;
    this.proc = null;
  }

  static async start() {
    const s = new Serve(fs.mkdtempSync(path.join(os.tmpdir(), 'mailtrail-e2e-serve-')));
    await s.start();
    return s;
  }

  async start() {
    const proc = spawn(MAILTRAIL, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn' },
    });
    this.proc = proc;
    let output = '';
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mailtrail serve did not start:\n${output}`)), 20000);
      const onData = (chunk) => {
        output += chunk;
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.on('exit', (code) => reject(new Error(`mailtrail serve exited (${code}):\n${output}`)));
    });
    this.url = url;
    this.port = Number(new URL(url).port);
    this.token = fs.readFileSync(path.join(this.dataDir, 'token'), 'utf8').trim();
  }

  async stop() {
    if (!this.proc) return;
    const proc = this.proc;
    this.proc = null;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }

  async api(route, { method = 'GET', body } = {}) {
    const res = await fetch(this.url + route, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, json, text };
  }

  /** The stored record for an idempotency key, or null. */
  async record(key) {
    const r = await this.api(`/v1/records/${encodeURIComponent(key)}`);
    return r.status === 200 ? r.json : null;
  }

  async stats() {
    return (await this.api('/v1/stats')).json;
  }

  /** The endpoint settings for the extension. */
  endpoint() {
    return { type: 'local', url: this.url, token: this.token };
  }

  async dispose() {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ the browser

/**
 * Launches Chromium with the extension. Returns `{context, sw, extensionId, userDataDir}`.
 * `lang` sets the UI language (chrome.i18n follows it).
 */
export async function launch({ userDataDir, lang = 'en-US', gmail } = {}) {
  userDataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'mailtrail-e2e-profile-'));
  const args = [
    `--disable-extensions-except=${EXT}`,
    `--load-extension=${EXT}`,
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
    `--lang=${lang}`,
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    locale: lang,
    viewport: { width: 1280, height: 860 },
    env: { ...process.env, LANGUAGE: lang.replace('-', '_'), LANG: `${lang.replace('-', '_')}.UTF-8` },
  });
  // Nothing but Gmail (routed below) and loopback (the real endpoint) may be reached.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/]|localhost[:/]|mail\.google\.com\/)/, (route) => route.abort());
  if (gmail) await gmail.install(context);
  const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 15000 }));
  const extensionId = new URL(sw.url()).host;
  await waitFor(() => sw.evaluate(() => !!globalThis.mailtrail?.ready).catch(() => false), { what: 'worker start' });
  await sw.evaluate(() => globalThis.mailtrail.ready);
  return { context, sw, extensionId, userDataDir };
}

/** The worker of a context (a fresh handle after it was stopped and restarted). */
export async function worker(context) {
  return context.serviceWorkers().find((w) => w.url().includes(EXTENSION_ID)) ?? context.waitForEvent('serviceworker');
}

/** Stores settings the way the options page does (validated; throws with the engine's errors). */
export async function configure(sw, settings, prefs = { undoSendSeconds: 1 }) {
  const r = await sw.evaluate(
    async ({ settings, prefs }) => {
      const host = await globalThis.mailtrail.ready;
      const report = await host.saveUserSettings(settings, prefs);
      host.flushSoon();
      return report;
    },
    { settings, prefs },
  );
  if (!r.ok) throw new Error('settings rejected: ' + JSON.stringify(r.errors));
}

/** The engine's status (counts, queue, activity). */
export function engineStatus(sw) {
  return sw.evaluate(async () => (await globalThis.mailtrail.ready).engine.status());
}

/** Stops every service worker (CDP), as Chrome does after 30 s idle. */
export async function stopWorkers(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
}

export function artifact(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, name);
}

// ------------------------------------------------------------------ Gmail

const DEC_BASE = 1790000000000000000n;

function escapeHtml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function rfcDate(ms) {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function mailbox(r) {
  return r.name && r.name !== r.address ? `${r.name} <${r.address}>` : r.address;
}

/**
 * Gmail's side for one account: threads and messages (raw RFC 5322 for "show original"), the
 * send sync call (assigns msg-f/thread-f ids and a Message-ID, records what was sent), Undo.
 */
export class FakeGmail {
  constructor({ email = 'me@ourco.example', name = 'Mia Example', ik = 'a3f9c2e17b', undoSeconds = 5 } = {}) {
    this.account = { email, name };
    this.ik = ik;
    this.undoSeconds = undoSeconds;
    this.threads = new Map(); // hex → {subject, messages: [hex]}
    this.messages = new Map(); // hex → {id, threadId, own, draftId, from, to, cc, bcc, subject, date, text, raw, messageId}
    this.sent = []; // sends Gmail performed: {draftId, to, cc, bcc, subject, messageId, threadId, id}
    this.scheduled = []; // scheduled sends Gmail holds: as `sent`, plus sendAt (ms)
    this.cancelledSchedules = []; // scheduled sends cancelled in the Scheduled folder
    this.undone = [];
    this.syncRequests = [];
    this.rawRequests = [];
    this.counter = 0n;
    this.openComposes = [];
    this.page = fs.readFileSync(path.join(FIXTURES, 'gmail.html'), 'utf8');
    this.original = fs.readFileSync(path.join(FIXTURES, 'original.html'), 'utf8');
    this.script = fs.readFileSync(path.join(FIXTURES, 'fake-gmail.js'), 'utf8');
  }

  nextId() {
    this.counter += 1n;
    const dec = DEC_BASE + this.counter * 7919n;
    return { dec: dec.toString(10), hex: dec.toString(16) };
  }

  /** Adds a message (raw RFC 5322 text) to a thread (new thread when `threadId` is absent). */
  addRaw(raw, { threadId, own = false, draftId = null } = {}) {
    const headers = raw.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
    const header = (name) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(headers) || [])[1]?.trim() || '';
    const fromText = header('From');
    const fm = /^(?:"?(.*?)"?\s*)?<([^>]+)>$/.exec(fromText);
    const from = fm ? { name: decodeWords(fm[1] || fm[2]), address: fm[2] } : { name: fromText, address: fromText };
    const { hex } = this.nextId();
    const tid = threadId || hex;
    const subject = decodeWords(header('Subject'));
    if (!this.threads.has(tid)) this.threads.set(tid, { subject, messages: [] });
    const text = raw.split(/\r?\n\r?\n/).slice(1).join('\n\n').slice(0, 2000);
    const msg = { id: hex, threadId: tid, own, draftId, from, subject, date: Date.parse(header('Date')) || Date.now(), text, raw, messageId: header('Message-ID') };
    this.messages.set(hex, msg);
    this.threads.get(tid).messages.push(hex);
    return msg;
  }

  /** An incoming reply in a thread: built as the sender's client would, In-Reply-To the last message. */
  addReply(threadId, { from, to, text, subject }) {
    const thread = this.threads.get(threadId);
    const last = this.messages.get(thread.messages.at(-1));
    const refs = [last.messageId].filter(Boolean).join(' ');
    const id = `<R${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}@${from.address.split('@')[1]}>`;
    const raw = [
      'MIME-Version: 1.0',
      `Date: ${rfcDate(Date.now())}`,
      `Message-ID: ${id}`,
      `In-Reply-To: ${last.messageId}`,
      `References: ${refs}`,
      `Subject: ${subject || 'Re: ' + thread.subject}`,
      `From: ${mailbox(from)}`,
      `To: ${to.map(mailbox).join(', ')}`,
      'Content-Type: text/plain; charset="UTF-8"',
      '',
      text,
      '',
    ].join('\r\n');
    return this.addRaw(raw, { threadId });
  }

  thread(hex) {
    const t = this.threads.get(hex);
    if (!t) return null;
    return {
      subject: t.subject,
      messages: t.messages.map((id) => {
        const m = this.messages.get(id);
        return { id: m.id, own: m.own, draftId: m.draftId, from: m.from, to: m.to, date: m.date, text: m.text, scheduled: m.scheduled || null };
      }),
    };
  }

  pageHtml(url) {
    const view = url.searchParams.get('view') === 'cm' ? 'popout' : 'main';
    const data = { account: this.account, view, undoSeconds: this.undoSeconds, openComposes: this.openComposes, popout: this.popout || null, variant: this.variant || null, shortcutsOff: !!this.shortcutsOff };
    const nonce = Math.random().toString(36).slice(2);
    return this.page
      .replaceAll('{{NONCE}}', nonce)
      .replace('{{TITLE}}', `Inbox - ${this.account.email} - Gmail`)
      .replace('{{IK}}', this.ik)
      .replace('{{EMAIL}}', this.account.email)
      .replace('{{DATA}}', JSON.stringify(data).replace(/</g, '\\u003c'));
  }

  originalHtml(msg) {
    return this.original
      .replace('{{MESSAGE_ID}}', escapeHtml(msg.messageId))
      .replace('{{DATE}}', escapeHtml(new Date(msg.date).toString()))
      .replace('{{FROM}}', escapeHtml(mailbox(msg.from)))
      .replace('{{SUBJECT}}', escapeHtml(msg.subject))
      .replace('{{TH}}', msg.id)
      .replace('{{RAW}}', escapeHtml(msg.raw));
  }

  removeMessage(hex) {
    const msg = this.messages.get(hex);
    if (!msg) return null;
    this.messages.delete(hex);
    const t = this.threads.get(msg.threadId);
    t.messages = t.messages.filter((m) => m !== hex);
    if (!t.messages.length) this.threads.delete(msg.threadId);
    return msg;
  }

  /** Gmail's servers send the scheduled messages that are due (as at `now`). */
  sendDue(now = Date.now()) {
    for (const s of this.scheduled.filter((x) => x.sendAt <= now)) {
      this.scheduled = this.scheduled.filter((x) => x !== s);
      const msg = this.messages.get(s.id);
      if (msg) msg.scheduled = null;
      this.sent.push(s);
    }
  }

  /** The send sync call: store the message, answer with its ids. */
  handleSync(body) {
    const request = JSON.parse(body);
    this.syncRequests.push(request);
    if (request[1]?.[1] === 'undo' || request[1]?.[1] === 'cancel-schedule') {
      const msgF = request[0][0][1][1];
      const hex = BigInt(msgF.replace('msg-f:', '')).toString(16);
      const msg = this.removeMessage(hex);
      if (msg) {
        (request[1][1] === 'undo' ? this.undone : this.cancelledSchedules).push(msg);
        this.sent = this.sent.filter((s) => s.id !== hex);
        this.scheduled = this.scheduled.filter((s) => s.id !== hex);
      }
      return `)]}'\n[[null,["${request[1][1] === 'undo' ? 'undone' : 'cancelled'}","${msgF}"]]]`;
    }
    const m = request[0][0][3][1][0];
    const [draft, , toL, ccL, bccL, , , subject, bodyPart, threadPerm, attachments, sendAt] = m;
    const draftId = draft.replace('msg-a:', '');
    const to = toL.map(([, address, name]) => ({ address, name }));
    const cc = ccL.map(([, address, name]) => ({ address, name }));
    const bcc = bccL.map(([, address, name]) => ({ address, name }));
    const html = bodyPart[1][0][1];
    const text = html.replace(/<\/div>/g, '\n').replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    const threadHex = threadPerm ? BigInt(threadPerm.replace('thread-f:', '')).toString(16) : null;
    const parent = threadHex ? this.messages.get(this.threads.get(threadHex)?.messages.at(-1)) : null;
    const messageId = `<CAMt${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}@mail.gmail.com>`;
    const raw = [
      'MIME-Version: 1.0',
      `Date: ${rfcDate(Date.now())}`,
      `Message-ID: ${messageId}`,
      ...(parent ? [`In-Reply-To: ${parent.messageId}`, `References: ${parent.messageId}`] : []),
      `Subject: ${subject}`,
      `From: ${mailbox(this.account)}`,
      `To: ${to.map(mailbox).join(', ')}`,
      ...(cc.length ? [`Cc: ${cc.map(mailbox).join(', ')}`] : []),
      ...(bcc.length ? [`Bcc: ${bcc.map(mailbox).join(', ')}`] : []),
      'Content-Type: text/plain; charset="UTF-8"',
      '',
      text,
      '',
    ].join('\r\n');
    const msg = this.addRaw(raw, { threadId: threadHex || undefined, own: true, draftId });
    msg.to = to;
    const record = { id: msg.id, draftId, to, cc, bcc, subject, messageId, threadId: msg.threadId, attachments };
    if (sendAt) {
      // Held by Gmail until then, in the Scheduled folder.
      msg.scheduled = sendAt;
      this.scheduled.push({ ...record, sendAt });
    } else {
      this.sent.push(record);
    }
    const threadF = 'thread-f:' + BigInt('0x' + msg.threadId).toString(10);
    const msgF = 'msg-f:' + BigInt('0x' + msg.id).toString(10);
    const stored = [msgF, [1, this.account.email, this.account.name], to.map((r) => [1, r.address, r.name]), null, Date.now(), subject, messageId, 'msg-a:' + draftId];
    // A scheduled message carries the Scheduled label and its send time.
    if (sendAt) stored.push(['^scheduled'], sendAt);
    const response = [[threadF, [stored]]];
    return `)]}'\n${JSON.stringify(response)}`;
  }

  async install(context) {
    await context.route('https://mail.google.com/**', async (route) => {
      const request = route.request();
      const url = new URL(request.url());
      const reply = (status, contentType, body, headers = {}) => route.fulfill({ status, contentType, body, headers });
      if (url.pathname === '/_fake/gmail.js') return reply(200, 'text/javascript', this.script);
      if (url.pathname === '/_fake/inbox' || url.pathname === '/_fake/scheduled') {
        const scheduledOnly = url.pathname === '/_fake/scheduled';
        const list = [...this.threads.entries()]
          .filter(([, t]) => !scheduledOnly || t.messages.some((id) => this.messages.get(id).scheduled))
          .map(([threadId, t]) => ({ threadId, subject: t.subject, from: this.messages.get(t.messages.at(-1)).from }));
        return reply(200, 'application/json', JSON.stringify(list.reverse()));
      }
      const tm = /^\/_fake\/thread\/([0-9a-f]+)$/.exec(url.pathname);
      if (tm) {
        const t = this.thread(tm[1]);
        return t ? reply(200, 'application/json', JSON.stringify(t)) : reply(404, 'application/json', '{}');
      }
      if (/^\/sync\/u\/\d+\/i\/s$/.test(url.pathname) && request.method() === 'POST') {
        return reply(200, 'application/json; charset=utf-8', this.handleSync(request.postData() || ''));
      }
      if (/^\/mail\/u\/\d+\/?$/.test(url.pathname) && url.searchParams.get('view') === 'om') {
        this.rawRequests.push(url.href);
        if (this.rawDelayMs) await sleep(this.rawDelayMs); // a slow "show original" page
        if (url.searchParams.get('ik') !== this.ik) return reply(400, 'text/html', '<p>Bad request</p>');
        const perm = url.searchParams.get('permmsgid');
        const hex = perm ? BigInt(perm.replace('msg-f:', '')).toString(16) : url.searchParams.get('th');
        const msg = this.messages.get(hex);
        return msg ? reply(200, 'text/html; charset=utf-8', this.originalHtml(msg)) : reply(404, 'text/html', '<p>Not found</p>');
      }
      if (/^\/mail\/u\/\d+\/?$/.test(url.pathname) || url.pathname === '/mail/' || url.pathname === '/') {
        // Gmail's page policy: nonce-only scripts and Trusted Types (no string-to-HTML sinks).
        const html = this.pageHtml(url);
        const nonce = /nonce="([^"]+)"/.exec(html)[1];
        return reply(200, 'text/html; charset=utf-8', html, {
          'Content-Security-Policy': `script-src 'nonce-${nonce}' 'report-sample'; object-src 'none'; base-uri 'self'; require-trusted-types-for 'script'`,
        });
      }
      return reply(404, 'text/plain', 'not found');
    });
  }
}

/** Decodes RFC 2047 encoded words (UTF-8, B or Q) in fixture headers. */
function decodeWords(s) {
  return String(s || '').replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, enc, text) =>
    enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, h) => String.fromCharCode(parseInt(h, 16))),
  );
}

// ------------------------------------------------------------------ Gmail page actions

export const GMAIL_URL = 'https://mail.google.com/mail/u/0/#inbox';

export async function openGmail(context, url = GMAIL_URL) {
  const page = await context.newPage();
  if (process.env.MAILTRAIL_E2E_DEBUG) {
    page.on('console', (m) => console.log(`[page ${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  }
  await page.goto(url);
  await page.waitForSelector('div[role=main]', { state: 'attached' });
  return page;
}

/** Opens a new compose window and fills it like a user. Returns the compose locator. */
export async function composeNew(page, { to = [], cc = [], subject, body }) {
  await page.click('div[gh=cm]');
  const compose = page.locator('div[role=dialog]').last();
  await compose.locator('.mailtrail-log[data-ready=true]').waitFor();
  const toInput = compose.locator('[name=to] input');
  for (const r of to) {
    await toInput.fill(r);
    await toInput.press('Enter');
  }
  if (cc.length) {
    await compose.locator('span.pE').click();
    const ccInput = compose.locator('[name=cc] input');
    for (const r of cc) {
      await ccInput.fill(r);
      await ccInput.press('Enter');
    }
  }
  await compose.locator('input[name=subjectbox]').fill(subject);
  await compose.locator('[g_editable=true]').click();
  await page.keyboard.type(body);
  return compose;
}

/** The activity entry the engine recorded for a subject (waits for it). */
export async function activityFor(sw, subject, { timeout = 10000 } = {}) {
  return waitFor(async () => (await engineStatus(sw)).activity.find((a) => a.subject === subject), { timeout, what: `activity for "${subject}"` });
}

/** Waits until the endpoint has the record for a subject's activity key; returns it. */
export async function recordFor(serve, sw, subject, { timeout = 20000 } = {}) {
  const a = await activityFor(sw, subject);
  if (!a.key) throw new Error(`"${subject}" was not queued: ${JSON.stringify(a.reasons)}`);
  return waitFor(() => serve.record(a.key), { timeout, what: `record "${subject}" at the endpoint` });
}

/**
 * The usual suite: a real `mailtrail serve`, the fake Gmail, Chromium with the built extension
 * configured for `settings` against that server, and (unless `open` is false) a Gmail tab.
 * `stopGmailSuite` closes what it started.
 */
export async function startGmailSuite(settings, { open = true } = {}) {
  await ensureBuilt();
  const serve = await Serve.start();
  const gmail = new FakeGmail();
  const browser = await launch({ gmail });
  await configure(browser.sw, { ...settings, endpoint: serve.endpoint() });
  const page = open ? await openGmail(browser.context) : undefined;
  return { serve, gmail, browser, page };
}

export async function stopGmailSuite({ serve, browser } = {}) {
  await browser?.context.close();
  await serve?.dispose();
}
