// Per-platform images pushed by digest only, as each build job of Docker's multi-runner pattern
// leaves them (`docker buildx build --provenance=mode=min --output type=image,push-by-digest=true,
// name-canonical=true,push=true`): no tag anywhere. With attestations (the default), each platform
// is an OCI index of two manifests, the image and its provenance attestation (an OCI image
// manifest of platform unknown/unknown whose one layer is an in-toto statement, tied to the image
// by the `vnd.docker.reference.*` annotations), and the build job's digest file names that index.
// The content depends on `seed`, not on the repository, so the same bytes can be pushed into two
// repositories.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';

import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, pushBlob, tarOneFile } from './images.ts';
import { authorizationValue, type RequestAuth } from './registry.ts';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const IN_TOTO = 'application/vnd.in-toto+json';
const PROVENANCE = 'https://slsa.dev/provenance/v0.2';

export interface ByDigestOptions {
  /** Basic credentials, or a whole `Authorization` value (`Bearer ...`). */
  auth?: RequestAuth;
  /** A provenance attestation beside each image, in a per-platform index (default true). */
  attestations?: boolean;
  /** What the content is made from (default: the repository). */
  seed?: string;
}

export interface PushedByDigest {
  platform: string;
  /** What the build job's digest file names: the per-platform index, or the image without attestations. */
  digest: string;
  /** `127.0.0.1:PORT/<repo>@<digest>` */
  digestRef: string;
  /** The image manifest. */
  image: string;
  /** The attestation manifest, with attestations. */
  attestation?: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

const sha256 = (data: Buffer | string): string => 'sha256:' + createHash('sha256').update(data).digest('hex');
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

function platformOf(platform: string): NonNullable<Descriptor['platform']> {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture) throw new Error(`bad platform "${platform}" (want os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** `PUT /v2/<repo>/manifests/<its digest>`; returns its descriptor. */
async function putByDigest(base: string, repo: string, mediaType: string, body: Buffer, auth?: RequestAuth) {
  const digest = sha256(body);
  const res = await fetch(`${base}/v2/${repo}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType, ...(auth ? { authorization: authorizationValue(auth) } : {}) },
    body: new Uint8Array(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`PUT ${repo}@${digest}: ${res.status} ${res.statusText}: ${text}`);
  return { mediaType, digest, size: body.length };
}

/** An image manifest of one layer and a config naming it, pushed by digest (the blobs first). */
async function pushManifest(
  base: string,
  repo: string,
  layer: { mediaType: string; data: Buffer; diffId: string; annotations?: Record<string, string> },
  platform: NonNullable<Descriptor['platform']>,
  auth?: RequestAuth,
) {
  const config = json({ ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [layer.diffId] } });
  const manifest = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: await pushBlob(base, repo, config, auth), size: config.length },
    layers: [
      {
        mediaType: layer.mediaType,
        digest: await pushBlob(base, repo, layer.data, auth),
        size: layer.data.length,
        ...(layer.annotations ? { annotations: layer.annotations } : {}),
      },
    ],
  });
  return putByDigest(base, repo, OCI_MANIFEST, manifest, auth);
}

/** buildx's provenance attestation of `image`: an in-toto statement naming it as the subject. */
function statement(platform: string, image: string, seed: string): Buffer {
  return json({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: PROVENANCE,
    subject: [
      {
        name: `pkg:docker/${seed}?platform=${encodeURIComponent(platform)}`,
        digest: { sha256: image.slice(7) },
      },
    ],
    predicate: {
      builder: { id: '' },
      buildType: 'https://mobyproject.org/buildkit@v1',
      metadata: { buildInvocationID: sha256(`${seed} ${platform}`).slice(7, 39) },
    },
  });
}

async function pushOne(base: string, host: string, repo: string, platform: string, opts: ByDigestOptions) {
  const seed = opts.seed ?? repo;
  const tar = tarOneFile('platform.txt', Buffer.from(`seed ${seed}\nplatform ${platform}\n`));
  const layer = { mediaType: OCI_LAYER_GZIP, data: gzipSync(tar), diffId: sha256(tar) };
  const image = await pushManifest(base, repo, layer, platformOf(platform), opts.auth);
  const pushed = (digest: string, attestation?: string): PushedByDigest => ({
    platform,
    digest,
    digestRef: `${host}/${repo}@${digest}`,
    image: image.digest,
    ...(attestation ? { attestation } : {}),
  });
  if (opts.attestations === false) return pushed(image.digest);

  const proof = statement(platform, image.digest, seed);
  const proofLayer = {
    mediaType: IN_TOTO,
    data: proof,
    diffId: sha256(proof),
    annotations: { 'in-toto.io/predicate-type': PROVENANCE },
  };
  const unknown = { os: 'unknown', architecture: 'unknown' };
  const attestation = await pushManifest(base, repo, proofLayer, unknown, opts.auth);
  const manifests: Descriptor[] = [
    { ...image, platform: platformOf(platform) },
    {
      ...attestation,
      platform: unknown,
      annotations: {
        'vnd.docker.reference.digest': image.digest,
        'vnd.docker.reference.type': 'attestation-manifest',
      },
    },
  ];
  const index = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
  const pushedIndex = await putByDigest(base, repo, OCI_INDEX, index, opts.auth);
  return pushed(pushedIndex.digest, attestation.digest);
}

/** Pushes each platform into `repo` by digest (see the top of this file), in the order given. */
export async function pushByDigest(
  reg: { url: string },
  repo: string,
  platforms: string[],
  opts: ByDigestOptions = {},
): Promise<PushedByDigest[]> {
  const base = reg.url.replace(/\/+$/, '');
  const host = new URL(base).host;
  const pushed: PushedByDigest[] = [];
  for (const platform of platforms) pushed.push(await pushOne(base, host, repo, platform, opts));
  return pushed;
}
