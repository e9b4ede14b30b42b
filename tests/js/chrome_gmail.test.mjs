// The Gmail module's pure parts (extension/chrome/src/content/gmail.js): ids, URLs, the send
// shortcut, and the parser of Gmail's send sync calls that the page hook feeds — on recorded
// request/response pairs and on garbage (it must never throw). DOM parts are exercised in real
// Chromium by tests/e2e/gmail_e2e_*.mjs.
// Run: node --test tests/js/chrome_gmail.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  accountFromTitle,
  accountIndex,
  draftIdsInRequest,
  isSendShortcut,
  isSyncSendUrl,
  isUndoShortcut,
  legacyId,
  normalizeDraftId,
  parseSyncSend,
  permMessageId,
  rawSourceUrl,
} from '../../extension/chrome/src/content/gmail.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SYNC = path.join(ROOT, 'tests/fixtures/gmail/sync');
const read = (f) => fs.readFileSync(path.join(SYNC, f), 'utf8');

test('draft ids in every form Gmail writes them', () => {
  assert.equal(normalizeDraftId('#msg-a:r-7201918273645500'), 'r-7201918273645500');
  assert.equal(normalizeDraftId('msg-a:r4831629013372011'), 'r4831629013372011');
  assert.equal(normalizeDraftId('r123'), 'r123');
  assert.equal(normalizeDraftId('undefined'), null);
  assert.equal(normalizeDraftId(''), null);
  assert.equal(normalizeDraftId(null), null);
});

test('permanent decimal ids and legacy hex ids convert both ways, beyond 2^53', () => {
  assert.equal(legacyId('thread-f:1790000000000007919'), (1790000000000007919n).toString(16));
  assert.equal(legacyId('#msg-f:1790000000000007919'), '18d75b8423f31eef');
  assert.equal((1790000000000007919n).toString(16), '18d75b8423f31eef');
  assert.equal(legacyId('18D75B8423F33DDE'), '18d75b8423f33dde');
  assert.equal(legacyId('not-an-id'), null);
  assert.equal(legacyId('thread-f:12x'), null);
  const hex = legacyId('msg-f:1790000000000015838');
  assert.equal(permMessageId(hex), 'msg-f:1790000000000015838');
  assert.equal(permMessageId('zz'), null);
});

test('account index and "show original" URLs', () => {
  assert.equal(accountIndex({ pathname: '/mail/u/2/' }), 2);
  assert.equal(accountIndex({ pathname: '/mail/' }), 0);
  const url = new URL(rawSourceUrl({ account: 1, ik: 'a3f9c2e17b', messageId: '18d75b8423f33dde' }));
  assert.equal(url.pathname, '/mail/u/1/');
  assert.equal(url.searchParams.get('view'), 'om');
  assert.equal(url.searchParams.get('ik'), 'a3f9c2e17b');
  assert.equal(url.searchParams.get('permmsgid'), 'msg-f:' + BigInt('0x18d75b8423f33dde').toString(10));
});

test('send sync URLs and the send shortcut', () => {
  assert.ok(isSyncSendUrl('/sync/u/0/i/s?hl=en&c=4&rt=r&pt=ji'));
  assert.ok(isSyncSendUrl('https://mail.google.com/sync/u/3/i/s'));
  assert.ok(!isSyncSendUrl('/sync/u/0/i/fd?hl=en'));
  assert.ok(!isSyncSendUrl(undefined));
  assert.ok(isSendShortcut({ key: 'Enter', ctrlKey: true }));
  assert.ok(isSendShortcut({ key: 'Enter', metaKey: true }));
  assert.ok(!isSendShortcut({ key: 'Enter' }));
  assert.ok(!isSendShortcut({ key: 'Enter', ctrlKey: true, shiftKey: true }));
});

test('a new message: the draft sent, its thread and Message-ID', () => {
  const items = parseSyncSend(read('send-new.request.json'), read('send-new.response.txt'));
  assert.deepEqual(items, [
    { draftId: 'r4831629013372011', threadId: (1790000000000007919n).toString(16), gmailMessageId: (1790000000000007919n).toString(16), messageId: '<CAMt8h2k1x9q2z7w@mail.gmail.com>' },
  ]);
  assert.deepEqual(draftIdsInRequest(read('send-new.request.json')), ['r4831629013372011']);
});

