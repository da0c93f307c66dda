// The step's outputs, as pure builders: `result` (JSON), `attempts`, `digest` and the rest.
// report/summary.ts words the job summary and the final annotation; report/publish.ts writes them.

import type { SignatureInfo } from '../buildx/signing.js';
import { DRY_RUN_INVOCATION, type MergeResult } from '../merge/engine.js';

export interface BuildxInfo {
  version: string;
  path: string;
  /** runner, release, git, url or path */
  source: string;
  /** the release tag or git commit it was resolved to */
  resolved?: string;
  /** sha256 of the binary */
  checksum?: string;
  /** time spent installing (or finding) it */
  installMs?: number;
  /** who signed it and where the signature is logged, when its Sigstore signature was verified */
  signature?: SignatureInfo;
}

/** An advisory a finding is about, as the summary names it: its id linked, what, fixed in. */
export interface AdvisoryRef {
  issue: string;
  url: string;
  fixed: string | null;
  /** what happens, in a few words */
  short: string;
}

export interface PolicyFinding {
  rule: string;
  severity: string;
  message: string;
  advisory?: AdvisoryRef;
}

export interface PolicyInfo {
  origin: string;
  mode: string;
  advisories: string;
  findings: PolicyFinding[];
}

export interface ResultJson {
  digest: string | null;
  ok: boolean;
  buildx: BuildxInfo;
  /** `state`: 'already' (held the index before the run, not pushed) or 'put' (written by manifest PUT) */
  tags: {
    tag: string;
    digest: string | null;
    verified: boolean;
    state?: 'already' | 'put';
    /** the read-back waited this long for the registry to show the write (read-after-write lag) */
    lagWaitMs?: number;
  }[];
  /** tags written by manifest PUT: how many, at most how many at once, each PUT retried */
  puts?: MergeResult['puts'];
  /** the target repositories that held every manifest the index lists, and how that was known */
  repositories?: MergeResult['repositories'];
  attempts: {
    number: number;
    invocation: number | typeof DRY_RUN_INVOCATION;
    try: number;
    tags: string[];
    ok: boolean;
    class?: string;
    signature?: string;
    exitCode: number | null;
    signal: string | null;
    durationMs: number;
    waitMs: number;
    askedWaitMs?: number;
    landed?: string[];
  }[];
  failure?: { class: string; signature: string; message: string; tags: string[] };
  policy?: PolicyInfo;
}

export function resultJson(r: MergeResult, buildx: BuildxInfo, policy?: PolicyInfo): ResultJson {
  return {
    digest: r.digest ?? null,
    ok: r.ok,
    buildx,
    tags: r.tags.map(({ tag, digest, verified, state, lagWaitMs }) => ({
      tag,
      digest,
      verified,
      ...(state ? { state } : {}),
      ...(lagWaitMs !== undefined ? { lagWaitMs } : {}),
    })),
    ...(r.puts ? { puts: r.puts } : {}),
    ...(r.repositories ? { repositories: r.repositories } : {}),
    attempts: r.attempts.map((a) => ({
      number: a.number,
      invocation: a.invocation,
      try: a.try,
      tags: a.tags,
      ok: a.ok,
      ...(a.class ? { class: a.class, signature: a.signature } : {}),
      exitCode: a.exitCode,
      signal: a.signal,
      durationMs: a.durationMs,
      waitMs: a.waitMs,
      ...(a.askedWaitMs !== undefined ? { askedWaitMs: a.askedWaitMs } : {}),
      ...(a.landed && a.landed.length > 0 ? { landed: a.landed } : {}),
    })),
    ...(r.failure
      ? {
          failure: {
            class: r.failure.class,
            signature: r.failure.signature,
            message: r.failure.message,
            tags: r.failure.tags,
          },
        }
      : {}),
    ...(policy ? { policy } : {}),
  };
}

/** Push attempts (the --dry-run is not one, except in a dry run). */
export function countAttempts(r: MergeResult, dryRun: boolean): number {
  return r.attempts.filter((a) =>
    dryRun ? a.invocation === DRY_RUN_INVOCATION : a.invocation !== DRY_RUN_INVOCATION,
  ).length;
}

export interface StepOutputs {
  digest: string;
  'buildx-version': string;
  'buildx-path': string;
  'buildx-source': string;
  attempts: string;
  recovered: string;
  panics: string;
  result: string;
}

export function stepOutputs(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
): StepOutputs {
  return {
    digest: r.digest ?? '',
    'buildx-version': buildx.version,
    'buildx-path': buildx.path,
    'buildx-source': buildx.source,
    attempts: String(countAttempts(r, dryRun)),
    recovered: String(r.ok && r.recovered),
    panics: String(r.panics),
    result: JSON.stringify(resultJson(r, buildx, policy)),
  };
}
