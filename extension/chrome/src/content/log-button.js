// Feature: a "Log this email" button on every opened message. The raw source ("show
// original") goes to the worker; the engine parses it, recognises a forward and logs the
// original sender, recipients, date and body.

import { messageActionAnchor, openedMessages } from './gmail.js';
import { renderReasons } from '../../../shared/reasons.js';

export function setupLogButton(ctx) {
  const { doc, send, t, toast } = ctx;
  const done = new WeakSet();

  function setState(button, state, text) {
    button.dataset.state = state;
    button.textContent = text;
  }

  async function logIt(button, message) {
    if (button.dataset.state === 'busy') return;
    setState(button, 'busy', t('log_button_busy'));
    try {
      const raw = await ctx.fetchRaw(message.messageId);
      const r = await send('message:log', { raw, messageId: message.messageId, account: ctx.account || undefined });
      const details = renderReasons(r.reasons, t);
      if (r.logged) {
        setState(button, 'logged', t('log_button_logged'));
        toast(r.direction === 'forwarded' ? t('toast_forward_logged_title') : t('toast_logged_title'), { kind: 'ok', details });
      } else {
        setState(button, 'not-logged', t('log_button_not_logged'));
        toast(t('toast_not_logged_title'), { kind: 'warn', details });
      }
      button.title = details.join('\n');
    } catch (e) {
      setState(button, 'error', t('log_button_retry'));
      // The worker's own words are English; the one a user can act on is said in theirs.
      const why = e.code === 'settings-invalid' ? t('error_settings_invalid') : String(e.message || e);
      button.title = why;
      toast(t('toast_log_error_title'), { kind: 'warn', details: [why] });
    }
  }

  return {
    sweep(root) {
      for (const message of openedMessages(root)) {
        if (done.has(message.element)) continue;
        done.add(message.element);
        const button = doc.createElement('div');
        button.className = 'mailtrail-log-email';
        button.setAttribute('role', 'button');
        button.tabIndex = 0;
        setState(button, 'idle', t('log_button'));
        button.addEventListener('click', (e) => {
          e.stopPropagation();
          logIt(button, message);
        });
        button.addEventListener('keydown', (e) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            logIt(button, message);
          }
        });
        messageActionAnchor(message.element).prepend(button);
      }
    },
  };
}
