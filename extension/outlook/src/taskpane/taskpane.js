// Entry of taskpane.html: the Mailtrail pane (pinnable) in compose and read mode.
//   This email: the Log checkbox and what the engine would decide (compose); "Log this email"
//               and thread tracking with the reason (read).
//   Outbox:     what waits, what failed (with the CRM's message and a retry), recent decisions.
//   Settings:   endpoint and token, mode, BCC/forwarding addresses, never-log lists, defaults.
import { createContext } from '../engine/context.js';
import { loadEngine } from '../engine/wasm.js';
import { applyDeferred } from './deferred.js';
import { h, fill } from './dom.js';
import { composeView } from './compose.js';
import { readView } from './read.js';
import { outboxView } from './outbox.js';
import { settingsView } from './settings.js';

/* global Office */
loadEngine().catch(() => {}); // compile the engine while Office initialises

Office.onReady(() => {
  start().catch((e) => {
    document.getElementById('app').textContent = `Mailtrail: ${e.message || e}`;
    console.error(e);
  });
});

async function start() {
  const root = document.getElementById('app');
  const ctx = createContext({ Office, loadEngine });
  const t = ctx.t;
  document.documentElement.lang = t.lang;
  document.title = t('app.title');

  // A settings change (or dismissal) left before the reload: apply it to the fresh roamingSettings.
  const deferred = await applyDeferred(Office.context.roamingSettings);

  const panels = {
    email: h('section', { id: 'panel-email', class: 'panel', role: 'tabpanel' }),
    outbox: h('section', { id: 'panel-outbox', class: 'panel', role: 'tabpanel', hidden: true }),
    settings: h('section', { id: 'panel-settings', class: 'panel', role: 'tabpanel', hidden: true }),
  };
  const tabs = Object.keys(panels).map((name) =>
    h('button', { class: 'tab', role: 'tab', id: `tab-${name}`, 'aria-selected': name === 'email' ? 'true' : 'false', onclick: () => show(name) }, t(`tab.${name}`))
  );
  const banner = h('div', { id: 'banner', class: 'banner', hidden: true });
  fill(root, h('header', { class: 'header' }, h('h1', {}, t('app.title')), h('nav', { class: 'tabs', role: 'tablist' }, tabs)), banner, Object.values(panels));

  function show(name) {
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name;
    for (const tab of tabs) tab.setAttribute('aria-selected', tab.id === `tab-${name}` ? 'true' : 'false');
    if (name === 'outbox') outbox.refresh();
  }

  const outbox = outboxView(ctx, panels.outbox);
  const settings = settingsView(ctx, panels.settings, { deferred });
  if (deferred && deferred.kind === 'settings') show('settings');

  // The pane's own runtime is fresh: take over what classic Outlook left, then send what is due.
  const service = await ctx.getService();
  if (!service) {
    banner.hidden = false;
    fill(banner, t('app.engineFailed', { message: ctx.engineError?.message || '?' }));
  } else if (!service.canDeliver) {
    banner.hidden = false;
    fill(banner, t('app.settingsInvalid', { errors: service.settingsErrors.map((e) => `${e.field}: ${e.message}`).join('; ') }));
  }
  let handoff = null;
  if (service) {
    // Only a runtime that can deliver takes the hand-off over (drainHandoff checks canDeliver).
    handoff = await service.drainHandoff(Office.context.roamingSettings).catch((e) => ({ error: e.message || String(e) }));
    // What loading the stored state had to repair (a damaged thread history, say).
    if (service.stateProblems.length) {
      banner.hidden = false;
      banner.append(h('p', { id: 'mt-state-problems' }, t('app.stateProblems', { problems: service.stateProblems.join('; ') })));
    }
  }
  outbox.setHandoff(handoff);

  const renderEmail = async () => {
    const item = Office.context.mailbox.item;
    if (!item) {
      fill(panels.email);
      return;
    }
    const compose = typeof item.subject !== 'string';
    await (compose ? composeView(ctx, panels.email) : readView(ctx, panels.email));
  };
  await renderEmail();
  // Pinned in read mode: follow the selection.
  if (Office.EventType && Office.context.mailbox.addHandlerAsync) {
    Office.context.mailbox.addHandlerAsync(Office.EventType.ItemChanged, () => renderEmail().catch(console.error));
  }

  if (service) {
    await outbox.sendNow();
    outbox.scheduleRetries();
  }
  globalThis.mailtrailPane = { ctx, outbox, settings, show, ready: true };
  document.body.dataset.ready = 'true';
}
