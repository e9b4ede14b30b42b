// Outlook's roamingSettings: the only storage every Outlook runtime shares (the task pane, the
// event runtimes in every client, classic Outlook's JavaScript-only runtime), synced with the
// mailbox. It holds:
//   - the settings document *without secrets* (tokens stay on the device: see src/engine/secrets.js);
//   - the hand-off queue: compose snapshots that classic Outlook on Windows (no WebAssembly in its
//     event runtime) leaves for the next runtime that can run the engine.
// Outlook allows 32 KB for all of an add-in's roamingSettings; sizes are counted here as UTF-8
// bytes of the JSON, the strictest reading. ECMAScript 2016 (see keys.js).
import { officeCall, utf8Length } from './async.js';
import {
  SETTINGS_KEY,
  HANDOFF_KEY,
  HANDOFF_LOST_KEY,
  ROAMING_LIMIT_BYTES,
  SETTINGS_BUDGET_BYTES,
  ROAMING_MARGIN_BYTES,
} from './keys.js';

var KEYS = [SETTINGS_KEY, HANDOFF_KEY, HANDOFF_LOST_KEY];

function jsonSize(value) {
  return value === undefined || value === null ? 0 : utf8Length(JSON.stringify(value));
}

/** Bytes Mailtrail's roamingSettings take, with `changes` (`{key: value}`) applied. */
export function roamingSize(roaming, changes) {
  var total = 2; // {}
  for (var i = 0; i < KEYS.length; i++) {
    var key = KEYS[i];
    var value = changes && Object.prototype.hasOwnProperty.call(changes, key) ? changes[key] : roaming.get(key);
    if (value !== undefined && value !== null) total += utf8Length(JSON.stringify(key)) + 1 + jsonSize(value) + 1;
  }
  return total;
}

export function readSettings(roaming) {
  var s = roaming && roaming.get(SETTINGS_KEY);
  return s && typeof s === 'object' ? s : {};
}

/** Saves the (secret-free) settings document. Rejects with code `too-large` over its budget. */
export function saveSettings(roaming, settings) {
  var size = jsonSize(settings);
  if (size > SETTINGS_BUDGET_BYTES) {
    var err = new Error('the settings take ' + size + ' bytes; Outlook keeps at most ' + SETTINGS_BUDGET_BYTES + ' for them (shorten the lists)');
    err.code = 'too-large';
    err.size = size;
    err.limit = SETTINGS_BUDGET_BYTES;
    return Promise.reject(err);
  }
  roaming.set(SETTINGS_KEY, settings);
  return officeCall(roaming, 'saveAsync').then(function () {
    return size;
  });
}

export function handoffQueue(roaming) {
  var q = roaming && roaming.get(HANDOFF_KEY);
  return Array.isArray(q) ? q : [];
}

export function handoffLost(roaming) {
  var lost = roaming && roaming.get(HANDOFF_LOST_KEY);
  return lost && typeof lost === 'object' ? lost : { count: 0, last: [] };
}

/** Bytes a new snapshot may take now. */
export function handoffRoom(roaming) {
  return ROAMING_LIMIT_BYTES - ROAMING_MARGIN_BYTES - roamingSize(roaming) - 2;
}

// Written into the record's body, so the CRM shows that it is not the whole email.
var NOTE = {
  en: '[Mailtrail: this copy of the body was shortened to fit Outlook\u2019s hand-off storage: {kept} of {total} characters kept.]',
  ja: '[Mailtrail: Outlook の受け渡し用ストレージに収めるため、本文のこのコピーは短縮されました ({total} 文字中 {kept} 文字を保持)。]',
  pl: '[Mailtrail: ta kopia treści została skrócona, aby zmieściła się w pamięci przekazywania Outlooka: zachowano {kept} z {total} znaków.]',
};

function noteFor(lang) {
  var key = String(lang || 'en').slice(0, 2).toLowerCase();
  return NOTE[key] || NOTE.en;
}

/**
 * Shrinks a snapshot's body to `room` bytes: HTML is replaced by the plain text `text` (Outlook's
 * own rendering), truncated if needed, with a visible note saying so. Returns the snapshot, or
 * null when even an empty body does not fit (too many recipients or attachments).
 */
export function fitSnapshot(snapshot, room, text, lang) {
  if (jsonSize(snapshot) <= room) return snapshot;
  var compose = {};
  for (var k in snapshot.compose) if (Object.prototype.hasOwnProperty.call(snapshot.compose, k)) compose[k] = snapshot.compose[k];
  delete compose.html;
  var full = String(text || '');
  var kept = full.length;
  var candidate = null;
  for (var attempt = 0; attempt < 12; attempt++) {
    var body = full.slice(0, kept);
    if (kept < full.length || snapshot.compose.html) {
      body += '\n\n' + noteFor(lang).replace('{kept}', String(kept)).replace('{total}', String(full.length));
    }
    compose.text = body;
    candidate = { v: snapshot.v, id: snapshot.id, at: snapshot.at, logChecked: snapshot.logChecked, bccAdded: snapshot.bccAdded, compose: compose, shortened: { kept: kept, total: full.length, htmlDropped: !!snapshot.compose.html } };
    var over = jsonSize(candidate) - room;
    if (over <= 0) return candidate;
    if (kept === 0) return null;
    kept = Math.max(0, kept - over - 16);
  }
  return null;
}

/**
 * Appends a snapshot to the hand-off queue and saves. `textBody()` is asked for only when the
 * HTML body does not fit. Resolves `{stored: true, shortened}` or `{stored: false}` (counted in
 * the lost record with the subject and time, so the task pane can tell the user).
 */
export function enqueueHandoff(roaming, snapshot, textBody, lang) {
  var room = handoffRoom(roaming);
  var fitted = jsonSize(snapshot) <= room ? Promise.resolve(snapshot) : Promise.resolve(textBody ? textBody() : '').then(function (text) {
    return fitSnapshot(snapshot, room, text, lang);
  });
  return fitted.then(function (entry) {
    if (entry) {
      roaming.set(HANDOFF_KEY, handoffQueue(roaming).concat([entry]));
      return officeCall(roaming, 'saveAsync').then(function () {
        return { stored: true, shortened: !!entry.shortened };
      });
    }
    noteLost(roaming, snapshot, 'too-large');
    return officeCall(roaming, 'saveAsync').then(function () {
      return { stored: false };
    });
  });
}

/**
 * Counts a snapshot that will not be processed (did not fit, or the engine refused it), keeping
 * its subject and time for the task pane. Does not save: the caller saves with its next change.
 */
export function noteLost(roaming, snapshot, why) {
  var lost = handoffLost(roaming);
  var compose = (snapshot && snapshot.compose) || {};
  var entry = { at: snapshot && snapshot.at, subject: String(compose.subject || '').slice(0, 80), why: String(why || '').slice(0, 120) };
  roaming.set(HANDOFF_LOST_KEY, { count: (lost.count || 0) + 1, last: (lost.last || []).concat([entry]).slice(-5) });
}

/** Removes processed snapshots (by id) and saves. */
export function removeHandoff(roaming, ids) {
  var remaining = handoffQueue(roaming).filter(function (s) {
    return ids.indexOf(s.id) < 0;
  });
  if (remaining.length) roaming.set(HANDOFF_KEY, remaining);
  else roaming.remove(HANDOFF_KEY);
  return officeCall(roaming, 'saveAsync');
}

/** Clears the lost-snapshot record after the user has seen it. */
export function clearHandoffLost(roaming) {
  roaming.remove(HANDOFF_LOST_KEY);
  return officeCall(roaming, 'saveAsync');
}
