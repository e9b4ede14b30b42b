// Compiled (not run) by tests/js/engine_types.test.mjs with `tsc --noEmit --strict`: the engine's
// generated declarations (dist/engine/web/mailtrail.d.ts) must describe the API the extension
// and the add-in use. The lines marked @ts-expect-error must NOT compile: a declaration that
// degrades to `any` would let them through and fail the test.
import { Engine, validateSettings, reasonCodes } from '../../dist/engine/web/mailtrail.js';
import type { Email, Trigger, ReasonCode, Record as MailRecord, Change, DeliveryOutcome, Entry } from '../../dist/engine/web/mailtrail.js';

const engine = new Engine({ userAddresses: ['me@ourco.example'], endpoint: { type: 'webhook', url: 'https://crm.example/hook', secret: 's' } });
const email: Email = engine.fromCompose({ source: 'gmail', from: 'Me <me@ourco.example>', to: ['a@b.example', { address: 'c@d.example', name: 'C' }], subject: 'Hi' });
const trigger: Trigger = { kind: 'send', logChecked: true };
const outcome = engine.process(email, trigger, engine.addressesToCheck(email), Date.now());
const logged: boolean = outcome.decision.log;
const key: string | undefined = outcome.record?.idempotencyKey;
const firstReason: ReasonCode | undefined = outcome.decision.reasons[0]?.code;
const preview = engine.processRaw(new Uint8Array([]), { kind: 'manual' }, [], null, { dryRun: true, includeRecord: true });
if (preview.record && 'text' in preview.record) {
  const full: MailRecord = preview.record;
  const body: string | null = full.text;
  void body;
}
const changes: Change[] = engine.takeChanges();
for (const c of changes) {
  if ('put' in c) {
    const stored: Entry = c.put;
    if (stored.state === 'sending') { const until: number = stored.leaseUntil; void until; }
  }
}
for (const due of engine.takeDue(Date.now(), 10)) {
  const result: Promise<DeliveryOutcome> = engine.deliver(due.record, due.maybeSent);
  void result.then((o) => engine.complete(due.key, o, Date.now()));
}
const report = validateSettings({ mode: 'bcc' });
if (!report.ok) { const field: string = report.errors[0].field; void field; }
const codes: ReasonCode[] = reasonCodes();
void engine.flush().then((r) => r.delivered + r.failed);
void engine.status().counts;

// @ts-expect-error: a trigger kind that does not exist
engine.process(email, { kind: 'sent' }, [], null);
// @ts-expect-error: "send" needs logChecked
const noBox: Trigger = { kind: 'send' };
// @ts-expect-error: an outcome without the record's bodies has no text
const text: string = outcome.record!.text;
// @ts-expect-error: reason codes are a closed set
const made: ReasonCode = 'too-nice';
void [logged, key, firstReason, codes, noBox, text, made];

// Extraction: typed input and results.
import { extractForward, splitReply } from '../../dist/engine/web/mailtrail.js';
const fwd = extractForward({ text: 'body', subject: 'Fwd: x' });
const sender: string | undefined = fwd.email?.from?.address;
const newText: string = splitReply({ html: '<p>hi</p>' }).reply;
// @ts-expect-error: an input needs text, html or raw
extractForward({ subject: 'x' });
void [sender, newText];
