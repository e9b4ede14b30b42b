// Messages from the popup and the options page: status, retry, test connection, settings.
// These carry secrets (the options page edits the token), so the router only accepts them
// from the extension's own pages, never from content scripts.

import { validateSettings, version } from '@mailtrail/engine';
import { endpointPermissionPattern, endpointUrl, mergeManaged, parseUndoSeconds } from '../../../shared/settings-form.js';
import { readManaged, validate } from './settings.js';
import { scheduledStatus } from './schedule.js';
import { correctedActivity } from './activity.js';


async function permissionGranted(settings) {
  const pattern = endpointPermissionPattern(settings);
  if (!pattern) return false;
  try {
    return await chrome.permissions.contains({ origins: [pattern] });
  } catch {
    return false;
  }
}

export async function status(host) {
  const s = host.engine.status();
  const settings = host.active || host.config?.settings || {};
  return {
    version: version(),
    counts: s.counts,
    queue: s.queue,
    activity: correctedActivity(s.activity, host.meta.corrections),
    scheduled: scheduledStatus(host),
    nextWakeup: s.nextWakeup ?? null,
    threads: s.threads,
    connection: {
      type: settings.endpoint?.type || 'local',
      url: endpointUrl(settings),
      permission: await permissionGranted(settings),
      lastFlush: host.lastFlush,
      // Set by the administrator's policy: the user cannot change the token (to fix a refused one).
      endpointManaged: !!host.config?.locked?.includes('endpoint'),
    },
    settingsErrors: host.settingsErrors,
    settingsBlocked: host.settingsBlocked,
    stateError: host.stateError || null,
    stateProblems: host.stateProblems || [],
    stats: host.stats,
    bootMs: host.bootMs,
  };
}

export async function retry(host, { key }) {
  const ok = host.engine.retry(key);
  await host.persist();
  host.flushSoon();
  return { ok };
}

/** The popup's Discard (confirmed there) on a record not being sent: it is never logged. */
export async function discard(host, { key }) {
  const ok = host.engine.cancel(key, Date.now());
  await host.persist();
  host.scheduleWake();
  return { ok };
}

export async function testConnection(host) {
  const settings = host.active || host.config?.settings || {}; // the endpoint the engine would test
  if (!(await permissionGranted(settings))) {
    return { ok: false, status: null, message: null, code: 'no-permission', origin: endpointPermissionPattern(settings) };
  }
  const report = await host.engine.testConnection();
  if (report.ok) host.flushSoon();
  return report;
}

/** Everything the options page shows: the user's values, the managed ones, what is in force. */
export async function getSettings(host) {
  const managed = await readManaged();
  await host.applySettings(managed);
  return {
    user: host.storedSettings.settings || {},
    userPrefs: host.storedSettings.prefs || {},
    managed,
    locked: host.config.locked,
    effective: host.config.settings,
    prefs: host.config.prefs,
    detected: host.meta.detected,
    errors: host.settingsErrors,
  };
}

/**
 * Checks (and with `save`, stores) the user's settings. What is validated is what would be in
 * force — the user's values under the administrator's — so a managed value that makes the
 * document invalid is reported too. Nothing is stored when invalid.
 */
export async function saveSettings(host, { settings, prefs, save }) {
  const managed = await readManaged();
  const merged = mergeManaged(settings || {}, prefs || {}, managed);
  const report = validate(validateSettings, { ...merged.settings, userAddresses: [...(merged.settings.userAddresses || []), ...host.meta.detected] });
  const errors = [...(report.errors || [])];
  if (parseUndoSeconds(merged.prefs.undoSendSeconds) === null) {
    errors.push({ field: 'undoSendSeconds', message: 'must be a whole number of seconds from 0 to 60' });
  }
  if (errors.length || !save) return { ok: errors.length === 0, errors };
  await host.saveUserSettings(settings || {}, prefs || {});
  host.flushSoon();
  return { ok: true, errors: [] };
}
