// Runs in Gmail's own JavaScript world (a `world: "MAIN"` content script, document_start).
// Two jobs, nothing else:
//   - watch Gmail's send sync calls (XHR and fetch) and tell the content script which message
//     and thread ids Gmail assigned to each sent draft;
//   - answer the content script's question for the account's `ik` and address (GLOBALS).
// It has no access to the extension and holds no secrets. Parsing is in gmail.js with every
// other Gmail-specific detail; a response it does not understand yields nothing.

import { isSyncSendUrl, parseSyncSend } from '../content/gmail.js';

const FROM_CONTENT = 'mailtrail-content';
const TO_CONTENT = 'mailtrail-page';

function post(type, data) {
  window.postMessage({ source: TO_CONTENT, type, ...data }, window.location.origin);
}

function report(requestBody, responseText) {
  let items = [];
  try {
    items = parseSyncSend(requestBody, responseText);
  } catch {
    items = [];
  }
  post('sync', { items, parsed: items.length > 0 });
}

function install() {
  const requests = new WeakMap(); // xhr → url
  const proto = XMLHttpRequest.prototype;
  const open = proto.open;
  const send = proto.send;
  proto.open = function (method, url, ...rest) {
    requests.set(this, String(url));
    return open.call(this, method, url, ...rest);
  };
  proto.send = function (body) {
    const url = requests.get(this);
    if (isSyncSendUrl(url) && typeof body === 'string') {
      this.addEventListener('load', () => {
        if (this.responseType === '' || this.responseType === 'text') report(body, this.responseText);
      });
    }
    return send.call(this, body);
  };

  const originalFetch = window.fetch;
  window.fetch = function (input, init) {
    const result = originalFetch.apply(this, arguments);
    const url = typeof input === 'string' ? input : input?.url;
    const body = init?.body;
    if (isSyncSendUrl(url) && typeof body === 'string') {
      result
        .then((response) => response.clone().text())
        .then((text) => report(body, text))
        .catch(() => {});
    }
    return result;
  };

  window.addEventListener('message', (event) => {
    if (event.source !== window || event.data?.source !== FROM_CONTENT || event.data.type !== 'info') return;
    const g = window.GLOBALS;
    const pick = (i) => (Array.isArray(g) && typeof g[i] === 'string' ? g[i] : null);
    post('info', { ik: pick(9), userEmail: pick(10) });
  });
}

install();
