// The content script's channel to the worker (extension/chrome/src/content/messaging.js), with a
// stand-in for chrome.runtime/chrome.i18n: its errors are in the user's language (they reach
// Gmail's page in notices), and an answer that comes after the caller stopped waiting is handed
// to `onLate` so the caller can correct what it told the user.
// Run: node --test tests/js/chrome_messaging.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';

const pending = [];
globalThis.chrome = {
  runtime: {
    id: 'test-extension',
    lastError: undefined,
    sendMessage(message, callback) {
      pending.push({ message, callback });
    },
  },
  // A "language" whose every text is recognisable: `[name]`.
  i18n: { getMessage: (name) => `[${name}]` },
};

const { send } = await import('../../extension/chrome/src/content/messaging.js');

test('a timeout rejects with a localised message; a late answer goes to onLate', async () => {
  const late = [];
  const promise = send('compose:send', { logChecked: true }, { timeoutMs: 30, onLate: (r) => late.push(r) });
  await assert.rejects(promise, (e) => e.code === 'timeout' && e.message === '[error_timeout]');
  pending.shift().callback({ ok: true, result: { queued: true, key: 'k1' } });
  assert.deepEqual(late, [{ queued: true, key: 'k1' }]);
});

test('no answer and a failure without a message are localised; the worker\'s code is kept', async () => {
  let p = send('ping');
  pending.shift().callback(undefined);
  await assert.rejects(p, (e) => e.code === 'unreachable' && e.message === '[error_no_answer]');
  p = send('ping');
  pending.shift().callback({ ok: false, error: { code: 'settings-invalid' } });
  await assert.rejects(p, (e) => e.code === 'settings-invalid' && e.message === '[error_failed]');
});

test('after the extension was reloaded, calls say so in the user\'s language', async () => {
  globalThis.chrome.runtime.sendMessage = () => {
    throw new Error('Extension context invalidated.');
  };
  await assert.rejects(send('ping'), (e) => e.code === 'extension-reloaded' && e.message === '[error_extension_reloaded]');
  await assert.rejects(send('ping'), (e) => e.code === 'extension-reloaded' && e.message === '[error_extension_reloaded]');
});
