// The small words every report builder shares: Markdown escaping, clipping, counting, the short
// form of a digest, and how a failure class is named. Pure.

import type { MergeResult } from '../merge/engine.js';

/** Escapes what would break a Markdown line or table cell; newlines become spaces. */
export const esc = (s: string): string => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');

export const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);

/** `1 tag`, `2 tags`; `many` for the irregular ones (`retries`, `crashes`). */
export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** `sha256:e6b13d30f136`: enough to tell digests apart in a row or a log line. */
export const shortDigest = (d: string): string => d.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]{52}$/, '$1');

/** How a run that gave up failed, by class (the title of the error annotation, the summary's heading). */
export const FAILED: Record<string, string> = {
  panic: 'buildx crashed',
  transient: 'registry or network error',
  permanent: 'permanent error',
  timeout: 'buildx hung',
  unknown: 'buildx failed',
  verify: 'verification failed',
};

/** A failed attempt of each class, counted: `2 crashes`, `1 registry error`. */
const NOUN: Record<string, [string, string]> = {
  panic: ['crash', 'crashes'],
  transient: ['registry error', 'registry errors'],
  timeout: ['hang', 'hangs'],
  permanent: ['error', 'errors'],
};

/** A retried manifest PUT's signature: the status and reason, or the network error's code. */
export function putSignature(answer: string): string {
  return (
    /: (\d{3}(?: [A-Za-z][\w -]*)?)/.exec(answer)?.[1]?.trim() ??
    /\b(E[A-Z]+)\b/.exec(answer)?.[1] ??
    'failed'
  );
}

/**
 * What the failed attempts and retried manifest PUTs of a run were, counted per class and
 * signature: `2 × panic (concurrent map writes), 1 × manifest PUT transient (503 Service Unavailable)`.
 */
export function absorbed(r: MergeResult, withPuts = true): string {
  const counts = new Map<string, number>();
  const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  for (const a of r.attempts) if (!a.ok) count(`${a.class} (${a.signature})`);
  for (const p of withPuts ? (r.puts?.retries ?? []) : [])
    count(`manifest PUT ${p.class} (${putSignature(p.answer)})`);
  return [...counts].map(([k, n]) => `${n} × ${k}`).join(', ');
}

/** The failed attempts and retried PUTs in a few words, per class: `2 crashes and 1 registry error`. */
export function failedBriefly(r: MergeResult): string {
  const counts = new Map<string, number>();
  for (const a of r.attempts) if (!a.ok) counts.set(a.class ?? '', (counts.get(a.class ?? '') ?? 0) + 1);
  // a retried manifest PUT is counted with the buildx attempts of its class (a registry error)
  for (const p of r.puts?.retries ?? []) counts.set(p.class, (counts.get(p.class) ?? 0) + 1);
  return [...counts].map(([cls, n]) => plural(n, ...(NOUN[cls] ?? ['failure', 'failures']))).join(' and ');
}
