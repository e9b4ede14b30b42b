// The Outlook add-in's manifests, rendered for a base URL.
//   node --test tests/js/outlook_manifest.test.mjs
//
// - the unified JSON manifest passes Microsoft's own validator (office-addin-manifest, with the
//   schemas bundled in @microsoft/app-manifest: offline), and a broken one does not;
// - its ja/pl localization files pass the bundled localization schema and name real fields;
// - the XML manifest (Microsoft validates XML with a web service, unreachable here) is parsed and
//   its structure checked: VersionOverrides 1.0 → 1.1, Runtimes with the JavaScript override,
//   LaunchEvent OnNewMessageCompose / OnMessageSend (SoftBlock), FunctionFile, shared folders,
//   pinning, every resource id defined, every string in ja and pl, every URL on the base URL;
// - the function names in both manifests are the ones the code associates.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { renderManifests, checkBaseUrl, packageVersion } from '../../extension/outlook/manifest/render.js';
import { parseXml, child, children, descendants, namespaceOf } from '../fixtures/outlook/xml.mjs';
import { root } from '../fixtures/outlook/harness.mjs';

const require = createRequire(import.meta.url);
const BASE = 'https://addins.example.com/mailtrail/';
const VERSION = packageVersion();

function renderTo(baseUrl = BASE) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mt-manifest-'));
  const files = renderManifests(baseUrl, VERSION);
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
  return { dir, files };
}

test('the unified manifest passes office-addin-manifest validation offline; a broken one fails', async () => {
  const { validateManifest } = require('office-addin-manifest');
  const { dir } = renderTo();
  const manifestPath = path.join(dir, 'manifest.json');
  const result = await validateManifest(manifestPath);
  assert.equal(result.isValid, true, JSON.stringify(result.report));
  // The command-line tool agrees (exit code 0).
  const cli = require.resolve('office-addin-manifest/cli.js');
  execFileSync(process.execPath, [cli, 'validate', manifestPath], { stdio: 'pipe' });

  const broken = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  broken.extensions[0].ribbons[1].tabs[0].groups[0].controls[0].label = 'x'.repeat(65);
  broken.extensions[0].autoRunEvents[0].events[1].options.sendMode = 'softblock';
  const brokenPath = path.join(dir, 'broken.json');
  fs.writeFileSync(brokenPath, JSON.stringify(broken));
  const bad = await validateManifest(brokenPath).catch((e) => ({ isValid: false, thrown: e.message }));
  assert.equal(bad.isValid, false);
});

test('the unified manifest: event-based activation, runtimes, actions and shared folders', () => {
  const { files } = renderTo();
  const m = JSON.parse(files['manifest.json']);
  assert.equal(m.version, VERSION);
  const ext = m.extensions[0];
  const events = ext.autoRunEvents[0].events;
  assert.deepEqual(events.map((e) => e.type), ['newMessageComposeCreated', 'messageSending']);
  assert.equal(events[1].options.sendMode, 'softBlock');
  const actions = new Map(ext.runtimes.flatMap((r) => r.actions.map((a) => [a.id, { ...a, runtime: r }])));
  for (const e of events) assert.equal(actions.get(e.actionId).type, 'executeFunction');
  const eventRuntime = actions.get('onMessageSend').runtime;
  assert.equal(eventRuntime.code.page, `${BASE}commands.html`);
  assert.equal(eventRuntime.code.script, `${BASE}launchevent.js`, 'classic Outlook on Windows loads the script');
  assert.equal(eventRuntime.lifetime, 'short');
  const pane = actions.get('openMailtrail');
  assert.equal(pane.type, 'openPage');
  assert.equal(pane.pinnable, true);
  for (const ribbon of ext.ribbons) for (const tab of ribbon.tabs) for (const group of tab.groups) for (const c of group.controls) assert.ok(actions.has(c.actionId), c.id);
  const permissions = m.authorization.permissions.resourceSpecific.map((p) => p.name);
  assert.deepEqual(permissions.sort(), ['Mailbox.SharedFolder', 'MailboxItem.ReadWrite.User']);
  assert.deepEqual(m.validDomains, ['addins.example.com']);
});

