// Classic Outlook on Windows: the JavaScript-only event runtime (no WebAssembly).
//   node --test tests/js/outlook_classic.test.mjs      (needs scripts/build-wasm; builds launchevent.js itself)
//
// - the BCC gate gives the engine's answer on a matrix of cases (the one duplicated rule);
// - the handlers, on office-addin-mock objects: default Log state, unchecked, BCC once, snapshot
//   hand-off (never-log without body, shortened to fit 32 KB, counted when nothing fits), failing
//   and hanging Office calls still complete the event allowing the send;
// - the built launchevent.js parses as ECMAScript 2016 and runs in a context without WebAssembly,
//   TextDecoder, DOM or localStorage.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { loadEngine, outlookRuntime, buildClassicBundle } from '../fixtures/outlook/harness.mjs';
import { bccDecision, outgoingLoggable } from '../../extension/outlook/src/classic/bccGate.js';
import { newMessageCompose, messageSend, completing } from '../../extension/outlook/src/classic/handlers.js';
import { HANDOFF_KEY, HANDOFF_LOST_KEY, LOG_PROPERTY, SETTINGS_KEY } from '../../extension/outlook/src/office/keys.js';

const require = createRequire(import.meta.url);

const BCC = 'log@bcc.crm.example';
const FWD = 'fwd@crm.example';
const settingsFor = (extra = {}) => ({
  mode: 'bcc',
  bccAddress: BCC,
  forwardingAddress: FWD,
  userAddresses: ['me@ourco.example'],
  internalDomains: ['ourco.example'],
  neverLogDomains: ['competitor.example'],
  neverLogAddresses: ['private@client.example'],
  ...extra,
});

const CASES = [
  { to: ['bob@client.example'] },
  { to: ['private@client.example'] },
  { to: ['x@competitor.example'] },
  { to: ['x@eu.competitor.example'] },
  { to: ['x@notcompetitor.example'] },
  { to: ['colleague@ourco.example'] },
  { to: ['colleague@ourco.example', 'bob@client.example'] },
  { to: ['me@ourco.example'] },
  { to: ['bob@client.example'], cc: [BCC] },
  { to: ['bob@client.example'], bcc: [BCC] },
  { to: [] },
  { to: [FWD] },
  { to: ['Bob@CLIENT.Example'] },
  { to: ['colleague@sub.ourco.example'] },
  { to: ['private@client.example', 'x@competitor.example', 'colleague@ourco.example'] },
  { to: ['colleague@ourco.example', 'me@ourco.example'] },
  { to: ['colleague@ourco.example', 'x@competitor.example'] },
  { to: ['colleague@ourco.example'], cc: [BCC] },
  { to: ['bob@client.example', 'bob@client.example'], cc: ['Bob@client.example'] },
];

test('the BCC gate agrees with the engine on every case of the matrix', async () => {
  const { Engine, validateSettings } = await loadEngine();
  let compared = 0;
  for (const extra of [{}, { logInternalOnly: true }, { mode: 'both' }, { neverLogDomains: [] }, { internalDomains: [] }]) {
    const report = validateSettings(settingsFor(extra));
    assert.ok(report.ok, JSON.stringify(report.errors));
    const settings = report.settings;
    const engine = new Engine(settings);
    for (const c of CASES) {
      const compose = { from: { address: 'me@ourco.example' }, to: c.to.map((a) => ({ address: a })), cc: (c.cc || []).map((a) => ({ address: a })), bcc: (c.bcc || []).map((a) => ({ address: a })), subject: 'Matrix' };
      const email = engine.fromCompose(compose);
      const everyone = engine.addressesToCheck(email);
      const decision = engine.decide(email, { kind: 'send', logChecked: true }, everyone, 1_700_000_000_000).decision;
      const gate = bccDecision(settings, compose, true, []);
      const label = `${JSON.stringify(extra)} ${JSON.stringify(c)}`;
      assert.equal(gate.addBcc, decision.addBcc, `addBcc for ${label}: engine says ${JSON.stringify(decision.reasons)}`);
      assert.equal(outgoingLoggable(settings, compose, []).log, decision.log, `log for ${label}`);
      if (!decision.log) assert.equal(gate.reason, decision.reasons[0].code, `reason for ${label}`);
      else if (!decision.addBcc) assert.equal(gate.reason, 'bcc-already-present', label);
      compared++;
    }
    engine.free();
  }
  assert.equal(compared, 5 * CASES.length);
});

