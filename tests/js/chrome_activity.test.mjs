// The popup's activity list with what the page learned after the engine's decision
// (extension/chrome/src/background/activity.js): a BCC address that could not be added.
// Run: node --test tests/js/chrome_activity.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORRECTIONS_LIMIT, addCorrection, correctedActivity } from '../../extension/chrome/src/background/activity.js';

const bccAdded = { at: 1000, subject: 'Intro call notes', logged: true, direction: 'outgoing', reasons: [{ code: 'log-checked' }, { code: 'bcc-added', address: 'log@bcc.crm.example' }], contacts: ['dave@customer.example'] };

test('BCC mode: an email sent without the BCC address is listed as not logged, without "BCC added"', () => {
  const corrections = addCorrection([], { at: 1000, subject: 'Intro call notes', address: 'log@bcc.crm.example', pushed: false });
  const [a] = correctedActivity([bccAdded], corrections);
  assert.equal(a.logged, false);
  assert.deepEqual(a.reasons.map((r) => r.code), ['log-checked']);
  assert.deepEqual(a.notes, [{ message: 'activity_bcc_not_added', substitutions: ['log@bcc.crm.example'] }]);
});

test('both modes: the record was pushed, so it stays logged, with a note', () => {
  const pushed = { ...bccAdded, key: 'c1-abc' };
  const [a] = correctedActivity([pushed], addCorrection([], { at: 1000, subject: 'Intro call notes', address: 'log@bcc.crm.example', pushed: true }));
  assert.equal(a.logged, true);
  assert.equal(a.notes[0].message, 'activity_bcc_not_added_pushed');
});

test('other entries are left as they are; corrections are bounded and not repeated', () => {
  const other = { ...bccAdded, at: 2000, subject: 'Other' };
  const corrections = addCorrection([], { at: 1000, subject: 'Intro call notes', address: 'x@y.example' });
  const out = correctedActivity([bccAdded, other], corrections);
  assert.equal(out[1], other);
  assert.equal(correctedActivity([other], []).at(0), other);
  let many = [];
  for (let i = 0; i < CORRECTIONS_LIMIT + 20; i++) many = addCorrection(many, { at: i, subject: 's', address: 'a@b.example' });
  many = addCorrection(many, { at: CORRECTIONS_LIMIT + 19, subject: 's', address: 'a@b.example' });
  assert.equal(many.length, CORRECTIONS_LIMIT);
  assert.equal(many[0].at, 20, 'the oldest went first');
});
