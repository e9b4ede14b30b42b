// Scheduled sends (Gmail's Schedule send) with the Log checkbox checked.
//
// Gmail sends a scheduled email at the chosen time, and until then the user may cancel it (Undo
// right away, or "Cancel send" in the Scheduled folder — also from another device). So a
// scheduled email is not logged when it is scheduled: its compose fields are kept, durably in
// IndexedDB (`meta.scheduled`), as a *scheduled log*, and the engine processes them at the time
// Gmail sends it — the record's timestamp is that time, and the ids Gmail assigned when it
// stored the scheduled message are attached. A scheduled log whose send time passed while the
// browser was closed is processed at the next start (with the scheduled time as its timestamp).
// One that the engine would not log anyway (Log unchecked, never-log rules…) is decided at once
// and shown as "not logged", like a send.
//
// The popup lists waiting scheduled logs with their send time and a "Don't log" (for a send
// cancelled where Mailtrail cannot see it); when Gmail's send time could not be read, "Log now".

import { draftState } from './compose.js';

const ID_RE = /^sched-[a-z0-9-]{4,40}$/;

function trigger(logChecked) {
  return { kind: 'send', logChecked: !!logChecked };
}

function list(host) {
  return Object.values(host.meta.scheduled || {});
}

function save(host) {
  return host.putMeta('scheduled', host.meta.scheduled);
}

/**
 * Schedule send chosen in a compose window. Decides now (to tell the user) and, when the email
 * is to be logged, keeps it as a scheduled log; answers once that is durable. `held`: kept, to be
 * logged when Gmail sends it; otherwise it was decided now (not logged).
 */
