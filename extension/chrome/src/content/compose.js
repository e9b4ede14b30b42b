// Feature: the Log checkbox in every compose window, and Send.
//
// Send (button click or Ctrl/⌘+Enter) is caught in the capture phase, before Gmail sees it.
// With Log checked, the compose fields go to the worker, which decides and makes the record
// durable in its outbox (with a not-before time covering Undo Send); only then is the send
// handed back to Gmail — after adding the CRM's BCC address when the decision asks for it.
// Unchecked, Gmail sends at once and the worker only notes the decision.
// After the send, the page hook reports the ids Gmail assigned; they are attached to the record.

import {
  SELECTORS,
  addBcc,
  click,
  draftKey,
  findComposes,
  isSendShortcut,
  logCheckboxAnchor,
  normalizeDraftId,
  readCompose,
  sendButton,
} from './gmail.js';
import { headlineReason, renderReasons } from '../../../shared/reasons.js';
import { onSync } from './page-bridge.js';

/** Longest the send is held for the worker (a cold start included) before Gmail sends anyway. */
const SEND_TIMEOUT_MS = 4000;
/** Sends waiting for their ids from the sync call, and for Undo. */
const SENT_MEMORY_MS = 5 * 60 * 1000;

export function setupCompose(ctx) {
  const { send, t, toast, doc } = ctx;
  const states = new WeakMap();
  const composes = new Set();
  const sent = []; // {draftId, at, key, matched}

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
    checkbox.checked = true;
    const text = doc.createElement('span');
    text.textContent = t('compose_log_label');
    label.append(checkbox, text);
    el.appendChild(label);
    anchor.after.after(el);
    const state = { el, checkbox, key: draftKey(compose), touched: false, sending: false, releasing: false };
    states.set(compose, state);
    composes.add(compose);
    checkbox.addEventListener('change', () => {
      state.touched = true;
      send('draft:set', { key: state.key, checked: checkbox.checked }).catch(() => {});
    });
    send('draft:get', { key: state.key })
      .then((r) => {
        if (!state.touched) checkbox.checked = r.checked;
        el.dataset.mode = r.mode;
        el.dataset.ready = 'true';
      })
      .catch(() => {
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

  function notify(reply, error, bccResult) {
    if (error) {
      toast(t('toast_send_error_title'), { kind: 'warn', details: [t('toast_send_error_detail'), error.message] });
      return;
    }
    const d = reply.decision;
    const details = renderReasons(d.reasons, t);
    if (bccResult === 'failed') {
      toast(t('toast_bcc_failed_title'), { kind: 'warn', details: [d.addBcc] });
    }
    if (d.log) toast(t('toast_logged_title'), { kind: 'ok', details });
    else toast(t('toast_not_logged_title'), { kind: 'warn', details: details.length ? details : [headlineReason(d, t)] });
  }

  async function startSend(compose, via) {
    const state = states.get(compose);
    if (!state || state.sending) return;
    state.sending = true;
    const started = performance.now();
    const logChecked = state.checkbox.checked;
    let data;
    try {
      data = readCompose(compose, { userEmail: ctx.account });
    } catch (e) {
      release(compose, state);
      toast(t('toast_send_error_title'), { kind: 'warn', details: [String(e.message || e)] });
      return;
    }
    const account = ctx.account || undefined;
    if (!logChecked) {
      // Nothing to add, nothing to wait for: Gmail sends now; the decision is noted.
      release(compose, state);
      send('compose:send', { compose: data, logChecked: false, account, via }).catch(() => {});
      return;
    }
    state.el.classList.add('mailtrail-busy');
    let reply = null;
    let error = null;
    try {
      reply = await send('compose:send', { compose: data, logChecked: true, account, via }, { timeoutMs: SEND_TIMEOUT_MS });
    } catch (e) {
      error = e;
    }
    const durableMs = performance.now() - started;
    let bccResult = null;
    if (reply?.decision?.addBcc) bccResult = addBcc(compose, reply.decision.addBcc);
    rememberSent({ draftId: data.draftId, key: reply?.key ?? null, at: Date.now() });
    release(compose, state);
    if (reply) send('metric:send', { ms: durableMs }).catch(() => {});
    notify(reply, error, bccResult);
  }

  function rememberSent(entry) {
    const now = Date.now();
    while (sent.length && now - sent[0].at > SENT_MEMORY_MS) sent.shift();
    sent.push({ ...entry, matched: false });
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

  function onUndo(event) {
    const target = event.target;
    if (!(target instanceof Element) || !target.closest(SELECTORS.undoLink)) return;
    const last = [...sent].reverse().find((s) => Date.now() - s.at < SENT_MEMORY_MS && !s.undone);
    if (!last) return;
    last.undone = true;
    send('compose:undo', { draftId: last.draftId })
      .then((r) => {
        if (r.cancelled) toast(t('toast_undo_title'), { kind: 'info' });
      })
      .catch(() => {});
  }

  for (const type of ['mousedown', 'mouseup', 'click']) ctx.win.addEventListener(type, onPointer, true);
  ctx.win.addEventListener('keydown', onKey, true);
  ctx.win.addEventListener('click', onUndo, true);
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
      if (!entry || entry.undone) continue;
      entry.matched = true;
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

  return {
    sweep(root) {
      for (const compose of findComposes(root)) enhance(compose);
    },
    count: () => [...composes].filter((c) => c.isConnected).length,
  };
}
