#!/usr/bin/env node
// Forward and reply extraction: Mailtrail's WASM engine against the npm packages
// email-forward-parser, email-reply-parser and planer, in one Node process, on the fixtures
// in tests/fixtures/{forward,reply}. Prints throughput and accuracy (against the expected
// JSON checked in next to each fixture) and, where results differ, which side is right.
//
//   node bench/extract.mjs             full run (a few seconds per library)
//   node bench/extract.mjs --smoke     CI smoke mode: one pass, checks it all runs (also BENCH_SMOKE=1)
//   node bench/extract.mjs --json out.json   also write the figures as JSON
//
// The engine is loaded from dist/engine/node/mailtrail.js (scripts/build-wasm), or from the
// path in MAILTRAIL_WASM_NODE.

import { createRequire } from "node:module";
import { readFileSync, readdirSync, existsSync, statSync, writeFileSync } from "node:fs";
import { join, dirname, extname, basename } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const smoke = args.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const jsonOut = args.includes("--json") ? args[args.indexOf("--json") + 1] : null;

const enginePath = process.env.MAILTRAIL_WASM_NODE || join(root, "dist/engine/node/mailtrail.js");
if (!existsSync(enginePath)) {
  console.error(`bench/extract: ${enginePath} is missing; build it with scripts/build-wasm`);
  process.exit(2);
}
const engine = require(enginePath);
const { default: EmailForwardParser } = await import("email-forward-parser");
const { default: EmailReplyParser } = await import("email-reply-parser");
const planer = require("planer");
let jsdomDocument = null;
try {
  const { JSDOM } = await import("jsdom");
  jsdomDocument = new JSDOM("").window.document;
} catch {
  // planer's HTML mode needs a DOM; without jsdom only its text mode is measured.
}
const re2 = (() => { try { require.resolve("re2"); return true; } catch { return false; } })();

// ---------------------------------------------------------------------------------------------
// Fixtures

function loadCases(kind) {
  const dir = join(root, "tests/fixtures", kind);
  const cases = [];
  for (const client of readdirSync(dir).sort()) {
    const cdir = join(dir, client);
    if (!statSync(cdir).isDirectory()) continue;
    for (const f of readdirSync(cdir).sort()) {
      if (extname(f) !== ".json") continue;
      const stem = basename(f, ".json");
      const ext = [".txt", ".html"].find((e) => existsSync(join(cdir, stem + e)));
      if (!ext) continue; // .eml cases are for the native entry points
      const spec = JSON.parse(readFileSync(join(cdir, f), "utf8"));
      cases.push({ name: `${client}/${stem}${ext}`, html: ext === ".html", input: readFileSync(join(cdir, stem + ext), "utf8"), ...spec });
    }
  }
  return cases;
}

let forwardCases = loadCases("forward");
let replyCases = loadCases("reply");
if (smoke) {
  forwardCases = forwardCases.filter((_, i) => i % 8 === 0);
  replyCases = replyCases.filter((_, i) => i % 8 === 0);
}

// ---------------------------------------------------------------------------------------------
// Comparison helpers

const norm = (s) => (s == null ? null : String(s).replace(/\s+/g, " ").trim() || null);
const addr = (p) => (p && p.address ? p.address.toLowerCase() : null);
const addrs = (list) => (list || []).map(addr).filter(Boolean).sort().join(",");

// Field-by-field verdict of a forward result against the expected JSON.
function forwardFields(expected, got) {
  const e = expected.email || {};
  const g = (got && got.email) || {};
  const fwd = !!(got && got.forwarded);
  const fields = {
    forwarded: fwd === expected.forwarded,
    message: !expected.forwarded || norm(got && got.message) === norm(expected.message),
    from: !expected.forwarded || (addr(g.from) === addr(e.from) && norm(g.from && g.from.name) === norm(e.from && e.from.name)),
    to: !expected.forwarded || addrs(g.to) === addrs(e.to),
    cc: !expected.forwarded || addrs(g.cc) === addrs(e.cc),
    subject: !expected.forwarded || norm(g.subject) === norm(e.subject),
    date: !expected.forwarded || norm(g.date) === norm(e.date),
    body: !expected.forwarded || norm(g.body) === norm(e.body),
  };
  fields.all = Object.values(fields).every(Boolean);
  return fields;
}

