// Everything Mailtrail knows about Gmail's page lives in this one module: selectors, the ids
// Gmail writes into its markup, the "show original" page, and the format of the sync calls the
// page hook watches. Gmail changes its markup without notice; when something here stops
// matching, `layoutProblems` says what, the popup shows "Gmail layout not recognised", and the
// fix is in this file only.
//
// Pure DOM reading/writing (no chrome.* APIs), so the same code runs in the content script, in
// the MAIN-world page hook (sync parsing only) and in unit tests.

import { isPlainAddress } from '../../../shared/settings-form.js';

export const SELECTORS = Object.freeze({
  main: 'div[role=main]',
  composeButton: 'div[gh=cm]',
  // A compose window is recognised by its subject field; its root is the nearest ancestor that
  // also holds the send button (the form itself only holds hidden inputs).
  composeSubject: 'input[name=subjectbox]',
  composeDraftId: 'input[name=draft]',
  composeId: 'input[name=composeid]',
  composeReplyThread: 'input[name=rt]',
  composeFrom: 'input[name=from], select[name=from]',
  composeBody: 'div[g_editable=true], div.Am[contenteditable=true]',
  recipientRow: { to: '[name=to]', cc: '[name=cc]', bcc: '[name=bcc]' },
  recipientChip: '[role=option][data-hovercard-id], [data-hovercard-id][email], span[email]',
  recipientInput: 'input[role=combobox], textarea[role=combobox], input[type=text], textarea',
  sendButton: '.IZ .Up div > div[role=button]:not([aria-haspopup])',
  // The arrow beside Send ("More send options"): its menu holds "Schedule send".
  sendOptionsButton: '.IZ .Up div > div[role=button][aria-haspopup]',
  // In the Schedule send dialog, a choice that schedules (a suggested time, or the date & time
  // picker's confirm button); "Pick date & time" opens another dialog (aria-haspopup).
  scheduleChoice: '[role=dialog] [role=menuitem]:not([aria-haspopup]), [role=dialog] button[name=ok]',
  // An opened scheduled message (Scheduled folder): the banner's "Cancel send" button.
  cancelScheduledSend: '.aDE [role=button][data-action=cancel-send]',
  bccToggle: 'span[role=link].pB',
  attachment: '.dL',
  attachmentName: '.vI',
  attachmentSize: '.vJ',
  threadSubject: 'h2.hP',
  threadId: '[data-legacy-thread-id], [data-thread-perm-id]',
  message: 'div[data-message-id]',
  messageSender: 'span.gD[email]',
  messageHeader: '.gH',
  undoLink: '#link_undo',
  viewMessageLink: '#link_vsm',
  // Gmail's notice ("Message sent · Undo · View message") that holds both links.
  notice: '.vh',
  rawSource: '#raw_message_text',
});

// ---------------------------------------------------------------- ids