test('the BCC gate: unchecked, API mode, no BCC address, and an internationalised domain it cannot compare', () => {
  const s = settingsFor();
  const compose = { to: [{ address: 'bob@client.example' }] };
  assert.deepEqual(bccDecision(s, compose, false, []), { addBcc: null, reason: 'log-unchecked' });
  assert.deepEqual(bccDecision({ ...s, mode: 'api' }, compose, true, []), { addBcc: null, reason: 'api-mode' });
  assert.deepEqual(bccDecision({ ...s, bccAddress: null }, compose, true, []), { addBcc: null, reason: 'no-bcc-address' });
  // No IDNA in the JS-only runtime: a non-ASCII domain might be on a never-log list; not logged.
  assert.equal(bccDecision(s, { to: [{ address: 'kunde@bücher.example' }] }, true, []).addBcc, null);
  // The profile address the handler passes counts as the user.
  assert.equal(bccDecision({ ...s, userAddresses: [] }, { to: [{ address: 'boss@ourco.example' }] }, true, ['boss@ourco.example']).reason, 'internal-only');
});

function classicRuntime({ settings = settingsFor(), compose = {}, customProps, roaming = {}, ...rest } = {}) {
  const rt = outlookRuntime({
    mode: 'compose',
    platform: 'PC',
    user: { emailAddress: 'me@ourco.example', displayName: 'Me Myself' },
    roaming: { [SETTINGS_KEY]: settings, ...roaming },
    compose: { to: ['bob@client.example'], subject: 'Proposal', body: '<p>Hello Bob</p>', conversationId: 'conv-1', ...compose },
    ...rest,
  });
  if (customProps) rt.fake.state.customProps = customProps;
  return rt;
}

test('OnNewMessageCompose applies the default Log state, and keeps a state already chosen', async () => {
  let rt = classicRuntime();
  let summary = await newMessageCompose(rt.Office);
  assert.equal(summary.checked, true);
  assert.equal(rt.fake.state.customProps[LOG_PROPERTY], '1');
  assert.match(rt.fake.state.customProps.mailtrailDraft, /^ol-/);

  rt = classicRuntime({ settings: settingsFor({ logByDefault: false }) });
  summary = await newMessageCompose(rt.Office);
  assert.equal(rt.fake.state.customProps[LOG_PROPERTY], '0');

  rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '0', mailtrailDraft: 'ol-kept' } });
  summary = await newMessageCompose(rt.Office);
  assert.equal(summary.checked, false);
  assert.equal(rt.fake.calls('customProps.saveAsync').length, 0, 'nothing to save when the state was already chosen');
});

test('OnNewMessageCompose says so on the new message when sent emails wait in the hand-off queue', async () => {
  const rt = classicRuntime({ displayLanguage: 'ja-JP', roaming: { [HANDOFF_KEY]: [{ id: 'h-1', at: 1, compose: { subject: 'a' } }, { id: 'h-2', at: 2, compose: { subject: 'b' } }] } });
  const summary = await newMessageCompose(rt.Office);
  assert.equal(summary.waiting, 2);
  const note = rt.fake.state.notifications.mailtrail;
  assert.equal(note.type, 'informationalMessage');
  assert.match(note.message, /2 件/);
  assert.ok(note.message.length <= 150);
});

test('OnMessageSend with Log unchecked: no BCC, no snapshot, the email goes', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '0' }, settings: settingsFor({ mode: 'both' }) });
  let completedWith;
  const handler = completing(() => messageSend(rt.Office, 1_000), 4000);
  const summary = await handler({ completed: (o) => (completedWith = o) });
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.equal(summary.reason, 'log-unchecked');
  assert.equal(rt.fake.calls('bcc.addAsync').length, 0);
  assert.equal(rt.fake.state.roaming[HANDOFF_KEY], undefined);
});

test('OnMessageSend in BCC mode adds the BCC address once, even when the handler runs again', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '1' } });
  const first = await messageSend(rt.Office, 1_000);
  assert.equal(first.bccAdded, true);
  assert.deepEqual(rt.fake.state.compose.bcc.map((r) => r.emailAddress), [BCC]);
  // A second send attempt on the same item (another add-in blocked the first): already present.
  const again = outlookRuntime({ mode: 'compose', platform: 'PC', user: { emailAddress: 'me@ourco.example' } }, rt.fake.state);
  const second = await messageSend(again.Office, 2_000);
  assert.equal(second.bccAdded, false);
  assert.equal(second.reason, 'bcc-already-present');
  assert.equal(rt.fake.calls('bcc.addAsync').length, 1);
  assert.equal(rt.fake.state.roaming[HANDOFF_KEY], undefined, 'BCC mode pushes nothing: no snapshot');
});

