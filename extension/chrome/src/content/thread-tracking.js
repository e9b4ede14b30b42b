// Feature: thread tracking in the read view. When an open conversation shows a message Mailtrail
// has not looked at, the worker is asked whether its thread is one Mailtrail logged; if so the
// raw source is fetched and the engine decides (logged when the sender is a known contact,
// otherwise not — with the reason shown on the message).

import { openedMessages } from './gmail.js';
import { renderReasons } from '../../../shared/reasons.js';

export function setupThreadTracking(ctx) {
  const { doc, send, t } = ctx;
  const shown = new WeakSet(); // message elements handled (Gmail re-renders a conversation on every visit)
  const looked = new Set(); // Gmail message ids being checked right now
  const failures = new Map(); // message id → failed attempts (retried a few times, then left)

  function badge(message, result) {
    const el = doc.createElement('span');
    el.className = `mailtrail-badge mailtrail-badge-${result.logged ? 'logged' : 'not-logged'}`;
    el.textContent = result.logged ? t('badge_logged') : t('badge_not_logged');
    const reasons = renderReasons(result.reasons, t);
    el.title = reasons.join('\n');
    el.dataset.reasons = (result.reasons || []).map((r) => r.code).join(' ');
    const old = message.element.querySelector('.mailtrail-badge');
    if (old) old.remove();
    const button = message.element.querySelector('.mailtrail-log-email');
    if (button) button.after(el);
    else message.element.prepend(el);
  }

  async function check(message, participated) {
    const base = {
      threadId: message.threadId,
      subject: message.subject,
      messageId: message.messageId,
      from: message.from,
      participated,
      account: ctx.account || undefined,
    };
    let r = await send('thread:message', base);
    if (r.needRaw) {
      const raw = await ctx.fetchRaw(message.messageId);
      r = await send('thread:message', { ...base, raw });
    }
    if (r.tracked && r.reasons && message.element.isConnected) badge(message, r);
  }

  return {
    sweep(root) {
      const messages = openedMessages(root);
      const participated = messages.some((m) => m.own);
      for (const message of messages) {
        if (message.own || shown.has(message.element) || looked.has(message.messageId)) continue;
        if ((failures.get(message.messageId) || 0) >= 3) continue;
        // The worker remembers what it decided per message, so a revisit costs one message, no fetch.
        shown.add(message.element);
        looked.add(message.messageId);
        check(message, participated)
          .catch((e) => {
            failures.set(message.messageId, (failures.get(message.messageId) || 0) + 1);
            if (e.code !== 'extension-reloaded') shown.delete(message.element); // next sweep
            ctx.problem('thread-tracking', e);
          })
          .finally(() => looked.delete(message.messageId));
      }
    },
  };
}
