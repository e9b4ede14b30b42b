// Turns the engine's machine-readable reasons ({code, address, detail}) into sentences in the
// user's language. The codes are a stable contract (src/reason.rs, docs/reasons.md); the words
// live in extension/shared/reasons/<lang>.json, shared by every UI (merged into Chrome's
// `_locales/*/messages.json` at build, read directly by the Outlook add-in), so this module only
// knows how a code maps to a message name.
//
// `t(name, substitutions)` is the platform's lookup: `chrome.i18n.getMessage` in the extension.

/** The message name for a reason code: `never-log-domain` → `reason_never_log_domain`. */
export function reasonMessageName(code) {
  return 'reason_' + String(code).replace(/[^A-Za-z0-9]/g, '_');
}

/**
 * One reason as a sentence. The address (or detail) the reason is about follows the sentence,
 * through the translatable `reason_about` pattern ("$REASON$: $SUBJECT$"), so translators never
 * have to handle a missing address.
 */
export function renderReason(reason, t) {
  const name = reasonMessageName(reason.code);
  let text = t(name);
  if (!text) {
    // A code newer than this build's translations: still say something true.
    text = t('reason_unknown', [String(reason.code)]) || String(reason.code);
  }
  const about = [reason.address, reason.detail].filter(Boolean).join(' — ');
  return about ? t('reason_about', [text, about]) || `${text}: ${about}` : text;
}

/** Every reason of a decision, whole-email ones first (the engine's order), without repeats. */
export function renderReasons(reasons, t) {
  const out = [];
  for (const r of reasons || []) {
    const line = renderReason(r, t);
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

/** The first reason that explains a "not logged" outcome, for one-line toasts. */
export function headlineReason(decision, t) {
  const reasons = decision?.reasons || [];
  if (!reasons.length) return '';
  return renderReason(reasons[0], t);
}