test('OnMessageSend in BCC mode does not add the BCC for a never-log recipient', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '1' }, compose: { to: ['x@competitor.example'] } });
  const summary = await messageSend(rt.Office, 1_000);
  assert.equal(summary.bccAdded, false);
  assert.equal(summary.reason, 'no-loggable-recipients');
  assert.equal(rt.fake.calls('bcc.addAsync').length, 0);
});

test('OnMessageSend in API mode leaves a compose snapshot for the engine', async () => {
  const rt = classicRuntime({
    settings: settingsFor({ mode: 'api' }),
    customProps: { [LOG_PROPERTY]: '1', mailtrailDraft: 'ol-draft-1' },
    compose: { cc: ['ops@client.example'], attachments: [{ name: 'quote.pdf', size: 1234, contentType: 'application/pdf' }], inReplyTo: '<orig-1@client.example>' },
  });
  const summary = await messageSend(rt.Office, 1_700_000_000_000);
  assert.equal(summary.logged, true);
  assert.deepEqual(summary.handoff, { stored: true, shortened: false });
  const [snapshot] = rt.fake.state.roaming[HANDOFF_KEY];
  assert.equal(snapshot.at, 1_700_000_000_000);
  assert.equal(snapshot.logChecked, true);
  assert.equal(snapshot.runtime.kind, 'classic-js');
  assert.deepEqual(snapshot.compose.to, [{ address: 'bob@client.example' }]);
  assert.deepEqual(snapshot.compose.cc, [{ address: 'ops@client.example' }]);
  assert.equal(snapshot.compose.html, '<p>Hello Bob</p>');
  assert.equal(snapshot.compose.threadId, 'conv-1');
  assert.equal(snapshot.compose.draftId, 'ol-draft-1');
  assert.equal(snapshot.compose.inReplyTo, '<orig-1@client.example>');
  assert.deepEqual(snapshot.compose.attachments, [{ name: 'quote.pdf', size: 1234, inline: false, contentType: 'application/pdf' }]);
  assert.equal(snapshot.compose.from.address, 'me@ourco.example');

  // The engine accepts the snapshot as compose data and logs it against the external people.
  const { Engine } = await loadEngine();
  const engine = new Engine(settingsFor({ mode: 'api' }));
  const outcome = engine.process(engine.fromCompose(snapshot.compose), { kind: 'send', logChecked: true }, [], snapshot.at, {});
  assert.equal(outcome.decision.log, true);
  assert.deepEqual(outcome.decision.contacts.map((c) => c.address).sort(), ['bob@client.example', 'ops@client.example']);
  assert.equal(outcome.record.timestamp, snapshot.at);
  engine.free();
});

test('OnMessageSend in API mode keeps no body of an email that is not logged', async () => {
  const rt = classicRuntime({ settings: settingsFor({ mode: 'api' }), customProps: { [LOG_PROPERTY]: '1' }, compose: { to: ['private@client.example'], body: '<p>secret terms</p>', attachments: [{ name: 'a.pdf', size: 5 }] } });
  const summary = await messageSend(rt.Office, 1_000);
  assert.equal(summary.logged, false);
  const [snapshot] = rt.fake.state.roaming[HANDOFF_KEY];
  assert.equal(snapshot.compose.html, undefined);
  assert.equal(snapshot.compose.text, undefined);
  assert.deepEqual(snapshot.compose.attachments, []);
  assert.doesNotMatch(JSON.stringify(rt.fake.state.roaming), /secret terms/);
});