function replyOk(expected, text) {
  const want = norm(expected.reply);
  const withSig = norm([expected.reply, expected.signature].filter(Boolean).join("\n"));
  const got = norm(text);
  return got === want || got === withSig;
}

function timeIt(fn, inputs, minMs) {
  // Warm up, then run whole passes until minMs has elapsed.
  for (const x of inputs) fn(x);
  let passes = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    for (const x of inputs) fn(x);
    passes++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const bytes = inputs.reduce((n, x) => n + Buffer.byteLength(x.input), 0) * passes;
  return { emailsPerSec: (inputs.length * passes) / (elapsed / 1000), mbPerSec: bytes / 1e6 / (elapsed / 1000) };
}

const minMs = smoke ? 1 : 2000;
const results = { smoke, re2, forward: {}, reply: {}, differences: [] };

// ---------------------------------------------------------------------------------------------
// Forward extraction

const efp = new EmailForwardParser();
const textForward = forwardCases.filter((c) => !c.html);
const ours = (c) => engine.extractForward(c.html ? { html: c.input, subject: c.subject ?? undefined } : { text: c.input, subject: c.subject ?? undefined });
const theirs = (c) => { try { return efp.read(c.input, c.subject ?? null); } catch (e) { return { forwarded: false, error: String(e) }; } };
const theirsNoSubject = (c) => { try { return efp.read(c.input); } catch (e) { return { forwarded: false, error: String(e) }; } };

function score(cases, run) {
  const totals = { all: 0, forwarded: 0, message: 0, from: 0, to: 0, cc: 0, subject: 0, date: 0, body: 0 };
  const verdicts = cases.map((c) => {
    const v = forwardFields(c.expected, run(c));
    for (const k of Object.keys(totals)) totals[k] += v[k] ? 1 : 0;
    return v;
  });
  return { totals, verdicts };
}

const oursText = score(textForward, ours);
const theirsText = score(textForward, theirs);
const theirsBody = score(textForward, theirsNoSubject);
const oursHtml = score(forwardCases.filter((c) => c.html), ours);

results.forward = {
  cases: textForward.length,
  htmlCases: forwardCases.length - textForward.length,
  mailtrail: { accuracy: oursText.totals, htmlAccuracy: oursHtml.totals, ...timeIt(ours, textForward, minMs) },
  emailForwardParser: { accuracy: theirsText.totals, accuracyBodyOnly: theirsBody.totals, ...timeIt(theirs, textForward, minMs) },
};

for (let i = 0; i < textForward.length; i++) {
  const a = oursText.verdicts[i].all;
  const b = theirsText.verdicts[i].all;
  if (a !== b) results.differences.push({ case: textForward[i].name, right: a ? "mailtrail" : "email-forward-parser" });
}

// ---------------------------------------------------------------------------------------------
// Reply splitting

