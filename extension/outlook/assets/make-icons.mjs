#!/usr/bin/env node
// Draws the Outlook add-in's icons as PNG files, deterministically, with no image library:
// a rounded teal square with a white envelope whose flap is a check mark ("logged").
//
//   node extension/outlook/assets/make-icons.mjs      → extension/outlook/assets/*.png
//
// The PNGs are committed (the native `mailtrail outlook-manifest` command embeds two of them);
// re-run this script only when the design changes.
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Shapes in unit coordinates (0..1), tested per sample point.
function inRoundedSquare(x, y, inset, radius) {
  const lo = inset, hi = 1 - inset;
  if (x < lo || x > hi || y < lo || y > hi) return false;
  const cx = Math.min(Math.max(x, lo + radius), hi - radius);
  const cy = Math.min(Math.max(y, lo + radius), hi - radius);
  return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2;
}
function distToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
// The envelope: a rectangle outline, and a check mark for the flap.
const ENVELOPE = { x0: 0.22, y0: 0.3, x1: 0.78, y1: 0.72 };
const STROKES = [
  [ENVELOPE.x0, ENVELOPE.y0, ENVELOPE.x1, ENVELOPE.y0],
  [ENVELOPE.x1, ENVELOPE.y0, ENVELOPE.x1, ENVELOPE.y1],
  [ENVELOPE.x1, ENVELOPE.y1, ENVELOPE.x0, ENVELOPE.y1],
  [ENVELOPE.x0, ENVELOPE.y1, ENVELOPE.x0, ENVELOPE.y0],
  [0.33, 0.42, 0.46, 0.56], // check mark
  [0.46, 0.56, 0.68, 0.36],
];
function onGlyph(x, y, width) {
  return STROKES.some(([ax, ay, bx, by]) => distToSegment(x, y, ax, ay, bx, by) <= width / 2);
}

const TEAL = [0x0f, 0x6e, 0x6e];
const WHITE = [0xff, 0xff, 0xff];

/** `outline`: transparent background, white strokes only (the unified manifest's outline icon). */
function draw(size, { outline = false } = {}) {
  const samples = 4;
  const stroke = Math.max(0.07, 2.2 / size);
  const out = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bg = 0, glyph = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          if (onGlyph(x, y, stroke)) glyph++;
          else if (!outline && inRoundedSquare(x, y, 0.04, 0.2)) bg++;
        }
      }
      const n = samples * samples;
      const a = (bg + glyph) / n;
      const i = (py * size + px) * 4;
      const mix = a === 0 ? 0 : glyph / (bg + glyph);
      for (let c = 0; c < 3; c++) out[i + c] = Math.round(TEAL[c] * (1 - mix) + WHITE[c] * mix);
      out[i + 3] = Math.round(a * 255);
    }
  }
  return png(size, out);
}

const files = {
  'icon-16.png': draw(16),
  'icon-32.png': draw(32),
  'icon-64.png': draw(64),
  'icon-80.png': draw(80),
  'icon-128.png': draw(128),
  'color.png': draw(192),
  'outline.png': draw(32, { outline: true }),
};
for (const [name, data] of Object.entries(files)) {
  writeFileSync(join(here, name), data);
  console.log(`${name}: ${data.length} bytes`);
}
