// The content script's side of the page hook (page/hook.js): Gmail's send sync results and
// the account's `ik`/address, passed by window.postMessage between the two worlds.

import { accountFromTitle } from './gmail.js';

const FROM_PAGE = 'mailtrail-page';
const TO_PAGE = 'mailtrail-content';

const syncListeners = new Set();
let info = null;
let waiters = [];

window.addEventListener('message', (event) => {
  if (event.source !== window || event.data?.source !== FROM_PAGE) return;
  const data = event.data;
  if (data.type === 'sync') {
    for (const listener of syncListeners) listener(Array.isArray(data.items) ? data.items : [], !!data.parsed);
  } else if (data.type === 'info') {
    info = { ik: typeof data.ik === 'string' ? data.ik : null, userEmail: typeof data.userEmail === 'string' ? data.userEmail : null };
    for (const w of waiters) w(info);
    waiters = [];
  }
});

/** Called with `(items, parsed)` for every send sync call the page made. */
export function onSync(listener) {
  syncListeners.add(listener);
}

/** The account's address in Gmail's title, when the hook is silent (see accountFromTitle). */
function addressFromTitle(doc) {
  return accountFromTitle(doc.title);
}

/** `{ik, userEmail}` of the account in this tab. */
export function pageInfo({ timeoutMs = 1500 } = {}) {
  if (info?.ik && info.userEmail) return Promise.resolve(info);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(info || { ik: null, userEmail: addressFromTitle(document) }), timeoutMs);
    waiters.push((value) => {
      clearTimeout(timer);
      resolve({ ...value, userEmail: value.userEmail || addressFromTitle(document) });
    });
    window.postMessage({ source: TO_PAGE, type: 'info' }, window.location.origin);
  });
}