const erp = new EmailReplyParser();
const textReply = replyCases.filter((c) => !c.html);
const htmlReply = replyCases.filter((c) => c.html);
const replyRunners = {
  mailtrail: (c) => engine.splitReply(c.html ? { html: c.input } : { text: c.input }).reply,
  "email-reply-parser": (c) => erp.parseReply(c.input),
  planer: (c) => planer.extractFrom(c.input, "text/plain"),
};
results.reply = { cases: textReply.length, htmlCases: htmlReply.length };
for (const [name, run] of Object.entries(replyRunners)) {
  let ok = 0;
  for (const c of textReply) {
    let text = null;
    try { text = run(c); } catch { text = null; }
    if (replyOk(c.expected, text)) ok++;
  }
  results.reply[name] = { correct: ok, ...timeIt(run, textReply, minMs) };
}
{
  let ok = 0;
  for (const c of htmlReply) if (replyOk(c.expected, replyRunners.mailtrail(c))) ok++;
  results.reply.mailtrail.htmlCorrect = ok;
  if (jsdomDocument) {
    let pok = 0;
    for (const c of htmlReply) {
      try {
        const out = planer.extractFrom(c.input, "text/html", jsdomDocument);
        const text = new (require("jsdom").JSDOM)(out).window.document.body.textContent;
        if (replyOk(c.expected, text)) pok++;
      } catch { /* counted as wrong */ }
    }
    results.reply.planerHtmlCorrect = pok;
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const pct = (n, d) => `${n}/${d} (${d ? ((100 * n) / d).toFixed(1) : "0.0"}%)`;
const f = results.forward;
console.log(`\nForward extraction: ${f.cases} text fixtures (+${f.htmlCases} HTML for Mailtrail only)${smoke ? "  [smoke]" : ""}`);
console.log(`email-forward-parser regex engine: ${re2 ? "RE2" : "JavaScript RegExp (re2 not installed)"}`);
console.log("| library | emails/s | MB/s | all fields right | forwarded | message | from | to | cc | subject | date | body |");
console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
const row = (name, r, acc) => console.log(`| ${name} | ${r.emailsPerSec ? r.emailsPerSec.toFixed(0) : "-"} | ${r.mbPerSec ? r.mbPerSec.toFixed(2) : "-"} | ${pct(acc.all, f.cases)} | ${acc.forwarded} | ${acc.message} | ${acc.from} | ${acc.to} | ${acc.cc} | ${acc.subject} | ${acc.date} | ${acc.body} |`);
row("Mailtrail (WASM)", f.mailtrail, f.mailtrail.accuracy);
row("email-forward-parser (body + subject)", f.emailForwardParser, f.emailForwardParser.accuracy);
row("email-forward-parser (body only)", {}, f.emailForwardParser.accuracyBodyOnly);
const speedup = f.mailtrail.emailsPerSec / f.emailForwardParser.emailsPerSec;
console.log(`Mailtrail is ${speedup.toFixed(1)}x email-forward-parser's throughput; HTML fixtures: ${pct(f.mailtrail.htmlAccuracy.all, f.htmlCases)} right.`);
const wins = results.differences.filter((d) => d.right === "mailtrail");
const losses = results.differences.filter((d) => d.right !== "mailtrail");
console.log(`Cases where the two differ: ${results.differences.length} (Mailtrail right in ${wins.length}, email-forward-parser right in ${losses.length}).`);
for (const d of losses) console.log(`  email-forward-parser right, Mailtrail wrong: ${d.case}`);
const sample = wins.slice(0, smoke ? 3 : 12).map((d) => d.case);
if (sample.length) console.log(`  e.g. Mailtrail right, email-forward-parser wrong: ${sample.join(", ")}${wins.length > sample.length ? ", …" : ""}`);

const r = results.reply;
console.log(`\nReply splitting: ${r.cases} text fixtures (+${r.htmlCases} HTML)`);
console.log("| library | emails/s | MB/s | new text right (text) | HTML |");
console.log("|---|---:|---:|---:|---:|");
for (const name of ["mailtrail", "email-reply-parser", "planer"]) {
  const x = r[name];
  const htmlCol = name === "mailtrail" ? pct(x.htmlCorrect, r.htmlCases) : name === "planer" ? (jsdomDocument ? pct(r.planerHtmlCorrect, r.htmlCases) : "needs jsdom") : "text only";
  console.log(`| ${name} | ${x.emailsPerSec.toFixed(0)} | ${x.mbPerSec.toFixed(2)} | ${pct(x.correct, r.cases)} | ${htmlCol} |`);
}

if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));

// Smoke mode guards against a broken build, not against slow machines: the engine must load,
// run every fixture and get the checked-in answers (the Rust tests check every field).
if (smoke) {
  const ok = f.mailtrail.accuracy.all === f.cases && r.mailtrail.correct === r.cases;
  if (!ok) {
    console.error("bench/extract --smoke: Mailtrail disagrees with the fixtures; run cargo test --test 'extract_*'");
    process.exit(1);
  }
}
