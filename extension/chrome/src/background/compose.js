// Messages from compose windows: the Log checkbox's state per draft, Send, Undo Send, the
// ids Gmail assigned once the message was sent, and a BCC address the page could not add.

/**
 * The shortest wait before a sent email's record is delivered, whatever the Undo period: the
 * ids Gmail assigns (Message-ID, thread) arrive from the page a moment after the send and can
 * only be attached to a record not yet delivered (a delivered record keeps only its key).
 */
export const SENT_IDS_WAIT_MS = 3000;

/**
 * `{checked, mode, logByDefault, blocked}` for a compose window opening (remembered per draft),
 * from the settings in force (the last valid ones), not from a document that failed validation.
 * `blocked`: nothing can be logged until the settings are fixed (Host#settingsBlocked).
 */
export function draftState(host, { key }) {
  const remembered = host.draftLog(key);
  const settings = host.active || {};
  const logByDefault = settings.logByDefault !== false;
  return {
    checked: remembered ? remembered.checked : logByDefault,
    remembered: !!remembered,
    mode: settings.mode || 'api',
    logByDefault,
    blocked: host.settingsBlocked,
  };
}

export async function setDraftState(host, { key, checked, previousKey }) {
  if (previousKey && previousKey !== key) delete host.meta.drafts[previousKey];
  await host.setDraftLog(key, checked);
  return { ok: true };
}

/**
 * Send clicked. Builds the email from the compose fields, decides, and queues the record with
 * a not-before time covering Gmail's Undo Send period. Answers only once the record is durable
 * in IndexedDB: the content script lets Gmail send after this answer (and adds the BCC first
 * when the decision says so).
 */
export async function composeSend(host, { compose, logChecked, account }) {
  host.assertCanLog();
  // null/undefined: the page did not know the checkbox's state yet (sent before draft:get
  // answered): the draft's remembered state, else the logByDefault setting, as it would have shown.
  if (logChecked !== true && logChecked !== false) logChecked = draftState(host, { key: compose?.draftId }).checked;
  const t0 = performance.now();
  const now = Date.now();
  const email = host.engine.fromCompose({ ...compose, source: 'gmail', date: now });
  const undoMs = host.undoMs;
  const outcome = host.engine.process(email, { kind: 'send', logChecked: !!logChecked }, [], now, {
    notBeforeMs: now + Math.max(undoMs, SENT_IDS_WAIT_MS),
    mailbox: account || email.from?.normalized || undefined,
  });
  const t1 = performance.now();
  await host.persistOutboxFirst();
  if (logChecked) host.notePhases({ engine: t1 - t0, persist: performance.now() - t1 });
  host.scheduleWake();
  if (compose.draftId) host.setDraftLog(compose.draftId, !!logChecked);
  return {
    logChecked,
    decision: outcome.decision,
    queued: outcome.queued,
    key: outcome.record?.idempotencyKey ?? null,
    notBefore: now + Math.max(undoMs, SENT_IDS_WAIT_MS),
    undoUntil: now + undoMs,
    // The activity entry's time: the page names it when the BCC address could not be added.
    activityAt: now,
  };
}

/**
 * The page could not add the CRM's BCC address the decision asked for (or Gmail had sent before
 * the decision came): the activity entry the engine noted ("BCC address added") is corrected —
 * not logged, unless a record was pushed as well. Only an entry that says the BCC was added.
 */
export async function bccMissing(host, { at, address }) {
  if (!Number.isFinite(at) || typeof address !== 'string') return { ok: false };
  const entry = host.engine.status().activity.find((a) => a.at === at && a.reasons.some((r) => r.code === 'bcc-added'));
  if (!entry) return { ok: false };
  host.noteCorrection({ at, subject: entry.subject, address, pushed: !!entry.key });
  await host.putMeta('corrections', host.meta.corrections);
  return { ok: true };
}

/**
 * Undo Send: withdraw the record of the send that was undone — by its key when the page knows
 * it (exactly that record), else what this compose window queued.
 */
export async function composeUndo(host, { draftId, key }) {
  let cancelled = 0;
  if (key) cancelled = host.engine.cancel(key, Date.now()) ? 1 : 0;
  else if (draftId) cancelled = host.engine.cancelDraft(draftId);
  await host.persist();
  host.scheduleWake();
  return { cancelled };
}

/**
 * Gmail sent the message: attach its RFC Message-ID and thread id (legacy hex) to the queued
 * record and the thread tracker, so replies in the thread can be matched. `raw` (the "show
 * original" source) stands in when the page hook saw the thread but not the Message-ID.
 */
export async function composeSent(host, { draftId, messageId, threadId, raw }) {
  let id = messageId || null;
  if (!id && raw) {
    try {
      id = host.engine.parseRaw(new TextEncoder().encode(raw)).messageId || null;
    } catch {
      id = null;
    }
  }
  const attached = host.engine.attachSentIds(draftId, id || undefined, threadId || undefined);
  await host.persist();
  return { attached, messageId: id };
}
