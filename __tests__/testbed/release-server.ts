// A fake GitHub for the buildx installer: one loopback HTTP server that plays both the releases
// API (`apiUrl`, what the action gets as GITHUB_API_URL) and the release download host (`mirror`,
// what the action gets as `buildx-mirror`). Every release serves the bytes of one real buildx
// binary under every platform's asset name; a release's `assets` mode makes it misbehave.
//
// Routes (GET and HEAD; everything is recorded in `requests`):
//   /api/repos/docker/buildx/releases?per_page=&page=   newest first, paginated, GitHub's Link header
//   /api/repositories/<REPO_ID>/releases?...            the same list (GitHub's Link URLs use this form)
//   /api/repos/docker/buildx/releases/tags/<tag>        one release (404 for drafts, as on GitHub)
//   /api/repos/docker/buildx/releases/latest            newest published non-draft non-prerelease
//   /download/<tag>/<asset>                             an asset (302 to /objects/... with redirectDownloads)
//   /download/<tag>/checksums.txt                       `<sha256> *<asset>` lines, sorted by name
//   /files/<name>                                       a file given to serveFile()
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** How a release's downloads behave. */
export type AssetMode =
  /** Everything right. */
  | 'ok'
  /** checksums.txt answers 404 (and is not in the API's asset list). */
  | 'no-checksums'
  /** checksums.txt has a line for every asset, each with a wrong hash. */
  | 'wrong-checksum'
  /** checksums.txt has no line for the binaries (the .provenance.json and .sbom.json lines stay). */
  | 'missing-line'
  /** The binaries are another executable (WRONG_BINARY_SCRIPT) whose `version` says v0.0.1; checksums match it. */
  | 'wrong-binary'
  /** A binary download sends its headers and the first 64 KiB, then nothing until the client or stop() ends it. */
  | 'stall'
  /** A binary download announces its full Content-Length, sends half, then closes the connection. */
  | 'truncate'
  /** The binaries answer 404 (and are not in the API's asset list); checksums.txt still lists them. */
  | '404';

export interface FakeRelease {
  tag: string;
  draft?: boolean;
  prerelease?: boolean;
  /** ISO time. Default: one day after the previous release in the list (drafts: none, as on GitHub). */
  publishedAt?: string;
  assets?: AssetMode;
}

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface StartReleaseServerOptions {
  /** The real buildx binary whose bytes every release serves. */
  binary: string;
  /**
   * Serve this release's binary as is, and every other release's as a versioned wrapper
   * (see versionedWrapperScript), e.g. `v0.13.1` for Debian's buildx 0.13.1.
   */
  binaryTag?: string;
  /** Oldest first (the order only matters for default publish dates). Default DEFAULT_RELEASES. */
  releases?: FakeRelease[];
  /** Answer /download/... with a 302 to /objects/..., as github.com does. Default false. */
  redirectDownloads?: boolean;
}

export interface ReleaseServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/api`: the action's GITHUB_API_URL. */
  apiUrl: string;
  /** `http://127.0.0.1:PORT/download`: the action's buildx-mirror. */
  mirror: string;
  /** Every request so far, in arrival order (empty it with `requests.length = 0`). */
  requests: RecordedRequest[];
  /** The releases served, newest first, as the API lists them. */
  releases: readonly FakeRelease[];
  /** Closes the server and every connection, stalled ones included. */
  stop(): Promise<void>;
  /** `500`: every API request answers 500; `'reset'`: every API connection is destroyed unanswered. */
  setApiDown(mode: false | 500 | 'reset'): void;
  /** The next n API requests answer `status` (429 and 403 carry `Retry-After`, default 1 s). */
  setApiFailTimes(n: number, status: number, retryAfterSeconds?: number): void;
  /** The next n download requests (/download, /objects, /files) answer `status` (with a `Retry-After`, when given). */
  setDownloadFailTimes(n: number, status: number, retryAfterSeconds?: number): void;
  /** A URL `http://127.0.0.1:PORT/files/<name>` serving `file` (read at request time). */
  serveFile(file: string): string;
  /** sha256 (hex) of the bytes served for an asset: a full name or a platform (`linux-amd64`). */
  checksumOf(tag: string, asset: string): string;
  /** The bytes served for an asset: a full name or a platform (`linux-amd64`). */
  bytesOf(tag: string, asset: string): Buffer;
  /** Serves (and lists in the API) one more asset of a release, e.g. a `.sigstore.json` bundle; replaces one of that name. */
  addAsset(tag: string, name: string, bytes: Buffer): void;
}

