// What the engine says when it gives up: how an attempt failed in words, the message of a
// --dry-run, a push or a verification that gave up, and the one constructor of a Failure. Pure.

import type { Classification } from '../buildx/classify.js';
import type { Failure, FailureCause, TagResult } from './types.js';

/**
 * The one way a Failure is built: a `not found` that gave up is permanent. `advice`, what to do
 * (already at the end of `message`), is kept apart too, so a report can put it first.
 */
export function failureOf(cause: FailureCause, message: string, tags: string[], advice = ''): Failure {
  return {
    class: cause.notFound ? 'permanent' : cause.class,
    signature: cause.signature,
    line: cause.line,
    message,
    tags,
    ...(advice.trim() ? { advice: advice.trim() } : {}),
  };
}

export function describe(c: Classification): string {
  if (c.notFound) return `a source was not found (${c.signature})`;
  switch (c.class) {
    case 'panic':
      return `buildx crashed (${c.signature})`;
    case 'permanent':
      return `a permanent error (${c.signature})`;
    case 'transient':
      return `a registry or network error (${c.signature})`;
    case 'timeout':
      return `buildx was stopped by the ${c.signature}`;
    default:
      return `buildx failed (${c.signature})`;
  }
}

/** Signatures of a registry refusing to let buildx read: the sources could not be read. */
const READ_REFUSED = new Set([
  '401 Unauthorized',
  'unauthorized',
  '403 Forbidden',
  'denied',
  'TLS configuration',
]);

/**
 * What a --dry-run that gave up says. "Could not read the sources" only when that is what
 * happened (a source not found, a registry or network error, access refused); otherwise how the
 * --dry-run failed, buildx's own line being added by the report ("buildx said: ...").
 */
export function dryRunFailureMessage(c: Classification, reason: string, adviceText: string): string {
  const reading = c.notFound || c.class === 'transient' || READ_REFUSED.has(c.signature);
  const what = reading
    ? 'buildx could not read the sources to compute the index'
    : 'the --dry-run that computes the index failed';
  return `${what}: ${describe(c)}; ${reason}.${adviceText}`;
}

/** What a push that gave up says; `reason` is why it was not retried. */
export function pushFailureMessage(
  c: Classification,
  tags: readonly string[],
  reason: string,
  adviceText: string,
): string {
  return `${describe(c)} while pushing ${tags.join(', ')}; ${reason}.${adviceText}`;
}

/** The failure of a verification that found tags not holding `digest`. */
export function verifyFailure(wrong: readonly TagResult[], of: number, digest: string): Failure {
  return failureOf(
    {
      class: 'verify',
      signature: 'tag does not hold the expected index',
      line: wrong.map((t) => `${t.tag} -> ${t.digest ?? t.error ?? 'nothing'}`).join('; '),
    },
    `${wrong.length} of ${of} tags do not resolve to ${digest} after the push`,
    wrong.map((t) => t.tag),
  );
}
