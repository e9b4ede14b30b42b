// The TypeScript declarations generated next to the engine (dist/engine/web/mailtrail.d.ts):
// they type the JSON shapes (Settings, Email, Trigger, Outcome, Record, Entry, …) instead of
// `any`, and they agree with what the engine really does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const wasm = require(join(root, 'dist/engine/node/mailtrail.js'));
const dts = readFileSync(join(root, 'dist/engine/web/mailtrail.d.ts'), 'utf8');

test('a strict TypeScript program using the API the way the clients do compiles, and misuse does not', () => {
  // tests/ts/engine_api.ts marks misuse with @ts-expect-error: declarations that fell back to
  // `any` would make those lines compile, which tsc reports as an error.
  try {
    execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tests/ts/tsconfig.json')], { encoding: 'utf8' });
  } catch (e) {
    assert.fail(`tsc: ${e.stdout || e.message}`);
  }
});

test('the ReasonCode type lists exactly the codes the engine uses', () => {
  const union = dts.match(/export type ReasonCode = ([^;]+);/);
  assert.ok(union, 'ReasonCode is declared');
  const declared = [...union[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(declared, [...wasm.reasonCodes()].sort());
});

test('no engine method or exported function takes or returns an untyped JSON value', () => {
  const engine = dts.slice(dts.indexOf('export class Engine'), dts.indexOf('\n}', dts.indexOf('export class Engine')));
  const methods = engine.split('\n').filter((l) => /^\s+\w+\(/.test(l));
  assert.ok(methods.length >= 25, `the Engine class was found (${methods.length} methods)`);
  const functions = dts.split('\n').filter((l) => /^export function \w+\(/.test(l));
  const untyped = [...methods, ...functions].filter((l) => /\bany\b/.test(l));
  assert.deepEqual(untyped, []);
});