test('a body too large for roamingSettings is shortened to text with a visible note; when nothing fits, the loss is counted', async () => {
  const big = '<div>' + 'Long line of the proposal. '.repeat(3000) + '</div>';
  const rt = classicRuntime({ settings: settingsFor({ mode: 'api' }), customProps: { [LOG_PROPERTY]: '1' }, compose: { body: big }, displayLanguage: 'pl-PL' });
  const summary = await messageSend(rt.Office, 1_000);
  assert.deepEqual(summary.handoff, { stored: true, shortened: true });
  const size = Buffer.byteLength(JSON.stringify(rt.fake.state.roaming));
  assert.ok(size <= 32 * 1024, `roamingSettings ${size} bytes`);
  const [snapshot] = rt.fake.state.roaming[HANDOFF_KEY];
  assert.equal(snapshot.compose.html, undefined);
  assert.match(snapshot.compose.text, /^Long line of the proposal\./);
  assert.match(snapshot.compose.text, /Mailtrail: ta kopia treści została skrócona/);
  assert.equal(snapshot.shortened.htmlDropped, true);

  const crowd = Array.from({ length: 1500 }, (_, i) => `person${i}@client.example`);
  const full = classicRuntime({ settings: settingsFor({ mode: 'api' }), customProps: { [LOG_PROPERTY]: '1' }, compose: { to: crowd, subject: 'All hands' } });
  const lost = await messageSend(full.Office, 1_000);
  assert.deepEqual(lost.handoff, { stored: false });
  assert.equal(full.fake.state.roaming[HANDOFF_LOST_KEY].count, 1);
  assert.equal(full.fake.state.roaming[HANDOFF_LOST_KEY].last[0].subject, 'All hands');
});

test('a failing Office call still completes the event and allows sending', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '1' }, failures: { 'bcc.addAsync': 'The item is locked' } });
  let completedWith;
  const summary = await completing(() => messageSend(rt.Office, 1_000), 4000)({ completed: (o) => (completedWith = o) });
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.match(summary.error, /locked/);
});

test('a hanging Office call does not hold the email: the event completes at the deadline', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '1' }, delays: { 'body.getAsync': 60_000 } });
  const started = Date.now();
  let completedWith;
  const summary = await completing(() => messageSend(rt.Office, 1_000), 300)({ completed: (o) => (completedWith = o) });
  assert.ok(Date.now() - started < 1500);
  assert.deepEqual(completedWith, { allowEvent: true });
  assert.deepEqual(summary, { timedOut: true });
});

test('the built launchevent.js is ECMAScript 2016 and uses no later built-ins', async () => {
  const source = fs.readFileSync(await buildClassicBundle(), 'utf8');
  const acorn = require('acorn');
  assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 2016, sourceType: 'script' }));
  assert.throws(() => acorn.parse('async function f() {}', { ecmaVersion: 2016 }), 'the parser does reject ES2017');
  for (const later of ['Object.entries', 'Object.values', 'Object.fromEntries', 'padStart', 'padEnd', '.finally(', 'allSettled', 'structuredClone', 'import(']) {
    assert.ok(!source.includes(later), `launchevent.js uses ${later}`);
  }
});

test('the built launchevent.js runs without WebAssembly, TextDecoder, DOM or localStorage and adds the BCC', async () => {
  const rt = classicRuntime({ customProps: { [LOG_PROPERTY]: '1' }, settings: settingsFor({ mode: 'both' }) });
  const sandbox = vm.createContext({ Office: rt.fake.Office, setTimeout, clearTimeout, console });
  vm.runInContext('delete globalThis.WebAssembly; delete globalThis.TextDecoder; delete globalThis.TextEncoder;', sandbox);
  assert.equal(vm.runInContext('typeof WebAssembly + typeof window + typeof document + typeof localStorage', sandbox), 'undefinedundefinedundefinedundefined');
  vm.runInContext(fs.readFileSync(await buildClassicBundle(), 'utf8'), sandbox, { filename: 'launchevent.js' });
  assert.deepEqual(Object.keys(rt.fake.actions).sort(), ['onMessageSend', 'onNewMessageCompose']);
  const result = await rt.fake.fire('onMessageSend');
  assert.deepEqual(JSON.parse(JSON.stringify(result.completed)), { allowEvent: true });
  assert.ok(result.ms < 1000, `took ${result.ms} ms`);
  assert.deepEqual(rt.fake.state.compose.bcc.map((r) => r.emailAddress), [BCC]);
  const [snapshot] = rt.fake.state.roaming[HANDOFF_KEY];
  assert.equal(snapshot.bccAdded, true);
  assert.deepEqual(JSON.parse(JSON.stringify(snapshot.runtime)), { kind: 'classic-js', webAssembly: false, textDecoder: false });
});
