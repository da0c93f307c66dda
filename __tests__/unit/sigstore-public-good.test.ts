// The production verification path, offline: a real public-good Sigstore bundle (sigstore.js
// 2.0.0's npm provenance, see __tests__/fixtures/README.md) verified by the real @sigstore
// libraries against the trusted root @sigstore/tuf ships, with the certificate-transparency,
// transparency-log and identity checks as buildx releases get them; then the same bundle with
// one thing wrong at a time.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { GITHUB_ISSUER } from '../../src/buildx/signing.js';
import { verifyBundle } from '../../src/install/sigstore.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'sigstore');
const bundle = readFileSync(join(dir, 'sigstore.js@2.0.0-provenance.sigstore.json'), 'utf8');
const tarball = join(dir, 'sigstore-2.0.0.tgz');
const SIGNER =
  /^https:\/\/github\.com\/sigstore\/sigstore-js\/\.github\/workflows\/release\.yml@refs\/heads\/main$/;
const said: string[] = [];
const opts = (identity = { subject: SIGNER, issuer: GITHUB_ISSUER }) => ({
  root: 'shipped' as const,
  cacheDir: mkdtempSync(join(tmpdir(), 'sigstore-pg-')),
  info: (m: string) => said.push(m),
  identity,
});

describe('a public-good bundle, verified against the shipped trusted root', () => {
  it('verifies: the signer, the issuer and the Rekor entry are read off it', async () => {
    const v = await verifyBundle(tarball, bundle, opts());
    expect(v).toEqual({
      subject: 'https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main',
      issuer: GITHUB_ISSUER,
      logIndex: expect.stringMatching(/^\d+$/),
    });
    expect(said.join('\n')).toMatch(
      /the trusted root @sigstore\/tuf ships \(its newest key from \d{4}-\d\d-\d\d\)/,
    );
  });
  it("is refused as Docker's buildx workflow (the default identity)", async () => {
    const { identity: _, ...dockers } = opts();
    await expect(verifyBundle(tarball, bundle, dockers)).rejects.toThrow(
      /not signed by Docker's build workflow/,
    );
  });
  it('is refused for another file', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'sigstore-pg-')), 'other.tgz');
    writeFileSync(other, Buffer.concat([readFileSync(tarball), Buffer.from('x')]));
    await expect(verifyBundle(other, bundle, opts())).rejects.toThrow(/the signature is not of this file/);
  });
  it('is refused with another issuer', async () => {
    await expect(
      verifyBundle(tarball, bundle, opts({ subject: SIGNER, issuer: 'https://gitlab.com' })),
    ).rejects.toThrow(/not issued for/);
  });
  it('is refused with its signature changed', async () => {
    const b = JSON.parse(bundle) as { dsseEnvelope: { signatures: { sig: string }[] } };
    const sig = Buffer.from(b.dsseEnvelope.signatures[0]!.sig, 'base64');
    sig.writeUInt8(sig.readUInt8(sig.length - 8) ^ 1, sig.length - 8);
    b.dsseEnvelope.signatures[0]!.sig = sig.toString('base64');
    await expect(verifyBundle(tarball, JSON.stringify(b), opts())).rejects.toThrow(
      /does not verify|not of this file/,
    );
  });
});
