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
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { files, inputs, totalBytes, engineRunner, measure, median, wasmSize } from './engine_common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const seconds = smoke ? 0.2 : 3;
const require = createRequire(import.meta.url);
const wasm = require(join(root, 'dist/engine/node/mailtrail.js'));

// Contestants take turns in rounds (WASM, postal-mime, native, WASM, …) and the report uses
// the median round: on a shared 2-core machine a build starting mid-run then slows every
// contestant alike instead of whichever happened to run at the time.
const rounds = smoke ? 1 : Number(process.env.BENCH_ROUNDS || 5);
const perRound = seconds / rounds;

const runWasm = engineRunner(wasm);
const runPostal = (b) => PostalMime.parse(b);
const release = join(root, 'target/release/mailtrail');
const bin = existsSync(release) ? release : join(root, 'target/debug/mailtrail');
const runNative = () => JSON.parse(execFileSync(bin, ['bench-engine', '--seconds', String(perRound), ...files], { encoding: 'utf8' }));

for (const b of inputs) { runWasm(b); await runPostal(b); } // warm-up: JIT and tier-up
const series = { wasm: [], postal: [], native: [] };
for (let r = 0; r < rounds; r++) {
  series.wasm.push(await measure(runWasm, perRound));
  series.postal.push(await measure(runPostal, perRound));
  series.native.push(runNative());
}
const medianRound = (rs) => {
  const m = median(rs.map((r) => r.messagesPerSecond));
  return rs.find((r) => r.messagesPerSecond === m);
};
const wasmResult = medianRound(series.wasm);
const postalResult = medianRound(series.postal);
const nativeResult = medianRound(series.native);
nativeResult.binary = bin.endsWith('release/mailtrail') ? 'release' : 'debug';
// Ratios per round (same moment, same load), then the median.
const vsPostal = median(series.wasm.map((w, i) => w.messagesPerSecond / series.postal[i].messagesPerSecond));
const vsNative = median(series.wasm.map((w, i) => w.messagesPerSecond / series.native[i].messagesPerSecond));

const size = wasmSize(join(root, 'dist/engine/web/mailtrail_bg.wasm'));

// Cold start: what an MV3 service worker pays on every wake-up (the browser may stop it after
// 30 s idle): compile + instantiate the module and construct an Engine, in a fresh process
// each time (V8 would otherwise reuse the compiled module).
const coldScript = `
  const t0 = process.hrtime.bigint();
  const m = require(${JSON.stringify(join(root, 'dist/engine/node/mailtrail.js'))});
  new m.Engine({});
  console.log(Number(process.hrtime.bigint() - t0) / 1e6);`;
const coldRuns = smoke ? 1 : 7;
const cold = [];
for (let i = 0; i < coldRuns; i++) cold.push(Number(execFileSync(process.execPath, ['-e', coldScript], { encoding: 'utf8' })));

const row = (name, r, what) => `| ${name} | ${what} | ${Math.round(r.messagesPerSecond).toLocaleString('en')} | ${r.megabytesPerSecond.toFixed(1)} |`;
console.log(`corpus: ${files.length} messages from mail-parser's resources, ${(totalBytes / 1024).toFixed(0)} KiB; ${seconds}s per contestant in ${rounds} round${rounds > 1 ? 's' : ''}${smoke ? ' (smoke)' : ''}`);
console.log('| contestant | work | messages/s | MB/s |');
console.log('|---|---|---:|---:|');
console.log(row('Mailtrail WASM (Node ' + process.version + ')', wasmResult, 'parse → decide → record'));
console.log(row(`Mailtrail native (${nativeResult.binary})`, nativeResult, 'parse → decide → record'));
console.log(row('postal-mime ' + require(join(root, 'node_modules/postal-mime/package.json')).version, postalResult, 'parse only'));
console.log(`WASM vs postal-mime: ${vsPostal.toFixed(1)}×   WASM vs native: ${vsNative.toFixed(2)}×   (median of ${rounds} interleaved round${rounds > 1 ? 's' : ''})`);
console.log(`engine size: ${size.raw.toLocaleString('en')} bytes raw, ${size.gzip.toLocaleString('en')} bytes gzipped; cold start (load + compile + new Engine, fresh process): median ${median(cold).toFixed(1)} ms of ${coldRuns}`);
if (smoke) {
  for (const r of [wasmResult, postalResult, nativeResult]) if (!(r.messages > 0)) { console.error('smoke: a contestant did no work'); process.exit(1); }
}
