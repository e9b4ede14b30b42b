// The Settings tab. The engine validates and normalises the document (every error at once); the
// secret goes to this device's storage, the rest to roamingSettings (after a reload, see
// deferred.js) where classic Outlook's send handler can read it.
import { h, fill } from './dom.js';
import { readSettings } from '../office/roaming.js';
import { SETTINGS_BUDGET_BYTES } from '../office/keys.js';
import { utf8Length } from '../office/async.js';
import { loadSecrets, saveSecrets, splitSecrets, DEFAULT_LOCAL_URL } from '../engine/settings.js';
import { deferRoamingWrite } from './deferred.js';

const lines = (text) =>
  String(text || '')
    .split(/[\n,;]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** HubSpot's own API (the default base URL), which the add-in cannot reach from a web page. */
export function unreachableHubspot(endpoint) {
  if (!endpoint || endpoint.type !== 'hubspot') return false;
  try {
    return /(^|\.)hubapi\.com$/i.test(new URL(endpoint.baseUrl || 'https://api.hubapi.com').hostname);
  } catch {
    return true;
  }
}

export function settingsView(ctx, panel, { deferred } = {}) {
  const { Office, t } = ctx;
  const shared = readSettings(Office.context.roamingSettings);
  const secrets = loadSecrets();
  const endpoint = shared.endpoint || { type: 'local', url: DEFAULT_LOCAL_URL };

  const field = (name, input, label) => h('label', { class: 'field', dataset: { field: name } }, h('span', {}, label), input, h('span', { class: 'field-error' }));
  const text = (name, value, type = 'text') => h('input', { type, name, id: `mt-${name}`, value: value ?? '', autocomplete: 'off', spellcheck: 'false' });
  const area = (name, list) => h('textarea', { name, id: `mt-${name}`, rows: 3, spellcheck: 'false' }, (list || []).join('\n'));
  const check = (name, value) => h('input', { type: 'checkbox', name, id: `mt-${name}`, checked: !!value });
  const select = (name, value, options) =>
    h('select', { name, id: `mt-${name}` }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));

  const type = select('endpointType', endpoint.type, [
    ['local', t('settings.endpoint.local')],
    ['hubspot', t('settings.endpoint.hubspot')],
    ['webhook', t('settings.endpoint.webhook')],
  ]);
  const localUrl = text('localUrl', endpoint.type === 'local' ? endpoint.url : DEFAULT_LOCAL_URL, 'url');
  const localToken = text('localToken', secrets.local, 'password');
  const hubspotToken = text('hubspotToken', secrets.hubspot, 'password');
  const webhookUrl = text('webhookUrl', endpoint.type === 'webhook' ? endpoint.url : '', 'url');
  const webhookSecret = text('webhookSecret', secrets.webhook, 'password');
  const groups = {
    local: h('div', { class: 'endpoint-group', dataset: { type: 'local' } }, field('endpoint.url', localUrl, t('settings.url')), field('endpoint.token', localToken, t('settings.token'))),
    hubspot: h('div', { class: 'endpoint-group', dataset: { type: 'hubspot' } }, field('endpoint.token', hubspotToken, t('settings.token'))),
    webhook: h('div', { class: 'endpoint-group', dataset: { type: 'webhook' } }, field('endpoint.url', webhookUrl, t('settings.url')), field('endpoint.secret', webhookSecret, t('settings.secret'))),
  };
  // HubSpot's CRM API answers no CORS preflight for a browser origin, and the add-in is a web
  // page in every Outlook: it cannot send to HubSpot itself. Said as soon as HubSpot is chosen.
  const hubspotWarning = h('p', { class: 'warning', id: 'mt-hubspot-warning', role: 'note' }, t('settings.hubspotNoOutlook'));
  groups.hubspot.prepend(hubspotWarning);
  const showGroup = () => {
    for (const [k, g] of Object.entries(groups)) g.hidden = k !== type.value;
  };
  type.addEventListener('change', showGroup);
  showGroup();

  const mode = select('mode', shared.mode || 'api', [
    ['api', t('settings.mode.api')],
    ['bcc', t('settings.mode.bcc')],
    ['both', t('settings.mode.both')],
  ]);
  const inputs = {
    bccAddress: text('bccAddress', shared.bccAddress, 'email'),
    forwardingAddress: text('forwardingAddress', shared.forwardingAddress, 'email'),
    neverLogAddresses: area('neverLogAddresses', shared.neverLogAddresses),
    neverLogDomains: area('neverLogDomains', shared.neverLogDomains),
    internalDomains: area('internalDomains', shared.internalDomains),
    logInternalOnly: check('logInternalOnly', shared.logInternalOnly),
    logByDefault: check('logByDefault', shared.logByDefault !== false),
    includeAttachments: check('includeAttachments', shared.includeAttachments !== false),
  };
  const bccField = field('bccAddress', inputs.bccAddress, t('settings.bccAddress'));
  const showBcc = () => {
    bccField.hidden = mode.value === 'api';
  };
  mode.addEventListener('change', showBcc);
  showBcc();
  const errors = h('div', { id: 'mt-settings-errors', class: 'errors', 'aria-live': 'polite' });
  const message = h('p', { id: 'mt-settings-message', class: 'hint', 'aria-live': 'polite' });
  const usage = h('p', { id: 'mt-settings-size', class: 'hint' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'mt-save' }, t('settings.save'));
  const test = h('button', { type: 'button', id: 'mt-test' }, t('settings.test'));

  const form = h(
    'form',
    { id: 'mt-settings', novalidate: true },
    h('fieldset', {}, h('legend', {}, t('settings.endpoint')), field('endpoint.type', type, ''), Object.values(groups), h('p', { class: 'hint' }, t('settings.tokenNote'))),
    h(
      'fieldset',
      {},
      h('legend', {}, t('settings.mode')),
      field('mode', mode, ''),
      bccField,
      field('forwardingAddress', inputs.forwardingAddress, t('settings.forwardingAddress'))
    ),
    field('neverLogAddresses', inputs.neverLogAddresses, t('settings.neverLogAddresses')),
    field('neverLogDomains', inputs.neverLogDomains, t('settings.neverLogDomains')),
    field('internalDomains', inputs.internalDomains, t('settings.internalDomains')),
    h('label', { class: 'check' }, inputs.logByDefault, h('span', {}, t('settings.logByDefault'))),
    h('label', { class: 'check' }, inputs.logInternalOnly, h('span', {}, t('settings.logInternalOnly'))),
    h('label', { class: 'check' }, inputs.includeAttachments, h('span', {}, t('settings.includeAttachments'))),
    errors,
    h('div', { class: 'actions' }, save, test),
    message,
    usage
  );
  fill(panel, form);

  const sizeOf = (doc) => utf8Length(JSON.stringify(doc));
  fill(usage, t('settings.size', { size: sizeOf(shared), limit: SETTINGS_BUDGET_BYTES }));
  if (deferred && deferred.kind === 'settings') {
    fill(message, deferred.ok ? t('settings.saved') : deferred.error);
    message.dataset.state = deferred.ok ? 'saved' : 'error';
  }

  /** The full document from the form (secrets included), keeping fields the form does not show. */
  function fromForm() {
    const endpointDoc =
      type.value === 'hubspot'
        ? { ...(shared.endpoint?.type === 'hubspot' ? shared.endpoint : {}), type: 'hubspot', token: hubspotToken.value.trim() }
        : type.value === 'webhook'
          ? { type: 'webhook', url: webhookUrl.value.trim(), secret: webhookSecret.value }
          : { type: 'local', url: localUrl.value.trim() || DEFAULT_LOCAL_URL, token: localToken.value.trim() };
    return {
      ...shared,
      mode: mode.value,
      bccAddress: inputs.bccAddress.value.trim() || null,
      forwardingAddress: inputs.forwardingAddress.value.trim() || null,
      neverLogAddresses: lines(inputs.neverLogAddresses.value),
      neverLogDomains: lines(inputs.neverLogDomains.value),
      internalDomains: lines(inputs.internalDomains.value),
      logInternalOnly: inputs.logInternalOnly.checked,
      logByDefault: inputs.logByDefault.checked,
      includeAttachments: inputs.includeAttachments.checked,
      endpoint: endpointDoc,
    };
  }

  function showErrors(list) {
    for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
    for (const el of form.querySelectorAll('.field')) el.classList.remove('invalid');
    if (!list.length) {
      fill(errors);
      return;
    }
    fill(errors, h('p', {}, t('settings.errors')), h('ul', {}, list.map((e) => h('li', { dataset: { field: e.field } }, `${e.field}: ${e.message}`))));
    for (const e of list) {
      const name = e.field.replace(/\[\d+\]$/, '');
      for (const el of form.querySelectorAll(`.field[data-field="${CSS.escape(name)}"]`)) {
        if (el.closest('[hidden]')) continue;
        el.classList.add('invalid');
        el.querySelector('.field-error').textContent = e.message;
      }
    }
  }

  async function validated() {
    const service = await ctx.getService();
    if (!service) throw new Error(t('app.engineFailed', { message: ctx.engineError?.message || '?' }));
    // The mailbox owner's own address is added at run time (mergeSettings), not stored.
    return { service, check: service.engineModule.validateSettings(fromForm()) };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(message);
    try {
      const { check } = await validated();
      if (!check.ok) {
        showErrors(check.errors);
        message.dataset.state = 'invalid';
        return;
      }
      // Saving HubSpot as the endpoint is refused: every record would wait in the outbox and
      // every attempt fail as if HubSpot were down (the browser blocks the request), and the
      // settings roam to each of the user's Outlooks. The one way that works is the relay in
      // `mailtrail serve` (the local endpoint type). A HubSpot endpoint whose `baseUrl` an admin
      // pointed at a proxy of their own (an imported document) is not HubSpot's API, so it is kept.
      if (unreachableHubspot(check.settings.endpoint)) {
        showErrors([{ field: 'endpoint.type', message: t('settings.hubspotNotSaved') }]);
        message.dataset.state = 'invalid';
        return;
      }
      showErrors([]);
      const { shared: nextShared, secrets: nextSecrets } = splitSecrets(check.settings);
      const size = sizeOf(nextShared);
      if (size > SETTINGS_BUDGET_BYTES) {
        fill(message, t('settings.size', { size, limit: SETTINGS_BUDGET_BYTES }));
        message.dataset.state = 'error';
        return;
      }
      // A new endpoint or token: records that waited on a refused token are due again now (the
      // engine decides which), so the pane sends them after the reload instead of in 30 minutes.
      const service = await ctx.getService();
      if (service) await service.endpointChanging(check.settings);
      // The secret stays on this device; the rest is written to roamingSettings after a reload.
      saveSecrets(nextSecrets);
      deferRoamingWrite({ kind: 'settings', shared: nextShared });
    } catch (e) {
      fill(message, e.message || String(e));
      message.dataset.state = 'error';
    }
  });

  test.addEventListener('click', async () => {
    fill(message);
    test.disabled = true;
    try {
      const { service, check } = await validated();
      if (!check.ok) {
        showErrors(check.errors);
        return;
      }
      const engine = new service.engineModule.Engine(check.settings);
      try {
        const report = await engine.testConnection();
        const where = check.settings.endpoint?.url || check.settings.endpoint?.baseUrl || check.settings.endpoint?.type || 'local';
        fill(message, report.ok ? t('settings.testOk', { endpoint: where }) : t('settings.testFailed', { message: report.message }));
        message.dataset.state = report.ok ? 'connected' : 'error';
      } finally {
        engine.free();
      }
    } catch (e) {
      fill(message, t('settings.testFailed', { message: e.message || String(e) }));
      message.dataset.state = 'error';
    } finally {
      test.disabled = false;
    }
  });

  return { form, fromForm };
}
