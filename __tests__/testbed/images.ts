// Pushes small single-platform OCI (or Docker media type) images with the distribution API (no Docker engine needed).
// Each image is a real one: a gzipped tar layer with one file, and a config whose diff_ids match.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { authorizationValue, type RequestAuth } from './registry.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

const MEDIA_TYPES = {
  oci: { manifest: OCI_MANIFEST, config: OCI_CONFIG, layer: OCI_LAYER_GZIP },
  docker: { manifest: DOCKER_MANIFEST, config: DOCKER_CONFIG, layer: DOCKER_LAYER_GZIP },
};

export interface PushOptions {
  /** Credentials for an htpasswd registry (Basic auth), or a whole `Authorization` value (`Bearer ...`). */
  auth?: RequestAuth;
  /** Prepended to each platform's tag, e.g. `src-` gives `src-amd64`. */
  tagPrefix?: string;
  /** OCI media types (default), or Docker's (what `docker build` and buildx without oci-mediatypes push). */
  mediaTypes?: 'oci' | 'docker';
}

export interface PushedImage {
  platform: string;
  /** `127.0.0.1:PORT/<repo>:<tag>` */
  ref: string;
  tag: string;
  /** Digest of the image manifest. */
  digest: string;
  /** `127.0.0.1:PORT/<repo>@<digest>` */
  digestRef: string;
  /** Size of the manifest in bytes. */
  size: number;
}

/** An HTTP answer the registry gave that the helper did not expect. */
export class RegistryHttpError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
    this.name = 'RegistryHttpError';
  }
}

function sha256(data: Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** `linux/amd64` -> `amd64`, `linux/arm/v7` -> `arm-v7`, `windows/amd64` -> `windows-amd64`. */
export function platformTag(platform: string): string {
  const parts = platform.split('/').filter(Boolean);
  if (parts[0] === 'linux') parts.shift();
  return parts.join('-').replace(/[^A-Za-z0-9_.-]/g, '_');
}

function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = platform.split('/');
  if (!os || !architecture) throw new Error(`bad platform "${platform}" (want os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar archive holding one regular file. */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(content.length, 12), 124, 'ascii');
  header.write(octal(0, 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(padded);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

async function call(
  method: string,
  url: string,
  auth: RequestAuth | undefined,
  expected: number[],
  init: { body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (auth) headers.authorization = authorizationValue(auth);
  const res = await fetch(url, {
    method,
    headers,
    body: init.body ? new Uint8Array(init.body) : undefined,
    signal: AbortSignal.timeout(30_000),
  });
  if (!expected.includes(res.status)) {
    const text = await res.text().catch(() => '');
    throw new RegistryHttpError(
      `${method} ${url}: ${res.status} ${res.statusText}${text ? `: ${text.trim()}` : ''}`,
      res.status,
    );
  }
  return res;
}

/** Uploads a blob to `repo` unless it is there already (a HEAD first); returns its digest. */
export async function pushBlob(
  base: string,
  repo: string,
  data: Buffer,
  auth?: RequestAuth,
): Promise<string> {
  const digest = sha256(data);
  const head = await call('HEAD', `${base}/v2/${repo}/blobs/${digest}`, auth, [200, 404]);
  if (head.status === 200) return digest;
  const start = await call('POST', `${base}/v2/${repo}/blobs/uploads/`, auth, [202]);
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (!location) throw new Error(`POST ${repo} blob upload: no Location header`);
  const target = new URL(location, base);
  target.searchParams.set('digest', digest);
  const put = await call('PUT', target.toString(), auth, [201], {
    body: data,
    headers: { 'content-type': 'application/octet-stream' },
  });
  await put.arrayBuffer();
  return digest;
}

/** Pushes one single-platform image to `<repo>:<tagPrefix><platformTag>`. */
export async function pushPlatformImage(
  reg: { url: string },
  repo: string,
  platform: string,
  opts: PushOptions = {},
): Promise<PushedImage> {
  const base = reg.url.replace(/\/+$/, '');
  const host = new URL(base).host;
  const tag = (opts.tagPrefix ?? '') + platformTag(platform);
  const p = parsePlatform(platform);

  // Content unique per platform and repository, and stable across runs.
  const tar = tarOneFile('platform.txt', Buffer.from(`repository ${repo}\nplatform ${platform}\n`));
  const layer = gzipSync(tar);
  const layerDigest = await pushBlob(base, repo, layer, opts.auth);
  const config = Buffer.from(
    JSON.stringify({
      ...p,
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      config: {},
    }),
  );
  const configDigest = await pushBlob(base, repo, config, opts.auth);
  const types = MEDIA_TYPES[opts.mediaTypes ?? 'oci'];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: configDigest, size: config.length },
      layers: [{ mediaType: types.layer, digest: layerDigest, size: layer.length }],
    }),
  );
  const res = await call('PUT', `${base}/v2/${repo}/manifests/${tag}`, opts.auth, [201], {
    body: manifest,
    headers: { 'content-type': types.manifest },
  });
  await res.arrayBuffer();
  const digest = sha256(manifest);
  const told = res.headers.get('docker-content-digest');
  if (told && told !== digest) {
    throw new Error(`registry stored ${repo}:${tag} as ${told}, expected ${digest}`);
  }
  return {
    platform,
    ref: `${host}/${repo}:${tag}`,
    tag,
    digest,
    digestRef: `${host}/${repo}@${digest}`,
    size: manifest.length,
  };
}

/** Pushes one image per platform and returns the details, in the order of `platforms`. */
export async function pushPlatformImagesDetailed(
  reg: { url: string },
  repo: string,
  platforms: string[],
  opts: PushOptions = {},
): Promise<PushedImage[]> {
  const pushed: PushedImage[] = [];
  for (const platform of platforms) pushed.push(await pushPlatformImage(reg, repo, platform, opts));
  return pushed;
}

/**
 * Pushes one single-platform OCI image per platform (`linux/amd64` -> tag `amd64`,
 * `linux/arm/v7` -> `arm-v7`) and returns the references `127.0.0.1:PORT/<repo>:<tag>`.
 */
export async function pushPlatformImages(
  reg: { url: string },
  repo: string,
  platforms: string[],
  opts: PushOptions = {},
): Promise<string[]> {
  return (await pushPlatformImagesDetailed(reg, repo, platforms, opts)).map((i) => i.ref);
}
