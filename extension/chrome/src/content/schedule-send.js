// Feature: Gmail's Schedule send (the menu beside Send) with the Log checkbox.
//
// Gmail keeps a scheduled email in its Scheduled folder and sends it at the chosen time; until
// then it can be cancelled there ("Cancel send") or right away (Undo, `z`). So nothing is
// logged when the user schedules: the choice that schedules is held (capture phase, like Send),
// the worker decides on the compose fields and, when the email is to be logged, keeps them
// durably as a *scheduled log*; then the choice goes on to Gmail (after adding the CRM's BCC
// address when the decision asks for it: the BCC then travels with the scheduled message).
// The worker logs the email at the time Gmail sends it (the record's timestamp is that time),
// with the ids Gmail assigned (read from the schedule's sync call, like a send's). Cancel send,
// Undo and the popup's "Don't log" withdraw the scheduled log.

import { SELECTORS, addBcc, click, readCompose, scheduledMessageOf } from './gmail.js';
import { replaceToast } from './toast.js';

/** A schedule choice counts for the compose whose "More send options" was opened this recently. */
const ARMED_MS = 10 * 60 * 1000;

export function setupScheduleSend(ctx, compose) {
  const { send, t, toast } = ctx;
  let armed = null; // {compose, at}: the compose whose send options menu was opened last
  let releasing = false;
  let busy = false;

  function scheduleChoiceOf(target) {
    if (!(target instanceof Element)) return null;
    const choice = target.closest(SELECTORS.scheduleChoice);
    // Menus inside a compose window (formatting, …) are not the Schedule send dialog.
    if (!choice || compose.composeOf(choice)) return null;
    if (!armed || !armed.compose.isConnected || Date.now() - armed.at > ARMED_MS) return null;
    return choice;
  }

  function onPointer(event) {
    if (releasing) return;
    const target = event.target;
    if (!(target instanceof Element)) return;
    const options = target.closest(SELECTORS.sendOptionsButton);
    if (options) {
      const c = compose.composeOf(options);
      if (c && event.type === 'click') armed = { compose: c, at: Date.now() };
      return;
    }
    const choice = scheduleChoiceOf(target);
    if (!choice) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.type === 'click') schedule(armed.compose, choice);
  }

  function onKey(event) {
    if (releasing || (event.key !== 'Enter' && event.key !== ' ')) return;
    const choice = scheduleChoiceOf(event.target);
    if (!choice) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    schedule(armed.compose, choice);
  }

  function release(choice) {
    releasing = true;
    try {
      if (choice.isConnected) click(choice);
    } finally {
      releasing = false;
    }
  }

  function scheduledNotice(reply, bccResult) {
    const d = reply.decision || {};
    if (!reply.held || (d.addBcc && !d.push && bccResult === 'failed')) return compose.outcomeNotice(reply, bccResult);
    return [t('toast_scheduled_title'), { kind: 'ok', details: [t('toast_scheduled_detail')], timeoutMs: 12000 }];
  }

  async function schedule(c, choice) {
    if (busy) return;
    busy = true;
    armed = null;
    const logChecked = compose.logChoice(c) ?? null;
    let data;
    try {
      data = readCompose(c, { userEmail: ctx.account });
    } catch (e) {
      busy = false;
      release(choice);
      toast(t('toast_send_error_title'), { kind: 'warn', details: [String(e.message || e)] });
      return;
    }
    // Remembered like a send: Undo (or `z`) right after scheduling withdraws it, and the ids of
    // the schedule's sync call are paired with it.
    const entry = compose.rememberSent({ draftId: data.draftId, logged: logChecked !== false, scheduled: true, scheduleId: null });
    compose.setBusy(c, true);
    let reply = null;
    let error = null;
    let notice = null;
    const late = (r) => {
      compose.scheduleAnswered(entry, r, r.decision?.addBcc ? 'missed' : null);
      if (notice) replaceToast(notice, ...scheduledNotice(r, r.decision?.addBcc ? 'missed' : null));
    };
    try {
      reply = await send('compose:schedule', { compose: data, logChecked, account: ctx.account || undefined }, { timeoutMs: compose.sendTimeoutMs, onLate: late });
    } catch (e) {
      error = e;
      if (e.code !== 'timeout') entry.logged = false;
    }
    let bccResult = null;
    if (reply?.decision?.addBcc) bccResult = addBcc(c, reply.decision.addBcc);
    if (reply) compose.scheduleAnswered(entry, reply, bccResult);
    compose.setBusy(c, false);
    busy = false;
    release(choice);
    notice = error ? toast(...compose.errorNotice(error)) : toast(...scheduledNotice(reply, bccResult));
  }

  /** "Cancel send" on a scheduled message: Gmail makes it a draft again; its log is withdrawn. */
  function onCancelSend(event) {
    const target = event.target;
    const button = target instanceof Element ? target.closest(SELECTORS.cancelScheduledSend) : null;
    if (!button) return;
    send('schedule:cancel', scheduledMessageOf(button))
      .then((r) => {
        if (r.cancelled) toast(t('toast_schedule_cancelled_title'), { kind: 'info' });
        else if (r.waiting) toast(t('toast_schedule_unknown_title'), { kind: 'warn', details: [t('toast_schedule_unknown_detail')], timeoutMs: 20000 });
      })
      .catch(() => {});
  }

  for (const type of ['mousedown', 'mouseup', 'click']) ctx.win.addEventListener(type, onPointer, true);
  ctx.win.addEventListener('keydown', onKey, true);
  ctx.win.addEventListener('click', onCancelSend, true);

  return { sweep() {} };
}
