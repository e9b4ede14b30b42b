// The add-in's handlers in browser runtimes (Outlook on the web, new Outlook, Mac; task pane and
// function commands everywhere), with the real WebAssembly engine, on office-addin-mock objects.
//   node --test tests/js/outlook_handlers.test.mjs      (needs scripts/build-wasm)
//
// Every handler path: OnNewMessageCompose (default, hand-off drain), OnMessageSend (API, BCC,
// both, unchecked, never-log, endpoint down then up, endpoint hanging, no engine), "Log this
// email" (message file, headers, fields; forwards), thread tracking (sent copy linked, reply from
// a contact, from a non-contact, unrelated message).
import test from 'node:test';
import assert from 'node:assert/strict';
import { loadEngine, outlookRuntime, captureEndpoint, baseSettings, fixture } from '../fixtures/outlook/harness.mjs';
import { createContext } from '../../extension/outlook/src/engine/context.js';
import { MemoryStore } from '../../extension/outlook/src/engine/store.js';
import { onNewMessageCompose, onMessageSend, logThisEmail, trackOpenedMessage, headerValue, DRAFT_HEADER } from '../../extension/outlook/src/handlers/events.js';
import { completing, messageSend as classicSend } from '../../extension/outlook/src/classic/handlers.js';
import { HANDOFF_KEY, LOG_PROPERTY, SETTINGS_KEY } from '../../extension/outlook/src/office/keys.js';

const USER = { emailAddress: 'me@ourco.example', displayName: 'Me Myself' };
// Remove once the engine wires body forward extraction; these tests then must pass.

function memoryStorage(initial = {}) {
  const m = new Map(Object.entries(initial));
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
}

/** One "device": a store and a secret storage that survive runtimes, plus a clock. */
function device(endpoint) {
  const secrets = endpoint ? { local: endpoint.settings.token } : {};
  return { store: new MemoryStore(), storage: memoryStorage({ 'mailtrail.secrets': JSON.stringify(secrets) }), offset: 0 };
}

/** A fresh Outlook runtime on `dev` (each event gets one), with its context. */
function runtime(dev, config, shared, { engine = true } = {}) {
  const rt = outlookRuntime({ user: USER, platform: 'OfficeOnline', ...config }, shared);
  const ctx = createContext({
    Office: rt.Office,
    loadEngine: engine ? loadEngine : () => Promise.reject(new Error('no WebAssembly here')),
    store: dev.store,
    storage: dev.storage,
    now: () => Date.now() + dev.offset,
  });
  return { ...rt, ctx };
}

function roamingFor(endpoint, extra = {}) {
  return { [SETTINGS_KEY]: baseSettings({ endpoint: { type: 'local', url: endpoint.url }, ...extra }) };
}

const compose = (extra = {}) => ({ to: ['bob@client.example'], subject: 'Proposal for Client Corp', body: '<p>Hello Bob, here is the proposal.</p>', conversationId: 'conv-1', ...extra });

async function send(rt, budget = 4500) {
  let completedWith = 'not completed';
  const started = Date.now();
  const summary = await completing(() => onMessageSend(rt.ctx), budget)({ completed: (o) => (completedWith = o) });
  return { summary, completedWith, ms: Date.now() - started };
}

