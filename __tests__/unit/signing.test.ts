// What a buildx release's Sigstore signature must prove, as pure facts: which releases and
// platforms carry a bundle, the identity Docker's build workflow signs with, what a verifier's
// refusal means in words, a bundle's shape, an in-toto statement's subject; and the
// `sigstore-trusted-root` input's check.
import { describe, expect, it } from 'vitest';

import {
  BUILDX_WORKFLOW,
  bundleShapeProblem,
  hasBundle,
  logSearchUrl,
  refusalOf,
  statementCovers,
  unsignedRelease,
  workflowOf,
} from '../../src/buildx/signing.js';
import { trustedRootProblem } from '../../src/inputs/trusted-root.js';
import { buildxTable } from '../../src/report/summary-buildx.js';

describe('hasBundle and unsignedRelease: v0.31.0 on, Linux and the BSDs; darwin never; Windows before v0.36.0', () => {
  it.each([
    ['v0.30.1', 'linux', false, /signed from v0\.31\.0 on/],
    ['v0.31.0-rc1', 'linux', false, /signed from v0\.31\.0 on/],
    ['v0.31.0', 'linux', true, undefined],
    ['0.36.1', 'linux', true, undefined],
    ['v0.36.1', 'freebsd', true, undefined],
    ['v0.36.1', 'darwin', false, /darwin binaries .* have no Sigstore bundle/],
    ['v0.35.0', 'windows', true, undefined],
    ['v0.36.0-rc2', 'windows', true, undefined],
    ['v0.36.0', 'windows', false, /windows binaries .* from v0\.36\.0 on/],
    ['main', 'linux', false, /signed from v0\.31\.0 on/],
  ])('%s on %s: %s', (version, os, has, why) => {
    expect(hasBundle(version, os)).toBe(has);
    if (why) expect(unsignedRelease(version, os)).toMatch(why);
  });
});

describe("BUILDX_WORKFLOW and workflowOf: Docker's bake.yml at any ref, nothing else", () => {
  it.each([
    ['https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1.17.0', true],
    [
      'https://github.com/docker/github-builder-experimental/.github/workflows/bake.yml@refs/heads/main',
      true,
    ],
    ['https://github.com/docker/github-builder/.github/workflows/build.yml@refs/tags/v1.17.0', false],
    ['https://github.com/someone/github-builder/.github/workflows/bake.yml@refs/tags/v1', false],
    ['https://github.com/docker/github-builder/.github/workflows/bake.yml', false],
    ['https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1 x', false],
    ['http://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1', false],
  ])('%s: %s', (san, ok) => expect(BUILDX_WORKFLOW.test(san)).toBe(ok));
  it('splits a subject into the workflow and its ref', () => {
    expect(
      workflowOf('https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1.17.0'),
    ).toEqual({
      workflow: 'docker/github-builder/.github/workflows/bake.yml',
      ref: 'refs/tags/v1.17.0',
    });
    expect(workflowOf('someone@example.com')).toEqual({ workflow: 'someone@example.com', ref: '' });
  });
  it('links a public-good log entry', () =>
    expect(logSearchUrl('12345')).toBe('https://search.sigstore.dev/?logIndex=12345'));
});

