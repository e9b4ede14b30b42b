// Reading an Outlook item into the engine's input: compose data (ComposeData in src/email.rs,
// camelCase) for a message being sent, and raw RFC 5322 bytes or item fields for a received one.
// Pure adapters: no decisions are made here. ECMAScript 2016 (see keys.js): the compose reader
// also runs in classic Outlook's JavaScript-only runtime.
import { officeCall, optional, supports } from './async.js';

function coercion(Office, name) {
  return (Office && Office.CoercionType && Office.CoercionType[name]) || name.toLowerCase();
}

/** Office's EmailAddressDetails → the engine's `{address, name}`; entries without an address are skipped. */
export function toAddresses(details) {
  var out = [];
  var list = details || [];
  for (var i = 0; i < list.length; i++) {
    var d = list[i];
    if (!d || !d.emailAddress) continue;
    var entry = { address: String(d.emailAddress) };
    if (d.displayName && d.displayName !== d.emailAddress) entry.name = String(d.displayName);
    out.push(entry);
  }
  return out;
}

function recipients(field) {
  return optional(officeCall(field, 'getAsync'), []).then(toAddresses);
}

/** Compose attachments → metadata the engine applies the size rules to. */
export function toAttachments(list) {
  var out = [];
  var items = list || [];
  for (var i = 0; i < items.length; i++) {
    var a = items[i];
    if (!a) continue;
    var entry = { name: a.name || null, size: typeof a.size === 'number' && a.size > 0 ? a.size : 0, inline: !!a.isInline };
    if (a.contentType) entry.contentType = a.contentType;
    out.push(entry);
  }
  return out;
}

/**
 * The compose item as ComposeData. `env`: `{Office, item, mailbox, draftId, bodyType}`;
 * `bodyType` "html" (default) or "text" (the hand-off queue asks for text when HTML is too big).
 */
export function readComposeData(env) {
  var Office = env.Office;
  var item = env.item;
  var mailbox = env.mailbox || (Office && Office.context && Office.context.mailbox);
  var profile = (mailbox && mailbox.userProfile) || {};
  var bodyType = env.bodyType === 'text' ? 'Text' : 'Html';
  var headerNames = ['In-Reply-To', 'References'];
  return Promise.all([
    recipients(item.to),
    recipients(item.cc),
    recipients(item.bcc),
    optional(officeCall(item.subject, 'getAsync'), ''),
    optional(officeCall(item.body, 'getAsync', [coercion(Office, bodyType)]), ''),
    optional(officeCall(item, 'getAttachmentsAsync'), []),
    optional(officeCall(item.from, 'getAsync'), null),
    optional(officeCall(item.internetHeaders, 'getAsync', [headerNames]), {}),
  ]).then(function (parts) {
    var from = parts[6] && parts[6].emailAddress ? toAddresses([parts[6]])[0] : null;
    if (!from && profile.emailAddress) from = toAddresses([profile])[0];
    var headers = parts[7] || {};
    var data = {
      source: 'outlook',
      from: from,
      to: parts[0],
      cc: parts[1],
      bcc: parts[2],
      subject: parts[3] || '',
      attachments: toAttachments(parts[5]),
    };
    // No date: the engine stamps the record with the time it is processed (`now`), and an email
    // sent twice from the same compose window (a send cancelled by another add-in, then retried)
    // keeps the same content key instead of becoming a second record.
    if (bodyType === 'Html') data.html = parts[4] || '';
    else data.text = parts[4] || '';
    if (item.conversationId) data.threadId = String(item.conversationId);
    if (env.draftId) data.draftId = env.draftId;
    // Mailbox 1.14 exposes In-Reply-To in compose; custom headers are a best effort for older clients.
    var inReplyTo = (typeof item.inReplyTo === 'string' && item.inReplyTo) || headers['In-Reply-To'] || headers['in-reply-to'];
    if (inReplyTo) data.inReplyTo = String(inReplyTo);
    var references = headers.References || headers.references;
    if (references) data.references = String(references);
    return data;
  });
}

