#!/usr/bin/env node
// Regenerates src/install/known-releases.json, the list of docker/buildx releases the action falls
// back to when the GitHub releases API cannot be reached, from that same API.
//
//   node scripts/refresh-known-releases.mjs            rewrite the file
//   node scripts/refresh-known-releases.mjs --check    exit 1 if the file would change (CI)
//   node scripts/refresh-known-releases.mjs --out F    write (or check) F instead
//
// Environment: GITHUB_API_URL (default https://api.github.com), GITHUB_TOKEN (optional; sent as a
// bearer token, never printed). Node >= 20, no dependencies.
//
// Exit codes: 0 done / up to date, 1 --check found a difference, 2 error (usage, network, API).
//
// --check compares the releases and the source, not the `generated` date, so a scheduled job only
// fails when a release was added, removed or changed.
import { readFile, writeFile, mkdir, rename } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = 'docker/buildx';
const SOURCE = 'GitHub releases API';
// Releases of the v0.9.0 line and later are kept, its release candidates included.
const MIN_CORE = [0, 9, 0];
const DEFAULT_OUT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'src',
  'install',
  'known-releases.json',
);
const MAX_PAGES = 50;
const MAX_ATTEMPTS = 4;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_RETRY_WAIT_MS = 60_000;

class UsageError extends Error {}

function parseArgs(argv) {
  const opts = { check: false, out: DEFAULT_OUT };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') opts.check = true;
    else if (arg === '--out') {
      const value = argv[++i];
      if (!value || value.startsWith('--')) throw new UsageError('--out needs a file path');
      opts.out = resolve(value);
    } else if (arg.startsWith('--out=')) {
      const value = arg.slice('--out='.length);
      if (!value) throw new UsageError('--out needs a file path');
      opts.out = resolve(value);
    } else if (arg === '--help' || arg === '-h') opts.help = true;
    else throw new UsageError(`unknown argument: ${arg}`);
  }
  return opts;
}

// ---- versions ---------------------------------------------------------------------------------

const TAG_RE = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parses `vMAJOR.MINOR.PATCH[-PRERELEASE]`; returns null for anything else. */
function parseTag(tag) {
  const m = TAG_RE.exec(tag);
  if (!m) return null;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

function compareIdentifier(a, b) {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  if (an) return -1; // numeric identifiers sort before alphanumeric ones
  if (bn) return 1;
  // Semver compares alphanumeric identifiers as ASCII strings; a trailing number is compared by
  // value so that rc10 sorts after rc9.
  const am = /^(.*?)(\d+)$/.exec(a);
  const bm = /^(.*?)(\d+)$/.exec(b);
  if (am && bm && am[1] === bm[1]) return Math.sign(Number(am[2]) - Number(bm[2]));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Semver precedence of two parsed tags: negative if a < b, 0 if equal, positive if a > b. */
function compareVersions(a, b) {
  for (let i = 0; i < 3; i++) {
    if (a.core[i] !== b.core[i]) return a.core[i] - b.core[i];
  }
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length; // final > rc
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const c = compareIdentifier(a.pre[i], b.pre[i]);
    if (c !== 0) return c;
  }
  return a.pre.length - b.pre.length;
}

function coreAtLeast(core, min) {
  for (let i = 0; i < 3; i++) {
    if (core[i] !== min[i]) return core[i] > min[i];
  }
  return true;
}

// ---- GitHub API -------------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The URL of the `rel="next"` link of a Link header, or null. */
function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    for (const param of m[2].split(';')) {
      const p = /^\s*rel\s*=\s*"?([^"]*)"?\s*$/i.exec(param);
      if (p && p[1].trim().split(/\s+/).includes('next')) return m[1];
    }
  }
  return null;
}

function retryDelay(res, attempt) {
  const after = res?.headers.get('retry-after');
  if (after && /^\d+$/.test(after.trim())) return Math.min(Number(after) * 1000, MAX_RETRY_WAIT_MS);
  const reset = res?.headers.get('x-ratelimit-reset');
  if (res?.status === 429 || (res?.status === 403 && res.headers.get('x-ratelimit-remaining') === '0')) {
    if (reset && /^\d+$/.test(reset)) {
      const wait = Number(reset) * 1000 - Date.now();
      if (wait > 0) return Math.min(wait + 1000, MAX_RETRY_WAIT_MS);
    }
  }
  return Math.min(1000 * 2 ** (attempt - 1), MAX_RETRY_WAIT_MS);
}

async function getJSON(url, headers) {
  let lastError;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let res;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      lastError = new Error(`GET ${url}: ${err?.cause?.code ?? err?.cause?.message ?? err?.message ?? err}`);
    }
    if (res) {
      if (res.ok) {
        let body;
        try {
          body = await res.json();
        } catch {
          throw new Error(`GET ${url}: the response is not JSON`);
        }
        return { body, link: res.headers.get('link') };
      }
      const text = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
      lastError = new Error(`GET ${url}: HTTP ${res.status}${text ? ` ${text}` : ''}`);
      const rateLimited = res.status === 403 && res.headers.get('x-ratelimit-remaining') === '0';
      if (!(res.status >= 500 || res.status === 429 || rateLimited)) throw lastError;
    }
    if (attempt < MAX_ATTEMPTS) {
      const wait = retryDelay(res, attempt);
      console.error(`${lastError.message}; retrying in ${Math.round(wait / 1000)}s`);
      await sleep(wait);
    }
  }
  throw lastError;
}