/** Gmail draft ids come as `#msg-a:r-123`, `msg-a:r-123` or `r-123`: always `r-123`. */
export function normalizeDraftId(value) {
  if (value === null || value === undefined) return null;
  const v = String(value).trim().replace(/^#/, '').replace(/^msg-a:/, '');
  if (!v || v === 'undefined' || v === 'null') return null;
  return v;
}

/** `thread-f:1790…` / `msg-f:1790…` (decimal) or a legacy hex id → the legacy hex id. */
export function legacyId(value) {
  if (value === null || value === undefined) return null;
  const v = String(value).trim().replace(/^#/, '');
  const m = /^(?:thread|msg)-[fa]:(\d+)$/.exec(v);
  if (m) {
    try {
      return BigInt(m[1]).toString(16);
    } catch {
      return null;
    }
  }
  if (/^[0-9a-f]{8,20}$/i.test(v)) return v.toLowerCase();
  return null;
}

/** A legacy hex id → the permanent `msg-f:decimal` form the "show original" URL takes. */
export function permMessageId(hex) {
  if (!/^[0-9a-f]{1,20}$/i.test(String(hex || ''))) return null;
  return 'msg-f:' + BigInt('0x' + hex).toString(10);
}

/** The account index N of `/mail/u/N/` (0 when absent). */
/**
 * The account's address from Gmail's tab title, `<view or subject> - <account> - Gmail` (the
 * last part may be an organisation's name). Only the part just before the last " - " counts,
 * and only when it is exactly one address: a subject often contains someone else's address
 * ("Re: question from bob@customer.example"), which must never be taken for the user's own.
 */
export function accountFromTitle(title) {
  const parts = String(title || '').split(' - ');
  if (parts.length < 3) return null;
  const candidate = parts[parts.length - 2].trim();
  return isPlainAddress(candidate) ? candidate : null;
}

export function accountIndex(location) {
  const m = /\/mail\/u\/(\d+)\//.exec(location?.pathname || '');
  return m ? Number(m[1]) : 0;
}

// ---------------------------------------------------------------- compose windows

/** Every compose window (dialog, pop-out, full-screen, inline reply) under `root`. */
export function findComposes(root) {
  const out = [];
  for (const subject of root.querySelectorAll(SELECTORS.composeSubject)) {
    const compose = composeRootOf(subject);
    if (compose && !out.includes(compose)) out.push(compose);
  }
  return out;
}

/** The smallest ancestor of a compose field that also contains the send button. */
export function composeRootOf(el) {
  for (let node = el.parentElement; node; node = node.parentElement) {
    if (node.querySelector(SELECTORS.sendButton)) return node;
    if (node.matches?.('[role=dialog]') || node === node.ownerDocument.body) {
      // A dialog without a send button is not a compose we understand.
      return node.querySelector(SELECTORS.sendButton) ? node : null;
    }
  }
  return null;
}

export function sendButton(compose) {
  return compose.querySelector(SELECTORS.sendButton);
}

/** What a compose window is: a dialog (new, reply, forward, full-screen), inline, or pop-out. */
export function composeKind(compose) {
  const doc = compose.ownerDocument;
  if (/[?&]view=cm(&|$)/.test(doc.location?.search || '')) return 'popout';
  if (compose.closest('[role=dialog]') || compose.matches('[role=dialog]')) return 'dialog';
  return 'inline';
}

/** Parts of a compose window Mailtrail needs that could not be found. */
export function composeProblems(compose) {
  const problems = [];
  if (!sendButton(compose)) problems.push('compose-send-button');
  if (!compose.querySelector(SELECTORS.composeBody)) problems.push('compose-body');
  if (!compose.querySelector(SELECTORS.recipientRow.to)) problems.push('compose-recipients');
  return problems;
}

function inputValue(compose, selector) {
  const el = compose.querySelector(selector);
  if (!el) return null;
  const v = (el.value ?? '').trim();
  return v && v !== 'undefined' ? v : null;
}

/** The key under which a compose window's Log state is remembered: its draft id, else its compose id. */
export function draftKey(compose) {
  const draft = normalizeDraftId(inputValue(compose, SELECTORS.composeDraftId));
  if (draft) return draft;
  const cid = inputValue(compose, SELECTORS.composeId);
  return cid ? 'compose:' + cid : null;
}

/** Recipients of one row: chips as {address, name}, plus text typed but not yet turned into a chip. */
export function recipients(compose, field) {
  const row = compose.querySelector(SELECTORS.recipientRow[field]);
  if (!row) return [];
  const out = [];
  if (row.matches('input, textarea')) {
    // Older layouts keep the list in a form field.
    if (row.value.trim()) out.push(row.value.trim());
    return out;
  }
  for (const chip of row.querySelectorAll(SELECTORS.recipientChip)) {
    const address = chip.getAttribute('data-hovercard-id') || chip.getAttribute('email');
    if (!address) continue;
    const name = chip.getAttribute('data-name') || chip.getAttribute('name') || null;
    out.push(name && name !== address ? { address, name } : { address });
  }
  for (const input of row.querySelectorAll(SELECTORS.recipientInput)) {
    const typed = (input.value || '').trim();
    if (typed) out.push(typed);
  }
  return out;
}

function parseSize(text) {
  const m = /([\d.,]+)\s*([KMG]?B|[KMG])?/i.exec(String(text || ''));
  if (!m) return 0;
  const n = Number(m[1].replace(',', '.'));
  const unit = (m[2] || 'B').toUpperCase()[0];
  const factor = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[unit] || 1;
  return Number.isFinite(n) ? Math.round(n * factor) : 0;
}

/** The thread a compose belongs to (replies): the reply-thread field, else the open thread. */
function composeThreadId(compose) {
  const rt = legacyId(inputValue(compose, SELECTORS.composeReplyThread));
  if (rt) return rt;
  if (composeKind(compose) === 'inline') {
    const thread = openedThread(compose.ownerDocument);
    if (thread) return thread.threadId;
  }
  return null;
}

/**
 * The compose window's fields in the engine's `ComposeData` shape (src/email.rs). `userEmail`
 * is the account's address, used when the window has no From field.
 */
export function readCompose(compose, { userEmail } = {}) {
  const body = compose.querySelector(SELECTORS.composeBody);
  const from = inputValue(compose, SELECTORS.composeFrom) || userEmail || null;
  const attachments = [];
  for (const a of compose.querySelectorAll(SELECTORS.attachment)) {
    const name = a.querySelector(SELECTORS.attachmentName)?.textContent.trim() || null;
    attachments.push({ name, size: parseSize(a.querySelector(SELECTORS.attachmentSize)?.textContent) });
  }
  return {
    source: 'gmail',
    from,
    to: recipients(compose, 'to'),
    cc: recipients(compose, 'cc'),
    bcc: recipients(compose, 'bcc'),
    subject: compose.querySelector(SELECTORS.composeSubject)?.value ?? '',
    // The HTML only: the engine derives the text part (reading innerText would force a layout
    // of Gmail's page in the middle of Send).
    html: body ? body.innerHTML : null,
    attachments,
    threadId: composeThreadId(compose),
    draftId: draftKey(compose),
  };
}

/** True when the address is already a recipient of that row (chip or typed text). */
export function hasRecipient(compose, field, address) {
  const want = String(address).trim().toLowerCase();
  return recipients(compose, field).some((r) => {
    const text = typeof r === 'string' ? r : r.address;
    return text.toLowerCase().split(/[\s,;<>]+/).includes(want);
  });
}

/**
 * Adds `address` to the Bcc row the way a user would: open the row, type into its combobox and
 * leave the field so Gmail turns the text into a chip. Never adds it twice.
 * Returns 'already-present', 'added', or 'failed'.
 */
export function addBcc(compose, address) {
  if (hasRecipient(compose, 'bcc', address)) return 'already-present';
  let row = compose.querySelector(SELECTORS.recipientRow.bcc);
  let input = row?.querySelector(SELECTORS.recipientInput);
  if (!input || !isShown(row)) {
    const toggle = compose.querySelector(SELECTORS.bccToggle);
    if (toggle) click(toggle);
    row = compose.querySelector(SELECTORS.recipientRow.bcc);
    input = row?.querySelector(SELECTORS.recipientInput);
  }
  if (!input) return 'failed';
  const view = compose.ownerDocument.defaultView;
  input.focus();
  input.value = address;
  input.dispatchEvent(new view.InputEvent('input', { bubbles: true, data: address, inputType: 'insertText' }));
  input.dispatchEvent(new view.KeyboardEvent('keydown', { bubbles: true, key: 'Enter', code: 'Enter', keyCode: 13 }));
  input.dispatchEvent(new view.FocusEvent('blur', { bubbles: false }));
  input.dispatchEvent(new view.FocusEvent('focusout', { bubbles: true }));
  return hasRecipient(compose, 'bcc', address) ? 'added' : 'failed';
}

function isShown(el) {
  if (!el) return false;
  const view = el.ownerDocument.defaultView;
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    if (n.hidden || view.getComputedStyle(n).display === 'none') return false;
  }
  return true;
}

/** Presses a Gmail button the way Gmail listens for it: mousedown, mouseup, click. */
export function click(el) {
  const view = el.ownerDocument.defaultView;
  const opts = { bubbles: true, cancelable: true, view, button: 0 };
  el.dispatchEvent(new view.MouseEvent('mousedown', opts));
  el.dispatchEvent(new view.MouseEvent('mouseup', opts));
  el.dispatchEvent(new view.MouseEvent('click', opts));
}

/** Ctrl+Enter / ⌘+Enter: Gmail's send shortcut inside a compose window. */
export function isSendShortcut(event) {
  return event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
}

// ---------------------------------------------------------------- undo, schedule send

/**
 * Gmail's Undo link when it undoes a send (or a scheduled send): the notice says "Message sent"
 * or "Send scheduled for …" with *View message* beside Undo. Other notices ("Conversation
 * archived · Undo") have no View message link and are not about a send.
 */
export function sendUndoLink(doc) {
  const link = doc.querySelector(SELECTORS.undoLink);
  if (!link) return null;
  const notice = link.closest(SELECTORS.notice) || link.parentElement;
  return notice?.querySelector(SELECTORS.viewMessageLink) ? link : null;
}

/** True when `target` is (inside) a send's Undo link. */
export function isSendUndo(target) {
  const link = typeof target?.closest === 'function' ? target.closest(SELECTORS.undoLink) : null;
  return !!link && sendUndoLink(target.ownerDocument) === link;
}

/** Gmail's `z` shortcut (undo the last action); never while typing in a field. */
export function isUndoShortcut(event) {
  if (event.key !== 'z' || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return false;
  const el = event.target;
  if (!el || typeof el.closest !== 'function') return true;
  return !el.closest('input, textarea, select, [contenteditable=""], [contenteditable=true], [contenteditable=plaintext-only]');
}

/**
 * After `z`: Gmail has undone the send once the notice no longer offers Undo or View message
 * (it says "Sending undone"). With keyboard shortcuts off Gmail ignores `z` and the notice stays;
 * when only the Undo period ends, View message stays.
 */
export function sendUndone(doc, link) {
  return !link.isConnected && !doc.querySelector(SELECTORS.viewMessageLink);
}

/** The scheduled message whose "Cancel send" was clicked: `{gmailMessageId, draftId, threadId}`. */
export function scheduledMessageOf(button) {
  const doc = button.ownerDocument;
  const el = button.closest(SELECTORS.message);
  const raw = (el?.getAttribute('data-message-id') || '').replace(/^#/, '');
  return {
    gmailMessageId: legacyId(el?.getAttribute('data-legacy-message-id')) || legacyId(raw),
    draftId: /^msg-a:/.test(raw) ? normalizeDraftId(raw) : null,
    threadId: openedThread(doc)?.threadId || null,
  };
}

/** Where the Log checkbox goes: right after the send button's group in the bottom toolbar. */
export function logCheckboxAnchor(compose) {
  const send = sendButton(compose);
  if (!send) return null;
  const cell = send.closest('td');
  if (cell && compose.contains(cell)) return { after: cell, cell: true };
  return { after: send.parentElement, cell: false };
}

// ---------------------------------------------------------------- read view

/** The open conversation: `{threadId (legacy hex), subject, element}` or null. */
export function openedThread(doc) {
  const el = doc.querySelector(`${SELECTORS.threadSubject}${'[data-legacy-thread-id]'}`) ||
    doc.querySelector(`${SELECTORS.threadSubject}[data-thread-perm-id]`) ||
    doc.querySelector(SELECTORS.threadId);
  if (!el) return null;
  const threadId = legacyId(el.getAttribute('data-legacy-thread-id')) || legacyId(el.getAttribute('data-thread-perm-id'));
  if (!threadId) return null;
  const subjectEl = el.matches(SELECTORS.threadSubject) ? el : doc.querySelector(SELECTORS.threadSubject);
  return { threadId, subject: subjectEl?.textContent.trim() || '', element: el };
}

/**
 * Messages shown in the open conversation. Gmail marks messages the account wrote with
 * `msg-a:` ids and received ones with `msg-f:`.
 */
export function openedMessages(doc) {
  const thread = openedThread(doc);
  const out = [];
  for (const el of doc.querySelectorAll(SELECTORS.message)) {
    const raw = (el.getAttribute('data-message-id') || '').replace(/^#/, '');
    const legacy = legacyId(el.getAttribute('data-legacy-message-id')) || legacyId(raw);
    if (!legacy) continue;
    const sender = el.querySelector(SELECTORS.messageSender);
    out.push({
      element: el,
      messageId: legacy,
      own: raw.startsWith('msg-a:'),
      from: sender ? { address: sender.getAttribute('email'), name: sender.getAttribute('name') || undefined } : null,
      threadId: thread?.threadId || null,
      subject: thread?.subject || '',
    });
  }
  return out;
}

/** Where a message's "Log this email" button goes (its header), or the message itself. */
export function messageActionAnchor(messageEl) {
  return messageEl.querySelector(SELECTORS.messageHeader) || messageEl;
}

/** The "show original" URL of a message (its raw RFC 5322 source). */
export function rawSourceUrl({ origin = 'https://mail.google.com', account = 0, ik, messageId }) {
  const params = new URLSearchParams();
  if (ik) params.set('ik', ik);
  params.set('view', 'om');
  const perm = permMessageId(messageId);
  if (perm) params.set('permmsgid', perm);
  else params.set('th', messageId);
  return `${origin}/mail/u/${account}/?${params}`;
}

/** The raw message text from a "show original" page's HTML, or null when the page is not one. */
export function extractRawSource(html, DOMParserImpl = globalThis.DOMParser) {
  const doc = new DOMParserImpl().parseFromString(html, 'text/html');
  const pre = doc.querySelector(SELECTORS.rawSource);
  return pre ? pre.textContent : null;
}

// ---------------------------------------------------------------- layout check

/**
 * What Mailtrail cannot find on this page (empty when everything it needs is recognised).
 * `loadedFor` is how long the page has been open: Gmail's main view appears after its loader.
 */
export function layoutProblems(doc, { loadedFor = Infinity } = {}) {
  const problems = [];
  const composes = findComposes(doc);
  const isPopout = /[?&]view=cm(&|$)/.test(doc.location?.search || '');
  if (!isPopout && !doc.querySelector(SELECTORS.main) && loadedFor > 15000) problems.push('main-view');
  // A subject field whose window has no recognisable send button.
  for (const subject of doc.querySelectorAll(SELECTORS.composeSubject)) {
    if (!composeRootOf(subject)) problems.push('compose-send-button');
  }
  for (const c of composes) problems.push(...composeProblems(c));
  if (doc.querySelector(SELECTORS.threadSubject) && !openedThread(doc)) problems.push('thread-id');
  return [...new Set(problems)];
}

// ---------------------------------------------------------------- sync calls (page hook)

/** URLs of Gmail's sync calls that send messages. */
export function isSyncSendUrl(url) {
  return /\/sync\/u\/\d+\/i\/s(\?|$)/.test(String(url || ''));
}

const MESSAGE_ID_RE = /^<[^<>\s@]+@[^<>\s]+>$/;

function parseJsonLoose(text) {
  if (typeof text !== 'string') return text ?? null;
  const body = text.replace(/^\)\]\}'\s*/, '');
  try {
    return JSON.parse(body);
  } catch {
    return null;
  }
}

/** Draft ids (`r-…`) mentioned in a sync request body. */
export function draftIdsInRequest(body) {
  const ids = new Set();
  const text = typeof body === 'string' ? body : JSON.stringify(body ?? null);
  for (const m of text.matchAll(/"(?:#?msg-a:)(r-?\d+)"/g)) ids.add(m[1]);
  return [...ids];
}

/**
 * Reads a send sync call: the request body names the drafts sent (`msg-a:r-…`), the response
 * lists the stored messages, each an array holding its `msg-f:` id, its thread's `thread-f:`
 * id nearby, and its RFC Message-ID (`<…@…>`). Returns one item per sent message:
 * `{draftId, threadId, gmailMessageId, messageId}` (legacy hex ids; any may be null), plus
 * `sendAt` (ms, or null when not found) for a message Gmail holds for a scheduled send.
 * Unknown shapes give an empty list, never an exception.
 */
export function parseSyncSend(requestBody, responseText) {
  const response = parseJsonLoose(responseText);
  if (response === null) return [];
  const drafts = draftIdsInRequest(requestBody);
  const found = [];
  const seen = new Set();
  const visit = (node, threadHint, depth) => {
    if (!Array.isArray(node) || depth > 40) return;
    let thread = threadHint;
    for (const item of node) {
      if (typeof item === 'string' && /^thread-f:\d+$/.test(item)) thread = item;
    }
    const msg = node.find((item) => typeof item === 'string' && /^msg-f:\d+$/.test(item));
    if (msg && !seen.has(msg)) {
      seen.add(msg);
      const strings = [];
      collectStrings(node, strings, 0);
      const messageId = strings.find((s) => MESSAGE_ID_RE.test(s)) || null;
      const ownThread = strings.find((s) => /^thread-f:\d+$/.test(s)) || thread;
      const draft = strings.map((s) => /^#?msg-a:(r-?\d+)$/.exec(s)?.[1]).find(Boolean) || null;
      const item = { draftId: draft, threadId: legacyId(ownThread), gmailMessageId: legacyId(msg), messageId };
      if (strings.includes(SCHEDULED_LABEL)) item.sendAt = scheduledTime(node);
      found.push(item);
      return;
    }
    for (const item of node) visit(item, thread, depth + 1);
  };
  visit(response, null, 0);
  // A request that sent one draft and a response with one message: they are the same.
  if (found.length === 1 && !found[0].draftId && drafts.length === 1) found[0].draftId = drafts[0];
  return found.filter((f) => f.draftId || f.messageId || f.threadId);
}

/**
 * A scheduled message carries Gmail's Scheduled label and, among its numbers, the time it will
 * be sent: the latest millisecond timestamp in the message's array (its other one is when it
 * was scheduled). null when there is none.
 */
const SCHEDULED_LABEL = '^scheduled';

function scheduledTime(node) {
  let latest = null;
  const visit = (n, depth) => {
    if (typeof n === 'number' && Number.isSafeInteger(n) && n > 1e12 && n < 1e13) latest = Math.max(latest ?? 0, n);
    else if (Array.isArray(n) && depth < 3) for (const x of n) visit(x, depth + 1);
  };
  visit(node, 0);
  return latest;
}

function collectStrings(node, out, depth) {
  if (depth > 6) return;
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) for (const n of node) collectStrings(n, out, depth + 1);
}