test('a reply: the response lists the whole conversation; only the sent one names the draft', () => {
  const items = parseSyncSend(read('send-reply.request.json'), read('send-reply.response.txt'));
  assert.equal(items.length, 3);
  const sent = items.filter((i) => i.draftId === 'r-7201918273645500');
  assert.equal(sent.length, 1);
  assert.equal(sent[0].messageId, '<CAMt9z9z9z9z9z9z@mail.gmail.com>');
  assert.equal(sent[0].threadId, (1790000000000007919n).toString(16));
  assert.equal(items.filter((i) => i.draftId).length, 1, 'earlier messages are not attributed to the draft');
});

test('a scheduled send: the scheduled message\'s ids and the time Gmail will send it', () => {
  const items = parseSyncSend(read('schedule-new.request.json'), read('schedule-new.response.txt'));
  const id = (1790000000000023757n).toString(16);
  assert.deepEqual(items, [
    { draftId: 'r5902746611384420', threadId: id, gmailMessageId: id, messageId: '<CAMt4q8w2e6r1t9y@mail.gmail.com>', sendAt: 1795507200000 },
  ]);
  // A send is not scheduled: no send time.
  assert.equal('sendAt' in parseSyncSend(read('send-new.request.json'), read('send-new.response.txt'))[0], false);
  // The Scheduled label without a time: known to be scheduled, time unknown.
  const noTime = read('schedule-new.response.txt').replace(',1795507200000]', ']').replace(',1795420000388,', ',null,');
  assert.equal(parseSyncSend(read('schedule-new.request.json'), noTime)[0].sendAt, null);
});

test('Gmail\'s `z` (undo) shortcut, never while typing', () => {
  const inField = { closest: (sel) => (sel.includes('textarea') ? {} : null) };
  const onPage = { closest: () => null };
  assert.ok(isUndoShortcut({ key: 'z', target: onPage }));
  assert.ok(!isUndoShortcut({ key: 'z', target: inField }));
  assert.ok(!isUndoShortcut({ key: 'z', ctrlKey: true, target: onPage }));
  assert.ok(!isUndoShortcut({ key: 'Z', shiftKey: true, target: onPage }));
  assert.ok(!isUndoShortcut({ key: 'y', target: onPage }));
});

test('a draft save is not a send', () => {
  assert.deepEqual(parseSyncSend('[["msg-a:r-7201918273645500"]]', read('save-draft.response.txt')), []);
});

test('shapes it does not understand give nothing, never an exception', () => {
  const junk = ['', 'null', ')]}\'', '<html>', '{"a":1}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["msg-f:1"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]', '["msg-f:12",["thread-f:x"]]'];
  for (const j of junk) assert.doesNotThrow(() => parseSyncSend(j, j));
  // Random structures.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const atoms = ['msg-f:1790000000000007919', 'thread-f:1', '<a@b>', 'msg-a:r1', null, 3, 'x', true];
  const gen = (d) => (d > 5 || rnd() < 0.3 ? atoms[Math.floor(rnd() * atoms.length)] : Array.from({ length: Math.floor(rnd() * 4) }, () => gen(d + 1)));
  for (let i = 0; i < 500; i++) {
    const r = JSON.stringify(gen(0));
    const items = parseSyncSend(JSON.stringify(gen(0)), r);
    assert.ok(Array.isArray(items));
    for (const it of items) assert.ok(it.draftId || it.messageId || it.threadId);
  }
});

test('the account address from the tab title: only the account part, never an address in a subject', () => {
  assert.equal(accountFromTitle('Inbox (3) - mia@ourco.example - Gmail'), 'mia@ourco.example');
  assert.equal(accountFromTitle('Re: question from bob@customer.example - mia@ourco.example - Gmail'), 'mia@ourco.example');
  assert.equal(accountFromTitle('Quote - Acme - mia@ourco.example - Ourco Mail'), 'mia@ourco.example');
  // The subject's address is not the user's; a title without the account part gives nothing.
  assert.equal(accountFromTitle('bob@customer.example - Gmail'), null);
  assert.equal(accountFromTitle('Re: bob@customer.example - Gmail'), null);
  assert.equal(accountFromTitle('Inbox - not an address - Gmail'), null);
  assert.equal(accountFromTitle('Inbox - <a@b.example> - Gmail'), null);
  assert.equal(accountFromTitle(''), null);
  assert.equal(accountFromTitle(undefined), null);
});
