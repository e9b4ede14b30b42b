// The floor under issue #2's engine targets: what mail-parser alone costs in the browser
// build, next to the engine and postal-mime, in one Node process on the same corpus.
//
//   node bench/floor.mjs            builds bench/floor (mail-parser and nothing else, compiled
//                                   exactly like the engine) and measures
//   node bench/floor.mjs --smoke    CI smoke mode: tiny budget, checks it all runs
//
// The floor crate parses each message and touches what a logger reads (subject, from, to,
// bodies, attachments) so the optimiser cannot drop the work, and returns one number: no
// decision, no record, no hashing, no result handed to JS. The gap between it and the engine
// is what Mailtrail itself costs, in time and in bytes.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import PostalMime from 'postal-mime';
import { inputs, engineRunner, measure, median, wasmSize } from './engine_common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

// Same profile, target features (.cargo/config.toml applies: cargo runs from the root),
// wasm-bindgen and wasm-opt as scripts/build-wasm uses for the engine.
run('cargo', ['build', '--quiet', '--lib', '--target', 'wasm32-unknown-unknown', '--profile', 'wasm',
  '--manifest-path', 'bench/floor/Cargo.toml', '--target-dir', 'target/floor']);
const out = join(root, 'target/floor/node');
mkdirSync(out, { recursive: true });
run('wasm-bindgen', ['--target', 'nodejs', '--out-dir', out, '--out-name', 'floor',
  'target/floor/wasm32-unknown-unknown/wasm/mailparser_floor.wasm']);
run(join(root, 'node_modules/.bin/wasm-opt'), ['-Oz', join(out, 'floor_bg.wasm'), '-o', join(out, 'floor_bg.wasm')]);
writeFileSync(join(out, 'package.json'), '{"type": "commonjs"}\n');

const require = createRequire(import.meta.url);
const floor = require(join(out, 'floor.js'));
const contestants = {
  'mail-parser alone (WASM)': (b) => floor.parse(b),
  'Mailtrail engine (WASM)': engineRunner(require(join(root, 'dist/engine/node/mailtrail.js'))),
  'postal-mime': (b) => PostalMime.parse(b),
};
const sizes = {
  'mail-parser alone (WASM)': wasmSize(join(out, 'floor_bg.wasm')),
  'Mailtrail engine (WASM)': wasmSize(join(root, 'dist/engine/web/mailtrail_bg.wasm')),
};

for (const fn of Object.values(contestants)) for (let i = 0; i < (smoke ? 1 : 3); i++) for (const b of inputs) await fn(b);
const rounds = smoke ? 1 : Number(process.env.ROUNDS || 9);
const speeds = Object.fromEntries(Object.keys(contestants).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(contestants)) speeds[name].push((await measure(fn, smoke ? 0.05 : 0.6)).messagesPerSecond);
}
const postal = speeds['postal-mime'];
console.log(`corpus: ${inputs.length} messages; ${rounds} interleaved round${rounds > 1 ? 's' : ''}${smoke ? ' (smoke)' : ''}, medians`);
console.log('| contestant | work | messages/s | µs/message | vs postal-mime | raw bytes | gzipped (zlib 9) |');
console.log('|---|---|---:|---:|---:|---:|---:|');
const work = { 'mail-parser alone (WASM)': 'parse only', 'Mailtrail engine (WASM)': 'parse → decide → record', 'postal-mime': 'parse only' };
for (const [name, s] of Object.entries(speeds)) {
  const m = median(s);
  const ratio = median(s.map((v, i) => v / postal[i]));
  const size = sizes[name];
  console.log(`| ${name} | ${work[name]} | ${Math.round(m).toLocaleString('en')} | ${(1e6 / m).toFixed(1)} | ${ratio.toFixed(2)}× | ${size ? size.raw.toLocaleString('en') : ''} | ${size ? size.gzip.toLocaleString('en') : ''} |`);
}
if (smoke && Object.values(speeds).some((s) => !(s[0] > 0))) { console.error('smoke: a contestant did no work'); process.exit(1); }