/** Base64 → bytes, without `atob` (absent in some runtimes). Whitespace is ignored. */
export function base64ToBytes(text) {
  var alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var lookup = new Int16Array(128).fill(-1);
  for (var i = 0; i < alphabet.length; i++) lookup[alphabet.charCodeAt(i)] = i;
  lookup[45] = 62; // '-' (base64url)
  lookup[95] = 63; // '_'
  var out = new Uint8Array(Math.floor((text.length * 3) / 4) + 3);
  var n = 0, buffer = 0, bits = 0;
  for (var j = 0; j < text.length; j++) {
    var c = text.charCodeAt(j);
    if (c === 61) break; // '='
    var v = c < 128 ? lookup[c] : -1;
    if (v < 0) {
      if (c === 32 || c === 9 || c === 10 || c === 13) continue;
      throw new Error('the message file is not valid base64 (character ' + j + ')');
    }
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

/** UTF-8 encoding without TextEncoder. */
export function utf8Bytes(text) {
  if (typeof TextEncoder !== 'undefined') return new TextEncoder().encode(text);
  var out = [];
  for (var i = 0; i < text.length; i++) {
    var c = text.codePointAt(i);
    if (c > 0xffff) i++;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/**
 * A received message, the most faithful way the client allows:
 *  - `{kind: "raw", bytes, via: "eml"}`: the whole message (Mailbox 1.14 getAsFileAsync);
 *  - `{kind: "raw", bytes, via: "headers"}`: the original header block (Mailbox 1.8) with the
 *    body as HTML; the MIME structure is Outlook's rendering, attachments are not included;
 *  - `{kind: "fields", data}`: ComposeData from the item's fields (oldest clients).
 * Forwards are recognised in the first two (the engine parses them).
 */
export function readReceivedMessage(env) {
  var Office = env.Office;
  var item = env.item;
  if (supports(Office, '1.14') && typeof item.getAsFileAsync === 'function') {
    return officeCall(item, 'getAsFileAsync').then(
      function (b64) {
        return { kind: 'raw', via: 'eml', bytes: base64ToBytes(String(b64 || '')) };
      },
      function () {
        return readWithoutFile(env);
      }
    );
  }
  return readWithoutFile(env);
}

function readWithoutFile(env) {
  var Office = env.Office;
  var item = env.item;
  var body = optional(officeCall(item.body, 'getAsync', [coercion(Office, 'Html')]), '');
  if (typeof item.getAllInternetHeadersAsync === 'function') {
    return Promise.all([optional(officeCall(item, 'getAllInternetHeadersAsync'), ''), body]).then(function (parts) {
      var headers = String(parts[0] || '');
      if (!/\S/.test(headers)) return readFields(env, parts[1]);
      return { kind: 'raw', via: 'headers', bytes: utf8Bytes(messageFromHeaders(headers, parts[1])) };
    });
  }
  return body.then(function (html) {
    return readFields(env, html);
  });
}

/**
 * The original header block with Outlook's HTML rendering of the body: the MIME headers of the
 * original (which describe parts we do not have) are replaced by one text/html part.
 */
export function messageFromHeaders(headerBlock, html) {
  var lines = headerBlock.replace(/\r\n/g, '\n').split('\n');
  var kept = [];
  var skipping = false;
  for (var i = 0; i < lines.length; i++) {
    var line = lines[i];
    if (line === '') break; // end of the header block
    if (line.charAt(0) === ' ' || line.charAt(0) === '\t') {
      if (!skipping) kept.push(line);
      continue;
    }
    skipping = /^(content-[a-z-]*|mime-version)\s*:/i.test(line);
    if (!skipping) kept.push(line);
  }
  kept.push('MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: 8bit');
  return kept.join('\r\n') + '\r\n\r\n' + (html || '');
}

function readFields(env, html) {
  var item = env.item;
  var one = function (d) {
    return d && d.emailAddress ? toAddresses([d])[0] : null;
  };
  var date = item.dateTimeCreated instanceof Date ? item.dateTimeCreated.getTime() : undefined;
  var data = {
    source: 'outlook',
    from: one(item.from) || one(item.sender),
    to: toAddresses(item.to),
    cc: toAddresses(item.cc),
    subject: typeof item.subject === 'string' ? item.subject : '',
    html: html || '',
    attachments: toAttachments(item.attachments),
    date: date,
  };
  if (item.internetMessageId) data.messageId = String(item.internetMessageId);
  if (item.conversationId) data.threadId = String(item.conversationId);
  return Promise.resolve({ kind: 'fields', data: data });
}
