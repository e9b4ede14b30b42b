// Feature: the Log checkbox in every compose window, and Send.
//
// Send (button click or Ctrl/⌘+Enter) is caught in the capture phase, before Gmail sees it.
// With Log checked, the compose fields go to the worker, which decides and makes the record
// durable in its outbox (with a not-before time covering Undo Send); only then is the send
// handed back to Gmail — after adding the CRM's BCC address when the decision asks for it.
// Unchecked, Gmail sends at once and the worker only notes the decision. Until the worker has
// said what the checkbox starts as (the draft's remembered state, or the logByDefault setting),
// its state is unknown: a send then waits for the worker, which applies that default.
// After the send, the page hook reports the ids Gmail assigned; they are attached to the record
// of a logged send (never to anything for a send that was not logged).
// Undo Send — Gmail's Undo link or its `z` shortcut — applies to the most recent send only,
// within its Undo period. Scheduled sends (schedule-send.js) share the send memory and Undo.

import {
  SELECTORS,
  addBcc,
  click,
  draftKey,
  findComposes,
  isSendShortcut,
  isSendUndo,
  isUndoShortcut,
  sendUndoLink,
  sendUndone,
  logCheckboxAnchor,
  normalizeDraftId,
  readCompose,
  sendButton,
} from './gmail.js';
import { headlineReason, renderReasons } from '../../../shared/reasons.js';
import { onSync } from './page-bridge.js';
import { replaceToast } from './toast.js';

/** Longest the send is held for the worker (a cold start included) before Gmail sends anyway. */
const SEND_TIMEOUT_MS = 4000;
/** Sends waiting for their ids from the sync call, and for Undo. */
const SENT_MEMORY_MS = 5 * 60 * 1000;
/** Undo period assumed while the worker has not said (Gmail's longest is 30 s; settings allow 60). */
const UNDO_UNKNOWN_MS = 60 * 1000;
/** How long after `z` Gmail has to show it undid the send. */
const UNDO_KEY_WAIT_MS = 2000;

