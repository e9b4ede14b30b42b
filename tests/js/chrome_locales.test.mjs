// Every piece of UI text in the Chrome extension comes from _locales/{en,ja,pl}/messages.json
// (reason texts from extension/shared/reasons/, merged in at build):
// the three tables must have the same messages with the same placeholders, every reason code
// the engine can produce must be translated, and every name the code and pages use must exist.
// Run: node --test tests/js/chrome_locales.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { reasonMessageName } from '../../extension/shared/reasons.js';
import { chromeMessages } from '../../extension/shared/reasons/chrome_messages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXT = path.join(ROOT, 'extension/chrome');
const LANGS = ['en', 'ja', 'pl'];
// As the built extension has them: _locales plus the shared reason texts (merged by webpack).
const tables = Object.fromEntries(LANGS.map((l) => [l, chromeMessages(path.join(EXT, '_locales'), l)]));

function sourceFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(js|html)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Reason codes as src/reason.rs spells them (`Variant => "code"` in `as_str`). */
function reasonCodesFromSource() {
  const src = fs.readFileSync(path.join(ROOT, 'src/reason.rs'), 'utf8');
  const body = src.slice(src.indexOf('pub fn as_str'), src.indexOf('pub const ALL'));
  return [...body.matchAll(/=>\s*"([a-z-]+)"/g)].map((m) => m[1]);
}

test('the three tables have the same messages and placeholders', () => {
  const names = Object.keys(tables.en).sort();
  for (const l of ['ja', 'pl']) {
    assert.deepEqual(Object.keys(tables[l]).sort(), names, `${l} has the same message names as en`);
    for (const n of names) {
      const a = Object.keys(tables.en[n].placeholders || {}).sort();
      const b = Object.keys(tables[l][n].placeholders || {}).sort();
      assert.deepEqual(b, a, `${l}:${n} placeholders`);
    }
  }
});

test('every $NAME$ in a message is a declared placeholder, and every placeholder is used', () => {
  for (const l of LANGS) {
    for (const [n, m] of Object.entries(tables[l])) {
      assert.ok(typeof m.message === 'string' && m.message.trim(), `${l}:${n} is not empty`);
      assert.ok(/^[A-Za-z0-9_]+$/.test(n), `${n} is a valid message name`);
      const used = [...m.message.matchAll(/\$([A-Za-z0-9_]+)\$/g)].map((x) => x[1].toLowerCase());
      const declared = Object.keys(m.placeholders || {});
      for (const u of used) assert.ok(declared.includes(u), `${l}:${n} uses undeclared $${u}$`);
      for (const d of declared) assert.ok(used.includes(d), `${l}:${n} declares unused placeholder ${d}`);
    }
  }
});

test('translations are translations (ja and pl differ from en)', () => {
  const same = (l) => Object.keys(tables.en).filter((n) => tables[l][n].message === tables.en[n].message);
  // Names, product words and pure patterns may stay as they are; anything else is untranslated.
  const allowed = new Set(['ext_name', 'popup_gmail', 'options_endpoint_token', 'options_url_placeholder', 'reason_about']);
  for (const l of ['ja', 'pl']) assert.deepEqual(same(l).filter((n) => !allowed.has(n)), [], `${l} untranslated`);
});

test('every reason code of the engine has a sentence in every language', () => {
  const codes = new Set(reasonCodesFromSource());
  const node = path.join(ROOT, 'dist/engine/node/mailtrail.js');
  if (fs.existsSync(node)) {
    const engine = createRequire(import.meta.url)(node);
    for (const c of engine.reasonCodes()) codes.add(c);
  }
  assert.ok(codes.size >= 20, `found the reason codes (${codes.size})`);
  for (const code of codes) {
    for (const l of LANGS) assert.ok(tables[l][reasonMessageName(code)], `${l} translates reason ${code}`);
  }
  // And no translation for a code that no longer exists.
  const translated = Object.keys(tables.en).filter((n) => n.startsWith('reason_') && !['reason_about', 'reason_unknown'].includes(n));
  for (const n of translated) assert.ok([...codes].some((c) => reasonMessageName(c) === n), `${n} matches a reason code`);
});

test('every message name used by the pages, scripts and manifest exists', () => {
  const used = new Set();
  for (const file of [...sourceFiles(path.join(EXT, 'src')), ...sourceFiles(path.join(ROOT, 'extension/shared'))]) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/data-i18n(?:-[a-z-]+)?="([A-Za-z0-9_]+)"/g)) used.add(m[1]);
    for (const m of text.matchAll(/\bt\('([A-Za-z0-9_]+)'/g)) used.add(m[1]);
  }
  const manifest = fs.readFileSync(path.join(EXT, 'manifest.json'), 'utf8');
  for (const m of manifest.matchAll(/__MSG_([A-Za-z0-9_]+)__/g)) used.add(m[1]);
  // Names built at run time: directions, endpoint types, layout problems.
  for (const d of ['outgoing', 'incoming', 'forwarded']) used.add(`direction_${d}`);
  for (const e of ['local', 'hubspot', 'webhook']) used.add(`endpoint_${e}`);
  const gmail = fs.readFileSync(path.join(EXT, 'src/content/gmail.js'), 'utf8');
  for (const m of gmail.matchAll(/problems\.push\('([a-z-]+)'\)/g)) used.add(`layout_${m[1].replace(/-/g, '_')}`);
  for (const m of gmail.matchAll(/push\('(compose-[a-z-]+)'\)/g)) used.add(`layout_${m[1].replace(/-/g, '_')}`);
  assert.ok(used.size > 80, `found the names in use (${used.size})`);
  for (const n of used) assert.ok(tables.en[n], `en has "${n}"`);
});
