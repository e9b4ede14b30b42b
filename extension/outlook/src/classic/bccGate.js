// The BCC decision for classic Outlook on Windows, whose event runtime cannot run the WebAssembly
// engine (see docs/outlook-addin.md). It answers one question, "add the CRM's BCC address to this
// email being sent with Log checked?", with the engine's outgoing rules (src/policy.rs,
// decide_outgoing): the email is logged when at least one recipient is left after removing the
// CRM's own addresses, the user, never-log addresses and domains (subdomains included) and
// internal recipients; when every recipient is internal it is logged only with logInternalOnly.
//
// This is the one piece of policy that exists twice. tests/js/outlook_classic.test.mjs runs it
// and the engine over the same matrix of cases and requires the same answer, so the two cannot
// drift apart silently. Known difference, on purpose: with createContacts off the engine needs
// to know who is a contact, which this runtime cannot ask; the gate then treats every external
// recipient as a contact and lets the CRM's BCC ingestion associate only its existing contacts.
//
// Settings are the normalised document the task pane saved (validated by the engine: lower-case
// addresses, ASCII domains). A recipient whose domain is not ASCII cannot be compared here (no
// IDNA in this runtime): it is treated as not loggable — never logging what might be on a
// never-log list is the safe side; the user can still use "Log this email" from Sent Items.
// ECMAScript 2016 (see src/office/keys.js).

function normalize(address) {
  var a = String(address || '').trim().replace(/^mailto:/i, '').replace(/^<|>$/g, '');
  var at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) return null;
  var domain = a.slice(at + 1).replace(/\.$/, '').toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (!/^[\x21-\x7e]+$/.test(domain)) return { address: null, unknown: true };
  return { address: a.slice(0, at).toLowerCase() + '@' + domain, domain: domain };
}

function domainMatches(domain, parent) {
  var p = String(parent || '').replace(/^\./, '');
  if (!p) return false;
  return domain === p || (domain.length > p.length && domain.slice(-(p.length + 1)) === '.' + p);
}

function anyDomain(domain, list) {
  for (var i = 0; i < (list || []).length; i++) if (domainMatches(domain, list[i])) return true;
  return false;
}

function recipientsOf(settings, compose, userAddresses) {
  var s = settings || {};
  var bcc = s.bccAddress ? normalize(s.bccAddress) : null;
  var forwarding = s.forwardingAddress ? normalize(s.forwardingAddress) : null;
  var users = (s.userAddresses || []).concat(userAddresses || []).map(function (a) {
    var n = normalize(a);
    return n && n.address;
  });
  var all = [].concat(compose.to || [], compose.cc || [], compose.bcc || []);
  var seen = {};
  var people = [];
  var bccPresent = false;
  for (var i = 0; i < all.length; i++) {
    var n = normalize(all[i] && (all[i].address || all[i]));
    if (!n) continue;
    if (n.unknown) {
      people.push({ unknown: true });
      continue;
    }
    if (bcc && n.address === bcc.address) bccPresent = true;
    if ((bcc && n.address === bcc.address) || (forwarding && n.address === forwarding.address)) continue;
    if (seen[n.address]) continue;
    seen[n.address] = true;
    people.push(n);
  }
  return { people: people, users: users, bcc: bcc, bccPresent: bccPresent };
}

/**
 * Whether an email sent with Log checked is logged by the engine's outgoing rules:
 * `{log, reason}` with reason log-checked, internal-only or no-loggable-recipients.
 * `settings`: the saved settings document; `compose`: `{to, cc, bcc}` as `{address}` lists;
 * `userAddresses`: the mailbox owner's addresses besides the settings' own.
 */
export function outgoingLoggable(settings, compose, userAddresses) {
  var s = settings || {};
  var r = recipientsOf(s, compose, userAddresses);
  var neverAddresses = s.neverLogAddresses || [];
  var isUser = function (p) {
    return r.users.indexOf(p.address) >= 0;
  };
  var isInternal = function (p) {
    return isUser(p) || anyDomain(p.domain, s.internalDomains);
  };
  var neverLog = function (p) {
    return neverAddresses.indexOf(p.address) >= 0 || anyDomain(p.domain, s.neverLogDomains);
  };
  var loggable = r.people.some(function (p) {
    return !p.unknown && !isUser(p) && !neverLog(p) && !isInternal(p);
  });
  if (loggable) return { log: true, reason: 'log-checked' };
  var internalOnly = r.people.length > 0 && r.people.every(function (p) {
    return !p.unknown && isInternal(p);
  });
  var internalLoggable = internalOnly && !!s.logInternalOnly && r.people.some(function (p) {
    return !isUser(p) && !neverLog(p);
  });
  if (internalLoggable) return { log: true, reason: 'log-checked' };
  return { log: false, reason: internalOnly ? 'internal-only' : 'no-loggable-recipients' };
}

/**
 * Whether to add the CRM's BCC address: `{addBcc, reason}`, `addBcc` the address or null;
 * `reason` bcc-added, bcc-already-present, log-unchecked, api-mode, no-bcc-address, or the
 * reason the email is not logged (internal-only, no-loggable-recipients).
 */
export function bccDecision(settings, compose, logChecked, userAddresses) {
  var s = settings || {};
  var mode = s.mode || 'api';
  if (mode !== 'bcc' && mode !== 'both') return { addBcc: null, reason: 'api-mode' };
  if (!logChecked) return { addBcc: null, reason: 'log-unchecked' };
  var r = recipientsOf(s, compose, userAddresses);
  if (!r.bcc || !r.bcc.address) return { addBcc: null, reason: 'no-bcc-address' };
  var logged = outgoingLoggable(s, compose, userAddresses);
  if (!logged.log) return { addBcc: null, reason: logged.reason };
  if (r.bccPresent) return { addBcc: null, reason: 'bcc-already-present' };
  return { addBcc: r.bcc.address, reason: 'bcc-added' };
}
