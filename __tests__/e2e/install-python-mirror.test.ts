// The installer's downloads from a plain file server nobody here wrote: Python's http.server, in
// its default HTTP/1.0 form (Content-Length, then the connection closes) and as HTTP/1.1 with
// keep-alive. The real buildx binary, 50 downloads each, with a consumer (file write + sha256) as
// slow as it is. Loaded first, as in the bundle: @actions/http-client, which replaces the
// process-wide `fetch` dispatcher (why the downloads never use `fetch`: src/http/request.ts).
import '@actions/http-client';

import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { downloadFile, fetchText } from '../../src/install/http.js';
import { buildxPath } from '../testbed/paths.js';
import { type PythonServer, startPythonServer } from '../testbed/python-http.js';

const INSTALLS = Number(process.env.MIRROR_INSTALLS ?? 50);
let mirror: string;
let work: string;
let sha: string;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => void uncaught.push(err);

beforeAll(() => {
  mirror = mkdtempSync(join(tmpdir(), 'py-mirror-'));
  work = mkdtempSync(join(tmpdir(), 'py-download-'));
  mkdirSync(join(mirror, 'v0.13.1'));
  const asset = join(mirror, 'v0.13.1', 'buildx-v0.13.1.linux-amd64');
  copyFileSync(buildxPath(), asset);
  sha = createHash('sha256').update(readFileSync(asset)).digest('hex');
  writeFileSync(join(mirror, 'v0.13.1', 'checksums.txt'), `${sha} *buildx-v0.13.1.linux-amd64\n`);
  process.on('uncaughtException', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  rmSync(mirror, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe.each(['HTTP/1.0', 'HTTP/1.1'] as const)(
  "Python's http.server (%s) as the buildx mirror",
  (protocol) => {
    let server: PythonServer;
    beforeAll(async () => {
      uncaught.length = 0;
      server = await startPythonServer(mirror, protocol);
    });
    afterAll(() => server?.stop());

    it(`${INSTALLS} downloads of the 66 MB binary: every one whole and verified, no crash`, async () => {
      const base = `${server.url}/v0.13.1`;
      let ok = 0;
      for (let i = 0; i < INSTALLS; i++) {
        const { text } = await fetchText(`${base}/checksums.txt`, { attempts: 1 });
        expect(text).toContain(sha);
        const dest = join(work, `buildx-${i}`);
        const got = await downloadFile(`${base}/buildx-v0.13.1.linux-amd64`, dest, { attempts: 1 });
        expect(got.sha256).toBe(sha);
        rmSync(dest);
        ok++;
      }
      expect(ok).toBe(INSTALLS);
      expect(uncaught).toEqual([]);
      expect(readdirSync(work)).toEqual([]);
    });
  },
);
