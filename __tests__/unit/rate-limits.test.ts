// Rate limits in buildx's output (the classifier's asked wait and GHCR's secondary rate limit) and
// the wait the engine takes before the next attempt. Lines in the shapes registries answer with
// and buildx prints them (GHCR's from public issue threads, quoted in docs/registries.md "Rate limits").
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { classifyOutput } from '../../src/buildx/classify.js';
import { askedWaitMs, retryAfterMs } from '../../src/retry/asked.js';
import { retryWait } from '../../src/retry/backoff.js';
import { fixturesDir } from '../testbed/paths.js';

const GHCR_429 = [
  'ERROR: failed commit on ref "index-sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270": unexpected status from PUT request to https://ghcr.io/v2/acme/app/manifests/v1: 429 Too Many Requests',
  'toomanyrequests: retry-after: 12.5ms, allowed: 2000/minute',
].join('\n');
const GHCR_SECONDARY = [
  'ERROR: failed to push ghcr.io/acme/app:v1: denied: permission_denied: Error from intermediary with HTTP status code 403 "Forbidden" - with-body: {',
  '  "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 9055:2E795C:1F5BEB:235307:6A79DADE."',
  '}',
].join('\n');

describe('the wait a line of buildx output asks for', () => {
  it.each([
    ['toomanyrequests: retry-after: 12.5ms, allowed: 2000/minute', 13],
    [
      'POST https://ghcr.io/v2/a/b/blobs/uploads/: TOOMANYREQUESTS: retry-after: 10.305464ms, allowed: 2000/minute',
      11,
    ],
    ['toomanyrequests: retry-after: 1.5s, allowed: 2000/minute', 1500],
    ['toomanyrequests: retry-after: 1m30s', 90_000],
    ['429 Too Many Requests (Retry-After: 30)', 30_000],
    ['Retry-After: 2', 2000],
    ['retry-after: 750us', 1],
    ['429 Too Many Requests', undefined],
    ['retry-after: soon', undefined],
    ['retry-after: 12.5 ms', undefined],
  ])('%s -> %s ms', (line, ms) => {
    expect(askedWaitMs(line)).toBe(ms);
  });
});

describe('rate limits in the classifier', () => {
  it.each([
    ['GHCR 429 with its wait in the text', GHCR_429, 'transient', '429 Too Many Requests', 13],
    [
      'a 429 with Retry-After in the text',
      'ERROR: unexpected status from PUT request to https://quay.io/v2/a/b/manifests/v1: 429 Too Many Requests\nRetry-After: 30',
      'transient',
      '429 Too Many Requests',
      30_000,
    ],
    [
      'Docker Hub pull limit (no wait given)',
      'ERROR: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit',
      'transient',
      '429 Too Many Requests',
      undefined,
    ],
    [
      'GHCR secondary rate limit (403, denied wording)',
      GHCR_SECONDARY,
      'transient',
      'secondary rate limit',
      undefined,
    ],
    [
      'a 403 with rate-limit words on the same line',
      'ERROR: unexpected status from PUT request to https://ghcr.io/v2/a/b/manifests/v1: 403 Forbidden: You have exceeded a secondary rate limit',
      'transient',
      'secondary rate limit',
      undefined,
    ],
    [
      'a plain 403',
      'ERROR: unexpected status from PUT request to https://ghcr.io/v2/a/b/manifests/v1: 403 Forbidden',
      'permanent',
      '403 Forbidden',
      undefined,
    ],
    [
      'denied without rate-limit words',
      'ERROR: failed to push ghcr.io/a/b:v1: denied: permission_denied: write_package',
      'permanent',
      'denied',
      undefined,
    ],
    [
      'insufficient_scope is not made transient by a rate-limit line',
      'ERROR: server message: insufficient_scope: authorization failed\nYou have exceeded a secondary rate limit',
      'permanent',
      'insufficient_scope',
      undefined,
    ],
    [
      'a 503 with a Retry-After',
      'ERROR: unexpected status from HEAD request to https://r/v2/a/b/manifests/v1: 503 Service Unavailable\nRetry-After: 5',
      'transient',
      '503 Service Unavailable',
      5000,
    ],
  ])('%s', (_name, output, cls, signature, waitMs) => {
    const c = classifyOutput(output);
    expect(c.class).toBe(cls);
    expect(c.signature).toBe(signature);
    expect(c.waitMs).toBe(waitMs);
  });
});

// What real buildx printed through the fault proxy (__tests__/fixtures/buildx-output): 0.13.1 prints
// no body for a failed PUT (no wait, no GHCR words: a bare 403 stays permanent), but does for a GET.
describe('the captured buildx output for rate limits', () => {
  it.each([
    ['v0.13.1-429-retry-after-header.log', 'transient', '429 Too Many Requests', undefined],
    ['v0.29.1-429-retry-after-header.log', 'transient', '429 Too Many Requests', undefined],
    ['v0.13.1-429-retry-after-in-text.log', 'transient', '429 Too Many Requests', undefined],
    ['v0.29.1-429-retry-after-in-text.log', 'transient', '429 Too Many Requests', 13],
    ['v0.13.1-429-retry-after-in-text-on-get.log', 'transient', '429 Too Many Requests', 13],
    ['v0.29.1-429-retry-after-in-text-on-get.log', 'transient', '429 Too Many Requests', 13],
    ['v0.13.1-403-secondary-rate-limit.log', 'permanent', '403 Forbidden', undefined],
    ['v0.29.1-403-secondary-rate-limit.log', 'transient', 'secondary rate limit', undefined],
    ['v0.13.1-403-secondary-rate-limit-on-get.log', 'transient', 'secondary rate limit', undefined],
    ['v0.29.1-403-secondary-rate-limit-on-get.log', 'transient', 'secondary rate limit', undefined],
  ])('%s is %s (%s), asking %s ms', (name, cls, signature, waitMs) => {
    const c = classifyOutput(readFileSync(join(fixturesDir, name), 'utf8'));
    expect(c.class).toBe(cls);
    expect(c.signature).toBe(signature);
    expect(c.waitMs).toBe(waitMs);
  });
});

describe('the wait before the next attempt', () => {
  const opts = { baseMs: 1000, capMs: 30_000 };
  it.each([
    // [retry, random, asked, cap, expected wait, asked kept]
    ['no asked wait: the jittered backoff', 1, 0.5, undefined, 30_000, 500],
    ['asked less than the backoff: the backoff', 3, 1, 13, 30_000, 4000],
    ['asked more than the backoff: the asked wait', 1, 0, 2000, 30_000, 2000],
    ['asked more than retry-max-delay: the cap', 1, 0, 90_000, 30_000, 30_000],
    ['a budget shorter than both: the budget', 1, 0, 2000, 1500, 1500],
  ])('%s', (_name, retry, random, asked, budget, wait) => {
    expect(retryWait(retry, opts, () => random, asked, budget)).toBe(wait);
  });
});

describe('the Retry-After header', () => {
  const now = Date.parse('2026-11-29T05:00:00Z');
  it.each([
    ['2', 2000],
    ['0', 0],
    [' 30 ', 30_000],
    ['Sun, 29 Nov 2026 05:00:03 GMT', 3000],
    ['Sun, 29 Nov 2026 04:59:00 GMT', 0],
    ['soon', undefined],
    ['-1', undefined],
    [null, undefined],
  ])('%s -> %s ms', (header, ms) => {
    expect(retryAfterMs(header, now)).toBe(ms);
  });
});