async function fetchReleases(apiBase, token) {
  const base = new URL(apiBase.replace(/\/+$/, '') + '/');
  const headers = {
    Accept: 'application/vnd.github+json',
    'X-GitHub-Api-Version': '2022-11-28',
    'User-Agent': 'safe-imagetools-refresh-known-releases',
  };
  if (token) headers.Authorization = `Bearer ${token}`;

  let url = new URL(`repos/${REPO}/releases?per_page=100&page=1`, base).href;
  const seen = new Set();
  const releases = [];
  for (let page = 1; url; page++) {
    if (page > MAX_PAGES) throw new Error(`more than ${MAX_PAGES} pages of releases; giving up`);
    if (seen.has(url)) throw new Error(`the Link header loops back to ${url}`);
    seen.add(url);
    const { body, link } = await getJSON(url, headers);
    if (!Array.isArray(body)) throw new Error(`GET ${url}: expected a JSON array of releases`);
    releases.push(...body);
    const next = nextLink(link);
    if (next) {
      const nextUrl = new URL(next, url);
      // The token is only ever sent to the API host it was meant for.
      if (nextUrl.origin !== base.origin)
        throw new Error(`refusing to follow a next link to ${nextUrl.origin}`);
      url = nextUrl.href;
    } else url = null;
  }
  return releases;
}

// ---- the list ---------------------------------------------------------------------------------

/** Turns API release objects into the sorted list kept in known-releases.json. */
function toKnownReleases(apiReleases) {
  const byTag = new Map();
  for (const r of apiReleases) {
    if (!r || typeof r.tag_name !== 'string' || r.draft) continue;
    const version = parseTag(r.tag_name);
    if (!version) {
      console.error(`skipping ${JSON.stringify(r.tag_name)}: not a vX.Y.Z[-pre] tag`);
      continue;
    }
    if (!coreAtLeast(version.core, MIN_CORE)) continue;
    const published = typeof r.published_at === 'string' && /^\d{4}-\d{2}-\d{2}/.test(r.published_at);
    byTag.set(r.tag_name, {
      version,
      entry: {
        tag: r.tag_name,
        prerelease: r.prerelease === true,
        published: published ? r.published_at.slice(0, 10) : null,
      },
    });
  }
  return [...byTag.values()].sort((a, b) => compareVersions(b.version, a.version)).map((x) => x.entry);
}

/** One release per line, in the layout Prettier keeps. */
function render(doc) {
  const lines = doc.releases.map(
    (r) =>
      `    { "tag": ${JSON.stringify(r.tag)}, "prerelease": ${r.prerelease === true}, ` +
      `"published": ${JSON.stringify(r.published ?? null)} }`,
  );
  return (
    '{\n' +
    `  "generated": ${JSON.stringify(doc.generated)},\n` +
    `  "source": ${JSON.stringify(doc.source)},\n` +
    `  "releases": [\n${lines.join(',\n')}\n  ]\n` +
    '}\n'
  );
}

/** True when the file holds exactly what would be written, bar the `generated` date. */
function upToDate(oldText, doc) {
  try {
    const old = JSON.parse(oldText);
    return typeof old?.generated === 'string' && render({ ...doc, generated: old.generated }) === oldText;
  } catch {
    return false;
  }
}

function describeChanges(oldDoc, newDoc) {
  const out = [];
  if (oldDoc?.source !== newDoc.source)
    out.push(`source: ${JSON.stringify(oldDoc?.source)} -> ${JSON.stringify(newDoc.source)}`);
  const oldMap = new Map((Array.isArray(oldDoc?.releases) ? oldDoc.releases : []).map((r) => [r?.tag, r]));
  const newMap = new Map(newDoc.releases.map((r) => [r.tag, r]));
  for (const [tag, r] of newMap) {
    const o = oldMap.get(tag);
    if (!o) out.push(`+ ${tag}`);
    else if (o.prerelease !== r.prerelease || o.published !== r.published) {
      out.push(`~ ${tag} (${JSON.stringify(o)} -> ${JSON.stringify(r)})`);
    }
  }
  for (const tag of oldMap.keys()) if (!newMap.has(tag)) out.push(`- ${tag}`);
  if (out.length === 0) out.push('release order or layout');
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log('usage: node scripts/refresh-known-releases.mjs [--check] [--out <file>]');
    return 0;
  }
  const apiBase = process.env.GITHUB_API_URL || 'https://api.github.com';
  const token = process.env.GITHUB_TOKEN || '';

  const apiReleases = await fetchReleases(apiBase, token);
  const releases = toKnownReleases(apiReleases);
  if (releases.length === 0)
    throw new Error('the API returned no releases from v0.9.0 on; not writing an empty list');
  const doc = { generated: new Date().toISOString().slice(0, 10), source: SOURCE, releases };

  let oldText = null;
  try {
    oldText = await readFile(opts.out, 'utf8');
  } catch (err) {
    if (err?.code !== 'ENOENT') throw err;
  }

  if (opts.check) {
    if (oldText !== null && upToDate(oldText, doc)) {
      console.log(`${opts.out} is up to date (${releases.length} releases, newest ${releases[0].tag}).`);
      return 0;
    }
    if (oldText === null) console.log(`${opts.out} does not exist.`);
    else {
      let oldDoc = null;
      try {
        oldDoc = JSON.parse(oldText);
      } catch {
        // described as a change of everything below
      }
      console.log(`${opts.out} would change:`);
      for (const line of describeChanges(oldDoc, doc)) console.log(`  ${line}`);
    }
    return 1;
  }

  const text = render(doc);
  await mkdir(dirname(opts.out), { recursive: true });
  const tmp = `${opts.out}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, opts.out);
  console.log(
    `wrote ${opts.out}: ${releases.length} releases, newest ${releases[0].tag}, oldest ${releases.at(-1).tag}.`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof UsageError ? `usage error: ${err.message}` : `error: ${err.message}`);
    process.exit(2);
  },
);
