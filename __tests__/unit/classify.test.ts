import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CHUNK_FILTER, classifyOutput, OutputClassifier } from '../../src/buildx/classify.js';
import { fixturesDir } from '../testbed/paths.js';

const fixture = (name: string): string => readFileSync(join(fixturesDir, name), 'utf8');

describe('the captured buildx output in __tests__/fixtures', () => {
  it('has the fixtures this table expects', () => {
    expect(readdirSync(fixturesDir).filter((f) => f.endsWith('.log')).length).toBeGreaterThanOrEqual(3);
  });
  it.each([
    [
      'v0.30.0-fatal-concurrent-map-writes.log',
      'panic',
      'concurrent map writes',
      'fatal error: concurrent map writes',
    ],
    [
      'v0.30.0-fatal-concurrent-map-writes-2.log',
      'panic',
      'concurrent map writes',
      'fatal error: concurrent map writes',
    ],
    [
      'v0.13.1-registry-400-under-parallel-tags.log',
      'transient',
      '500 Internal Server Error',
      'ERROR: unexpected status from HEAD request to http://127.0.0.1:5000/v2/dst4/app/manifests/t3: 500 Internal Server Error',
    ],
    [
      'v0.29.1-registry-400-under-parallel-tags.log',
      'transient',
      '400 Bad Request on a parallel manifest push',
      'ERROR: failed commit on ref "index-sha256:e612f09d971a914a393ee27ff07073bbbc478fc8e60340409eee71691848a44c": unexpected status from PUT request to http://registry.test:5000/v2/demo/app/manifests/t5: 400 Bad Request',
    ],
    [
      'v0.13.1-token-registry-no-credentials.log',
      'permanent',
      'insufficient_scope',
      'ERROR: failed commit on ref "manifest-sha256:41e9874da0a0b82ad6483a0b6b9e2878f0662ab900de1ae53d6c57d8e3feb5fd": server message: insufficient_scope: authorization failed',
    ],
    [
      'v0.13.1-token-registry-wrong-password.log',
      'permanent',
      'oauth token 401',
      'ERROR: failed to authorize: failed to fetch oauth token: unexpected status from GET request to http://auth.test:5001/token?scope=repository%3Ademo%2Fsrc%3Apull&service=test-registry: 401 Unauthorized',
    ],
  ])('%s is %s (%s)', (name, cls, signature, line) => {
    const c = classifyOutput(fixture(name));
    expect(c.class).toBe(cls);
    expect(c.signature).toBe(signature);
    expect(c.line).toBe(line);
  });
});

