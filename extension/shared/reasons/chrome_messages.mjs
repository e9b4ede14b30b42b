// Build-time (Node) helper: the Chrome extension's `_locales/<lang>/messages.json` entries for
// reasons, made from the one source of reason texts (extension/shared/reasons/<lang>.json) that
// the Outlook add-in and the local endpoint's web UI read too. webpack merges them into the
// copied messages.json; the tests read the same merged tables.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reasonMessageName } from '../reasons.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REASON_LANGS = ['en', 'ja', 'pl'];

/** The shared reason texts of one language: `{about, unknown, codes: {code: text}}`. */
export function reasonTexts(lang) {
  return JSON.parse(fs.readFileSync(path.join(here, `${lang}.json`), 'utf8'));
}

/** `{reason}` style placeholders → Chrome's `$REASON$` with numbered substitutions. */
function chromeMessage(text, names, description) {
  const placeholders = {};
  let message = text;
  names.forEach((name, i) => {
    message = message.replace(`{${name}}`, `$${name.toUpperCase()}$`);
    placeholders[name] = { content: `$${i + 1}` };
  });
  return { message, ...(description ? { description } : {}), ...(names.length ? { placeholders } : {}) };
}

/** The `reason_*` messages for `lang`. */
export function reasonMessages(lang) {
  const texts = reasonTexts(lang);
  const out = {
    reason_about: chromeMessage(texts.about, ['reason', 'subject'], 'A reason and the address or detail it is about'),
    reason_unknown: chromeMessage(texts.unknown, ['code'], 'A reason code newer than these translations'),
  };
  for (const [code, text] of Object.entries(texts.codes)) out[reasonMessageName(code)] = chromeMessage(text, []);
  return out;
}

/** A `_locales/<lang>/messages.json` text with the reason messages merged in. */
export function withReasonMessages(messagesJson, lang) {
  const table = JSON.parse(messagesJson);
  for (const name of Object.keys(table)) {
    if (name.startsWith('reason_')) throw new Error(`${lang}/messages.json: ${name} belongs in extension/shared/reasons/${lang}.json`);
  }
  return JSON.stringify({ ...table, ...reasonMessages(lang) }, null, 2);
}

/** The complete Chrome table of `lang`, as the built extension has it. */
export function chromeMessages(localesDir, lang) {
  return JSON.parse(withReasonMessages(fs.readFileSync(path.join(localesDir, lang, 'messages.json'), 'utf8'), lang));
}