describe("refusalOf: the verifier's refusal in words", () => {
  it.each([
    ['SIGNATURE_ERROR', 'artifact signature verification failed', /not of this file/],
    [undefined, 'message digest mismatch', /not of this file/],
    ['UNTRUSTED_SIGNER_ERROR', 'certificate issuer mismatch', /not issued for https:\/\/token\.actions/],
    ['UNTRUSTED_SIGNER_ERROR', 'certificate identity error', /not signed by Docker's build workflow/],
    ['CERTIFICATE_ERROR', 'certificate chain error', /not from the trust root's CA/],
    ['TLOG_INCLUSION_PROOF_ERROR', 'inclusion proof invalid', /no valid transparency-log entry/],
    ['TIMESTAMP_ERROR', 'timestamp error', /no valid transparency-log entry/],
    ['PUBLIC_KEY_ERROR', 'no key', /does not verify \(PUBLIC_KEY_ERROR: no key\)/],
  ])('%s %j', (code, message, words) => expect(refusalOf(code, message)).toMatch(words));
});

describe('bundleShapeProblem: what a bundle lacks before any cryptography', () => {
  const cert = { rawBytes: 'AA==' };
  it.each([
    [{}, /no verification material/],
    [{ verificationMaterial: { tlogEntries: [{}] } }, /no certificate/],
    [{ verificationMaterial: { certificate: cert } }, /never logged/],
    [{ verificationMaterial: { certificate: cert, tlogEntries: [] } }, /never logged/],
    [
      { verificationMaterial: { x509CertificateChain: { certificates: [cert] }, tlogEntries: [{}] } },
      undefined,
    ],
    [{ verificationMaterial: { certificate: cert, tlogEntries: [{}] } }, undefined],
    [null, /no verification material/],
  ])('%j', (bundle, problem) => {
    const p = bundleShapeProblem(bundle);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });
});

describe("statementCovers: an in-toto statement's subject names the file", () => {
  const digests = { sha256: 'a'.repeat(64), sha512: 'b'.repeat(128) };
  const st = (subject: unknown) => JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject });
  it.each([
    [st([{ name: 'buildx', digest: { sha256: 'a'.repeat(64) } }]), true],
    [
      st([
        { name: 'x', digest: { sha256: 'c'.repeat(64) } },
        { name: 'buildx', digest: { sha512: 'b'.repeat(128) } },
      ]),
      true,
    ],
    [st([{ name: 'buildx', digest: { sha256: 'c'.repeat(64) } }]), false],
    [st([]), false],
    [JSON.stringify({ _type: 'x' }), false],
    ['not json', false],
  ])('%s: %s', (payload, covers) => expect(statementCovers(payload, digests)).toBe(covers));
});

describe('trustedRootProblem: the sigstore-trusted-root file', () => {
  it.each([
    [
      '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","certificateAuthorities":[{}],"tlogs":[{}]}',
      undefined,
    ],
    ['{"certificateAuthorities":[],"tlogs":[{}]}', /no certificateAuthorities/],
    ['{"certificateAuthorities":[{}]}', /no tlogs/],
    ['[]', /no certificateAuthorities/],
    ['null', /no certificateAuthorities/],
    ['-----BEGIN CERTIFICATE-----', /not JSON/],
  ])('%s', (text, problem) => {
    const p = trustedRootProblem(text);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeUndefined();
  });
});

describe('buildxTable: who signed the binary, and its log entry', () => {
  const signature = {
    subject: 'https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1.17.0',
    workflow: 'docker/github-builder/.github/workflows/bake.yml',
    ref: 'refs/tags/v1.17.0',
    issuer: 'https://token.actions.githubusercontent.com',
    logIndex: '123456789',
  };
  const buildx = { version: '0.36.1', source: 'release', path: '/t/buildx', checksum: 'a'.repeat(64) };
  it.each([
    [
      { ...signature, trustRoot: 'public-good', logUrl: logSearchUrl('123456789') },
      '| transparency log | entry [123456789](https://search.sigstore.dev/?logIndex=123456789) |',
    ],
    [
      { ...signature, trustRoot: 'sigstore-trusted-root' },
      '| transparency log | entry 123456789 (sigstore-trusted-root) |',
    ],
  ])('%j', (sig, logRow) => {
    const rows = buildxTable({ ...buildx, signature: sig });
    expect(rows).toContain(
      '| signed by | `docker/github-builder/.github/workflows/bake.yml` at `refs/tags/v1.17.0` (https://token.actions.githubusercontent.com), Sigstore signature verified |',
    );
    expect(rows).toContain(logRow);
  });
  it('no signature, no rows', () => {
    expect(buildxTable(buildx).join('\n')).not.toMatch(/signed by|transparency log/);
  });
});