test('OnMessageSend (API mode) queues the record durably, pushes it and lets the email go', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ cc: ['ops@client.example'], attachments: [{ name: 'quote.pdf', size: 2048, contentType: 'application/pdf' }] }) });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1', mailtrailDraft: 'ol-d1' };
  const { summary, completedWith, ms } = await send(rt);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.ok(ms < 4000, `send handler took ${ms} ms`);
  assert.equal(summary.logged, true);
  assert.equal(summary.queued, true);
  assert.equal(summary.flush.delivered, 1);
  assert.equal(endpoint.records.size, 1);
  const record = endpoint.records.get(summary.key);
  assert.equal(record.source, 'outlook');
  assert.equal(record.direction, 'outgoing');
  assert.equal(record.subject, 'Proposal for Client Corp');
  assert.equal(record.threadId, 'conv-1');
  assert.equal(record.draftId, 'ol-d1');
  assert.equal(record.mailbox, 'me@ourco.example');
  assert.deepEqual(record.contacts.map((c) => c.address).sort(), ['bob@client.example', 'ops@client.example']);
  assert.equal(record.attachments[0].name, 'quote.pdf');
  assert.equal(record.html, '<p>Hello Bob, here is the proposal.</p>');
  // Signed like the local endpoint expects.
  const post = endpoint.posts[0];
  assert.equal(post.headers['idempotency-key'], summary.key);
  assert.match(post.headers['mailtrail-signature'], /^v1=[0-9a-f]{64}$/);
  // The compose id travels in a header, so the sent copy can be tied to the record later.
  assert.equal(rt.fake.state.headersSet[DRAFT_HEADER], 'ol-d1');
  // Nothing left in the outbox but the done entry.
  const [entry] = [...dev.store.entries.values()];
  assert.equal(entry.state, 'done');
});

test('OnMessageSend with Log unchecked logs nothing and records why', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '0' };
  const { summary, completedWith } = await send(rt);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.equal(summary.logged, false);
  assert.equal(summary.queued, false);
  assert.deepEqual(summary.decision.reasons.map((r) => r.code), ['log-unchecked']);
  assert.equal(endpoint.posts.length, 0);
  const status = await (await rt.ctx.getService()).status();
  assert.equal(status.activity[0].logged, false);
  assert.equal(status.activity[0].reasons[0].code, 'log-unchecked');
  assert.equal(rt.fake.state.headersSet[DRAFT_HEADER], undefined);
});

test('OnMessageSend to a never-log recipient logs nothing; other recipients still log', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  let rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ to: ['x@competitor.example', 'private@client.example'] }) });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  let { summary } = await send(rt);
  assert.equal(summary.logged, false);
  assert.deepEqual(summary.decision.reasons.map((r) => r.code), ['no-loggable-recipients', 'never-log-domain', 'never-log-address']);
  assert.equal(endpoint.posts.length, 0);

  rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ to: ['x@competitor.example', 'bob@client.example'], subject: 'Mixed' }) });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  ({ summary } = await send(rt));
  assert.equal(summary.logged, true);
  const record = endpoint.records.get(summary.key);
  assert.deepEqual(record.contacts.map((c) => c.address), ['bob@client.example']);
});

test('OnMessageSend in BCC mode adds the CRM address exactly once and pushes nothing', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const roaming = roamingFor(endpoint, { mode: 'bcc', bccAddress: 'log@bcc.crm.example' });
  const rt = runtime(dev, { mode: 'compose', roaming, compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const first = await send(rt);
  assert.equal(first.summary.bccAdded, true);
  assert.equal(first.summary.queued, false);
  // Outlook runs the handler again (the user retried after another add-in stopped the send).
  const again = runtime(dev, { mode: 'compose' }, rt.fake.state);
  const second = await send(again);
  assert.equal(second.summary.bccAdded, false);
  assert.deepEqual(rt.fake.state.compose.bcc.map((r) => r.emailAddress), ['log@bcc.crm.example']);
  assert.equal(rt.fake.calls('bcc.addAsync').length, 1);
  assert.equal(endpoint.posts.length, 0);
});

test('OnMessageSend in "both" mode adds the BCC and pushes the record', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint, { mode: 'both', bccAddress: 'log@bcc.crm.example' }), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary } = await send(rt);
  assert.equal(summary.bccAdded, true);
  assert.equal(summary.flush.delivered, 1);
  const record = endpoint.records.get(summary.key);
  assert.deepEqual(record.contacts.map((c) => c.address), ['bob@client.example'], 'the CRM address is never a contact');
});

