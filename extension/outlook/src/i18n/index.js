// UI text in the user's Outlook display language (English, Japanese, Polish; English otherwise).
// Reason codes from the engine become sentences here; the codes themselves are the contract
// (src/reason.rs).
import en from './en.js';
import ja from './ja.js';
import pl from './pl.js';

export const MESSAGES = { en, ja, pl };

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
  /** One engine reason (`{code, address, detail}`) as a sentence. */
  t.reason = (reason) => {
    const key = `reason.${reason.code}`;
    if (!(key in table) && !(key in en)) return t('reason.unknown', { code: reason.code });
    return t(key, { address: reason.address ?? '', detail: reason.detail ?? '' }).replace(/\s+\(\)/, '');
  };
  return t;
}
