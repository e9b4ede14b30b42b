// Content script for https://mail.google.com/*: wires the features to the page. It only reads
// and changes the DOM and talks to the service worker; it never sees settings or tokens, and
// holds no logic about what gets logged (that is the engine's, in the worker).
//
// Gmail builds its UI late and rebuilds parts of it at will (restored composes after a reload,
// inline replies, pop-outs), so features are (re)applied on every DOM change (debounced)
// plus a periodic sweep that catches anything the observer missed.

import { accountIndex, extractRawSource, layoutProblems, rawSourceUrl } from './gmail.js';
import { send, t, isOrphaned } from './messaging.js';
import { toast as showToast } from './toast.js';
import { pageInfo } from './page-bridge.js';
import { setupCompose } from './compose.js';
import { setupLogButton } from './log-button.js';
import { setupScheduleSend } from './schedule-send.js';
import { setupThreadTracking } from './thread-tracking.js';

const SWEEP_MS = 2000;
const KEEPALIVE_MS = 20000;
const startedAt = Date.now();
const runtimeProblems = new Map(); // problem → {at, message}

const ctx = {
  doc: document,
  win: window,
  account: null,
  send,
  t,
  toast: (title, options) => showToast(document, title, options),
  problem(name, error) {
    runtimeProblems.set(name, { at: Date.now(), message: String(error?.message || error) });
  },
  /** The raw RFC 5322 source of a message, from Gmail's "show original" page. */
  async fetchRaw(messageId) {
    const { ik } = await pageInfo();
    const url = rawSourceUrl({ origin: location.origin, account: accountIndex(location), ik, messageId });
    const response = await fetch(url, { credentials: 'include' });
    if (!response.ok) throw new Error(t('error_raw_status', [String(response.status)]));
    const raw = extractRawSource(await response.text());
    if (raw === null) {
      ctx.problem('raw-source', 'the "show original" page has no message source');
      throw new Error(t('error_raw_source'));
    }
    return raw;
  },
};

const compose = setupCompose(ctx);
const features = [compose, setupScheduleSend(ctx, compose), setupLogButton(ctx), setupThreadTracking(ctx)];

function sweep() {
  if (isOrphaned()) return;
  for (const f of features) {
    try {
      f.sweep(document);
    } catch (e) {
      ctx.problem('sweep', e);
    }
  }
}

let scheduled = false;
const observer = new MutationObserver(() => {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    scheduled = false;
    sweep();
  }, 50);
});

function start() {
  observer.observe(document.documentElement, { childList: true, subtree: true });
  sweep();
  setInterval(sweep, SWEEP_MS);
  pageInfo().then((info) => {
    if (info.userEmail) {
      ctx.account = info.userEmail.toLowerCase();
      send('account', { address: ctx.account }).catch(() => {});
    }
  });
  // Keep the worker (and its engine) warm while a compose window is open, so Send does not
  // pay for a cold start.
  send('ping').catch(() => {});
  setInterval(() => {
    if (compose.count() > 0) send('ping').catch(() => {});
  }, KEEPALIVE_MS);
}

// The popup asks each Gmail tab whether its layout is recognised.
chrome.runtime.onMessage.addListener((message, _sender, sendResponse) => {
  if (message?.type !== 'layout:get') return false;
  const problems = layoutProblems(document, { loadedFor: Date.now() - startedAt });
  sendResponse({
    url: location.origin + location.pathname,
    account: ctx.account,
    problems,
    runtime: Object.fromEntries(runtimeProblems),
    composes: compose.count(),
  });
  return false;
});

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
