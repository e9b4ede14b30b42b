// Rendering the engine's reasons in the user's language (extension/shared/reasons.js).
// Run: node --test tests/js/chrome_reasons.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { headlineReason, reasonMessageName, renderReason, renderReasons } from '../../extension/shared/reasons.js';
import { chromeMessages } from '../../extension/shared/reasons/chrome_messages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** chrome.i18n.getMessage over a real table: $NAME$ placeholders filled from substitutions. */
function i18n(lang) {
  const table = chromeMessages(path.join(ROOT, 'extension/chrome/_locales'), lang);
  return (name, subs = []) => {
    const m = table[name];
    if (!m) return '';
    return m.message.replace(/\$([A-Za-z0-9_]+)\$/g, (_, p) => {
      const content = m.placeholders?.[p.toLowerCase()]?.content || '';
      return content.replace(/\$(\d)/g, (_m, i) => subs[Number(i) - 1] ?? '');
    });
  };
}

test('message names follow the codes', () => {
  assert.equal(reasonMessageName('never-log-domain'), 'reason_never_log_domain');
  assert.equal(reasonMessageName('log-checked'), 'reason_log_checked');
});

test('a reason with its address, in three languages', () => {
  const r = { code: 'never-log-domain', address: 'spy@eu.competitor.example' };
  assert.equal(renderReason(r, i18n('en')), 'Domain on the never-log list: spy@eu.competitor.example');
  assert.equal(renderReason(r, i18n('ja')), '記録しないドメインです：spy@eu.competitor.example');
  assert.equal(renderReason(r, i18n('pl')), 'Domena na liście „nigdy nie rejestruj”: spy@eu.competitor.example');
});

test('address and detail together; no address, no colon', () => {
  const t = i18n('en');
  assert.equal(renderReason({ code: 'attachments-too-large', detail: 'video.mov (80 MB)' }, t), 'Attachments over the size limit were left out; the email is logged: video.mov (80 MB)');
  assert.equal(renderReason({ code: 'log-checked' }, t), 'The Log checkbox was checked');
  assert.equal(renderReason({ code: 'contact-created', address: 'a@b.example', detail: 'x' }, t), 'New contact created: a@b.example — x');
});

test('a code newer than the translations is still shown, never blank', () => {
  assert.equal(renderReason({ code: 'brand-new-code' }, i18n('en')), 'Reason "brand-new-code"');
  assert.equal(renderReason({ code: 'brand-new-code' }, () => ''), 'brand-new-code');
});

test('lists keep the engine order and drop repeats', () => {
  const t = i18n('en');
  const reasons = [{ code: 'no-loggable-recipients' }, { code: 'never-log-address', address: 'a@x.example' }, { code: 'never-log-address', address: 'a@x.example' }];
  assert.deepEqual(renderReasons(reasons, t), ['Nobody left to log it against (every recipient is excluded)', 'On the never-log list: a@x.example']);
  assert.deepEqual(renderReasons(undefined, t), []);
  assert.equal(headlineReason({ reasons }, t), 'Nobody left to log it against (every recipient is excluded)');
  assert.equal(headlineReason({}, t), '');
});
