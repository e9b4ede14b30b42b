// UI text in the user's Outlook display language (English, Japanese, Polish; English otherwise).
// Reason codes from the engine become sentences with the texts every Mailtrail UI shares
// (extension/shared/reasons/<lang>.json, also used by the Chrome extension and the endpoint's
// web UI); the codes themselves are the contract (src/reason.rs).
import en from './en.js';
import ja from './ja.js';
import pl from './pl.js';
import reasonsEn from '../../../shared/reasons/en.json' with { type: 'json' };
import reasonsJa from '../../../shared/reasons/ja.json' with { type: 'json' };
import reasonsPl from '../../../shared/reasons/pl.json' with { type: 'json' };
import { reasonMessageName, renderReason } from '../../../shared/reasons.js';

export const MESSAGES = { en, ja, pl };
export const REASONS = { en: reasonsEn, ja: reasonsJa, pl: reasonsPl };

/** The shared renderer's lookup (`reason_<code>`, `reason_about`, `reason_unknown`) over one language's texts. */
function reasonLookup(texts) {
  const byName = Object.fromEntries(Object.entries(texts.codes).map(([code, text]) => [reasonMessageName(code), text]));
  const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (m, name) => vars[name] ?? m);
  return (name, subs = []) => {
    if (name === 'reason_about') return fill(texts.about, { reason: subs[0], subject: subs[1] });
    if (name === 'reason_unknown') return fill(texts.unknown, { code: subs[0] });
    return byName[name] ?? '';
  };
}

/** `ja-JP` → `ja`; unknown languages → `en`. */
export function languageOf(tag) {
  const lang = String(tag || '').slice(0, 2).toLowerCase();
  return MESSAGES[lang] ? lang : 'en';
}

export function translator(lang) {
  const table = MESSAGES[languageOf(lang)];
  const t = (key, vars = {}) => {
    const text = table[key] ?? en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] === undefined || vars[name] === null ? m : String(vars[name])));
  };
  t.lang = languageOf(lang);
  const reasons = reasonLookup(REASONS[t.lang]);
  /** One engine reason (`{code, address, detail}`) as a sentence, as the Chrome extension says it. */
  t.reason = (reason) => renderReason(reason, reasons);
  return t;
}
