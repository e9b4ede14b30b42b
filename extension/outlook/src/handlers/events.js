// Handlers for the runtimes that run the WebAssembly engine: Outlook on the web, new Outlook on
// Windows, Outlook on Mac (event handlers and commands run in a browser runtime there) and the
// task pane / function commands everywhere (classic Outlook on Windows included). Classic
// Outlook's event handlers live in src/classic/ (no WebAssembly there).
//
// `ctx`: `{Office, t, getService, now}`: `getService()` resolves with a MailtrailService, or null
// when the engine cannot run in this runtime (then the classic hand-off path is used, so the
// email is still logged later by a runtime that can).
import { officeCall, optional } from '../office/async.js';
import { loadProperties, logStateOf, draftIdOf, applyDefaultLogState } from '../office/itemState.js';
import { readComposeData, readReceivedMessage } from '../office/message.js';
import { readSettings } from '../office/roaming.js';
import { NOTIFICATION_KEY } from '../office/keys.js';
import { messageSend as classicMessageSend } from '../classic/handlers.js';

/** Custom header carrying the compose id into the sent message (for linking replies later). */
export const DRAFT_HEADER = 'X-Mailtrail-Draft';

/** Budget for the whole send handler: Outlook warns the user after about 5 s. */
export const SEND_BUDGET_MS = 4000;

function officeOf(ctx) {
  const { Office } = ctx;
  return { Office, mailbox: Office.context.mailbox, item: Office.context.mailbox.item, roaming: Office.context.roamingSettings };
}

/**
 * OnNewMessageCompose: the default Log state on the item, then (this runtime is fresh, so its
 * roamingSettings are current) take over snapshots classic Outlook left, and send what is due.
 */
export async function onNewMessageCompose(ctx) {
  const { Office, item, roaming } = officeOf(ctx);
  const shared = readSettings(roaming);
  const state = await applyDefaultLogState(item, shared.logByDefault !== false);
  const service = await ctx.getService();
  let handoff = null;
  let flush = null;
  if (service) {
    handoff = await service.drainHandoff(roaming).catch((e) => ({ error: String(e.message || e) }));
    flush = await service.flush({ deadlineMs: 2500 });
  }
  return { checked: state.checked, applied: state.applied, handoff, flush, office: Boolean(Office) };
}

/**
 * OnMessageSend (Smart Alerts, SoftBlock). The engine decides with the item's Log state; a
 * record is queued durably before anything is sent, the BCC address is added when the decision
 * says so (never twice: the engine sees the recipients), and due records are pushed within the
 * remaining budget. The email is always allowed to go (see `completing` in classic/handlers.js).
 */
export async function onMessageSend(ctx) {
  const started = ctx.now();
  const { Office, mailbox, item, roaming } = officeOf(ctx);
  const service = await ctx.getService();
  if (!service) {
    // No engine in this runtime: the classic path (BCC by the same rules, snapshot for later).
    return { fallback: true, ...(await classicMessageSend(Office, started)) };
  }
  const shared = readSettings(roaming);
  const props = await loadProperties(item);
  const state = logStateOf(props, shared.logByDefault !== false);
  const draftId = draftIdOf(props).id;
  const compose = await readComposeData({ Office, item, mailbox, draftId });
  const outcome = await service.processCompose(compose, { kind: 'send', logChecked: state.checked }, { at: started, lookupTimeoutMs: 800 });
  const decision = outcome.decision;
  let bccAdded = false;
  if (decision.addBcc) {
    await officeCall(item.bcc, 'addAsync', [[decision.addBcc]]);
    bccAdded = true;
  }
  if (decision.log && item.internetHeaders) {
    // Lets the sent copy (and the IMAP watcher) be tied back to this record: see trackSentCopy.
    await optional(officeCall(item.internetHeaders, 'setAsync', [{ [DRAFT_HEADER]: draftId }]), null);
  }
  let flush = null;
  if (outcome.queued) {
    const left = SEND_BUDGET_MS - (ctx.now() - started) - 250;
    flush = left > 200 ? await service.flush({ deadlineMs: left }) : { pending: true };
  }
  return { logged: decision.log, decision, queued: outcome.queued, key: outcome.record?.idempotencyKey ?? null, bccAdded, flush };
}

/** A short sentence for an outcome, for notification bars (Outlook allows 150 characters). */
export function outcomeMessage(t, outcome, flush) {
  let text;
  if (outcome.decision.log) {
    const delivered = flush && (flush.delivered > 0 || flush.duplicates > 0) && !(flush.errors || []).length;
    text = !outcome.decision.push || delivered ? t('notify.logged') : t('notify.queued');
  } else {
    const first = outcome.decision.reasons[0];
    text = t('notify.notLogged', { reason: first ? t.reason(first) : '' });
  }
  return text.length > 150 ? text.slice(0, 149) + '…' : text;
}

