// The same emails through the native CLI and the WASM engine under Node give identical JSON:
// parse, and parse → decide → record (dry run) for every trigger. The corpus is mail-parser's
// own .eml resources plus our fixtures. Nothing may panic (a panic in WASM throws
// "unreachable", which fails the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { emlFiles, mailParserEmls } from './mail_corpus.mjs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const wasm = require(join(root, 'dist/engine/node/mailtrail.js'));
const cli = join(root, 'target/debug/mailtrail');

const settings = {
  userAddresses: ['me@ourco.example'],
  internalDomains: ['ourco.example'],
  forwardingAddress: 'fwd@crm.example',
  includeAttachments: false,
};
const NOW = 1772500500000;

function corpus() {
  const files = mailParserEmls();
  files.push(...emlFiles(join(root, 'tests/fixtures')));
  return files.sort();
}

function native(args) {
  try {
    return { ok: true, json: JSON.parse(execFileSync(cli, args, { encoding: 'utf8', maxBuffer: 64 << 20 })) };
  } catch (e) {
    assert.equal(e.status, 2, `native ${args.join(' ')} failed with ${e.status}: ${e.stderr}`);
    return { ok: false };
  }
}

const files = corpus();
const dir = mkdtempSync(join(tmpdir(), 'mailtrail-parity-'));
const config = join(dir, 'settings.json');
writeFileSync(config, JSON.stringify(settings));

test('corpus is there', () => {
  assert.ok(files.length >= 50, `found ${files.length} .eml files`);
});

test('parse: native and WASM give the same email JSON', () => {
  const engine = new wasm.Engine(settings);
  let compared = 0;
  for (const file of files) {
    const n = native(['parse', file]);
    let w;
    try {
      w = { ok: true, json: engine.parseRaw(readFileSync(file)) };
    } catch (e) {
      assert.ok(e.code, `${file}: a WASM error must carry a code (${e.message})`);
      w = { ok: false };
    }
    assert.equal(w.ok, n.ok, `${file}: native ok=${n.ok}, wasm ok=${w.ok}`);
    if (n.ok) {
      assert.deepEqual(JSON.parse(JSON.stringify(w.json)), n.json, file);
      compared++;
    }
  }
  assert.ok(compared >= files.length * 0.9);
});

test('plan: native and WASM make the same decision and record for every trigger', () => {
  const triggers = [
    ['send', { kind: 'send', logChecked: true }],
    ['manual', { kind: 'manual' }],
    ['incoming', { kind: 'incoming' }],
    ['bcc-copy', { kind: 'bcc-copy' }],
    ['forwarded', { kind: 'forwarded' }],
  ];
  let logged = 0;
  for (const file of files) {
    for (const [name, trigger] of triggers) {
      const n = native(['plan', file, '--config', config, '--trigger', name, '--now', String(NOW)]);
      const engine = new wasm.Engine(settings);
      let w;
      try {
        w = { ok: true, json: engine.processRaw(readFileSync(file), trigger, [], NOW, { dryRun: true, includeRecord: true }) };
      } catch (e) {
        assert.ok(e.code, `${file}: a WASM error must carry a code (${e.message})`);
        w = { ok: false };
      }
      assert.equal(w.ok, n.ok, `${file} ${name}`);
      if (n.ok) {
        assert.deepEqual(JSON.parse(JSON.stringify(w.json)), n.json, `${file} ${name}`);
        if (n.json.record) logged++;
      }
    }
  }
  assert.ok(logged > 0, 'some records were built');
});

test('body limits: over 4 MiB refused alike by native and WASM; the largest allowed keeps bodies whole', () => {
  const eml = join(dir, 'body-limit.eml');
  writeFileSync(eml, 'From: me@ourco.example\r\nTo: jane@customer.example\r\nSubject: hi\r\nMessage-ID: <bl@ourco.example>\r\n\r\nhello there\r\n');
  const limitConfig = join(dir, 'body-limit.json');
  // 2^32 would wrap to 0 in a 32-bit usize: refused with a clear error before it can.
  for (const bodyLimit of [2 ** 32, 4 * 1048576 + 1]) {
    const bad = { ...settings, bodyLimit };
    writeFileSync(limitConfig, JSON.stringify(bad));
    assert.equal(native(['plan', eml, '--config', limitConfig, '--trigger', 'send', '--now', String(NOW)]).ok, false);
    assert.throws(() => new wasm.Engine(bad), (e) => /bodyLimit/.test(e.message) && /at most/.test(e.message));
  }
  const max = { ...settings, bodyLimit: 4 * 1048576 };
  writeFileSync(limitConfig, JSON.stringify(max));
  const n = native(['plan', eml, '--config', limitConfig, '--trigger', 'send', '--now', String(NOW)]);
  const w = new wasm.Engine(max).processRaw(readFileSync(eml), { kind: 'send', logChecked: true }, [], NOW, { dryRun: true, includeRecord: true });
  assert.equal(w.record.text.trim(), 'hello there');
  assert.deepEqual(JSON.parse(JSON.stringify(w)), n.json);
});
