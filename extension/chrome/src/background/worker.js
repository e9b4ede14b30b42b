// The extension's service worker: the only place the WebAssembly engine and the endpoint
// credentials live. Listeners are registered synchronously at the top level (MV3 requires it
// to deliver the event that woke the worker); each waits for the engine to be ready.

import { Host, ALARMS } from './host.js';
import { bccMissing, composeSend, composeSent, composeUndo, draftState, setDraftState } from './compose.js';
import {
  cancelScheduled,
  composeSchedule,
  discardScheduled,
  logScheduledNow,
  nextScheduled,
  runDueScheduled,
  scheduledBccMissing,
  scheduledIds,
  unschedule,
} from './schedule.js';
import { logMessage, threadMessage } from './read.js';
import { discard, getSettings, retry, saveSettings, status, testConnection } from './status.js';

const host = new Host();
// Scheduled logs become due with time: logged before each flush, and the alarm wakes for them.
host.dueWork = () => runDueScheduled(host);
host.nextDueWork = () => nextScheduled(host);
const ready = host.boot();
ready.catch((e) => console.error('[mailtrail] engine failed to start:', e));

// Messages content scripts on Gmail may send. They never receive settings or tokens.
const FROM_GMAIL = {
  ping: async () => ({ ok: true }),
  'account': (m) => host.noteAccount(m.address).then(() => ({ ok: true })),
  'draft:get': (m) => draftState(host, m),
  'draft:set': (m) => setDraftState(host, m),
  'compose:send': (m) => composeSend(host, m),
  'compose:undo': (m) => composeUndo(host, m),
  'compose:sent': (m) => composeSent(host, m),
  'compose:bcc-missing': (m) => (m.scheduleId ? scheduledBccMissing(host, m) : bccMissing(host, m)),
  'compose:schedule': (m) => composeSchedule(host, m),
  'compose:scheduled': (m) => scheduledIds(host, m),
  'compose:unschedule': (m) => unschedule(host, m),
  'schedule:cancel': (m) => cancelScheduled(host, m),
  'message:log': (m) => logMessage(host, m),
  'thread:message': (m) => threadMessage(host, m),
  'metric:send': (m) => {
    host.noteSendTiming(m.ms);
    return { ok: true };
  },
};

// Messages from the extension's own pages (popup, options).
const FROM_EXTENSION = {
  ...FROM_GMAIL,
  status: () => status(host),
  'outbox:retry': (m) => retry(host, m),
  'outbox:discard': (m) => discard(host, m),
  'schedule:discard': (m) => discardScheduled(host, m),
  'schedule:log-now': (m) => logScheduledNow(host, m),
  'connection:test': () => testConnection(host),
  'settings:get': () => getSettings(host),
  'settings:save': (m) => saveSettings(host, { ...m, save: true }),
  'settings:validate': (m) => saveSettings(host, { ...m, save: false }),
  'flush': () => host.flushSoon(),
  'diagnostics': () => ({ sendTimings: host.sendTimings, sendPhases: host.sendPhases, stats: host.stats, bootMs: host.bootMs }),
};

function handlersFor(sender) {
  if (sender.id !== chrome.runtime.id) return null;
  const ownPage = sender.url?.startsWith(chrome.runtime.getURL('')) && !sender.tab?.url?.startsWith('https://');
  if (ownPage) return FROM_EXTENSION;
  if (sender.tab && /^https:\/\/mail\.google\.com\//.test(sender.url || '')) return FROM_GMAIL;
  return null;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const handlers = handlersFor(sender);
  const handler = handlers && message && Object.hasOwn(handlers, message.type) ? handlers[message.type] : null;
  if (!handler) {
    sendResponse({ ok: false, error: { code: 'not-allowed', message: `unknown or not allowed: ${message?.type}` } });
    return false;
  }
  ready
    .then(() => handler(message, sender))
    .then(
      (result) => sendResponse({ ok: true, result }),
      (e) => sendResponse({ ok: false, error: { code: e?.code || 'error', message: String(e?.message || e) } }),
    );
  return true; // answers asynchronously
});

chrome.alarms.onAlarm.addListener((alarm) => {
  if (alarm.name === ALARMS.flush || alarm.name === ALARMS.sweep) ready.then(() => host.flushSoon());
});

chrome.storage.onChanged.addListener((_changes, area) => {
  if (area === 'managed') ready.then(() => host.applySettings()).then(() => host.flushSoon());
});

chrome.runtime.onInstalled.addListener((details) => {
  if (details.reason === 'install') chrome.runtime.openOptionsPage();
});

chrome.runtime.onStartup.addListener(() => ready.then(() => host.flushSoon()));

// For tests and debugging from the worker's console.
globalThis.mailtrail = host;
