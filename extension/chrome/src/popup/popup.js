// The toolbar popup: is the CRM reachable, is Gmail recognised, what is waiting in the outbox
// (with the CRM's error and a Retry button for failed records), scheduled sends waiting to be
// logged when Gmail sends them, and what was — or was not — logged recently, with the reasons
// in the user's language.

import { localizeDocument, formatTime } from '../../../shared/i18n-dom.js';
import { renderReasons } from '../../../shared/reasons.js';

const t = (name, subs) => chrome.i18n.getMessage(name, subs);
const lang = chrome.i18n.getUILanguage();
const $ = (id) => document.getElementById(id);
const REFRESH_MS = 2000;
const LIST_LIMIT = 10;

function ask(type, payload = {}) {
  return chrome.runtime.sendMessage({ type, ...payload }).then((r) => {
    if (!r?.ok) throw new Error(r?.error?.message || t('error_no_answer'));
    return r.result;
  });
}

function el(tag, { className, text, title } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (title) node.title = title;
  for (const c of children) if (c) node.appendChild(c);
  return node;
}

function fill(list, items, emptyText) {
  list.replaceChildren(...(items.length ? items : [el('li', { className: 'empty', text: emptyText })]));
}

function reasonsList(reasons) {
  const lines = renderReasons(reasons, t);
  if (!lines.length) return null;
  return el('ul', { className: 'reasons' }, lines.map((line) => el('li', { text: line })));
}

function directionText(direction) {
  return t(`direction_${direction}`) || direction;
}

// ---------------------------------------------------------------- connection

function renderConnection(s) {
  const c = s.connection;
  const state = $('connection-state');
  const detail = [t(`endpoint_${c.type}`) || c.type, c.url].filter(Boolean).join(' · ');
  $('connection-detail').textContent = detail;
  delete state.dataset.problem;
  $('fix-token').hidden = true;
  if (s.settingsErrors?.length) {
    state.dataset.state = 'error';
    state.dataset.blocked = String(!!s.settingsBlocked);
    state.textContent = t('popup_settings_invalid');
    const errors = s.settingsErrors.map((e) => `${e.field}: ${e.message}`).join('; ');
    // Whether anything is logged meanwhile: on the last valid settings, or not at all.
    $('connection-detail').textContent = `${errors} — ${t(s.settingsBlocked ? 'popup_settings_blocked' : 'popup_settings_last_good')}`;
  } else if (!c.permission) {
    state.dataset.state = 'error';
    state.textContent = t('popup_permission_missing');
  } else if (!c.lastFlush) {
    state.dataset.state = 'unknown';
    state.textContent = t('popup_connection_idle');
  } else if (c.lastFlush.report?.tokenRejected) {
    // Not "the connection is failing": the CRM answered, and refused the token. Nothing is lost;
    // the user (or the administrator, when the endpoint is set by policy) has to fix the token.
    state.dataset.state = 'error';
    state.dataset.problem = 'token-rejected';
    state.textContent = t('popup_token_rejected', [formatTime(c.lastFlush.at, lang)]);
    $('connection-detail').textContent = `${detail} — ${t(c.endpointManaged ? 'popup_token_rejected_managed' : 'popup_token_rejected_fix')}`;
    $('fix-token').hidden = !!c.endpointManaged;
  } else if (c.lastFlush.ok) {
    state.dataset.state = 'ok';
    state.textContent = t('popup_connection_ok', [formatTime(c.lastFlush.at, lang)]);
  } else {
    state.dataset.state = 'error';
    const first = c.lastFlush.report?.errors?.[0]?.[1]?.message || c.lastFlush.error || '';
    state.textContent = t('popup_connection_failing', [formatTime(c.lastFlush.at, lang)]);
    if (first) $('connection-detail').textContent = `${detail} — ${first}`;
  }
}

