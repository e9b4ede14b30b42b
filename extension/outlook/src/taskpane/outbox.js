// The Outbox tab: records waiting, retrying (with the next attempt) and failed (with the CRM's
// own message and a retry button), recent decisions with their reasons, and what happened to
// emails sent from classic Outlook (taken over, or too large to keep).
import { h, fill, reasonList } from './dom.js';
import { handoffLost } from '../office/roaming.js';
import { deferRoamingWrite } from './deferred.js';

export function outboxView(ctx, panel) {
  const { Office, t } = ctx;
  const summary = h('p', { id: 'mt-outbox-counts' });
  const queue = h('ul', { id: 'mt-queue', class: 'queue' });
  const activity = h('ul', { id: 'mt-activity', class: 'activity' });
  const notes = h('div', { id: 'mt-outbox-notes' });
  const sendNowButton = h('button', { type: 'button', id: 'mt-send-now', onclick: () => sendNow() }, t('outbox.sendNow'));
  fill(panel, notes, summary, sendNowButton, queue, h('h2', {}, t('outbox.activity')), activity);
  let handoff = null;
  let lastFlush = null;
  // Records waiting on a refused token (the engine's error code), also when no flush of this
  // pane met the refusal (it happened earlier, and they wait 30 minutes before the next try).
  let tokenWaiting = false;
  let timer = null;

  function renderNotes() {
    const parts = [];
    if (handoff && handoff.drained) parts.push(h('p', { class: 'hint', id: 'mt-handoff' }, t('outbox.handoff', { n: handoff.drained })));
    if (handoff && handoff.skipped === 'cannot-deliver') parts.push(h('p', { class: 'warning', id: 'mt-handoff-waiting' }, t('outbox.handoffWaiting', { n: handoff.waiting })));
    const lost = handoffLost(Office.context.roamingSettings);
    if (lost.count) {
      const subjects = (lost.last || []).map((l) => `“${l.subject}”`).join(', ');
      parts.push(
        h(
          'p',
          { class: 'warning', id: 'mt-lost' },
          t('outbox.lost', { n: lost.count, subjects }),
          ' ',
          h('button', { type: 'button', class: 'link', onclick: () => deferRoamingWrite({ kind: 'dismiss-lost' }) }, t('outbox.dismiss'))
        )
      );
    }
    // A refused token is not "unreachable": the CRM answered; the user has to fix the token.
    if ((lastFlush && lastFlush.tokenRejected) || tokenWaiting) parts.push(h('p', { class: 'warning', id: 'mt-token-rejected', role: 'alert' }, t('outbox.tokenRejected')));
    else if (lastFlush && lastFlush.errors && lastFlush.errors.length && !lastFlush.delivered) parts.push(h('p', { class: 'warning', id: 'mt-unreachable' }, t('outbox.unreachable')));
    else if (lastFlush && lastFlush.delivered) parts.push(h('p', { class: 'hint', id: 'mt-sent' }, t('outbox.sent', { n: lastFlush.delivered })));
    fill(notes, parts);
  }

  async function refresh() {
    renderNotes();
    const service = await ctx.getService();
    if (!service) return;
    const status = await service.status();
    tokenWaiting = status.queue.some((e) => e.state.state === 'retrying' && e.lastError && e.lastError.code === 'token-rejected');
    renderNotes();
    fill(summary, t('outbox.counts', status.counts));
    summary.dataset.pending = String(status.counts.pending + status.counts.retrying + status.counts.sending);
    summary.dataset.done = String(status.counts.done);
    if (!status.queue.length) fill(queue, h('li', { class: 'empty' }, t('outbox.empty')));
    else
      fill(
        queue,
        status.queue.map((entry) =>
          h(
            'li',
            { dataset: { key: entry.key, state: entry.state.state } },
            h('span', { class: `state ${entry.state.state}` }, t(`outbox.state.${entry.state.state}`)),
            ' ',
            h('span', { class: 'subject' }, entry.subject || '—'),
            entry.lastError ? h('p', { class: 'error' }, entry.lastError.message) : null,
            entry.state.state === 'dead' || entry.state.state === 'retrying'
              ? h('button', { type: 'button', class: 'link retry', onclick: () => retry(entry.key) }, t('outbox.retry'))
              : null,
            entry.state.state === 'dead' ? discardControl(entry.key) : null
          )
        )
      );
    if (!status.activity.length) fill(activity, h('li', { class: 'empty' }, t('outbox.noActivity')));
    else
      fill(
        activity,
        status.activity.slice(0, 20).map((a) =>
          h(
            'li',
            { dataset: { logged: String(a.logged), key: a.key || '' } },
            h('span', { class: a.logged ? 'badge logged' : 'badge not-logged' }, a.logged ? t('outbox.logged') : t('outbox.notLogged')),
            ' ',
            h('span', { class: 'subject' }, a.subject || '—'),
            reasonList(t, a.reasons)
          )
        )
      );
  }

  /** Discard, with an inline confirmation (add-in panes cannot use window.confirm). */
  function discardControl(key) {
    const box = h('span', { class: 'discard' });
    const ask = h('button', { type: 'button', class: 'link discard-ask' }, t('outbox.discard'));
    ask.onclick = () =>
      fill(
        box,
        h('span', { class: 'confirm' }, t('outbox.discardConfirm')),
        ' ',
        h('button', { type: 'button', class: 'link discard-yes', onclick: () => discard(key) }, t('outbox.discardYes')),
        ' ',
        h('button', { type: 'button', class: 'link discard-no', onclick: () => fill(box, ask) }, t('outbox.discardNo'))
      );
    fill(box, ask);
    return box;
  }

  async function discard(key) {
    const service = await ctx.getService();
    if (!service) return;
    await service.discard(key);
    await refresh();
  }

  async function sendNow() {
    const service = await ctx.getService();
    if (!service) return;
    sendNowButton.disabled = true;
    try {
      lastFlush = await service.flush({ deadlineMs: 30_000 });
    } finally {
      sendNowButton.disabled = false;
    }
    await refresh();
    scheduleRetries();
  }

  async function retry(key) {
    const service = await ctx.getService();
    if (!service) return;
    await service.retry(key);
    await sendNow();
  }

  /** While the pane is open, retries happen when the engine says the next record is due. */
  async function scheduleRetries() {
    clearTimeout(timer);
    const service = await ctx.getService();
    if (!service) return;
    const status = await service.status();
    if (status.nextWakeup === null || status.nextWakeup === undefined) return;
    const wait = Math.min(Math.max(status.nextWakeup - ctx.now(), 1000), 10 * 60_000);
    timer = setTimeout(() => sendNow().catch(console.error), wait);
  }

  return {
    refresh,
    sendNow,
    scheduleRetries,
    setHandoff(value) {
      handoff = value;
      renderNotes();
    },
  };
}