/** The `<os>-<arch>` suffixes of buildx's release binaries (windows ones get `.exe`). */
export const BUILDX_PLATFORMS = [
  'darwin-amd64',
  'darwin-arm64',
  'freebsd-amd64',
  'linux-amd64',
  'linux-arm-v6',
  'linux-arm-v7',
  'linux-arm64',
  'linux-ppc64le',
  'linux-riscv64',
  'linux-s390x',
  'windows-amd64',
  'windows-arm64',
] as const;

/** The release asset name of a binary: `buildx-<tag>.<platform>[.exe]`. */
export function binaryAssetName(tag: string, platform: string): string {
  return `buildx-${tag}.${platform}${platform.startsWith('windows-') ? '.exe' : ''}`;
}

/** What `version` prints for the binary of `wrong-binary` releases. */
export const WRONG_BINARY_VERSION = 'github.com/docker/buildx v0.0.1 deadbeef';

/** The executable served by `wrong-binary` releases: answers `version` with v0.0.1. */
export const WRONG_BINARY_SCRIPT = [
  '#!/bin/sh',
  '# Served by the test bed as a buildx of the wrong version.',
  'cmd=$1',
  'if [ "$cmd" = buildx ]; then cmd=$2; fi',
  'if [ "$cmd" = version ]; then',
  `  echo '${WRONG_BINARY_VERSION}'`,
  '  exit 0',
  'fi',
  'if [ -n "$SAFE_IMAGETOOLS_REAL_BUILDX" ]; then exec "$SAFE_IMAGETOOLS_REAL_BUILDX" "$@"; fi',
  "echo 'wrong-binary: SAFE_IMAGETOOLS_REAL_BUILDX is not set' >&2",
  'exit 3',
  '',
].join('\n');

/**
 * A stand-in binary for a release: answers `version` as that release would, and runs the real
 * buildx (SAFE_IMAGETOOLS_REAL_BUILDX) for everything else, so a range resolved to any release
 * still passes the version check and performs a real merge.
 */
export function versionedWrapperScript(tag: string): string {
  return WRONG_BINARY_SCRIPT.replace(
    WRONG_BINARY_VERSION,
    `github.com/docker/buildx ${tag} 0123456789abcdef`,
  ).replace(
    '# Served by the test bed as a buildx of the wrong version.',
    `# Served by the test bed as buildx ${tag}.`,
  );
}

/** buildx's release history, abridged, oldest first. */
export const DEFAULT_RELEASES: readonly FakeRelease[] = [
  { tag: 'v0.12.1', publishedAt: '2024-01-12T14:02:11Z' },
  { tag: 'v0.13.1', publishedAt: '2024-03-13T10:41:37Z' },
  { tag: 'v0.19.3', publishedAt: '2024-12-13T09:15:02Z' },
  { tag: 'v0.29.0', publishedAt: '2025-09-22T12:30:45Z' },
  { tag: 'v0.30.0-rc1', prerelease: true, publishedAt: '2025-10-28T16:05:10Z' },
  // A patch of the older line, published after the next line's release candidate.
  { tag: 'v0.29.1', publishedAt: '2025-10-30T08:12:33Z' },
  { tag: 'v0.30.0', publishedAt: '2025-11-11T11:11:11Z' },
  { tag: 'v0.30.1', publishedAt: '2025-11-25T09:48:20Z' },
  { tag: 'v0.31.1', publishedAt: '2026-01-20T13:37:00Z' },
  { tag: 'v0.36.0', publishedAt: '2026-06-02T10:00:00Z' },
  { tag: 'v0.36.1', publishedAt: '2026-06-16T10:00:00Z' },
  { tag: 'v0.37.0-rc1', prerelease: true, publishedAt: '2026-07-07T10:00:00Z' },
  { tag: 'v0.38.0', draft: true },
];

