// Fills an HTML page's text from the translation tables. Markup names its messages:
//   <h1 data-i18n="options_title"></h1>
//   <input data-i18n-placeholder="options_url_placeholder" data-i18n-title="…" data-i18n-aria-label="…">
// `t(name)` is the platform's lookup (chrome.i18n.getMessage in the extension). Text only,
// through textContent/setAttribute: translations are never parsed as HTML.

const ATTRIBUTES = [
  ['data-i18n-placeholder', 'placeholder'],
  ['data-i18n-title', 'title'],
  ['data-i18n-aria-label', 'aria-label'],
];

/** Returns the names that had no translation (a test asserts there are none). */
export function localizeDocument(root, t, lang) {
  const missing = [];
  const lookup = (name) => {
    const text = t(name);
    if (!text) missing.push(name);
    return text || name;
  };
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = lookup(el.getAttribute('data-i18n'));
  }
  for (const [data, attr] of ATTRIBUTES) {
    for (const el of root.querySelectorAll(`[${data}]`)) {
      el.setAttribute(attr, lookup(el.getAttribute(data)));
    }
  }
  const doc = root.ownerDocument || root;
  if (lang && doc.documentElement) doc.documentElement.lang = lang;
  return missing;
}

/** Formats a timestamp (ms) for lists, in the UI language. */
export function formatTime(ms, lang) {
  if (!Number.isFinite(ms)) return '';
  try {
    return new Intl.DateTimeFormat(lang || undefined, { dateStyle: 'short', timeStyle: 'medium' }).format(new Date(ms));
  } catch {
    return new Date(ms).toISOString();
  }
}
