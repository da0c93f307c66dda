// What every way of installing is given and gives back: the options, the Installed record (one
// builder for it) and the InstallError. The checks of a binary are in ./version-check.ts.

import type { Buildx, BuildxSource, BuildxSpec } from '../buildx/spec.js';
import type { Platform } from '../buildx/release-assets.js';
import type { SignatureInfo, SignatureMode } from '../buildx/signing.js';

export interface InstallOptions {
  spec: BuildxSpec;
  /** lower-case hex sha256 the binary must have */
  checksum?: string;
  mirror: string;
  apiUrl: string;
  token?: string;
  /** the GitHub host a token belongs to (git URLs of this host get it) */
  githubHost: string;
  workspace: string;
  tempDir: string;
  platform: Platform;
  signal?: AbortSignal;
  /** stall and attempt bounds of downloads, for tests */
  download?: { stallMs?: number; timeoutMs?: number; attempts?: number; retryDelayMs?: number };
  /** which releases a range or latest may pick (the policy's versions, deny and advisories) */
  allowed?: (tag: string) => boolean;
  /** when `allowed` leaves none: this looser filter, with a warning (advisories: warn) */
  allowedFallback?: (tag: string) => boolean;
  /** a release without checksums.txt, or a URL without buildx-checksum, is refused */
  requireChecksum?: boolean;
  /** how release signatures are checked (default: optional, public-good trust root) */
  signature?: { mode: SignatureMode; trustedRoot?: string; warnOnly?: boolean };
  info(message: string): void;
  warning(message: string): void;
}

export interface Installed extends Buildx {
  source: BuildxSource;
  /** the version the binary reports */
  version: string;
  /** the release tag or git commit that was asked for, when one was resolved */
  resolved?: string;
  /** sha256 of the binary, when it was downloaded or checked */
  checksum?: string;
  /** true when it came from the tool cache */
  cached: boolean;
  /** how it was obtained, for the log and the summary */
  how: string;
  /** how long the install took */
  durationMs?: number;
  /** who signed it, when its Sigstore signature was verified */
  signature?: SignatureInfo;
}

export class InstallError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InstallError';
  }
}

/** The Installed record of a binary: at a Buildx the locator found, or at a file (run standalone). */
export function installedAt(
  at: Buildx | string,
  source: BuildxSource,
  version: string,
  how: string,
  more: { resolved?: string; checksum?: string; cached?: boolean; signature?: SignatureInfo } = {},
): Installed {
  const b: Buildx = typeof at === 'string' ? { file: at, prefix: [], source: 'path', path: at } : at;
  return { ...b, source, version, ...more, cached: more.cached ?? false, how };
}
