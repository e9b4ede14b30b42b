// mail-parser's own .eml test messages (found through `cargo metadata`, never a hard-coded
// registry path), for the parity test and the engine benchmark. Not a test file itself.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every `.eml` under `dir`, recursively (unsorted). */
export function emlFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...emlFiles(p));
    else if (name.endsWith('.eml')) out.push(p);
  }
  return out;
}

/** mail-parser's .eml resources, sorted. */
export function mailParserEmls() {
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--manifest-path', join(ROOT, 'Cargo.toml')], { maxBuffer: 64 << 20 }));
  const mp = meta.packages.find((p) => p.name === 'mail-parser');
  return emlFiles(join(dirname(mp.manifest_path), 'resources')).sort();
}
