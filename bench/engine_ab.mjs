// Two or more builds of the WASM engine against each other and postal-mime, in one Node process:
// how a change moved speed and size, measured at the same moment under the same load.
//
//   node bench/engine_ab.mjs before=/tmp/old/mailtrail.js after=dist/engine/node/mailtrail.js
//   ROUNDS=11 node bench/engine_ab.mjs …        (default 9 rounds of 0.6 s per contestant)
//
// Each path is a wasm-bindgen `--target nodejs` build (mailtrail.js next to mailtrail_bg.wasm).
// The work is bench/engine.mjs's: processRaw on mail-parser's 107 test messages, "Log this
// email", dry run. Contestants take turns in rounds; speeds and per-round ratios to postal-mime
// are reported as medians.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import PostalMime from 'postal-mime';
import { inputs, engineRunner, measure, median, wasmSize } from './engine_common.mjs';

const require = createRequire(import.meta.url);
const specs = process.argv.slice(2).filter((a) => a.includes('='));
if (!specs.length) {
  console.error('usage: node bench/engine_ab.mjs name=path/to/mailtrail.js [name=path …]');
  process.exit(2);
}
const builds = specs.map((spec) => {
  const [name, path] = spec.split('=');
  const run = engineRunner(require(resolve(path)));
  return { name, run, ...wasmSize(resolve(path).replace(/mailtrail\.js$/, 'mailtrail_bg.wasm')) };
});
const contestants = [...builds, { name: 'postal-mime', run: (b) => PostalMime.parse(b) }];


for (const c of contestants) for (let i = 0; i < 3; i++) for (const b of inputs) await c.run(b); // warm-up
const rounds = Number(process.env.ROUNDS || 9);
const speeds = Object.fromEntries(contestants.map((c) => [c.name, []]));
for (let r = 0; r < rounds; r++) for (const c of contestants) speeds[c.name].push((await measure(c.run, 0.6)).messagesPerSecond);
console.log(`| build | messages/s | vs postal-mime | raw bytes | gzipped (zlib 9) |`);
console.log(`|---|---:|---:|---:|---:|`);
for (const b of builds) {
  const ratio = median(speeds[b.name].map((v, i) => v / speeds['postal-mime'][i]));
  console.log(`| ${b.name} | ${Math.round(median(speeds[b.name])).toLocaleString('en')} | ${ratio.toFixed(2)}× | ${b.raw.toLocaleString('en')} | ${b.gzip.toLocaleString('en')} |`);
}
console.log(`postal-mime: ${Math.round(median(speeds['postal-mime'])).toLocaleString('en')} messages/s (median of ${rounds} rounds)`);
