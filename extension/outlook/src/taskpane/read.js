// "This email" in read mode: "Log this email", and thread tracking for the opened message (logged
// when it is a known contact's reply in a logged conversation; the reason is shown either way).
import { h, fill, reasonList } from './dom.js';
import { logThisEmail, trackOpenedMessage } from '../handlers/events.js';

function outcomeBlock(t, id, outcome, flush) {
  const d = outcome.decision;
  const delivered = flush && (flush.delivered > 0 || flush.duplicates > 0);
  const verdict = d.log ? (d.push && !delivered ? t('read.queued') : t('read.logged')) : t('read.notLogged');
  const original = outcome.forwarded && outcome.record?.from?.address;
  return h(
    'div',
    { id, class: 'outcome', dataset: { log: String(d.log), direction: d.direction } },
    h('p', { class: d.log ? 'verdict logged' : 'verdict not-logged' }, verdict),
    original ? h('p', { class: 'hint' }, t('read.forwarded', { address: original })) : null,
    reasonList(t, d.reasons)
  );
}

export async function readView(ctx, panel) {
  const { t } = ctx;
  const result = h('div', { id: 'mt-log-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', class: 'primary', id: 'mt-log-this' }, t('read.logThis'));
  const thread = h('div', { id: 'mt-thread', 'aria-live': 'polite' }, t('app.loading'));
  const via = h('p', { class: 'hint', id: 'mt-via' });
  fill(panel, button, result, h('h2', {}, t('read.thread')), thread, via);

  button.addEventListener('click', async () => {
    button.disabled = true;
    fill(result, t('read.logging'));
    try {
      const r = await logThisEmail(ctx);
      fill(result, outcomeBlock(t, 'mt-log-outcome', r.outcome, r.flush));
      fill(via, t(`read.via.${r.via}`));
    } catch (e) {
      fill(result, h('p', { class: 'error' }, t('notify.failed', { message: e.message || String(e) })));
    } finally {
      button.disabled = false;
    }
  });

  try {
    const r = await trackOpenedMessage(ctx);
    if (!r) {
      fill(thread, t('app.engineFailed', { message: ctx.engineError?.message || '?' }));
      return;
    }
    fill(thread, outcomeBlock(t, 'mt-thread-outcome', r.outcome, r.flush));
    fill(via, t(`read.via.${r.via}`));
  } catch (e) {
    fill(thread, h('p', { class: 'error' }, e.message || String(e)));
  }
}