/** The repository id in Link URLs (GitHub's Link headers name a repository by id: /repositories/<id>/...). */
export const BUILDX_REPO_ID = 132726727;

const STALL_BYTES = 64 * 1024;
const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;

interface Asset {
  name: string;
  bytes: Buffer;
  sha256: string;
  /** 'binary' assets are the ones the stall/truncate/404/wrong-binary modes act on. */
  kind: 'binary' | 'json' | 'checksums';
}

interface Resolved {
  release: FakeRelease;
  id: number;
  createdAt: string;
  publishedAt: string | null;
  assets: Map<string, Asset>;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * 86_400_000).toISOString().replace(/\.000Z$/, 'Z');
}

function githubError(status: number): string {
  const messages: Record<number, string> = {
    403: 'API rate limit exceeded (test bed).',
    404: 'Not Found',
    429: 'Too Many Requests',
  };
  return (
    JSON.stringify({
      message: messages[status] ?? http.STATUS_CODES[status] ?? 'Error',
      documentation_url: 'https://docs.github.com/rest',
      status: String(status),
    }) + '\n'
  );
}

/** Starts the server on a free loopback port. */
export async function startReleaseServer(opts: StartReleaseServerOptions): Promise<ReleaseServer> {
  const binaryBytes = readFileSync(opts.binary);
  const binarySha = sha256(binaryBytes);
  const wrongBytes = Buffer.from(WRONG_BINARY_SCRIPT, 'utf8');
  const wrongSha = sha256(wrongBytes);

  const input = opts.releases ?? DEFAULT_RELEASES;
  const seen = new Set<string>();
  let lastDate = '2023-06-01T12:00:00Z';
  const resolved: Resolved[] = input.map((release, i) => {
    if (seen.has(release.tag)) throw new Error(`release ${release.tag} is listed twice`);
    seen.add(release.tag);
    const date = release.publishedAt ?? addDays(lastDate, 1);
    lastDate = date;
    return {
      release,
      id: 140_000_000 + i * 1_013,
      createdAt: addDays(date, -0.01),
      publishedAt: release.draft ? (release.publishedAt ?? null) : date,
      assets:
        opts.binaryTag && opts.binaryTag !== release.tag
          ? buildAssets(
              release,
              Buffer.from(versionedWrapperScript(release.tag)),
              sha256(Buffer.from(versionedWrapperScript(release.tag))),
              wrongBytes,
              wrongSha,
            )
          : buildAssets(release, binaryBytes, binarySha, wrongBytes, wrongSha),
    };
  });
  // Newest first: drafts (no publish date) on top, then by publish date, later entries first on a tie.
  const ordered = resolved
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const pa = a.r.publishedAt === null ? Infinity : Date.parse(a.r.publishedAt);
      const pb = b.r.publishedAt === null ? Infinity : Date.parse(b.r.publishedAt);
      return pb - pa || b.i - a.i;
    })
    .map(({ r }) => r);
  const byTag = new Map(ordered.map((r) => [r.release.tag, r]));

  const requests: RecordedRequest[] = [];
  const files = new Map<string, string>();
  let apiDown: false | 500 | 'reset' = false;
  let apiFail = { n: 0, status: 500, retryAfter: undefined as number | undefined };
  let downloadFail = { n: 0, status: 500, retryAfter: undefined as number | undefined };
  let base = '';

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    requests.push({ method, url: rawUrl, headers: { ...req.headers } });
    // Drain any request body so the connection stays usable.
    req.resume();
    try {
      route(req, res, method, new URL(rawUrl, base));
    } catch (e) {
      if (!res.headersSent) sendText(res, 500, `release server: ${(e as Error).message}\n`);
      else res.destroy();
    }
  });
  // No server-side timeouts: a stalled download stays open until the client or stop() ends it.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 5_000;

  function route(req: http.IncomingMessage, res: http.ServerResponse, method: string, url: URL): void {
    const p = url.pathname;
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
      return;
    }
    if (p === '/api' || p.startsWith('/api/')) {
      api(req, res, url);
      return;
    }
    if (p.startsWith('/download/') || p.startsWith('/objects/') || p.startsWith('/files/')) {
      if (downloadFail.n > 0) {
        downloadFail.n--;
        const { status, retryAfter } = downloadFail;
        const headers = retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) };
        sendText(res, status, `${http.STATUS_CODES[status] ?? 'error'}\n`, headers);
        return;
      }
    }
    let m = /^\/(download|objects)\/([^/]+)\/([^/]+)$/.exec(p);
    if (m) {
      const [, where, tagEnc, nameEnc] = m as unknown as [string, string, string, string];
      if (where === 'download' && opts.redirectDownloads) {
        res.writeHead(302, { Location: `${base}/objects/${tagEnc}/${nameEnc}`, 'Content-Length': 0 });
        res.end();
        return;
      }
      download(res, decodeURIComponent(tagEnc), decodeURIComponent(nameEnc));
      return;
    }
    m = /^\/files\/(.+)$/.exec(p);
    if (m) {
      const file = files.get(decodeURIComponent(m[1] ?? ''));
      if (!file) {
        sendText(res, 404, 'Not Found\n');
        return;
      }
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        sendText(res, 404, 'Not Found\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
      return;
    }
    sendText(res, 404, 'Not Found\n');
  }

  function api(_req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    if (apiDown === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (apiDown === 500) {
      sendJson(res, 500, githubError(500));
      return;
    }
    if (apiFail.n > 0) {
      apiFail.n--;
      const status = apiFail.status;
      const headers: http.OutgoingHttpHeaders = {};
      const retryAfter = apiFail.retryAfter ?? (status === 429 || status === 403 ? 1 : undefined);
      if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
      if (status === 403 || status === 429) {
        headers['X-RateLimit-Limit'] = '60';
        headers['X-RateLimit-Remaining'] = '0';
        headers['X-RateLimit-Reset'] = String(Math.ceil(Date.now() / 1000) + (retryAfter ?? 1));
      }
      sendJson(res, status, githubError(status), headers);
      return;
    }
    const p = url.pathname.replace(/\/+$/, '');
    const list =
      /^\/api\/repos\/docker\/buildx\/releases$/i.test(p) ||
      p === `/api/repositories/${BUILDX_REPO_ID}/releases`;
    if (list) {
      listReleases(res, url);
      return;
    }
    if (/^\/api\/repos\/docker\/buildx\/releases\/latest$/i.test(p)) {
      const latest = ordered.find((r) => !r.release.draft && !r.release.prerelease);
      if (latest) sendJson(res, 200, JSON.stringify(releaseJson(latest), null, 2) + '\n');
      else sendJson(res, 404, githubError(404));
      return;
    }
    const m = /^\/api\/repos\/docker\/buildx\/releases\/tags\/(.+)$/i.exec(p);
    if (m) {
      const r = byTag.get(decodeURIComponent(m[1] ?? ''));
      if (r && !r.release.draft) sendJson(res, 200, JSON.stringify(releaseJson(r), null, 2) + '\n');
      else sendJson(res, 404, githubError(404));
      return;
    }
    sendJson(res, 404, githubError(404));
  }

  function listReleases(res: http.ServerResponse, url: URL): void {
    const perPageRaw = Number.parseInt(url.searchParams.get('per_page') ?? '', 10);
    const pageRaw = Number.parseInt(url.searchParams.get('page') ?? '', 10);
    const perPage = perPageRaw > 0 ? Math.min(perPageRaw, MAX_PER_PAGE) : DEFAULT_PER_PAGE;
    const page = pageRaw > 0 ? pageRaw : 1;
    const lastPage = Math.max(1, Math.ceil(ordered.length / perPage));
    const items = ordered.slice((page - 1) * perPage, page * perPage);
    const link = (n: number, rel: string) => {
      const q = new URLSearchParams(url.searchParams);
      q.set('per_page', String(perPage));
      q.set('page', String(n));
      return `<${base}/api/repositories/${BUILDX_REPO_ID}/releases?${q.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(Math.min(page - 1, lastPage), 'prev'));
    if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    const headers: http.OutgoingHttpHeaders = {};
    if (links.length > 0) headers.Link = links.join(', ');
    sendJson(res, 200, JSON.stringify(items.map(releaseJson), null, 2) + '\n', headers);
  }

  function releaseJson(r: Resolved): Record<string, unknown> {
    const tag = r.release.tag;
    const apiRelease = `${base}/api/repos/docker/buildx/releases/${r.id}`;
    const listed = [...r.assets.values()].filter((a) => listedInApi(r.release.assets ?? 'ok', a));
    return {
      url: apiRelease,
      assets_url: `${apiRelease}/assets`,
      upload_url: `${base}/uploads/repos/docker/buildx/releases/${r.id}/assets{?name,label}`,
      html_url: `${base}/docker/buildx/releases/tag/${tag}`,
      id: r.id,
      tag_name: tag,
      target_commitish: 'master',
      name: tag,
      draft: r.release.draft ?? false,
      prerelease: r.release.prerelease ?? false,
      created_at: r.createdAt,
      published_at: r.publishedAt,
      assets: listed.map((a, i) => ({
        url: `${base}/api/repos/docker/buildx/releases/assets/${r.id + i + 1}`,
        id: r.id + i + 1,
        name: a.name,
        label: '',
        content_type: a.kind === 'binary' ? 'application/octet-stream' : 'text/plain',
        state: 'uploaded',
        size: a.bytes.length,
        download_count: 0,
        created_at: r.createdAt,
        updated_at: r.createdAt,
        browser_download_url: `${base}/download/${encodeURIComponent(tag)}/${encodeURIComponent(a.name)}`,
      })),
      tarball_url: `${base}/api/repos/docker/buildx/tarball/${tag}`,
      zipball_url: `${base}/api/repos/docker/buildx/zipball/${tag}`,
      body: `buildx ${tag} (test bed release)`,
    };
  }

  function assetOf(tag: string, asset: string): Asset {
    const r = byTag.get(tag);
    if (!r) throw new Error(`no release ${tag}`);
    const a = r.assets.get(asset) ?? r.assets.get(binaryAssetName(tag, asset));
    if (!a) throw new Error(`release ${tag} has no asset ${asset}`);
    return a;
  }

  function download(res: http.ServerResponse, tag: string, name: string): void {
    const r = byTag.get(tag);
    const mode = r?.release.assets ?? 'ok';
    const asset = r?.assets.get(name);
    if (!r || !asset || (mode === '404' && asset.kind === 'binary')) {
      sendText(res, 404, 'Not Found\n');
      return;
    }
    if (mode === 'no-checksums' && asset.kind === 'checksums') {
      sendText(res, 404, 'Not Found\n');
      return;
    }
    const headers = {
      'Content-Type': asset.kind === 'binary' ? 'application/octet-stream' : 'text/plain; charset=utf-8',
      'Content-Length': asset.bytes.length,
    };
    if (res.req.method === 'HEAD') {
      res.writeHead(200, headers);
      res.end();
      return;
    }
    if (asset.kind === 'binary' && mode === 'stall') {
      res.writeHead(200, headers);
      res.flushHeaders();
      res.write(asset.bytes.subarray(0, Math.min(STALL_BYTES, asset.bytes.length - 1)));
      return; // never ended: stop() or the client closes it
    }
    if (asset.kind === 'binary' && mode === 'truncate') {
      res.writeHead(200, headers);
      res.write(asset.bytes.subarray(0, Math.floor(asset.bytes.length / 2)), () => res.destroy());
      return;
    }
    res.writeHead(200, headers);
    res.end(asset.bytes);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;

  let stopped: Promise<void> | undefined;
  return {
    url: base,
    apiUrl: `${base}/api`,
    mirror: `${base}/download`,
    requests,
    releases: ordered.map((r) => r.release),
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
    setApiDown(mode) {
      apiDown = mode;
    },
    setApiFailTimes(n, status, retryAfterSeconds) {
      apiFail = { n, status, retryAfter: retryAfterSeconds };
    },
    setDownloadFailTimes(n, status, retryAfterSeconds) {
      downloadFail = { n, status, retryAfter: retryAfterSeconds };
    },
    serveFile(file) {
      const abs = path.resolve(file);
      const name = path.basename(abs);
      let key = name;
      for (let k = 2; files.has(key) && files.get(key) !== abs; k++) key = `${k}/${name}`;
      files.set(key, abs);
      return `${base}/files/${key.split('/').map(encodeURIComponent).join('/')}`;
    },
    checksumOf(tag, asset) {
      return assetOf(tag, asset).sha256;
    },
    bytesOf(tag, asset) {
      return assetOf(tag, asset).bytes;
    },
    addAsset(tag, name, bytes) {
      const r = byTag.get(tag);
      if (!r) throw new Error(`no release ${tag}`);
      r.assets.set(name, { name, bytes, sha256: sha256(bytes), kind: 'json' });
    },
  };
}

function listedInApi(mode: AssetMode, a: Asset): boolean {
  if (mode === 'no-checksums' && a.kind === 'checksums') return false;
  if (mode === '404' && a.kind === 'binary') return false;
  return true;
}

/** The assets of one release: binaries, their .provenance.json and .sbom.json, and checksums.txt. */
function buildAssets(
  release: FakeRelease,
  binaryBytes: Buffer,
  binarySha: string,
  wrongBytes: Buffer,
  wrongSha: string,
): Map<string, Asset> {
  const mode = release.assets ?? 'ok';
  const assets = new Map<string, Asset>();
  for (const platform of BUILDX_PLATFORMS) {
    const name = binaryAssetName(release.tag, platform);
    const wrong = mode === 'wrong-binary';
    assets.set(name, {
      name,
      bytes: wrong ? wrongBytes : binaryBytes,
      sha256: wrong ? wrongSha : binarySha,
      kind: 'binary',
    });
    // Look-alike names next to each binary, as on buildx's release pages.
    for (const ext of ['provenance.json', 'sbom.json']) {
      const jsonName = `buildx-${release.tag}.${platform}.${ext}`;
      const bytes = Buffer.from(JSON.stringify({ testbed: ext, subject: name }) + '\n');
      assets.set(jsonName, { name: jsonName, bytes, sha256: sha256(bytes), kind: 'json' });
    }
  }
  const lines = [...assets.values()]
    .filter((a) => !(mode === 'missing-line' && a.kind === 'binary'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((a) => `${mode === 'wrong-checksum' ? sha256(`wrong:${a.name}`) : a.sha256} *${a.name}`);
  const checksums = Buffer.from(lines.join('\n') + '\n');
  assets.set('checksums.txt', {
    name: 'checksums.txt',
    bytes: checksums,
    sha256: sha256(checksums),
    kind: 'checksums',
  });
  return assets;
}

function sendText(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: http.OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-GitHub-Api-Version-Selected': '2022-11-28',
    ...headers,
  });
  res.end(body);
}
