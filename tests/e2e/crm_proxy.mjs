// A loopback HTTP proxy in front of the real `mailtrail serve`, for end-to-end tests that need
// the endpoint to do something a healthy server does not do on demand. Everything is forwarded
// unchanged (API, the add-in's pages) except record POSTs, which it can:
//   - count: `posts` lists each POST /v1/records that reached it ({at, token, key, subject, status});
//   - hold: while `hold()` is in force they wait at the door until `release()`;
//   - refuse for good: `refuseRecords(match)` answers matching ones itself, as the real server
//     answers a record its database will not store (422 `unstorable_value`, in the server's error
//     shape `{"error": {"code", "message", "field"}}`, see native/src/serve/error.rs). The core
//     treats such a 4xx as permanent (src/delivery.rs): the record is dead, with that message.
//     The record never reaches the server.
// Used by gmail_e2e_durability.mjs, gmail_e2e_recovery.mjs and outlook.test.mjs.

import http from 'node:http';

/** The real server's answer to a record whose value its database refuses (PostgreSQL wording). */
export const UNSTORABLE = {
  status: 422,
  error: {
    code: 'unstorable_value',
    message: 'the database refused a value of this request (value too long for type character varying(998)); sending it again will not help',
    field: null,
  },
};

/** Starts the proxy for `target` (the server's base URL). */
export async function crmProxy(target) {
  const posts = [];
  let held = false;
  let waiting = [];
  let refusal = null; // {match(post), status, error}
  const forward = (req, body, res, post) => {
    const up = http.request(new URL(req.url, target), { method: req.method, headers: req.headers }, (r) => {
      if (post) post.status = r.statusCode;
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    up.end(body);
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && new URL(req.url, target).pathname === '/v1/records') {
        let record = null;
        try {
          record = JSON.parse(body.toString());
        } catch {
          record = null;
        }
        const post = {
          at: Date.now(),
          token: String(req.headers.authorization || '').replace(/^Bearer /, ''),
          key: req.headers['idempotency-key'] ?? record?.idempotencyKey ?? null,
          subject: record?.subject ?? null,
          status: null,
        };
        posts.push(post);
        if (refusal && refusal.match(post, record)) {
          post.status = refusal.status;
          post.refused = true;
          res.writeHead(refusal.status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' });
          return res.end(JSON.stringify({ error: refusal.error }));
        }
        if (held) return waiting.push(() => forward(req, body, res, post));
        return forward(req, body, res, post);
      }
      forward(req, body, res, null);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    posts,
    hold() {
      held = true;
    },
    release() {
      held = false;
      const go = waiting;
      waiting = [];
      for (const f of go) f();
    },
    get waiting() {
      return waiting.length;
    },
    /**
     * Refuses record POSTs for good from now on: those `match(post, record)` accepts (every one
     * when omitted), with `answer` ({status, error}; the server's 422 by default).
     */
    refuseRecords(match = () => true, answer = UNSTORABLE) {
      refusal = { match, status: answer.status, error: answer.error };
    },
    /** Forwards every record POST again. */
    acceptRecords() {
      refusal = null;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(r);
      }),
  };
}
