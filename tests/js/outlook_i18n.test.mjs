// UI text of the Outlook add-in in English, Japanese and Polish.
//   node --test tests/js/outlook_i18n.test.mjs      (needs scripts/build-wasm: reason codes come from the engine)
import test from 'node:test';
import assert from 'node:assert/strict';
import { MESSAGES, REASONS, translator, languageOf } from '../../extension/outlook/src/i18n/index.js';
import { loadEngine } from '../fixtures/outlook/harness.mjs';

const placeholders = (s) => (s.match(/\{\w+\}/g) || []).sort();

test('every language has every key, with the same placeholders', () => {
  const keys = Object.keys(MESSAGES.en);
  assert.ok(keys.length > 60, `found the add-in's messages (${keys.length})`);
  for (const lang of ['ja', 'pl']) {
    assert.deepEqual(Object.keys(MESSAGES[lang]).sort(), [...keys].sort(), lang);
    for (const key of keys) assert.deepEqual(placeholders(MESSAGES[lang][key]), placeholders(MESSAGES.en[key]), `${lang} ${key}`);
  }
});

test('every reason code the engine can give has a sentence in every language (the shared texts)', async () => {
  const { reasonCodes } = await loadEngine();
  const codes = reasonCodes();
  assert.ok(codes.length >= 26);
  for (const lang of ['en', 'ja', 'pl']) {
    for (const code of codes) {
      assert.ok(REASONS[lang].codes[code], `${lang}: no sentence for ${code}`);
      if (lang !== 'en') assert.notEqual(REASONS[lang].codes[code], REASONS.en.codes[code], `${lang}: ${code} is English`);
    }
    // Nothing translated that the engine does not know (a renamed code would leave a stale one).
    for (const code of Object.keys(REASONS[lang].codes)) assert.ok(codes.includes(code), `${lang}: ${code} is not an engine reason code`);
  }
  // The add-in's own tables hold no reason texts any more (one source for every UI).
  for (const lang of ['en', 'ja', 'pl']) assert.deepEqual(Object.keys(MESSAGES[lang]).filter((k) => k.startsWith('reason.')), [], lang);
});

test('Japanese and Polish text is in those languages (script and diacritics), not a copy', () => {
  const ja = Object.values(MESSAGES.ja).filter((s) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(s)).length;
  assert.ok(ja / Object.keys(MESSAGES.ja).length > 0.9, 'most Japanese strings contain kana or kanji');
  const pl = Object.values(MESSAGES.pl).filter((s) => /[ąćęłńóśźż]/i.test(s)).length;
  assert.ok(pl / Object.keys(MESSAGES.pl).length > 0.4, 'Polish strings use Polish letters');
});

test('the translator: language from Outlook, placeholders, reasons with addresses, unknown codes', () => {
  assert.equal(languageOf('ja-JP'), 'ja');
  assert.equal(languageOf('pl-PL'), 'pl');
  assert.equal(languageOf('de-DE'), 'en');
  const t = translator('pl-PL');
  assert.equal(t('outbox.sent', { n: 3 }), 'Wysłano rekordy: 3.');
  // Reasons read as they do in the Chrome extension: the sentence, then what it is about.
  assert.equal(t.reason({ code: 'never-log-domain', address: 'x@competitor.example' }), 'Domena na liście „nigdy nie rejestruj”: x@competitor.example');
  assert.equal(translator('ja').reason({ code: 'sender-not-contact', address: 'a@b.example' }), '差出人はコンタクトではありません：a@b.example');
  assert.equal(translator('en').reason({ code: 'log-checked' }), 'The Log checkbox was checked');
  assert.equal(translator('en').reason({ code: 'something-new' }), 'Reason "something-new"');
});