async function notify(item, message) {
  if (!item.notificationMessages) return;
  const details = { type: 'informationalMessage', message, icon: 'Icon.16', persistent: false };
  await optional(officeCall(item.notificationMessages, 'replaceAsync', [NOTIFICATION_KEY, details]), null);
}

/** Reads the opened message and builds the engine's email (with Outlook's conversation id). */
async function openedEmail(ctx, service) {
  const { Office, item } = officeOf(ctx);
  const message = await readReceivedMessage({ Office, item });
  let email;
  if (message.kind === 'raw') email = service.parseRaw(message.bytes);
  else email = service.emailFromCompose(message.data);
  if (!email.threadId && item.conversationId) email.threadId = String(item.conversationId);
  if (!email.source || email.source === 'cli') email.source = 'outlook';
  return { message, email };
}

/**
 * "Log this email" (read mode): the whole message when the client can export it (forwards are
 * recognised by the engine and logged with their original sender), else what the item offers.
 */
export async function logThisEmail(ctx) {
  const { item } = officeOf(ctx);
  const service = await ctx.getService();
  if (!service) throw Object.assign(new Error(ctx.t('app.engineFailed', { message: 'WebAssembly' })), { code: 'no-engine' });
  const { message, email } = await openedEmail(ctx, service);
  let outcome;
  if (message.kind === 'raw') {
    outcome = await service.processRaw(message.bytes, { kind: 'manual' });
  } else {
    outcome = await service.processEmail(email, { kind: 'manual' }, { lookupTimeoutMs: 3000 });
  }
  const flush = outcome.queued ? await service.flush({ deadlineMs: 8000 }) : null;
  await notify(item, outcomeMessage(ctx.t, outcome, flush));
  return { via: message.via || message.kind, outcome, flush };
}

/**
 * Thread tracking when a message is opened with the task pane showing: logged when it belongs
 * to a logged conversation and its sender is a known contact; otherwise the reason is returned
 * (and shown) without recording anything. Also ties the user's own sent copy to its record.
 */
export async function trackOpenedMessage(ctx) {
  const service = await ctx.getService();
  if (!service) return null;
  const { message, email } = await openedEmail(ctx, service);
  const sentLink = await trackSentCopy(ctx, service, message, email);
  const trigger = { kind: 'incoming' };
  const preview = await service.processEmail(email, trigger, { dryRun: true, lookupTimeoutMs: 3000 });
  if (!preview.decision.log) return { via: message.via || message.kind, outcome: preview, logged: false, sentLink };
  const outcome = await service.processEmail(email, trigger, { lookupTimeoutMs: 3000 });
  const flush = outcome.queued ? await service.flush({ deadlineMs: 8000 }) : null;
  return { via: message.via || message.kind, outcome, logged: outcome.decision.log, flush, sentLink };
}

/**
 * The user's own sent copy carries the compose id header (set at send): tell the engine the
 * Message-ID and conversation Outlook assigned, so replies to it match the logged thread.
 */
async function trackSentCopy(ctx, service, message, email) {
  if (message.kind !== 'raw' || !email.messageId) return false;
  const draftId = headerValue(message.bytes, DRAFT_HEADER);
  if (!draftId) return false;
  return service.attachSentIds(draftId, email.messageId, email.threadId || null);
}

/** The value of a header in the header block of raw bytes (ASCII header names), or null. */
export function headerValue(bytes, name) {
  const head = bytes.subarray(0, Math.min(bytes.length, 65536));
  let text = '';
  for (let i = 0; i < head.length; i++) text += String.fromCharCode(head[i]);
  const end = text.search(/\r?\n\r?\n/);
  const block = (end >= 0 ? text.slice(0, end) : text).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = name.toLowerCase() + ':';
  for (const line of block.split(/\r?\n/)) {
    if (line.toLowerCase().startsWith(wanted)) return line.slice(wanted.length).trim() || null;
  }
  return null;
}

/** The compose-side preview for the task pane: what the engine would decide if sent now. */
export async function previewCompose(ctx, logChecked) {
  const { Office, mailbox, item } = officeOf(ctx);
  const service = await ctx.getService();
  if (!service) return null;
  const props = await loadProperties(item);
  const draftId = draftIdOf(props).id;
  const compose = await readComposeData({ Office, item, mailbox, draftId });
  return service.processCompose(compose, { kind: 'send', logChecked }, { dryRun: true, lookupTimeoutMs: 1500 });
}