// Go runtime crashes in the forms Go prints them, and registry/network errors as buildx,
// containerd and registries word them (registry 2.8, Docker Hub, GHCR, ECR, Harbor).
const CASES: [string, string, string, string][] = [
  // [class, signature, name, output]
  [
    'panic',
    'concurrent map writes',
    'map writes',
    'fatal error: concurrent map writes\n\ngoroutine 7 [running]:',
  ],
  [
    'panic',
    'concurrent map read and map write',
    'read and write',
    'fatal error: concurrent map read and map write',
  ],
  [
    'panic',
    'concurrent map iteration and map write',
    'iteration',
    'fatal error: concurrent map iteration and map write',
  ],
  [
    'panic',
    'nil pointer dereference',
    'nil pointer + SIGSEGV',
    'panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x8b7c5e]\n\ngoroutine 55 [running]:',
  ],
  [
    'panic',
    'signal SIGSEGV',
    'bare signal',
    '[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x4a1b2c]',
  ],
  [
    'panic',
    'all goroutines are asleep - deadlock',
    'deadlock',
    'fatal error: all goroutines are asleep - deadlock!',
  ],
  ['panic', 'index out of range', 'index', 'panic: runtime error: index out of range [3] with length 3'],
  ['panic', 'send on closed channel', 'channel', 'panic: send on closed channel'],
  [
    'panic',
    'stack overflow',
    'stack',
    'runtime: goroutine stack exceeds 1000000000-byte limit\nfatal error: stack overflow',
  ],
  ['panic', 'signal SIGABRT', 'abort', 'SIGABRT: abort\nPC=0x47c2a1 m=0 sigcode=0'],
  [
    'panic',
    'sync: negative WaitGroup counter',
    'custom panic',
    'panic: sync: negative WaitGroup counter [recovered]',
  ],
  [
    'panic',
    'concurrent map writes',
    'a crash wins over ERROR lines before it',
    '#3 ERROR: unexpected status from PUT request to http://r/v2/a/manifests/t: 503 Service Unavailable\nERROR: failed to push: denied\nfatal error: concurrent map writes',
  ],
  [
    'panic',
    'concurrent map writes',
    'and over ERROR lines after it',
    'fatal error: concurrent map writes\nERROR: 401 Unauthorized',
  ],
  [
    'permanent',
    'oauth token 401',
    'a token server refused the credentials',
    'ERROR: failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
  ],
  [
    'permanent',
    '401 Unauthorized',
    'a bare 401',
    'ERROR: unexpected status from HEAD request to http://r/v2/a/manifests/t: 401 Unauthorized',
  ],
  [
    'permanent',
    'unauthorized',
    'GHCR',
    'ERROR: unexpected status from HEAD request to https://ghcr.io/v2/o/a/manifests/t: unauthorized: authentication required',
  ],
  [
    'permanent',
    'denied',
    'Docker Hub denied',
    'ERROR: failed to push docker.io/o/app:t: denied: requested access to the resource is denied',
  ],
  [
    'permanent',
    '403 Forbidden',
    'forbidden',
    'ERROR: unexpected status from POST request to https://r/v2/a/blobs/uploads/: 403 Forbidden',
  ],
  [
    'permanent',
    'insufficient_scope',
    'token registry, anonymous token (buildx 0.13.1 against registry 2.8 with auth: token)',
    'ERROR: failed to authorize: failed to fetch anonymous token: Get "http://127.0.0.1:39819/token?scope=repository%3Ademo%2Fapp%3Apull%2Cpush&scope=repository%3Ademo%2Fsrc%3Apull&service=testbed-registry": server message: insufficient_scope: authorization failed',
  ],
  [
    'permanent',
    'insufficient_scope',
    'token registry, a pull-only user',
    '#1 ERROR: server message: insufficient_scope: authorization failed',
  ],
  [
    'permanent',
    'oauth token 403',
    'token server forbids',
    'ERROR: failed to authorize: failed to fetch oauth token: unexpected status from POST request to https://auth.example/token: 403 Forbidden',
  ],
  [
    'permanent',
    'invalid reference',
    'invalid reference',
    'ERROR: failed to parse source "foo$(x)", valid sources are digests, references and descriptors: invalid reference format',
  ],
  ['permanent', 'bad arguments', 'flag', 'ERROR: unknown flag: --progress'],
  // buildx 0.13.1 refusing an --annotation of imagetools create (captured from the real binary
  // with --dry-run; 0.29.1 words them the same in util/imagetools/create.go)
  [
    'permanent',
    'annotation refused',
    'manifest level',
    'ERROR: "manifest" annotations are not supported yet',
  ],
  ['permanent', 'annotation refused', 'no level', 'ERROR: "" annotations are not supported yet'],
  [
    'permanent',
    'annotation refused',
    'index-descriptor level',
    'ERROR: "index-descriptor" annotations are invalid while creating an image',
  ],
  ['permanent', 'annotation refused', 'unknown level', 'ERROR: unknown annotation type "bogus"'],
  ['permanent', 'annotation refused', 'no value', 'ERROR: invalid annotation "index:a", expected key=value'],
  [
    'permanent',
    'invalid platform',
    'platform of an annotation',
    'ERROR: invalid platform "bogus": "bogus": unknown operating system or architecture: invalid argument',
  ],
  [
    'permanent',
    'TLS configuration',
    'x509',
    'ERROR: tls: failed to verify certificate: x509: certificate signed by unknown authority',
  ],
  [
    'permanent',
    'unauthorized',
    'a permanent error wins over a transient one',
    '#2 ERROR: unexpected status from PUT request to http://r/v2/a/manifests/t1: 502 Bad Gateway\n#3 ERROR: failed to authorize: unauthorized',
  ],
  ['transient', 'not found', 'source not found', 'ERROR: 127.0.0.1:5055/src/app:nope: not found'],
  [
    'transient',
    'manifest unknown',
    'ECR',
    'ERROR: failed to copy: httpReadSeeker: failed open: content at https://x/v2/a/manifests/sha256:abc not found: MANIFEST_UNKNOWN'.replace(
      ' not found:',
      ':',
    ),
  ],
  [
    'transient',
    '503 Service Unavailable',
    '503',
    'ERROR: unexpected status from PUT request to http://r/v2/a/manifests/t: 503 Service Unavailable',
  ],
  [
    'transient',
    '502 Bad Gateway',
    '502',
    '#4 ERROR: unexpected status from HEAD request to https://r/v2/a/manifests/t: 502 Bad Gateway',
  ],
  ['transient', '504 Gateway Timeout', '504', 'ERROR: unexpected status: 504 Gateway Timeout'],
  [
    'transient',
    '429 Too Many Requests',
    'Docker Hub rate limit',
    'ERROR: failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/alpine/manifests/sha256:1: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.',
  ],
  [
    'transient',
    '400 Bad Request on a parallel manifest push',
    'registry 2.8 under parallel tags',
    '#13 ERROR: failed commit on ref "index-sha256:5df2": unexpected status from PUT request to http://127.0.0.1:5000/v2/dst4/app/manifests/t1: 400 Bad Request',
  ],
  [
    'transient',
    'connection reset',
    'reset',
    'ERROR: failed to do request: Head "https://r/v2/a/manifests/t": read tcp 10.1.0.4:4312->1.2.3.4:443: read: connection reset by peer',
  ],
  [
    'transient',
    'connection refused',
    'refused',
    'ERROR: failed to do request: Head "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused',
  ],
  [
    'transient',
    'TLS handshake timeout',
    'tls timeout',
    'ERROR: failed to do request: Head "https://ghcr.io/v2/": net/http: TLS handshake timeout',
  ],
  [
    'transient',
    'i/o timeout',
    'io timeout',
    'ERROR: failed to do request: dial tcp 1.2.3.4:443: i/o timeout',
  ],
  ['transient', 'deadline exceeded', 'deadline', 'ERROR: failed to copy: context deadline exceeded'],
  [
    'transient',
    'EOF',
    'EOF',
    'ERROR: failed commit on ref "index-sha256:1": failed to do request: Put "https://r/v2/a/manifests/t": EOF',
  ],
  ['transient', 'EOF', 'unexpected EOF', 'ERROR: failed to copy: unexpected EOF'],
  [
    'transient',
    'HTTP/2 stream error',
    'h2',
    'ERROR: stream error: stream ID 3; INTERNAL_ERROR; received from peer',
  ],
  [
    'transient',
    'DNS lookup failed',
    'dns',
    'ERROR: failed to do request: dial tcp: lookup ghcr.io on 127.0.0.53:53: server misbehaving',
  ],
  ['unknown', 'unrecognised failure', 'no known signature', 'ERROR: something nobody has seen before'],
  ['unknown', 'unrecognised failure', 'silence', ''],
];