test('endpoint down at send: the email goes, the record waits, and arrives once when the endpoint is back', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  endpoint.state.down = true;
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary, completedWith, ms } = await send(rt);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.ok(ms < 4000);
  assert.equal(summary.queued, true);
  assert.equal(summary.flush.retrying, 1);
  assert.equal([...dev.store.entries.values()][0].state, 'retrying');

  // Still down at the next compose: nothing lost, nothing sent.
  dev.offset = 60_000;
  let next = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ subject: 'next' }) }, undefined);
  await completing(() => onNewMessageCompose(next.ctx), 4000)({ completed() {} });
  assert.equal(endpoint.records.size, 0);

  // Back up: the next runtime that starts sends it, once.
  endpoint.state.down = false;
  dev.offset = 10 * 60_000;
  next = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ subject: 'later' }) });
  const after = await onNewMessageCompose(next.ctx);
  assert.equal(after.flush.delivered, 1);
  assert.equal(endpoint.records.size, 1);
  assert.equal(endpoint.posts.length, 1);
  assert.ok(endpoint.records.has(summary.key));
  const again = await (await next.ctx.getService()).flush();
  assert.equal(again.delivered, 0);
  assert.equal(endpoint.posts.length, 1, 'not sent twice');
});

test('endpoint hanging at send: the event still completes in time; the lease brings the record back later', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  endpoint.state.hang = true;
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary, completedWith, ms } = await send(rt);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.ok(ms < 4600, `took ${ms} ms`);
  assert.deepEqual(summary.flush, { pending: true });
  // The "sending" state with its lease was persisted before the request left.
  const [entry] = [...dev.store.entries.values()];
  assert.equal(entry.state, 'sending');
  assert.ok(entry.leaseUntil > Date.now());
  // Outlook closed that runtime; the server recovers; after the lease another runtime sends it.
  endpoint.state.hang = false;
  dev.offset = 5 * 60_000;
  const later = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ subject: 'x' }) });
  const report = await (await later.ctx.getService()).flush();
  assert.equal(report.delivered + report.duplicates, 1);
  assert.ok(endpoint.records.has(summary.key));
  assert.equal([...dev.store.entries.values()].find((e) => e.key === summary.key).state, 'done');
});

test('without the engine (no WebAssembly), OnMessageSend falls back to the classic path: BCC by the same rules and a snapshot', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint, { mode: 'both', bccAddress: 'log@bcc.crm.example' }), compose: compose() }, undefined, { engine: false });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary, completedWith } = await send(rt);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.equal(summary.fallback, true);
  assert.equal(summary.bccAdded, true);
  assert.equal(rt.fake.state.roaming[HANDOFF_KEY].length, 1);
  assert.match(rt.ctx.engineError.message, /WebAssembly/);
});

test('OnNewMessageCompose applies the default and takes over snapshots classic Outlook left', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  // Classic Outlook on Windows sent two emails with Log checked (API mode).
  const classic = outlookRuntime({ mode: 'compose', platform: 'PC', user: USER, roaming: roamingFor(endpoint), compose: compose({ subject: 'From classic 1' }) });
  classic.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  await classicSend(classic.Office, 1_700_000_000_000);
  classic.fake.state.compose = compose({ subject: 'From classic 2', to: ['x@competitor.example'] });
  await classicSend(outlookRuntime({ mode: 'compose', platform: 'PC', user: USER }, classic.fake.state).Office, 1_700_000_100_000);
  assert.equal(classic.fake.state.roaming[HANDOFF_KEY].length, 2);

  // Then Outlook on the web opens a new message: its runtime drains the queue.
  classic.fake.state.customProps = {};
  const dev = device(endpoint);
  const web = runtime(dev, { mode: 'compose' }, classic.fake.state);
  const summary = await onNewMessageCompose(web.ctx);
  assert.equal(summary.checked, true);
  assert.equal(web.fake.state.customProps[LOG_PROPERTY], '1');
  assert.deepEqual(summary.handoff, { drained: 2, failed: 0 });
  assert.equal(summary.flush.delivered, 1, 'the never-log one is decided, not sent');
  assert.equal(web.fake.state.roaming[HANDOFF_KEY], undefined, 'the queue is emptied once durable');
  const [record] = endpoint.records.values();
  assert.equal(record.subject, 'From classic 1');
  assert.equal(record.timestamp, 1_700_000_000_000, 'timestamped when it was sent, not when it was taken over');
  const status = await (await web.ctx.getService()).status();
  const notLogged = status.activity.find((a) => a.subject === 'From classic 2');
  assert.equal(notLogged.logged, false);
  assert.ok(notLogged.reasons.some((r) => r.code === 'never-log-domain'));
});

