// A buildx at a URL: the tool cache by content hash when buildx-checksum names it, else a download
// (verified against buildx-checksum when given), a `version` check, and the cache.

import { rm } from 'node:fs/promises';

import { cacheBinary, urlKey } from './cache.js';
import { downloadVerified } from './download.js';
import { safeUrl } from './http.js';
import { type Installed, installedAt, type InstallOptions } from './types.js';
import { checkRuns, fromCache } from './version-check.js';

export async function installUrl(url: string, opts: InstallOptions): Promise<Installed> {
  if (opts.checksum) {
    const hit = await fromCache(urlKey(opts.checksum), opts);
    if (hit)
      return installedAt(hit.file, 'url', hit.version, 'tool cache (by checksum)', {
        checksum: opts.checksum,
        cached: true,
      });
  } else {
    opts.warning(
      `buildx-version is a URL without buildx-checksum: ${safeUrl(url)} is installed unverified; set buildx-checksum to pin it`,
    );
  }
  const file = await downloadVerified(url, opts.checksum, opts);
  try {
    const version = await checkRuns(file.path, opts);
    const checked = { sha256: file.sha256, version };
    const cachedPath = await cacheBinary(file.path, urlKey(file.sha256), opts.platform, checked);
    const how = `downloaded ${safeUrl(url)}${opts.checksum ? ', sha256 verified' : ''}`;
    return installedAt(cachedPath, 'url', version, how, { checksum: file.sha256 });
  } finally {
    await rm(file.path, { force: true });
  }
}