async function testConnection() {
  const out = $('test-result');
  out.textContent = t('popup_testing');
  try {
    const r = await ask('connection:test');
    if (r.code === 'no-permission') out.textContent = t('popup_permission_missing');
    else out.textContent = r.ok ? t('popup_test_ok') : t('popup_test_failed', [r.message || String(r.status || '')]);
    out.className = r.ok ? 'detail ok' : 'detail warn';
  } catch (e) {
    out.textContent = t('popup_test_failed', [e.message]);
    out.className = 'detail warn';
  }
}

/** Saved data the worker could not read, or read only after repairing it. */
function renderState(s) {
  const lines = [];
  if (s.stateError) lines.push(t('popup_state_error', [s.stateError]));
  if (s.stateProblems?.length) lines.push(t('popup_state_problems', [s.stateProblems.join('; ')]));
  const box = $('state-problems');
  box.hidden = !lines.length;
  box.replaceChildren(...lines.map((line) => el('p', { className: 'detail warn', text: line })));
}

// ---------------------------------------------------------------- Gmail tabs

async function renderGmail() {
  const list = $('gmail-tabs');
  let tabs = [];
  try {
    tabs = await chrome.tabs.query({ url: 'https://mail.google.com/*' });
  } catch {
    tabs = [];
  }
  if (!tabs.length) {
    fill(list, [], t('popup_gmail_none'));
    return;
  }
  const rows = await Promise.all(
    tabs.map(async (tab) => {
      let report = null;
      try {
        report = await chrome.tabs.sendMessage(tab.id, { type: 'layout:get' });
      } catch {
        report = null;
      }
      const who = report?.account || tab.title || 'Gmail';
      if (!report) return el('li', { className: 'warn', text: t('popup_gmail_reload', [who]) });
      if (report.problems.length) {
        const li = el('li', { className: 'warn', text: t('popup_gmail_not_recognised', [who]) });
        li.dataset.layout = 'not-recognised';
        li.appendChild(el('div', { className: 'detail', text: report.problems.map((p) => t(`layout_${p.replace(/-/g, '_')}`) || p).join(', ') }));
        return li;
      }
      const li = el('li', { className: 'ok', text: t('popup_gmail_ok', [who]) });
      li.dataset.layout = 'ok';
      return li;
    }),
  );
  list.replaceChildren(...rows);
}

// ---------------------------------------------------------------- outbox

function queueRow(item) {
  const state = item.state?.state || 'pending';
  const li = el('li');
  li.dataset.state = state;
  li.dataset.key = item.key;
  li.appendChild(el('div', { className: 'subject', text: item.subject || t('no_subject') }));
  let line;
  if (state === 'retrying') line = t('outbox_retrying', [formatTime(item.state.nextAttemptAt, lang), String(item.attempts)]);
  else if (state === 'dead') line = t('outbox_failed');
  else if (state === 'sending') line = t('outbox_sending');
  else line = t('outbox_pending');
  li.appendChild(el('div', { className: state === 'dead' ? 'meta warn' : 'meta', text: line }));
  if (item.lastError) {
    const status = item.lastError.status ? `${item.lastError.status} ` : '';
    li.appendChild(el('div', { className: 'detail error-message', text: status + item.lastError.message }));
  }
  if (state === 'dead' || state === 'retrying') {
    const button = el('button', { text: t('outbox_retry') });
    button.type = 'button';
    button.className = 'retry';
    button.addEventListener('click', async () => {
      button.disabled = true;
      await ask('outbox:retry', { key: item.key }).catch(() => {});
      refresh();
    });
    li.appendChild(button);
  }
  if (state === 'dead') li.appendChild(discardControl(item.key));
  return li;
}