function readRuntime(dev, endpoint, read, mailbox = '1.14') {
  return runtime(dev, { mode: 'read', mailbox, roaming: roamingFor(endpoint), read });
}

test('"Log this email" on a forward attached as a message file logs the original with its sender', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = readRuntime(dev, endpoint, { eml: fixture('forwarded-attached.eml').toString('utf8'), subject: 'PD: Zamówienie licencji', conversationId: 'conv-9' });
  let completed = 'no';
  const result = await completing(() => logThisEmail(rt.ctx), 20_000, null)({ completed: (o) => (completed = o) });
  assert.equal(completed, undefined, 'function commands complete without options');
  assert.equal(result.via, 'eml');
  assert.equal(result.outcome.decision.direction, 'forwarded');
  const record = endpoint.records.get(result.outcome.record.idempotencyKey);
  assert.equal(record.from.address, 'marta.kowalska@klient.example');
  assert.equal(record.subject, 'Zamówienie licencji');
  assert.deepEqual(record.contacts.map((c) => c.address), ['marta.kowalska@klient.example']);
  assert.equal(rt.fake.state.notifications.mailtrail.message, 'Mailtrail: logged.');
});

for (const [file, sender, subject] of [
  ['forwarded-en.eml', 'kenji.sato@client.example', 'Pricing for 40 seats'],
  ['forwarded-ja.eml', 'kenji.sato@client.example', '40 席の見積もりについて'],
]) {
  test(`"Log this email" on a forward pasted in the body (${file}) logs the original sender`, async (t) => {
    const endpoint = await captureEndpoint();
    t.after(endpoint.close);
    const dev = device(endpoint);
    const rt = readRuntime(dev, endpoint, { eml: fixture(file).toString('utf8') });
    const result = await logThisEmail(rt.ctx);
    assert.equal(result.outcome.decision.direction, 'forwarded', JSON.stringify(result.outcome.decision.reasons));
    const record = endpoint.records.get(result.outcome.record.idempotencyKey);
    assert.equal(record.from.address, sender);
    assert.equal(record.subject, subject);
  });
}

test('"Log this email" without Mailbox 1.14: the header block and body (1.8), then the item fields (1.1)', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const eml = fixture('unrelated.eml').toString('utf8');
  const [headers] = eml.split('\r\n\r\n');
  let rt = readRuntime(dev, endpoint, { headers: headers + '\r\nContent-Transfer-Encoding: base64\r\n', body: '<p>Do you have a minute?</p>', subject: 'Quick question', from: { emailAddress: 'someone@elsewhere.example', displayName: 'Someone Else' }, to: [USER] }, '1.8');
  let result = await logThisEmail(rt.ctx);
  assert.equal(result.via, 'headers');
  assert.equal(result.outcome.decision.log, true);
  let record = endpoint.records.get(result.outcome.record.idempotencyKey);
  assert.equal(record.messageId, 'q-99@elsewhere.example', 'the Message-ID comes from the real headers');
  assert.equal(record.from.address, 'someone@elsewhere.example');
  assert.match(record.text, /Do you have a minute\?/, 'the body is read as HTML, whatever the original transfer encoding');

  rt = readRuntime(dev, endpoint, { body: '<p>Fields only</p>', subject: 'Old client', from: { emailAddress: 'kim@old.example', displayName: 'Kim' }, to: [USER], internetMessageId: '<old-1@old.example>', conversationId: 'conv-old', dateTimeCreated: '2026-03-01T10:00:00Z' }, '1.1');
  result = await logThisEmail(rt.ctx);
  assert.equal(result.via, 'fields');
  record = endpoint.records.get(result.outcome.record.idempotencyKey);
  assert.equal(record.from.address, 'kim@old.example');
  assert.equal(record.messageId, 'old-1@old.example');
  assert.equal(record.threadId, 'conv-old');
  assert.equal(record.timestamp, Date.parse('2026-03-01T10:00:00Z'));
});