export async function composeSchedule(host, { compose, logChecked, account }) {
  host.assertCanLog();
  if (logChecked !== true && logChecked !== false) logChecked = draftState(host, { key: compose?.draftId }).checked;
  const now = Date.now();
  const email = host.engine.fromCompose({ ...compose, source: 'gmail', date: now });
  const options = { mailbox: account || email.from?.normalized || undefined };
  if (compose.draftId) host.setDraftLog(compose.draftId, !!logChecked);
  const preview = host.engine.decide(email, trigger(logChecked), [], now, options);
  if (!preview.decision.log) {
    // Not logged whenever Gmail sends it: noted now, like a send.
    host.engine.process(email, trigger(logChecked), [], now, options);
    await host.persist();
    return { held: false, decision: preview.decision, undoUntil: now + host.undoMs };
  }
  const id = `sched-${now.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  host.meta.scheduled[id] = {
    id,
    compose,
    account: account || null,
    subject: compose.subject || '',
    createdAt: now,
    sendAt: null, // from the schedule's sync call (compose:scheduled)
    ids: null,
    bccMissing: null,
    error: null,
  };
  await save(host);
  return { held: true, id, decision: preview.decision, undoUntil: now + host.undoMs };
}

/** The ids and send time Gmail gave the scheduled message (read from its sync call). */
export async function scheduledIds(host, { id, draftId, sendAt, messageId, threadId, gmailMessageId }) {
  const item = ID_RE.test(String(id)) ? host.meta.scheduled[id] : null;
  if (!item) return { ok: false };
  if (Number.isFinite(sendAt) && sendAt > 0) item.sendAt = Math.round(sendAt);
  const text = (v) => (typeof v === 'string' && v.trim() ? v.trim() : null);
  item.ids = { messageId: text(messageId), threadId: text(threadId), gmailMessageId: text(gmailMessageId), gmailDraftId: text(draftId) };
  await save(host);
  host.scheduleWake();
  if (item.sendAt !== null && item.sendAt <= Date.now()) host.flushSoon();
  return { ok: true, sendAt: item.sendAt };
}

async function drop(host, ids) {
  for (const id of ids) delete host.meta.scheduled[id];
  if (ids.length) {
    await save(host);
    host.scheduleWake();
  }
  return { cancelled: ids.length };
}

/** Undo (or `z`) right after scheduling: Gmail made it a draft again. */
export function unschedule(host, { id }) {
  return drop(host, ID_RE.test(String(id)) && host.meta.scheduled[id] ? [id] : []);
}

/**
 * "Cancel send" on a scheduled message in Gmail: withdraw its scheduled log — found by Gmail's
 * message id or draft id, else by thread when exactly one waiting log is in that thread.
 * `waiting`: how many scheduled logs are left (the page says so when none matched).
 */
export async function cancelScheduled(host, { gmailMessageId, draftId, threadId }) {
  const items = list(host);
  let match = items.filter((s) => s.ids && ((gmailMessageId && s.ids.gmailMessageId === gmailMessageId) || (draftId && s.ids.gmailDraftId === draftId)));
  if (!match.length && threadId) {
    const inThread = items.filter((s) => s.ids?.threadId === threadId);
    if (inThread.length === 1) match = inThread;
  }
  const r = await drop(host, match.map((s) => s.id));
  return { ...r, waiting: list(host).length };
}

/** The popup's "Don't log": the scheduled send was cancelled where Mailtrail could not see it. */
export function discardScheduled(host, { id }) {
  return unschedule(host, { id });
}

/** The popup's "Log now" for a scheduled log whose send time Gmail's page did not reveal. */
export async function logScheduledNow(host, { id }) {
  const item = ID_RE.test(String(id)) ? host.meta.scheduled[id] : null;
  if (!item) return { ok: false };
  item.sendAt = Date.now();
  item.error = null;
  await save(host);
  await host.flushSoon();
  return { ok: true };
}

/** When the next scheduled log is due (ms), or null (also while nothing may be logged). */
export function nextScheduled(host) {
  if (host.settingsBlocked) return null; // saving valid settings flushes, which catches up
  let next = null;
  for (const s of list(host)) if (s.sendAt !== null && !s.error && (next === null || s.sendAt < next)) next = s.sendAt;
  return next;
}

/**
 * Logs the scheduled emails Gmail has sent by now: each is processed as the send it is, at its
 * send time, and its outbox entry and the removal of the scheduled log are committed together
 * (a worker stopped in between processes it again, and the engine keeps one record per key).
 */
export async function runDueScheduled(host, now = Date.now()) {
  const due = list(host).filter((s) => s.sendAt !== null && s.sendAt <= now && !s.error);
  if (!due.length || host.settingsBlocked) return 0;
  for (const item of due) {
    try {
      const email = host.engine.fromCompose({ ...item.compose, source: 'gmail', date: item.sendAt });
      const outcome = host.engine.process(email, trigger(true), [], item.sendAt, {
        notBeforeMs: Date.now(),
        mailbox: item.account || email.from?.normalized || undefined,
      });
      const ids = item.ids || {};
      if (item.compose.draftId && (ids.messageId || ids.threadId)) {
        host.engine.attachSentIds(item.compose.draftId, ids.messageId || undefined, ids.threadId || undefined, item.sendAt);
      }
      if (item.bccMissing && outcome.decision?.addBcc) {
        host.noteCorrection({ at: item.sendAt, subject: email.subject ?? item.subject, address: item.bccMissing, pushed: !!outcome.decision.push });
      }
      delete host.meta.scheduled[item.id];
    } catch (e) {
      // Kept and shown in the popup (with "Don't log"); never dropped silently.
      item.error = String(e?.message || e);
    }
  }
  await host.persist({ meta: { scheduled: host.meta.scheduled, corrections: host.meta.corrections } });
  return due.length;
}

/** Scheduled logs for the popup, soonest first (unknown times last). */
export function scheduledStatus(host) {
  return list(host)
    .map((s) => ({ id: s.id, subject: s.subject, sendAt: s.sendAt, createdAt: s.createdAt, error: s.error }))
    .sort((a, b) => (a.sendAt ?? Infinity) - (b.sendAt ?? Infinity) || a.createdAt - b.createdAt);
}

/** A scheduled send whose BCC address could not be added (noted on its activity when logged). */
export async function scheduledBccMissing(host, { scheduleId, address }) {
  const item = ID_RE.test(String(scheduleId)) ? host.meta.scheduled[scheduleId] : null;
  if (!item || typeof address !== 'string') return { ok: false };
  item.bccMissing = address;
  await save(host);
  return { ok: true };
}
