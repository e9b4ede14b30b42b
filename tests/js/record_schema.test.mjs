// Records produced by the engine validate against the published JSON Schema
// (docs/record.schema.json), for every direction and with attachments dropped and kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const wasm = require(join(root, 'dist/engine/node/mailtrail.js'));
const schema = JSON.parse(readFileSync(join(root, 'docs/record.schema.json'), 'utf8'));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
const NOW = 1772500500000;

const settings = {
  userAddresses: ['me@ourco.example'],
  internalDomains: ['ourco.example'],
  attachmentLimit: 1000,
};

function check(record) {
  assert.ok(record, 'a record was built');
  const ok = validate(JSON.parse(JSON.stringify(record)));
  assert.ok(ok, JSON.stringify(validate.errors, null, 2));
}

test('outgoing record from compose data, with a dropped attachment', () => {
  const engine = new wasm.Engine(settings);
  const email = engine.fromCompose({
    source: 'gmail',
    from: 'Me <me@ourco.example>',
    to: ['Doe, Jane <jane@customer.example>'],
    subject: 'Offer',
    html: '<p>Hi</p>',
    attachments: [{ name: 'small.pdf', size: 10, contentType: 'application/pdf' }, { name: 'big.zip', size: 5000 }],
    draftId: 'r-1',
  });
  const out = engine.process(email, { kind: 'send', logChecked: true }, [], NOW, { dryRun: true, includeRecord: true });
  check(out.record);
  assert.equal(out.record.droppedAttachments[0].name, 'big.zip');
  assert.ok(out.record.reasons.includes('attachments-too-large'));
});

test('incoming and forwarded records from raw messages', () => {
  const engine = new wasm.Engine(settings);
  const reply = Buffer.from('From: Jane <jane@customer.example>\r\nTo: me@ourco.example\r\nSubject: Re: Offer\r\nMessage-ID: <r@c>\r\nDate: Tue, 3 Mar 2026 10:15:00 +0900\r\n\r\nThanks');
  check(engine.processRaw(reply, { kind: 'manual' }, [], NOW, { dryRun: true, includeRecord: true }).record);
  const fwd = Buffer.from('From: colleague@ourco.example\r\nTo: me@ourco.example\r\nSubject: Fwd: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@klient.example\r\nTo: colleague@ourco.example\r\nSubject: x\r\nMessage-ID: <o@k>\r\n\r\nbody\r\n--B--\r\n');
  const out = engine.processRaw(fwd, { kind: 'manual' }, [], NOW, { dryRun: true, includeRecord: true });
  assert.equal(out.record.direction, 'forwarded');
  check(out.record);
});

test('without includeRecord the outcome carries a summary of the same record', () => {
  const engine = new wasm.Engine(settings);
  const raw = Buffer.from('From: Jane <jane@customer.example>\r\nTo: me@ourco.example, Ann <ann@customer.example>\r\nCc: cc@customer.example\r\nSubject: Re: Offer\r\nMessage-ID: <s@c>\r\nDate: Tue, 3 Mar 2026 10:15:00 +0900\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n--B\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--B--\r\n');
  const full = engine.processRaw(raw, { kind: 'manual' }, [], NOW, { dryRun: true, includeRecord: true });
  const lean = engine.processRaw(raw, { kind: 'manual' }, [], NOW, { dryRun: true });
  check(full.record);
  assert.equal(full.record.text, 'Thanks');
  assert.equal(full.record.attachments.length, 1);
  const summaryFields = ['idempotencyKey', 'direction', 'timestamp', 'subject', 'from', 'to', 'cc', 'bcc', 'threadId', 'source'];
  assert.deepEqual(Object.keys(lean.record).sort(), [...summaryFields].sort());
  for (const f of summaryFields) assert.deepEqual(lean.record[f], full.record[f], f);
  assert.deepEqual(lean.decision, full.decision);
  assert.equal(lean.queued, full.queued);
  assert.deepEqual(lean.record.to.map((p) => p.address), ['me@ourco.example', 'ann@customer.example']);
});

test('the schema rejects what is not a record', () => {
  assert.equal(validate({ schema: 'mailtrail.record/1' }), false);
});