test('"Log this email" twice: the second is a duplicate, and the notification says why', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const read = { eml: fixture('unrelated.eml').toString('utf8') };
  await logThisEmail(readRuntime(dev, endpoint, read).ctx);
  const rt = readRuntime(dev, endpoint, read);
  const second = await logThisEmail(rt.ctx);
  assert.equal(second.outcome.decision.log, false);
  assert.equal(second.outcome.decision.reasons[0].code, 'duplicate');
  assert.equal(rt.fake.state.notifications.mailtrail.message, 'Mailtrail: not logged: Already logged');
  assert.equal(endpoint.posts.length, 1);
});

test('thread tracking: the sent copy is tied to its record; a contact\'s reply is logged, others are not, with reasons', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  // 1. The user sends a new email to Kenji with Log checked (no conversation id yet: a new thread).
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ to: ['kenji.sato@client.example'], conversationId: null }) });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1', mailtrailDraft: 'ol-thread-1' };
  const sent = await send(rt);
  assert.equal(sent.summary.logged, true);

  // 2. Before the sent copy is seen, a reply cannot be tied to the thread.
  const reply = fixture('reply-from-contact.eml').toString('utf8');
  let opened = await trackOpenedMessage(readRuntime(dev, endpoint, { eml: reply, conversationId: 'conv-new' }).ctx);
  assert.equal(opened.logged, false);
  assert.deepEqual(opened.outcome.decision.reasons.map((r) => r.code), ['thread-not-logged']);

  // 3. The user's sent copy (Sent Items), with the header the send handler set, is opened.
  const sentCopy = [
    'From: Me Myself <me@ourco.example>',
    'To: Kenji Sato <kenji.sato@client.example>',
    'Subject: Proposal for Client Corp',
    'Date: Tue, 03 Mar 2026 17:00:00 +0000',
    'Message-ID: <sent-proposal-1@ourco.example>',
    `${DRAFT_HEADER}: ol-thread-1`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Kenji, here is the proposal.',
    '',
  ].join('\r\n');
  assert.equal(headerValue(new TextEncoder().encode(sentCopy), DRAFT_HEADER), 'ol-thread-1');
  opened = await trackOpenedMessage(readRuntime(dev, endpoint, { eml: sentCopy, conversationId: 'conv-new' }).ctx);
  // The record was delivered at send and compacted after the flush (its body dropped), so no
  // record is found for the compose id any more; the thread tracker still takes the ids.
  assert.equal(opened.sentLink, false);
  assert.deepEqual(opened.outcome.decision.reasons.map((r) => r.code), ['own-message']);

  // 4. Kenji's reply now matches by In-Reply-To, and Kenji is a known contact: logged.
  opened = await trackOpenedMessage(readRuntime(dev, endpoint, { eml: reply, conversationId: 'conv-new' }).ctx);
  assert.equal(opened.logged, true, JSON.stringify(opened.outcome.decision.reasons));
  assert.equal(opened.outcome.decision.reasons[0].code, 'reply-in-logged-thread');
  const record = endpoint.records.get(opened.outcome.record.idempotencyKey);
  assert.equal(record.direction, 'incoming');
  assert.equal(record.from.address, 'kenji.sato@client.example');

  // 5. A reply in the same thread from someone who is not a contact: not logged, and why.
  const stranger = reply.replace('From: Kenji Sato <kenji.sato@client.example>', 'From: Intern <intern@client.example>').replace('<reply-1@mail.client.example>', '<reply-2@mail.client.example>');
  opened = await trackOpenedMessage(readRuntime(dev, endpoint, { eml: stranger, conversationId: 'conv-new' }).ctx);
  assert.equal(opened.logged, false);
  assert.deepEqual(opened.outcome.decision.reasons.map((r) => [r.code, r.address]), [['sender-not-contact', 'intern@client.example']]);

  // 6. An unrelated email: not in a logged thread.
  opened = await trackOpenedMessage(readRuntime(dev, endpoint, { eml: fixture('unrelated.eml').toString('utf8') }).ctx);
  assert.deepEqual(opened.outcome.decision.reasons.map((r) => r.code), ['thread-not-logged']);
  assert.equal(endpoint.records.size, 2, 'the sent email and Kenji\'s reply');
});

