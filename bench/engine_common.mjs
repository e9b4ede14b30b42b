// What bench/engine.mjs and bench/engine_ab.mjs share: the corpus, the work done per message,
// the timing loop and the statistics, so the two report comparable figures.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { mailParserEmls } from '../tests/js/mail_corpus.mjs';

export const files = mailParserEmls();
export const inputs = files.map((f) => readFileSync(f));
export const totalBytes = inputs.reduce((n, b) => n + b.length, 0);

/** The engine's work per message: "Log this email" on raw bytes, dry run (nothing queued, so
 *  repeating the corpus is not answered with "duplicate"). */
export function engineRunner(module) {
  const engine = new module.Engine({ userAddresses: ['me@ourco.example'], includeAttachments: false });
  const trigger = { kind: 'manual' };
  return (bytes) => {
    try { engine.processRaw(bytes, trigger, [], 1700000000000, { dryRun: true }); } catch { /* non-messages count as work */ }
  };
}

/** Runs `fn` over the whole corpus until `seconds` have passed. */
export async function measure(fn, seconds) {
  let messages = 0, bytes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (const b of inputs) await fn(b);
    messages += inputs.length; bytes += totalBytes;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return { messages, bytes, seconds: elapsed, messagesPerSecond: messages / elapsed, megabytesPerSecond: bytes / elapsed / 1e6 };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Raw and gzipped (zlib level 9) size of a .wasm file. */
export function wasmSize(path) {
  const wasm = readFileSync(path);
  return { raw: wasm.length, gzip: gzipSync(wasm, { level: 9 }).length };
}
