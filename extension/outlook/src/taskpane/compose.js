// "This email" in compose mode: the Log checkbox (state kept on the item for the send handler)
// and the engine's answer to "what happens if I send now", with the reasons.
import { h, fill, reasonList } from './dom.js';
import { loadProperties, logStateOf, saveLogState } from '../office/itemState.js';
import { readSettings } from '../office/roaming.js';
import { previewCompose } from '../handlers/events.js';

export async function composeView(ctx, panel) {
  const { Office, t } = ctx;
  const item = Office.context.mailbox.item;
  const shared = readSettings(Office.context.roamingSettings);
  const props = await loadProperties(item);
  const state = logStateOf(props, shared.logByDefault !== false);

  const checkbox = h('input', { type: 'checkbox', id: 'mt-log', checked: state.checked });
  const status = h('p', { class: 'hint', id: 'mt-log-status' }, t('compose.logHint'));
  const preview = h('div', { id: 'mt-preview', class: 'preview', 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'link', id: 'mt-refresh', onclick: () => update() }, t('compose.refresh'));

  fill(
    panel,
    h('label', { class: 'log-toggle' }, checkbox, h('span', {}, t('compose.log'))),
    status,
    h('h2', {}, t('compose.preview'), ' ', refresh),
    preview
  );

  checkbox.addEventListener('change', async () => {
    checkbox.disabled = true;
    try {
      await saveLogState(item, checkbox.checked);
      fill(status, t('compose.saved'));
    } catch (e) {
      fill(status, e.message || String(e));
    } finally {
      checkbox.disabled = false;
    }
    await update();
  });

  async function update() {
    try {
      const outcome = await previewCompose(ctx, checkbox.checked);
      if (!outcome) {
        fill(preview, t('app.engineFailed', { message: ctx.engineError?.message || '?' }));
        return;
      }
      const d = outcome.decision;
      const contacts = d.contacts.map((c) => c.address).join(', ');
      fill(
        preview,
        h('p', { class: d.log ? 'verdict logged' : 'verdict not-logged', id: 'mt-verdict', dataset: { log: String(d.log) } }, d.log ? t('compose.willLog', { contacts }) : t('compose.willNotLog')),
        d.addBcc ? h('p', { class: 'hint', id: 'mt-bcc' }, t('compose.bcc', { address: d.addBcc })) : null,
        reasonList(t, d.reasons, { id: 'mt-reasons' })
      );
    } catch (e) {
      fill(preview, e.message || String(e));
    }
  }

  if (Office.EventType && Office.EventType.RecipientsChanged && item.addHandlerAsync) {
    item.addHandlerAsync(Office.EventType.RecipientsChanged, () => update());
  }
  await update();
}
