// Messages from the read view: "Log this email" and thread tracking. The content script
// fetches the raw source ("show original"); everything else — parsing, forward extraction,
// thread matching, the decision — is the engine's.

const LOOKUP_TIMEOUT_MS = 3000;

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]);
}

/**
 * Contacts among the addresses the decision needs, from the endpoint's lookup API. When the
 * endpoint cannot answer (down, generic webhook) the engine still knows the contacts Mailtrail
 * logged against itself, so an empty list here is a safe fallback, never an error.
 */
async function knownContacts(host, email) {
  return lookupKnown(host, host.engine.addressesToCheck(email));
}

async function lookupKnown(host, addresses) {
  if (!addresses.length) return [];
  try {
    return (await withTimeout(host.engine.lookupContacts(addresses), LOOKUP_TIMEOUT_MS)) || [];
  } catch {
    return [];
  }
}

function summary(outcome) {
  const d = outcome.decision;
  return {
    logged: d.log,
    direction: d.direction,
    reasons: d.reasons,
    queued: outcome.queued,
    key: outcome.record?.idempotencyKey ?? null,
    forwarded: outcome.forwarded ?? null,
  };
}

function bytesOf(raw) {
  if (typeof raw !== 'string' || !raw) {
    const e = new Error('the message source is empty');
    e.code = 'empty-input';
    throw e;
  }
  return new TextEncoder().encode(raw);
}

/** "Log this email": the engine recognises forwards and logs the original. */
export async function logMessage(host, { raw, messageId, account }) {
  host.assertCanLog();
  const bytes = bytesOf(raw);
  const trigger = { kind: 'manual' };
  const options = { mailbox: account || undefined };
  // For a forward, the people of the original (the customer), as the decision will see them.
  const contacts = await lookupKnown(host, host.engine.addressesToCheckRaw(bytes, trigger, options));
  const outcome = host.engine.processRaw(bytes, trigger, contacts, Date.now(), options);
  await host.persist();
  host.flushSoon();
  const result = summary(outcome);
  if (messageId) await host.markSeen(messageId, { ...result, manual: true });
  return result;
}

/**
 * A message shown in an open conversation. First call (no `raw`): is its thread one Mailtrail
 * logged? Matched by Gmail's thread id and subject; when the user took part in the thread the
 * raw source is asked for anyway, so In-Reply-To/References can match it. Second call (with
 * `raw`): decide and queue as an incoming email.
 */
export async function threadMessage(host, { threadId, subject, messageId, from, participated, raw, account }) {
  const prior = messageId ? host.seen(messageId) : null;
  if (prior) return { ...prior, seenBefore: true };
  // Settings invalid with none valid before: look again once they are fixed (not marked seen).
  if (host.settingsBlocked) return { tracked: false, needRaw: false, blocked: true };
  if (raw === undefined) {
    const probe = host.engine.fromCompose({
      source: 'gmail',
      threadId: threadId || undefined,
      subject: subject || '',
      from: from?.address ? { address: from.address, name: from.name || undefined } : undefined,
    });
    const match = threadId ? host.engine.matchReply(probe) : null;
    return { tracked: !!match, needRaw: !!match || !!participated };
  }
  const email = host.engine.parseRaw(bytesOf(raw));
  // The raw source does not carry Gmail's thread id: the page told us.
  if (threadId && !email.threadId) email.threadId = threadId;
  if (!host.engine.matchReply(email)) {
    // Not a logged thread: nothing to log, nothing worth listing in "not logged". Remembered,
    // so reopening the conversation does not fetch the source again.
    const result = { tracked: false, logged: false };
    if (messageId) await host.markSeen(messageId, result);
    return result;
  }
  const contacts = await knownContacts(host, email);
  const outcome = host.engine.process(email, { kind: 'incoming' }, contacts, Date.now(), {
    mailbox: account || undefined,
  });
  await host.persist();
  host.flushSoon();
  const result = { tracked: true, ...summary(outcome) };
  if (messageId) await host.markSeen(messageId, result);
  return result;
}
