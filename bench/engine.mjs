// Raw message → record throughput, three ways in one run on the same files:
//   - the WASM engine under Node (parse → decide → record),
//   - the native engine (`mailtrail bench-engine`, release build),
//   - postal-mime, the JS parser an extension would otherwise use (parse only).
// Also reports the engine's size (raw and gzipped).
//
//   node bench/engine.mjs            full run (a few seconds per contestant)
//   node bench/engine.mjs --smoke    CI smoke mode: tiny budget, checks it all runs
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { mailParserEmls } from '../tests/js/mail_corpus.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const seconds = smoke ? 0.2 : 3;
const require = createRequire(import.meta.url);
const wasm = require(join(root, 'dist/engine/node/mailtrail.js'));

const files = mailParserEmls();
const inputs = files.map((f) => readFileSync(f));
const totalBytes = inputs.reduce((n, b) => n + b.length, 0);

async function measure(fn) {
  // Warm up once, then run whole passes over the corpus until the budget is spent.
  for (const b of inputs) await fn(b);
  let messages = 0, bytes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (const b of inputs) { await fn(b); }
    messages += inputs.length; bytes += totalBytes;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return { messages, bytes, seconds: elapsed, messagesPerSecond: messages / elapsed, megabytesPerSecond: bytes / elapsed / 1e6 };
}

const settings = { userAddresses: ['me@ourco.example'], includeAttachments: false };
const engine = new wasm.Engine(settings);
const trigger = { kind: 'manual' };
const wasmResult = await measure((b) => {
  try { engine.processRaw(b, trigger, [], 1700000000000, { dryRun: true }); } catch { /* non-messages count as work */ }
});
const postalResult = await measure((b) => PostalMime.parse(b));

let nativeResult = null;
const release = join(root, 'target/release/mailtrail');
const bin = existsSync(release) ? release : join(root, 'target/debug/mailtrail');
nativeResult = JSON.parse(execFileSync(bin, ['bench-engine', '--seconds', String(seconds), ...files], { encoding: 'utf8' }));
nativeResult.binary = bin.endsWith('release/mailtrail') ? 'release' : 'debug';

const wasmFile = readFileSync(join(root, 'dist/engine/web/mailtrail_bg.wasm'));
const size = { raw: wasmFile.length, gzip: gzipSync(wasmFile, { level: 9 }).length };

const row = (name, r, what) => `| ${name} | ${what} | ${Math.round(r.messagesPerSecond).toLocaleString('en')} | ${r.megabytesPerSecond.toFixed(1)} |`;
console.log(`corpus: ${files.length} messages from mail-parser's resources, ${(totalBytes / 1024).toFixed(0)} KiB; ${seconds}s per contestant${smoke ? ' (smoke)' : ''}`);
console.log('| contestant | work | messages/s | MB/s |');
console.log('|---|---|---:|---:|');
console.log(row('Mailtrail WASM (Node ' + process.version + ')', wasmResult, 'parse → decide → record'));
console.log(row(`Mailtrail native (${nativeResult.binary})`, nativeResult, 'parse → decide → record'));
console.log(row('postal-mime ' + require(join(root, 'node_modules/postal-mime/package.json')).version, postalResult, 'parse only'));
console.log(`WASM vs postal-mime: ${(wasmResult.messagesPerSecond / postalResult.messagesPerSecond).toFixed(1)}×   WASM vs native: ${(wasmResult.messagesPerSecond / nativeResult.messagesPerSecond).toFixed(2)}×`);
console.log(`engine size: ${size.raw.toLocaleString('en')} bytes raw, ${size.gzip.toLocaleString('en')} bytes gzipped`);
if (smoke) {
  for (const r of [wasmResult, postalResult, nativeResult]) if (!(r.messages > 0)) { console.error('smoke: a contestant did no work'); process.exit(1); }
}