test('the unified localization files (ja, pl) pass the bundled schema and translate real fields', () => {
  const { files } = renderTo();
  const manifest = JSON.parse(files['manifest.json']);
  const Ajv04 = require('ajv-draft-04');
  const schemaPath = path.join(path.dirname(require.resolve('@microsoft/app-manifest/package.json')), 'build', 'json-schemas', 'teams', `v${manifest.manifestVersion}`, 'MicrosoftTeams.Localization.schema.json');
  // The schema's patterns use \b inside brackets, which only compiles without the u flag.
  const ajv = new Ajv04({ allErrors: true, strict: false, unicodeRegExp: false });
  const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
  const lookup = (obj, key) => key.split('.').reduce((o, part) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(part);
    return o === undefined ? undefined : m ? o[m[1]]?.[Number(m[2])] : o[part];
  }, obj);
  for (const { languageTag, file } of manifest.localizationInfo.additionalLanguages) {
    const loc = JSON.parse(files[file]);
    assert.ok(validate(loc), `${file}: ${JSON.stringify(validate.errors)}`);
    for (const [key, value] of Object.entries(loc)) {
      if (key === '$schema') continue;
      const english = lookup(manifest, key);
      assert.equal(typeof english, 'string', `${languageTag}: ${key} names no field of manifest.json`);
      if (key !== 'name.short' && !key.endsWith('groups[0].label')) assert.notEqual(value, english, `${languageTag}: ${key} is not translated`);
    }
    // Every ribbon label and tooltip is translated.
    const ribbonKeys = [];
    manifest.extensions[0].ribbons.forEach((r, ri) => r.tabs.forEach((t, ti) => t.groups.forEach((g, gi) => g.controls.forEach((c, ci) => {
      for (const f of ['label', 'supertip.title', 'supertip.description']) ribbonKeys.push(`extensions[0].ribbons[${ri}].tabs[${ti}].groups[${gi}].controls[${ci}].${f}`);
    }))));
    for (const k of ribbonKeys) assert.ok(k in loc, `${languageTag} lacks ${k}`);
  }
});

test('the XML manifest is well-formed and has the structure event-based activation needs', () => {
  const { files } = renderTo();
  const app = parseXml(files['manifest.xml']);
  assert.equal(app.name, 'OfficeApp');
  assert.equal(app.attrs['xsi:type'], 'MailApp');
  assert.equal(child(app, 'Id').text, JSON.parse(files['manifest.json']).id, 'both manifests are the same add-in');
  assert.equal(child(app, 'Version').text, `${VERSION}.0`);
  assert.equal(child(app, 'Permissions').text, 'ReadWriteItem');
  assert.equal(child(child(app, 'Hosts'), 'Host').attrs.Name, 'Mailbox');
  for (const name of ['DisplayName', 'Description']) {
    const locales = children(child(app, name), 'Override').map((o) => o.attrs.Locale);
    assert.deepEqual(locales, ['ja-JP', 'pl-PL'], name);
  }
  // Order of OfficeApp's children matters to the schema.
  const order = app.children.map((c) => c.name);
  const expected = ['Id', 'Version', 'ProviderName', 'DefaultLocale', 'DisplayName', 'Description', 'IconUrl', 'HighResolutionIconUrl', 'SupportUrl', 'AppDomains', 'Hosts', 'Requirements', 'FormSettings', 'Permissions', 'Rule', 'DisableEntityHighlighting', 'VersionOverrides'];
  assert.deepEqual(order, expected);

  const v10 = child(app, 'VersionOverrides');
  assert.equal(v10.attrs['xsi:type'], 'VersionOverridesV1_0');
  assert.equal(namespaceOf(v10), 'http://schemas.microsoft.com/office/mailappversionoverrides');
  const v11 = child(v10, 'VersionOverrides');
  assert.equal(v11.attrs['xsi:type'], 'VersionOverridesV1_1');
  assert.equal(namespaceOf(v11), 'http://schemas.microsoft.com/office/mailappversionoverrides/1.1');
  assert.equal(child(child(v11, 'Requirements'), 'bt:Sets').attrs.DefaultMinVersion, '1.12', 'OnMessageSend needs Mailbox 1.12');

  const host = child(child(v11, 'Hosts'), 'Host');
  assert.equal(host.attrs['xsi:type'], 'MailHost');
  const runtime = child(child(host, 'Runtimes'), 'Runtime');
  assert.equal(runtime.attrs.resid, 'Commands.Url');
  const override = child(runtime, 'Override');
  assert.equal(override.attrs.type, 'javascript');
  const urls = new Map(children(child(child(v11, 'Resources'), 'bt:Urls'), 'bt:Url').map((u) => [u.attrs.id, u.attrs.DefaultValue]));
  assert.equal(urls.get(override.attrs.resid), `${BASE}launchevent.js`);
  assert.equal(urls.get('Commands.Url'), `${BASE}commands.html`);

  const form = child(host, 'DesktopFormFactor');
  assert.equal(form.children[0].name, 'SupportsSharedFolders');
  assert.equal(form.children[0].text, 'true');
  assert.equal(child(form, 'FunctionFile').attrs.resid, 'Commands.Url');
  const points = children(form, 'ExtensionPoint');
  assert.deepEqual(points.map((p) => p.attrs['xsi:type']), ['MessageReadCommandSurface', 'MessageComposeCommandSurface', 'LaunchEvent']);
  const launch = points[2];
  const events = children(child(launch, 'LaunchEvents'), 'LaunchEvent').map((e) => e.attrs);
  assert.deepEqual(events, [
    { Type: 'OnNewMessageCompose', FunctionName: 'onNewMessageCompose' },
    { Type: 'OnMessageSend', FunctionName: 'onMessageSend', SendMode: 'SoftBlock' },
  ]);
  assert.equal(child(launch, 'SourceLocation').attrs.resid, 'Commands.Url');
  for (const action of [...descendants(v11)].filter((e) => e.name === 'Action' && e.attrs['xsi:type'] === 'ShowTaskpane')) {
    assert.equal(child(action, 'SupportsPinning').text, 'true');
  }
  const functions = [...descendants(v10)].filter((e) => e.name === 'FunctionName').map((e) => e.text);
  assert.deepEqual([...new Set(functions)], ['logThisEmail']);
});

