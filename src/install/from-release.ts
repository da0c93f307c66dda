// A buildx release: the release list (the GitHub API, or the list shipped in the action), the tag
// a range or `latest` resolves to under the policy, and a release installed: tool cache, else
// download, checksums.txt, `version` check, cache.

import { rm } from 'node:fs/promises';

import { assetName, pickRelease, type Release, versionOf } from '../buildx/release-assets.js';
import type { BuildxSpec } from '../buildx/spec.js';
import { cacheBinary, cachedSha256, recordedSignature, recordSignature } from './cache.js';
import { downloadVerified, fileSha, publishedChecksum } from './download.js';
import { fetchText, safeUrl } from './http.js';
import { checkSignature, trustRootId } from './signature.js';
import type { SignatureInfo } from '../buildx/signing.js';
import { type Installed, installedAt, InstallError, type InstallOptions } from './types.js';
import { checkRuns, fromCache } from './version-check.js';
import knownReleases from './known-releases.json' with { type: 'json' };

/** The release list: the GitHub API, or the list shipped in the action when that cannot be had. */
export async function listReleases(
  opts: InstallOptions,
): Promise<{ releases: Release[]; from: 'api' | 'known' }> {
  const headers: Record<string, string> = {
    Accept: 'application/vnd.github+json',
    'X-GitHub-Api-Version': '2022-11-28',
  };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const releases: Release[] = [];
  let url: string | undefined = `${opts.apiUrl.replace(/\/$/, '')}/repos/docker/buildx/releases?per_page=100`;
  try {
    for (let page = 0; url && page < 20; page++) {
      const { text, headers: h } = await fetchText(url, {
        headers,
        timeoutMs: 30_000,
        stallMs: 15_000,
        attempts: opts.download?.attempts ?? 3,
        retryDelayMs: opts.download?.retryDelayMs,
        signal: opts.signal,
        onRetry: (m) => opts.info(m),
      });
      const items = JSON.parse(text) as { tag_name?: string; draft?: boolean; prerelease?: boolean }[];
      for (const r of items)
        if (r.tag_name) releases.push({ tag: r.tag_name, draft: !!r.draft, prerelease: !!r.prerelease });
      url = h.get('link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
    }
    return { releases, from: 'api' };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const known = knownReleases as { generated: string; releases: { tag: string; prerelease: boolean }[] };
    opts.warning(
      `Could not list buildx releases from ${safeUrl(opts.apiUrl)} (${(err as Error).message}); ` +
        `using the list of known releases shipped in this action (generated ${known.generated})`,
    );
    return { releases: known.releases.map((r) => ({ tag: r.tag, prerelease: r.prerelease })), from: 'known' };
  }
}

/** The release tag a range or `latest` picks among the allowed releases (a looser filter, warned). */
export async function resolveRelease(
  spec: Extract<BuildxSpec, { kind: 'range' | 'latest' }>,
  opts: InstallOptions,
): Promise<string> {
  const { releases, from } = await listReleases(opts);
  const asked = spec.kind === 'range' ? `"${spec.range}"` : 'latest';
  let tag = pickRelease(releases, spec, opts.allowed);
  if (!tag && opts.allowedFallback) {
    tag = pickRelease(releases, spec, opts.allowedFallback);
    if (tag)
      opts.warning(
        `Every release that buildx-version allows is known to be bad; using ${tag} (see the advisory below)`,
      );
  }
  if (!tag) {
    const newest = pickRelease(releases, { kind: 'latest' });
    throw new InstallError(
      `no buildx release satisfies ${asked} (${releases.length} releases listed from ${from === 'api' ? 'the GitHub API' : 'the known list'}; newest ${newest ?? 'none'})`,
    );
  }
  opts.info(`buildx-version ${asked} resolves to ${tag}`);
  return tag;
}

export async function installRelease(tag: string, opts: InstallOptions): Promise<Installed> {
  const version = versionOf(tag);
  if (!version) throw new InstallError(`"${tag}" is not a release version`);
  const asset = assetName(tag, opts.platform);
  const base = `${opts.mirror.replace(/\/$/, '')}/${tag}`;
  const hit = await fromCache(version, opts);
  const hitSha = hit ? ((await cachedSha256(hit.file)) ?? (await fileSha(hit.file))) : undefined;
  if (hit && hitSha && (!opts.checksum || hitSha === opts.checksum)) {
    const signature = await cachedSignature(hit.file, hitSha, `${base}/${asset}`, tag, opts);
    return installedAt(hit.file, 'release', hit.version, `tool cache (${tag})`, {
      resolved: tag,
      cached: true,
      checksum: hitSha,
      ...(signature ? { signature } : {}),
    });
  }
  const expected = await publishedChecksum(tag, base, asset, opts);
  if (opts.checksum && expected && opts.checksum !== expected) {
    throw new InstallError(
      `buildx-checksum ${opts.checksum} is not the published sha256 of ${asset} (${expected})`,
    );
  }
  const file = await downloadVerified(`${base}/${asset}`, opts.checksum ?? expected, opts);
  try {
    // The signature before the binary runs: a refused binary is neither run nor cached.
    const signature = await checkSignature(file.path, `${base}/${asset}`, tag, opts);
    const reported = await checkRuns(file.path, opts);
    if (versionOf(reported) !== version) {
      throw new InstallError(
        `the binary served as ${asset} reports version ${reported}, not ${tag}: the mirror ${safeUrl(opts.mirror)} serves the wrong file`,
      );
    }
    const checked = { sha256: file.sha256, version: reported };
    const cachedPath = await cacheBinary(file.path, version, opts.platform, checked);
    if (signature && cachedPath !== file.path)
      await recordSignature(cachedPath, file.sha256, await trustRootId(opts), signature);
    const how = `downloaded ${asset} from ${safeUrl(base)}${expected ? ', sha256 verified' : ''}${signature ? ', Sigstore signature verified' : ''}`;
    return installedAt(cachedPath, 'release', reported, how, {
      resolved: tag,
      checksum: file.sha256,
      ...(signature ? { signature } : {}),
    });
  } finally {
    await rm(file.path, { force: true });
  }
}

/**
 * The signature of a cached binary: as recorded when this very file (its sha256 and stat) was
 * verified against the same trust root; else verified now (a cache filled before, by another
 * version of this action, or a file changed since).
 */
async function cachedSignature(
  file: string,
  sha256: string,
  binaryUrl: string,
  tag: string,
  opts: InstallOptions,
): Promise<SignatureInfo | undefined> {
  if ((opts.signature?.mode ?? 'optional') === 'off') return undefined;
  const root = await trustRootId(opts);
  const recorded = await recordedSignature<SignatureInfo>(file, sha256, root);
  if (recorded) return recorded;
  const signature = await checkSignature(file, binaryUrl, tag, opts);
  if (signature) await recordSignature(file, sha256, root, signature);
  return signature;
}