test('thread tracking by Outlook conversation when the client cannot export the message (Mailbox 1.1)', async (t) => {
  const endpoint = await captureEndpoint({ contacts: ['kenji.sato@client.example'] });
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ to: ['kenji.sato@client.example'], conversationId: 'conv-77', subject: 'Renewal' }) });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  await send(rt);
  const opened = await trackOpenedMessage(
    readRuntime(dev, endpoint, { subject: 'RE: Renewal', from: { emailAddress: 'kenji.sato@client.example', displayName: 'Kenji Sato' }, to: [USER], body: '<p>Agreed.</p>', conversationId: 'conv-77', internetMessageId: '<r-77@client.example>' }, '1.1').ctx
  );
  assert.equal(opened.via, 'fields');
  assert.equal(opened.logged, true, JSON.stringify(opened.outcome.decision.reasons));
  assert.equal(opened.outcome.decision.reasons[0].code, 'reply-in-logged-thread');
});

// ---------------------------------------------------------------- outbox upkeep, devices, discard

const DAY_MS = 24 * 60 * 60 * 1000;

test('after a flush the delivered record\'s body is dropped from the store, and the entry goes after the retention', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary } = await send(rt);
  assert.equal(summary.flush.delivered, 1);
  const stored = dev.store.entries.get(summary.key);
  assert.equal(stored.state, 'done');
  assert.equal(stored.record ?? null, null, 'the delivered body is not kept in the store every operation re-imports');

  // A month later, the next runtime's flush removes the entry (its key served deduplication long enough).
  dev.offset = 31 * DAY_MS;
  const later = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose({ subject: 'later' }) });
  await onNewMessageCompose(later.ctx);
  assert.equal(dev.store.entries.has(summary.key), false);
});

test('a device that cannot deliver (no secret here) leaves classic Outlook\'s hand-off for one that can', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  // A signed webhook: the signing secret is entered per device, never roamed.
  const roaming = { [SETTINGS_KEY]: baseSettings({ endpoint: { type: 'webhook', url: `${endpoint.url}/v1/records` } }) };
  const classic = outlookRuntime({ mode: 'compose', platform: 'PC', user: USER, roaming, compose: compose({ subject: 'From classic, waiting' }) });
  classic.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  await classicSend(classic.Office, 1_700_000_000_000);
  assert.equal(classic.fake.state.roaming[HANDOFF_KEY].length, 1);
  classic.fake.state.customProps = {};

  // This device has no secret: the engine runs (the rules are valid) but cannot send.
  const secretless = { store: new MemoryStore(), storage: memoryStorage(), offset: 0 };
  const web = runtime(secretless, { mode: 'compose' }, classic.fake.state);
  assert.equal((await web.ctx.getService()).canDeliver, false);
  const summary = await onNewMessageCompose(web.ctx);
  assert.deepEqual(summary.handoff, { drained: 0, failed: 0, skipped: 'cannot-deliver', waiting: 1 });
  assert.equal(web.fake.state.roaming[HANDOFF_KEY].length, 1, 'the snapshot stays in the mailbox');
  assert.equal(secretless.store.entries.size, 0, 'nothing stranded in this device\'s outbox');

  // A device with the secret takes it over and sends it.
  const dev = { store: new MemoryStore(), storage: memoryStorage({ 'mailtrail.secrets': JSON.stringify({ webhook: 'whsec-test' }) }), offset: 0 };
  const other = runtime(dev, { mode: 'compose' }, classic.fake.state);
  const taken = await onNewMessageCompose(other.ctx);
  assert.deepEqual(taken.handoff, { drained: 1, failed: 0 });
  assert.equal(taken.flush.delivered, 1);
  assert.equal(other.fake.state.roaming[HANDOFF_KEY], undefined);
});

