// Talking to the service worker. Every answer is `{ok, result}` or `{ok: false, error}`;
// this turns it into a promise that rejects with an Error carrying the worker's code.
// After the extension is reloaded or updated, this (orphaned) content script can no longer
// reach the worker: calls reject with code `extension-reloaded` and features stand down.

let orphaned = false;

export function isOrphaned() {
  return orphaned;
}

function failure(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/**
 * Sends a message to the worker. `timeoutMs`: stop waiting (rejects with code `timeout`; the
 * worker may still act on the message). `onLate(result)`: called if a successful answer
 * arrives after that timeout, so callers can correct what they told the user.
 * Error messages are in the user's language (the worker's own, from the engine, are passed on).
 */
export function send(type, payload = {}, { timeoutMs = 15000, onLate } = {}) {
  if (orphaned || !chrome.runtime?.id) {
    orphaned = true;
    return Promise.reject(failure('extension-reloaded', t('error_extension_reloaded') || 'Mailtrail was updated; reload Gmail'));
  }
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(failure('timeout', t('error_timeout') || `no answer to ${type} in ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      chrome.runtime.sendMessage({ type, ...payload }, (response) => {
        clearTimeout(timer);
        const lastError = chrome.runtime.lastError;
        if (timedOut) {
          if (!lastError && response?.ok && onLate) onLate(response.result);
          return;
        }
        if (lastError) return reject(failure('unreachable', lastError.message));
        if (!response) return reject(failure('unreachable', t('error_no_answer') || 'no answer'));
        if (!response.ok) return reject(failure(response.error?.code || 'error', response.error?.message || t('error_failed') || 'failed'));
        resolve(response.result);
      });
    } catch (e) {
      clearTimeout(timer);
      orphaned = true;
      reject(failure('extension-reloaded', t('error_extension_reloaded') || String(e?.message || e)));
    }
  });
}

/** chrome.i18n lookup; the name itself when missing (visible, so it gets noticed). */
export function t(name, substitutions) {
  try {
    return chrome.i18n.getMessage(name, substitutions) || '';
  } catch {
    return '';
  }
}
