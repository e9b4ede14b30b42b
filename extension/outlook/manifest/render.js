// Renders the Outlook manifests for one base URL (the webpack build and the tests use this; the
// native `mailtrail outlook-manifest` command does the same in Rust from the same templates, and
// a test checks that both produce identical files).
//
// Both manifests name every page and icon by absolute URL, so an admin deploys the add-in by
// serving dist/outlook/ somewhere over HTTPS and rendering the manifests for that one URL.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

/** Template files, in the order they are written, and how each is named in the output. */
export const TEMPLATES = ['manifest.xml', 'manifest.json', 'ja-jp.json', 'pl-pl.json'];
/** Icons the unified manifest's app package carries next to manifest.json. */
export const PACKAGE_ICONS = ['color.png', 'outline.png'];

// Characters that would need escaping in XML attributes or JSON strings. A normalised URL only
// contains them when someone put them there on purpose; refuse rather than escape.
const UNSAFE = /[&'"<>\\\s]/;

/**
 * Checks and normalises the base URL the add-in is served from.
 * Returns `{baseUrl, origin, host}`; throws an Error that says what to fix.
 */
export function checkBaseUrl(input) {
  const text = String(input ?? '').trim();
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`the base URL ${JSON.stringify(text)} is not a URL (expected e.g. https://addins.example.com/mailtrail/)`);
  }
  if (url.protocol !== 'https:') {
    throw new Error(`the base URL must use https:// (Outlook only loads add-ins over HTTPS), got ${JSON.stringify(text)}`);
  }
  if (url.username || url.password) throw new Error('the base URL must not contain a user name or password');
  if (url.search || url.hash) throw new Error('the base URL must not have a query (?…) or fragment (#…)');
  let href = url.href;
  if (!href.endsWith('/')) href += '/';
  if (UNSAFE.test(href)) throw new Error(`the base URL contains characters that cannot appear in a manifest: ${JSON.stringify(href)}`);
  if (href.length > 1900) throw new Error('the base URL is too long (manifest URLs are limited to 2048 characters)');
  return { baseUrl: href, origin: url.origin, host: url.host };
}

/** Replaces every `{{NAME}}`; an unknown placeholder is a bug in the template, so it throws. */
export function fill(template, vars) {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name) => {
    if (!(name in vars)) throw new Error(`unknown placeholder {{${name}}} in a manifest template`);
    return vars[name];
  });
}

export function templateText(name) {
  return readFileSync(join(here, name), 'utf8');
}

export function iconBytes(name) {
  return readFileSync(join(here, '..', 'assets', name));
}

/** `{file name → contents}` for one base URL: both manifests, the unified localization files and icons. */
export function renderManifests(baseUrlInput, version) {
  const { baseUrl, origin, host } = checkBaseUrl(baseUrlInput);
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`version must be x.y.z, got ${JSON.stringify(version)}`);
  const vars = { BASE_URL: baseUrl, ORIGIN: origin, HOST: host, VERSION: version };
  const files = {};
  for (const name of TEMPLATES) files[name] = fill(templateText(name), vars);
  for (const name of PACKAGE_ICONS) files[name] = iconBytes(name);
  return files;
}

/** The product version from package.json (manifests carry it). */
export function packageVersion() {
  return JSON.parse(readFileSync(join(here, '..', '..', '..', 'package.json'), 'utf8')).version;
}
