// Event handlers for classic Outlook on Windows, which runs them in a JavaScript-only runtime:
// one bundled script, ECMAScript 2016, no DOM, no localStorage, no IndexedDB, and no documented
// WebAssembly (the engine's wasm-bindgen glue also needs ES2017 and TextDecoder). So this path
// does only what must happen before the email leaves, and hands the rest to the engine:
//
//   OnNewMessageCompose: apply the default Log state to the item; if emails wait in the hand-off
//     queue, say so on the new message (the task pane drains the queue when opened).
//   OnMessageSend: with Log checked, add the CRM's BCC address (BCC mode, decided by bccGate.js,
//     the engine's rules) and, in API mode, store a compose snapshot in roamingSettings. The
//     next runtime with WebAssembly (this user's task pane here, or Outlook on the web / new
//     Outlook / Mac) runs it through the engine: same policy, same outbox, nothing lost.
//
// Both always complete the event and always allow sending: logging never stops an email.
import { officeCall, optional, randomId, withTimeout } from '../office/async.js';
import { loadProperties, logStateOf, draftIdOf, applyDefaultLogState } from '../office/itemState.js';
import { readComposeData } from '../office/message.js';
import { readSettings, enqueueHandoff, handoffQueue, handoffLost } from '../office/roaming.js';
import { NOTIFICATION_KEY } from '../office/keys.js';
import { bccDecision, outgoingLoggable } from './bccGate.js';

/** Outlook shows "taking longer than expected" after about 5 s; finish well before. */
export var SEND_DEADLINE_MS = 4000;

var WAITING = {
  en: 'Mailtrail: {n} sent email(s) wait to be logged. Open the Mailtrail pane to send them to your CRM.',
  ja: 'Mailtrail: 送信済みメール {n} 件が記録待ちです。Mailtrail パネルを開いて CRM に送信してください。',
  pl: 'Mailtrail: {n} wysł. wiadomości czeka na rejestrację. Otwórz panel Mailtrail, aby wysłać je do CRM.',
};

function language(Office) {
  var lang = String((Office && Office.context && Office.context.displayLanguage) || 'en').slice(0, 2).toLowerCase();
  return WAITING[lang] ? lang : 'en';
}

function profileAddress(Office) {
  var p = Office.context.mailbox && Office.context.mailbox.userProfile;
  return p && p.emailAddress ? [p.emailAddress] : [];
}

/** What this runtime offers, recorded with each snapshot: real data on the WebAssembly question. */
export function runtimeInfo() {
  return {
    kind: 'classic-js',
    webAssembly: typeof WebAssembly === 'object',
    textDecoder: typeof TextDecoder === 'function',
  };
}

/** `(event) → Promise<summary>`: OnNewMessageCompose in the JS-only runtime. */
export function newMessageCompose(Office) {
  var mailbox = Office.context.mailbox;
  var roaming = Office.context.roamingSettings;
  var settings = readSettings(roaming);
  var item = mailbox.item;
  return applyDefaultLogState(item, settings.logByDefault !== false).then(function (state) {
    var waiting = handoffQueue(roaming).length + (handoffLost(roaming).count || 0);
    if (!waiting || !item.notificationMessages) return { checked: state.checked, waiting: waiting };
    var message = WAITING[language(Office)].replace('{n}', String(waiting));
    var details = { type: 'informationalMessage', message: message, icon: 'Icon.16', persistent: false };
    return optional(officeCall(item.notificationMessages, 'replaceAsync', [NOTIFICATION_KEY, details]), null).then(function () {
      return { checked: state.checked, waiting: waiting };
    });
  });
}

/** `(event) → Promise<summary>`: OnMessageSend in the JS-only runtime. */
export function messageSend(Office, now) {
  var mailbox = Office.context.mailbox;
  var roaming = Office.context.roamingSettings;
  var item = mailbox.item;
  var settings = readSettings(roaming);
  var mode = settings.mode || 'api';
  var at = now || Date.now();
  return loadProperties(item).then(function (props) {
    var state = logStateOf(props, settings.logByDefault !== false);
    if (!state.checked) return { logged: false, reason: 'log-unchecked' };
    var draftId = draftIdOf(props).id;
    return readComposeData({ Office: Office, item: item, mailbox: mailbox, draftId: draftId }).then(function (compose) {
      var users = profileAddress(Office);
      var bcc = bccDecision(settings, compose, true, users);
      var addBcc = bcc.addBcc ? officeCall(item.bcc, 'addAsync', [[bcc.addBcc]]).then(function () {
        return true;
      }) : Promise.resolve(false);
      return addBcc.then(function (bccAdded) {
        if (mode !== 'api' && mode !== 'both') return { logged: bccAdded, reason: bcc.reason, bccAdded: bccAdded };
        var loggable = outgoingLoggable(settings, compose, users);
        if (!loggable.log) {
          // Not logged by the engine's rules: the engine still records why, but the body of an
          // email that must not be logged is not stored anywhere.
          delete compose.html;
          delete compose.text;
          compose.attachments = [];
        }
        var snapshot = { v: 1, id: randomId('h-'), at: at, logChecked: true, bccAdded: bccAdded, runtime: runtimeInfo(), compose: compose };
        var textBody = function () {
          return optional(officeCall(item.body, 'getAsync', [(Office.CoercionType && Office.CoercionType.Text) || 'text']), '');
        };
        return enqueueHandoff(roaming, snapshot, textBody, language(Office)).then(function (stored) {
          return { logged: loggable.log, reason: loggable.reason, bccAdded: bccAdded, handoff: stored };
        });
      });
    });
  });
}

/**
 * Wraps a handler so the event always completes, quickly: on error or after `deadlineMs` the
 * event completes with `completion` (default `{allowEvent: true}`: the email goes out; `null`
 * for function commands, which complete without options). Whatever was not done by then is not
 * done: the snapshot or BCC is written before completion or not at all.
 */
export function completing(work, deadlineMs, completion) {
  var options = completion === undefined ? { allowEvent: true } : completion;
  return function (event) {
    var finished = false;
    var finish = function (summary) {
      if (finished) return summary;
      finished = true;
      try {
        if (options === null) event.completed();
        else event.completed(options);
      } catch (e) {
        // Nothing more can be done: the platform times the event out (and sends the email).
      }
      return summary;
    };
    var run;
    try {
      run = Promise.resolve(work(event));
    } catch (e) {
      run = Promise.reject(e);
    }
    var guarded = typeof setTimeout === 'function' ? withTimeout(run, deadlineMs, function () {
      return { timedOut: true };
    }) : run;
    return guarded.then(finish, function (e) {
      return finish({ error: String((e && e.message) || e) });
    });
  };
}
