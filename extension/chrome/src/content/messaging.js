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

export function send(type, payload = {}, { timeoutMs = 15000 } = {}) {
  if (orphaned || !chrome.runtime?.id) {
    orphaned = true;
    return Promise.reject(failure('extension-reloaded', 'Mailtrail was updated; reload Gmail'));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(failure('timeout', `no answer to ${type} in ${timeoutMs} ms`)), timeoutMs);
    try {
      chrome.runtime.sendMessage({ type, ...payload }, (response) => {
        clearTimeout(timer);
        const lastError = chrome.runtime.lastError;
        if (lastError) return reject(failure('unreachable', lastError.message));
        if (!response) return reject(failure('unreachable', 'no answer'));
        if (!response.ok) return reject(failure(response.error?.code || 'error', response.error?.message || 'failed'));
        resolve(response.result);
      });
    } catch (e) {
      clearTimeout(timer);
      orphaned = true;
      reject(failure('extension-reloaded', String(e?.message || e)));
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