export function setupCompose(ctx) {
  const { send, t, toast, doc } = ctx;
  const states = new WeakMap();
  const composes = new Set();
  // Every send, logged or not, newest last: {draftId, at, logged, key, undoUntil, matched, undone},
  // and for a scheduled one {scheduled: true, scheduleId, pendingIds}.
  const sent = [];

  function composeOf(target) {
    if (!(target instanceof Element)) return null;
    for (const c of composes) {
      if (!c.isConnected) composes.delete(c);
      else if (c.contains(target)) return c;
    }
    return null;
  }

  function enhance(compose) {
    const known = states.get(compose);
    if (known) {
      if (!known.el.isConnected) {
        // Gmail rebuilt the toolbar: put the checkbox back with its state.
        const anchor = logCheckboxAnchor(compose);
        if (anchor) anchor.after.after(known.el);
      }
      const key = draftKey(compose);
      if (key && key !== known.key) {
        // Gmail saved the draft and gave it an id: remember the state under it from now on.
        if (known.touched) send('draft:set', { key, previousKey: known.key, checked: known.checkbox.checked }).catch(() => {});
        known.key = key;
      }
      return;
    }
    const anchor = logCheckboxAnchor(compose);
    if (!anchor) return;
    const el = doc.createElement(anchor.cell ? 'td' : 'div');
    el.className = 'mailtrail-log';
    const label = doc.createElement('label');
    label.title = t('compose_log_tooltip');
    const checkbox = doc.createElement('input');
    checkbox.type = 'checkbox';
    checkbox.className = 'mailtrail-log-checkbox';
    // Unknown until the worker answers (a quick send then lets the worker apply the default).
    checkbox.checked = false;
    checkbox.indeterminate = true;
    checkbox.disabled = true;
    label.title = t('compose_log_waiting_tooltip');
    const text = doc.createElement('span');
    text.textContent = t('compose_log_label');
    label.append(checkbox, text);
    el.appendChild(label);
    anchor.after.after(el);
    const state = { el, checkbox, key: draftKey(compose), touched: false, known: false, sending: false, releasing: false };
    states.set(compose, state);
    composes.add(compose);
    checkbox.addEventListener('change', () => {
      state.touched = true;
      state.known = true;
      send('draft:set', { key: state.key, checked: checkbox.checked }).catch(() => {});
    });
    send('draft:get', { key: state.key })
      .then((r) => {
        el.dataset.mode = r.mode;
        if (r.blocked) {
          // Settings invalid and none valid before: nothing can be logged; say so.
          el.dataset.blocked = 'true';
          label.title = t('compose_log_blocked_tooltip');
        } else {
          if (!state.touched) checkbox.checked = r.checked;
          checkbox.indeterminate = false;
          checkbox.disabled = false;
          state.known = true;
          label.title = t('compose_log_tooltip');
        }
        el.dataset.ready = 'true';
      })
      .catch(() => {
        // The worker did not answer: the user may still choose; until then sends ask the worker.
        checkbox.disabled = false;
        label.title = t('compose_log_tooltip');
        el.dataset.ready = 'error';
      });
  }

  function release(compose, state) {
    const button = sendButton(compose);
    state.releasing = true;
    try {
      if (button) click(button);
    } finally {
      state.releasing = false;
      state.sending = false;
      state.el.classList.remove('mailtrail-busy');
    }
  }

  /**
   * What the send's notice says: `[title, {kind, details}]`. `bccResult` is what adding the
   * BCC address did ('failed', or 'missed' when the answer came after Gmail had sent).
   */
  function outcomeNotice(reply, bccResult) {
    const d = reply.decision;
    const details = renderReasons(d.reasons, t);
    if (d.log && d.addBcc && !d.push && (bccResult === 'failed' || bccResult === 'missed')) {
      // BCC mode: the BCC address *is* the logging; without it the CRM gets nothing.
      return [t('toast_not_logged_title'), { kind: 'warn', details: [t('toast_bcc_not_logged_detail', [d.addBcc])] }];
    }
    if (d.log) return [t('toast_logged_title'), { kind: 'ok', details }];
    return [t('toast_not_logged_title'), { kind: 'warn', details: details.length ? details : [headlineReason(d, t)] }];
  }

  function errorNotice(error) {
    if (error.code === 'settings-invalid') {
      return [t('toast_settings_invalid_title'), { kind: 'warn', details: [t('toast_settings_invalid_detail')] }];
    }
    if (error.code === 'timeout') {
      // The worker may still queue it: never suggest logging it again from here.
      return [t('toast_send_timeout_title'), { kind: 'warn', details: [t('toast_send_timeout_detail')], timeoutMs: 20000 }];
    }
    return [t('toast_send_error_title'), { kind: 'warn', details: [t('toast_send_error_detail'), error.message] }];
  }

  function notify(reply, error, bccResult) {
    if (error) return toast(...errorNotice(error));
    if (bccResult === 'failed' && reply.decision.push) {
      toast(t('toast_bcc_failed_title'), { kind: 'warn', details: [reply.decision.addBcc] });
    }
    return toast(...outcomeNotice(reply, bccResult));
  }

  async function startSend(compose, via) {
    const state = states.get(compose);
    if (!state || state.sending) return;
    state.sending = true;
    const started = performance.now();
    // null: not known yet (the worker applies the draft's remembered state or the default).
    const logChecked = state.known ? state.checkbox.checked : null;
    let data;
    try {
      data = readCompose(compose, { userEmail: ctx.account });
    } catch (e) {
      release(compose, state);
      toast(t('toast_send_error_title'), { kind: 'warn', details: [String(e.message || e)] });
      return;
    }
    const account = ctx.account || undefined;
    if (logChecked === false) {
      // Nothing to add, nothing to wait for: Gmail sends now; the decision is noted. Remembered
      // too: Undo and the sent ids must know the newest send was not logged.
      const entry = rememberSent({ draftId: data.draftId, logged: false });
      release(compose, state);
      send('compose:send', { compose: data, logChecked: false, account, via })
        .then((r) => (entry.undoUntil = r.notBefore ?? entry.undoUntil))
        .catch(() => {});
      return;
    }
    state.el.classList.add('mailtrail-busy');
    let reply = null;
    let error = null;
    let notice = null;
    // Until the worker answers, this send counts as logged (it may well be queued).
    const entry = rememberSent({ draftId: data.draftId, logged: true });
    const late = (r) => {
      // The answer came after Gmail sent (timeout): the record may be queued after all.
      const bcc = r.decision?.addBcc ? 'missed' : null;
      applyReply(entry, r, bcc);
      reportBccMissing(r, bcc, { at: r.activityAt });
      if (notice) replaceToast(notice, ...outcomeNotice(r, bcc));
    };
    try {
      reply = await send('compose:send', { compose: data, logChecked, account, via }, { timeoutMs: SEND_TIMEOUT_MS, onLate: late });
    } catch (e) {
      error = e;
      if (e.code !== 'timeout') entry.logged = false; // the worker refused or failed: nothing queued
    }
    const durableMs = performance.now() - started;
    let bccResult = null;
    if (reply) {
      if (reply.decision?.addBcc) bccResult = addBcc(compose, reply.decision.addBcc);
      applyReply(entry, reply, bccResult);
      reportBccMissing(reply, bccResult, { at: reply.activityAt });
    }
    release(compose, state);
    if (reply) send('metric:send', { ms: durableMs }).catch(() => {});
    notice = notify(reply, error, bccResult);
  }

  /**
   * The engine noted "BCC address added" before the page tried; when adding it failed (or the
   * answer came too late), the worker corrects what the popup's activity list says. `target`:
   * `{at}` of the activity entry.
   */
  function reportBccMissing(reply, bccResult, target) {
    const address = reply?.decision?.addBcc;
    if (!address || (bccResult !== 'failed' && bccResult !== 'missed')) return;
    send('compose:bcc-missing', { ...target, address }).catch(() => {});
  }

  function rememberSent(fields) {
    const now = Date.now();
    while (sent.length && now - sent[0].at > SENT_MEMORY_MS) sent.shift();
    const entry = { key: null, undoUntil: now + UNDO_UNKNOWN_MS, ...fields, at: now, matched: false, undone: false };
    sent.push(entry);
    return entry;
  }

  /**
   * What the worker said about a send: whether it is logged (a queued record, or the BCC address
   * — unless adding it failed and nothing is pushed), its record's key, and until when Undo can
   * withdraw it.
   */
  function applyReply(entry, reply, bccResult) {
    const d = reply.decision || {};
    const bccMissing = (bccResult === 'failed' || bccResult === 'missed') && !d.push;
    entry.logged = !!d.log && !bccMissing;
    entry.key = reply.key ?? null;
    if (reply.undoUntil || reply.notBefore) entry.undoUntil = reply.undoUntil || reply.notBefore;
  }

  // ---- capture-phase interception (runs before any of Gmail's own listeners)

  function onPointer(event) {
    const target = event.target;
    const button = target instanceof Element ? target.closest(SELECTORS.sendButton) : null;
    if (!button) return;
    const compose = composeOf(button);
    const state = compose && states.get(compose);
    if (!state || state.releasing) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.type === 'click') startSend(compose, 'click');
  }

  function onKey(event) {
    if (!isSendShortcut(event)) return;
    const compose = composeOf(event.target);
    const state = compose && states.get(compose);
    if (!state || state.releasing) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    startSend(compose, 'shortcut');
  }

  /**
   * Gmail's Undo (in the "Message sent" notice) undoes the most recent send. Only that send's
   * record is withdrawn, only within its Undo period; when the most recent send was not
   * logged there is nothing to withdraw (never an older email's record).
   */
  function onUndo(event) {
    if (!isSendUndo(event.target)) return;
    undoLast();
  }

  /**
   * Gmail's `z` shortcut does what Undo does — but only with Gmail's keyboard shortcuts on, so
   * the record is withdrawn once Gmail shows it undid the send (the notice changed), never on
   * the key alone.
   */
  function onUndoKey(event) {
    if (!isUndoShortcut(event)) return;
    const link = sendUndoLink(doc);
    const last = sent.at(-1);
    if (!link || !last || last.undone) return;
    const until = Date.now() + UNDO_KEY_WAIT_MS;
    const check = () => {
      if (sendUndone(doc, link)) undoLast(last);
      else if (Date.now() < until && link.isConnected) setTimeout(check, 50);
    };
    setTimeout(check, 0);
  }

  /** Withdraws the most recent send's record (`expected`: only if it is still that send). */
  function undoLast(expected) {
    const last = sent.at(-1);
    if (!last || last.undone || (expected && last !== expected)) return;
    last.undone = true; // its ids, if they still come, are not attached either
    if (!last.logged || Date.now() > last.undoUntil) return;
    const withdrawn = last.scheduled
      ? last.scheduleId
        ? send('compose:unschedule', { id: last.scheduleId })
        : Promise.resolve({ cancelled: 0 })
      : send('compose:undo', { draftId: last.draftId, key: last.key || undefined });
    withdrawn
      .then((r) => {
        if (r.cancelled) toast(t('toast_undo_title'), { kind: 'info' });
      })
      .catch(() => {});
  }

  for (const type of ['mousedown', 'mouseup', 'click']) ctx.win.addEventListener(type, onPointer, true);
  ctx.win.addEventListener('keydown', onKey, true);
  ctx.win.addEventListener('click', onUndo, true);
  ctx.win.addEventListener('keydown', onUndoKey, true);
  // Leaving or reloading the page: make sure a state chosen before Gmail named the draft
  // follows it to its id, so the restored compose shows it.
  ctx.win.addEventListener('pagehide', () => {
    for (const c of composes) if (c.isConnected) enhance(c);
  });

  // ---- ids Gmail assigned (page hook)

  onSync(async (items) => {
    for (const item of items) {
      const draftId = normalizeDraftId(item.draftId);
      let entry = draftId ? sent.find((s) => s.draftId === draftId && !s.matched) : null;
      if (!entry && draftId) {
        // The draft had no id yet when Send was pressed (sent before Gmail saved it): pair
        // with the one send still waiting, never guess between several.
        const waiting = sent.filter((s) => !s.matched && !/^r-?\d+$/.test(s.draftId || ''));
        if (waiting.length === 1) entry = waiting[0];
      }
      if (!entry) continue;
      entry.matched = true;
      // A send that was not logged (or was undone) has no record to tie the ids to, and its
      // thread must not become a tracked one.
      if (entry.undone || !entry.logged) continue;
      if (entry.scheduled) {
        // Gmail holds it until its send time: the worker logs it then, with these ids.
        if (entry.scheduleId) sendScheduledIds(entry.scheduleId, item);
        else entry.pendingIds = item; // the worker's answer is late: sent when it comes
        continue;
      }
      try {
        if (item.messageId) {
          await send('compose:sent', { draftId: entry.draftId, messageId: item.messageId, threadId: item.threadId });
        } else if (item.gmailMessageId) {
          const raw = await ctx.fetchRaw(item.gmailMessageId);
          await send('compose:sent', { draftId: entry.draftId, threadId: item.threadId, raw });
        }
      } catch (e) {
        ctx.problem('sent-ids', e);
      }
    }
  });

  function sendScheduledIds(id, item) {
    send('compose:scheduled', {
      id,
      draftId: normalizeDraftId(item.draftId),
      sendAt: Number.isFinite(item.sendAt) ? item.sendAt : null,
      messageId: item.messageId || undefined,
      threadId: item.threadId || undefined,
      gmailMessageId: item.gmailMessageId || undefined,
    }).catch((e) => ctx.problem('scheduled-ids', e));
  }

  return {
    sweep(root) {
      for (const compose of findComposes(root)) enhance(compose);
    },
    count: () => [...composes].filter((c) => c.isConnected).length,
    // For the schedule-send feature, which shares the Log checkbox, the send memory and Undo.
    composeOf,
    /** The Log checkbox's state: true/false, or null while the worker has not said. */
    logChoice(compose) {
      const state = states.get(compose);
      if (!state) return undefined;
      return state.known ? state.checkbox.checked : null;
    },
    setBusy(compose, busy) {
      states.get(compose)?.el.classList.toggle('mailtrail-busy', busy);
    },
    rememberSent,
    /** The worker's answer to a scheduled send: `{held, id, decision}`. */
    scheduleAnswered(entry, reply, bccResult) {
      const d = reply.decision || {};
      entry.logged = !!reply.held;
      entry.scheduleId = reply.id || null;
      if (reply.undoUntil) entry.undoUntil = reply.undoUntil;
      if (entry.scheduleId && entry.pendingIds) sendScheduledIds(entry.scheduleId, entry.pendingIds);
      entry.pendingIds = null;
      if (d.addBcc && (bccResult === 'failed' || bccResult === 'missed') && entry.scheduleId) {
        send('compose:bcc-missing', { scheduleId: entry.scheduleId, address: d.addBcc }).catch(() => {});
      }
    },
    outcomeNotice,
    errorNotice,
    sendTimeoutMs: SEND_TIMEOUT_MS,
  };
}
