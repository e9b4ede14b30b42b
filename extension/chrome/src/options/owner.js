// The HubSpot owner on the options page: what "Test connection"'s owner lookup (the engine's
// `report.owner`, docs/settings.md) shows, and the endpoint's `ownerId` from the form field.
// Pure functions, so tests/js/chrome_settings_owner.test.mjs checks them without a browser.

/**
 * What to show for an owner lookup: `message` (a _locales name) with its substitutions, the
 * class (`ok`/`warn`/``), and `offer`, the owner id a "Use this owner" button would fill in
 * (null when there is nothing to offer: none found, already set, or the endpoint is managed).
 * Null when the report has no lookup (another endpoint, a failed connection).
 */
export function ownerView(lookup, currentOwnerId, { locked = false } = {}) {
  if (!lookup || typeof lookup !== 'object') return null;
  const current = String(currentOwnerId ?? '').trim();
  switch (lookup.status) {
    case 'found': {
      const o = lookup.owner || {};
      if (!o.id) break;
      const who = o.name && o.email ? `${o.name} <${o.email}>` : o.name || o.email || lookup.address || '';
      const inUse = current === String(o.id);
      return {
        message: 'options_owner_found',
        subs: [who, String(o.id)],
        extra: inUse ? 'options_owner_in_use' : null,
        className: 'ok',
        offer: inUse || locked ? null : String(o.id),
      };
    }
    case 'not-found':
      return { message: 'options_owner_not_found', subs: [lookup.address || ''], extra: null, className: 'warn', offer: null };
    case 'missing-scope':
      return { message: 'options_owner_missing_scope', subs: ['crm.objects.owners.read'], extra: null, className: 'warn', offer: null };
    case 'no-address':
      return { message: 'options_owner_no_address', subs: [], extra: null, className: 'warn', offer: null };
    default:
      break;
  }
  return { message: 'options_owner_failed', subs: [lookup.message || String(lookup.status || '')], extra: null, className: 'warn', offer: null };
}

/**
 * The endpoint with the form's owner id: trimmed; empty removes `ownerId` (no owner). Only a
 * HubSpot endpoint has one; the engine checks it (digits only) when the settings are saved.
 */
export function withOwnerId(endpoint, value) {
  if (!endpoint || endpoint.type !== 'hubspot') return endpoint;
  const out = { ...endpoint };
  const id = String(value ?? '').trim();
  if (id) out.ownerId = id;
  else delete out.ownerId;
  return out;
}