describe.each(CASES)('%s: %s (%s)', (cls, signature, _name, output) => {
  it('classifies', () => {
    const c = classifyOutput(output);
    expect(c.class).toBe(cls);
    expect(c.signature).toBe(signature);
  });
  it('passes the chunk filter whenever it is not unknown', () => {
    // the runner only splits chunks the filter matches: it must never hide a telling line
    if (cls !== 'unknown' || output.includes('ERROR')) expect(CHUNK_FILTER.test(output)).toBe(true);
  });
});

describe('the chunk filter', () => {
  it('passes every fixture of a failure (a fixture of a success, such as v0.29.1-immutable-new-tag.log, has nothing to pass)', () => {
    const failures = readdirSync(fixturesDir).filter(
      (f) => f.endsWith('.log') && /ERROR|fatal error|panic:/.test(fixture(f)),
    );
    expect(failures.length).toBeGreaterThanOrEqual(10);
    for (const f of failures) expect(CHUNK_FILTER.test(fixture(f)), f).toBe(true);
  });
  it('lets ordinary progress through unsplit', () => {
    const progress =
      '#1 [internal] pushing 127.0.0.1:5000/dst/app:t1\n#1 0.401 copying sha256:081fb5230c745e2561ef7cd3f8341d9a5a7d3313a9937704e5e8775de76f534a from 127.0.0.1:5000/src/app:386 to 127.0.0.1:5000/dst/app:t1\n#1 DONE 0.1s\n';
    expect(CHUNK_FILTER.test(progress)).toBe(false);
  });
});

describe('words in references are not errors', () => {
  it('a tag called denied in a progress line does not make a permanent error', () => {
    const out =
      '#1 [internal] pushing r/app:denied\n#1 0.001 copying sha256:aa from r/unauthorized:x to r/app:denied\nERROR: unexpected status: 503 Service Unavailable';
    expect(classifyOutput(out).class).toBe('transient');
  });
  it('a tag called denied inside an error line does not either', () => {
    expect(classifyOutput('ERROR: failed to push r/app:denied: 503 Service Unavailable').class).toBe(
      'transient',
    );
  });
  it('panic: quoted inside an error line is not a crash', () => {
    expect(classifyOutput('ERROR: remote said "panic: no"').class).toBe('unknown');
  });
});

describe('OutputClassifier', () => {
  it('keeps the line that proves the class, bounded', () => {
    const c = new OutputClassifier();
    c.push(`ERROR: ${'x'.repeat(5000)} 503 Service Unavailable`);
    expect(c.result().line.length).toBeLessThanOrEqual(400);
  });
  it('stays small whatever it is fed: a 25,000-line crash dump', () => {
    const c = new OutputClassifier();
    c.push('fatal error: concurrent map writes');
    for (let i = 0; i < 25_000; i++) c.push(`goroutine ${i} [select]:\n\t/go/src/x.go:${i} +0x1`);
    expect(c.result()).toMatchObject({ class: 'panic', signature: 'concurrent map writes' });
    expect(c.crashed).toBe(true);
  });
  it('marks the not-found family for the short budget', () => {
    expect(classifyOutput('ERROR: r/a:b: not found').notFound).toBe(true);
    expect(classifyOutput('ERROR: 503 Service Unavailable').notFound).toBeUndefined();
  });
});