function button(text, className, onClick) {
  const b = el('button', { text, className });
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

/** Discard with an inline confirmation (survives the list being redrawn while it is open). */
const confirming = new Set();
function discardControl(key, texts = DISCARD_OUTBOX) {
  const box = el('span', { className: 'discard' });
  const render = () => {
    if (!confirming.has(key)) {
      box.replaceChildren(button(t(texts.button), 'discard', () => (confirming.add(key), render())));
      return;
    }
    box.replaceChildren(
      el('span', { className: 'detail confirm', text: t(texts.confirm) }),
      button(t(texts.yes), 'discard-yes', async (e) => {
        e.target.disabled = true;
        confirming.delete(key);
        await ask(texts.message, texts.payload(key)).catch(() => {});
        refresh();
      }),
      button(t('outbox_discard_no'), 'discard-no', () => (confirming.delete(key), render())),
    );
  };
  render();
  return box;
}

const DISCARD_OUTBOX = { button: 'outbox_discard', confirm: 'outbox_discard_confirm', yes: 'outbox_discard_yes', message: 'outbox:discard', payload: (key) => ({ key }) };
const DISCARD_SCHEDULED = { button: 'scheduled_discard', confirm: 'scheduled_discard_confirm', yes: 'scheduled_discard_yes', message: 'schedule:discard', payload: (id) => ({ id }) };

/** A scheduled send waiting for Gmail to send it: logged then, unless withdrawn. */
function scheduledRow(item) {
  const li = el('li');
  li.dataset.id = item.id;
  li.dataset.state = item.error ? 'error' : item.sendAt ? 'scheduled' : 'time-unknown';
  li.appendChild(el('div', { className: 'subject', text: item.subject || t('no_subject') }));
  let line;
  if (item.error) line = t('scheduled_error', [item.error]);
  else if (item.sendAt) line = t('scheduled_when', [formatTime(item.sendAt, lang)]);
  else line = t('scheduled_time_unknown');
  li.appendChild(el('div', { className: item.error || !item.sendAt ? 'meta warn' : 'meta', text: line }));
  if (!item.sendAt && !item.error) {
    li.appendChild(button(t('scheduled_log_now'), 'log-now', async (e) => {
      e.target.disabled = true;
      await ask('schedule:log-now', { id: item.id }).catch(() => {});
      refresh();
    }));
  }
  li.appendChild(discardControl(item.id, DISCARD_SCHEDULED));
  return li;
}

function renderScheduled(s) {
  const items = s.scheduled || [];
  $('scheduled').hidden = items.length === 0;
  fill($('scheduled-list'), items.map(scheduledRow), '');
}

function activityRow(a) {
  const li = el('li');
  li.dataset.logged = String(a.logged);
  li.appendChild(el('div', { className: 'subject', text: a.subject || t('no_subject') }));
  li.appendChild(el('div', { className: 'meta', text: `${directionText(a.direction)} · ${formatTime(a.at, lang)}` }));
  // What the page learned after the decision (a BCC address it could not add), first.
  for (const note of a.notes || []) li.appendChild(el('div', { className: 'detail warn note', text: t(note.message, note.substitutions) }));
  const reasons = reasonsList(a.reasons);
  if (reasons) li.appendChild(reasons);
  return li;
}

function renderOutbox(s) {
  const c = s.counts;
  $('outbox-counts').textContent = t('outbox_counts', [String(c.pending + c.sending), String(c.retrying), String(c.dead), String(c.done)]);
  fill($('outbox-list'), s.queue.map(queueRow), t('outbox_empty'));
  const logged = s.activity.filter((a) => a.logged).slice(0, LIST_LIMIT);
  const notLogged = s.activity.filter((a) => !a.logged).slice(0, LIST_LIMIT);
  fill($('logged-list'), logged.map(activityRow), t('popup_nothing_yet'));
  fill($('not-logged-list'), notLogged.map(activityRow), t('popup_nothing_yet'));
}

async function refresh() {
  try {
    const s = await ask('status');
    renderConnection(s);
    renderState(s);
    renderOutbox(s);
    renderScheduled(s);
    $('version').textContent = `Mailtrail ${s.version}`;
  } catch (e) {
    $('connection-state').dataset.state = 'error';
    $('connection-state').textContent = t('popup_worker_error', [e.message]);
  }
  renderGmail();
}

localizeDocument(document, t, lang);
$('open-options').addEventListener('click', (e) => {
  e.preventDefault();
  chrome.runtime.openOptionsPage();
});
$('test-connection').addEventListener('click', testConnection);
$('fix-token').addEventListener('click', () => chrome.runtime.openOptionsPage());
refresh();
setInterval(refresh, REFRESH_MS);