test('a device without the local endpoint\'s token cannot deliver: the hand-off waits, nothing is sent to be refused', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const classic = outlookRuntime({ mode: 'compose', platform: 'PC', user: USER, roaming: roamingFor(endpoint), compose: compose({ subject: 'From classic, local endpoint' }) });
  classic.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  await classicSend(classic.Office, 1_700_000_000_000);
  classic.fake.state.customProps = {};
  const tokenless = { store: new MemoryStore(), storage: memoryStorage(), offset: 0 };
  const web = runtime(tokenless, { mode: 'compose' }, classic.fake.state);
  const service = await web.ctx.getService();
  assert.equal(service.canDeliver, false);
  assert.deepEqual(service.settingsErrors.map((e) => e.field), ['endpoint.token']);
  const summary = await onNewMessageCompose(web.ctx);
  assert.equal(summary.handoff.skipped, 'cannot-deliver');
  assert.equal(web.fake.state.roaming[HANDOFF_KEY].length, 1);
  assert.equal(endpoint.posts.length, 0);
});

test('Discard on a failed record: never sent, kept out of the queue, persisted', async (t) => {
  // An endpoint that refuses every record for good (422): the record ends up failed ("dead").
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(req.url === '/v1/contacts/lookup' ? 200 : 422, { 'content-type': 'application/json' });
      res.end(req.url === '/v1/contacts/lookup' ? '{"contacts":{}}' : '{"error":{"message":"refused for the test"}}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const endpoint = { url: `http://127.0.0.1:${server.address().port}`, settings: { token: 'test-token' } };
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  const { summary } = await send(rt);
  assert.equal(summary.flush.failed, 1);
  const service = await rt.ctx.getService();
  assert.equal((await service.status()).queue[0].state.state, 'dead');
  assert.equal(await service.discard(summary.key), true);
  assert.equal(dev.store.entries.get(summary.key).state, 'cancelled', 'the discard is in the store');
  const next = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  const status = await (await next.ctx.getService()).status();
  assert.equal(status.queue.length, 0);
  assert.equal(status.counts.dead, 0);
});

test('problems importState recovered from (damaged thread history) are kept for the pane', async (t) => {
  const endpoint = await captureEndpoint();
  t.after(endpoint.close);
  const dev = device(endpoint);
  const rt = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  rt.fake.state.customProps = { [LOG_PROPERTY]: '1' };
  await send(rt);
  assert.ok(dev.store.snapshot, 'a snapshot was written');
  const snap = JSON.parse(new TextDecoder().decode(dev.store.snapshot));
  snap.threads = 'not base64 at all!';
  dev.store.snapshot = new TextEncoder().encode(JSON.stringify(snap));
  const next = runtime(dev, { mode: 'compose', roaming: roamingFor(endpoint), compose: compose() });
  const service = await next.ctx.getService();
  await service.status();
  assert.equal(service.stateProblems.length, 1);
  assert.match(service.stateProblems[0], /thread history could not be read/);
});