test('the XML manifest: every resource id is defined where it is used, short enough, and translated', () => {
  const { files } = renderTo();
  const app = parseXml(files['manifest.xml']);
  const v10 = child(app, 'VersionOverrides');
  const v11 = child(v10, 'VersionOverrides');
  for (const overrides of [v10, v11]) {
    const resources = child(overrides, 'Resources');
    const defined = new Set([...descendants(resources)].filter((e) => e.attrs.id).map((e) => e.attrs.id));
    // Elements of this VersionOverrides, not of the one nested in it.
    const own = (el) => (el.parent.name === 'VersionOverrides' ? el.parent === overrides : own(el.parent));
    const used = [...descendants(overrides)].filter((e) => e.attrs.resid && own(e)).map((e) => e.attrs.resid);
    assert.ok(used.length > 10);
    for (const id of used) assert.ok(defined.has(id), `resid ${id} is not defined in ${overrides.attrs['xsi:type']}`);
    for (const id of defined) assert.ok(id.length <= 32, `resid ${id} is longer than 32 characters`);
    for (const s of [...descendants(resources)].filter((e) => e.name === 'bt:String')) {
      if (s.attrs.id === 'Group.Label') continue; // the product name
      const locales = children(s, 'bt:Override').map((o) => o.attrs.Locale);
      assert.deepEqual(locales, ['ja-JP', 'pl-PL'], s.attrs.id);
      if (s.parent.name === 'bt:ShortStrings') assert.ok(s.attrs.DefaultValue.length <= 125);
      for (const o of children(s, 'bt:Override')) assert.notEqual(o.attrs.Value, s.attrs.DefaultValue, `${s.attrs.id} ${o.attrs.Locale}`);
    }
  }
});

test('every URL in both manifests is on the configured base URL', () => {
  for (const base of [BASE, 'https://localhost:8443/addin/']) {
    const { files } = renderTo(base);
    const { origin, host } = checkBaseUrl(base);
    const app = parseXml(files['manifest.xml']);
    let checked = 0;
    for (const el of [app, ...descendants(app)]) {
      for (const [name, value] of Object.entries(el.attrs)) {
        if (name.startsWith('xmlns')) continue;
        if (/^https?:/i.test(value)) {
          assert.ok(value.startsWith(base), `${el.name}@${name} = ${value}`);
          checked++;
        }
      }
      if (/^\s*https?:/i.test(el.text)) {
        assert.ok(el.name === 'AppDomain' ? el.text === origin : el.text.startsWith(base), `${el.name} = ${el.text}`);
        checked++;
      }
    }
    assert.ok(checked >= 15, `only ${checked} URLs found`);
    const walk = (v, where) => {
      if (typeof v === 'string') {
        if (/^https?:/i.test(v) && where !== '$schema') assert.ok(v.startsWith(base), `${where} = ${v}`);
      } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    const json = JSON.parse(files['manifest.json']);
    walk(json, '');
    assert.deepEqual(json.validDomains, [host]);
  }
});

test('the base URL is checked: https only, no credentials/query, safe characters; a trailing slash is added', () => {
  assert.equal(checkBaseUrl('https://Addins.Example.com/mailtrail').baseUrl, 'https://addins.example.com/mailtrail/');
  for (const [input, message] of [
    ['http://addins.example.com/', /https:\/\//],
    ['not a url', /not a URL/],
    ['https://u:p@addins.example.com/', /user name/],
    ['https://addins.example.com/?x=1', /query/],
    ["https://addins.example.com/a'b/", /cannot appear/],
  ]) {
    assert.throws(() => renderManifests(input, VERSION), message, input);
  }
});

test('the function names in the manifests are the ones the code associates', () => {
  const { files } = renderTo();
  const json = JSON.parse(files['manifest.json']);
  const functions = new Set(json.extensions[0].runtimes.flatMap((r) => r.actions.filter((a) => a.type === 'executeFunction').map((a) => a.id)));
  const commands = fs.readFileSync(path.join(root, 'extension/outlook/src/commands/commands.js'), 'utf8');
  const associated = new Set([...commands.matchAll(/^ {2}(\w+): completing\(/gm)].map((m) => m[1]));
  assert.deepEqual([...associated].sort(), [...functions].sort());
  const classic = fs.readFileSync(path.join(root, 'extension/outlook/src/classic/launchevent.js'), 'utf8');
  const classicNames = [...classic.matchAll(/associate\(\s*'(\w+)'/g)].map((m) => m[1]).sort();
  const xmlEvents = [...files['manifest.xml'].matchAll(/<LaunchEvent Type="\w+" FunctionName="(\w+)"/g)].map((m) => m[1]).sort();
  assert.deepEqual(classicNames, xmlEvents);
  assert.deepEqual(json.extensions[0].autoRunEvents[0].events.map((e) => e.actionId).sort(), xmlEvents);
});
