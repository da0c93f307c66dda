// The installer's download path against a real local server, with short timeouts: stalls,
// truncation, missing checksum lines and retried server errors. Real HTTP, real files, the real
// buildx binary; nothing is mocked.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { installBuildx } from '../../src/install/by-spec.js';
import type { InstallOptions } from '../../src/install/types.js';
import { parseBuildxSpec } from '../../src/buildx/spec.js';
import { buildxPath } from '../testbed/paths.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';

let server: ReleaseServer;
let toolCache: string;
let temp: string;
const logs: string[] = [];
const savedCache = process.env.RUNNER_TOOL_CACHE;

function opts(spec: string, extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    spec: parseBuildxSpec(spec),
    mirror: server.mirror,
    apiUrl: server.apiUrl,
    githubHost: 'github.com',
    workspace: temp,
    tempDir: temp,
    platform: { os: 'linux', arch: 'amd64' },
    download: { stallMs: 500, timeoutMs: 10_000, attempts: 2, retryDelayMs: 50 },
    info: (m) => logs.push(`info: ${m}`),
    warning: (m) => logs.push(`warning: ${m}`),
    ...extra,
  };
}

beforeAll(async () => {
  server = await startReleaseServer({
    binary: buildxPath(),
    releases: [
      { tag: 'v0.13.1' },
      { tag: 'v0.20.0', assets: 'stall' },
      { tag: 'v0.21.0', assets: 'truncate' },
      { tag: 'v0.22.0', assets: 'missing-line' },
      { tag: 'v0.23.0', assets: '404' },
    ],
  });
});
afterAll(async () => {
  await server?.stop();
  process.env.RUNNER_TOOL_CACHE = savedCache;
});
beforeEach(() => {
  toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
  temp = mkdtempSync(join(tmpdir(), 'install-'));
  process.env.RUNNER_TOOL_CACHE = toolCache;
  logs.length = 0;
});
afterEach(() => {
  // whatever happened, no partial download is left behind and nothing half-made is cached
  expect(readdirSync(temp).filter((f) => f.startsWith('buildx-download-'))).toEqual([]);
});

describe('downloads', () => {
  it('a stalled download is abandoned after the stall timeout, retried, then refused; nothing cached', async () => {
    const started = Date.now();
    await expect(installBuildx(opts('v0.20.0'))).rejects.toThrow(/stalled \(no data for 500ms\)/);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(logs.join('\n')).toMatch(/stalled .* retrying/);
    expect(existsSync(join(toolCache, 'buildx'))).toBe(false);
  });

  it('a truncated download is refused, after a retry', async () => {
    await expect(installBuildx(opts('v0.21.0'))).rejects.toThrow(
      /truncated \(\d+ of \d+ bytes, then the connection closed\)/,
    );
    expect(existsSync(join(toolCache, 'buildx'))).toBe(false);
  });

  it('checksums.txt without the asset line: refused, nothing downloaded', async () => {
    const before = server.requests.length;
    await expect(installBuildx(opts('v0.22.0'))).rejects.toThrow(
      /has no line for buildx-v0\.22\.0\.linux-amd64: refusing to install an unverified binary/,
    );
    expect(server.requests.slice(before).some((r) => r.url.endsWith('linux-amd64'))).toBe(false);
  });

  it('a 404 asset is not retried', async () => {
    const before = server.requests.length;
    await expect(installBuildx(opts('v0.23.0'))).rejects.toThrow(/404 Not Found/);
    expect(server.requests.slice(before).filter((r) => r.url.endsWith('linux-amd64'))).toHaveLength(1);
  });

  it('a 503 on the download is retried, then the install succeeds and is cached', async () => {
    server.setDownloadFailTimes(1, 503);
    const installed = await installBuildx(opts('v0.13.1'));
    expect(installed).toMatchObject({
      source: 'release',
      resolved: 'v0.13.1',
      cached: false,
      version: '0.13.1+ds1',
    });
    expect(logs.join('\n')).toMatch(/503 Service Unavailable; retrying/);
    expect(installed.path).toBe(join(toolCache, 'buildx', '0.13.1', 'amd64', 'buildx'));
    const again = await installBuildx(opts('v0.13.1'));
    expect(again).toMatchObject({ cached: true, path: installed.path });
  });

  it('a 503 with Retry-After on the download: the wait the server asked for is waited, not the backoff', async () => {
    server.setDownloadFailTimes(1, 503, 1);
    const started = Date.now();
    const installed = await installBuildx(opts('v0.13.1'));
    expect(installed).toMatchObject({ source: 'release', resolved: 'v0.13.1', cached: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(logs.join('\n')).toMatch(
      /503 Service Unavailable; retrying in 1\.0s \(the server asked for 1\.0s\) \(attempt 2 of 2\)/,
    );
  });
});
