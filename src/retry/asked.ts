// The wait a server asked for before the next attempt, in ms: an HTTP `Retry-After` header (the
// action's own requests), or the wait written in an error text (buildx prints no headers: GHCR
// writes `retry-after: 12.5ms`, a Go duration; others `Retry-After: 30`, in seconds). The retry
// loop (./retrying.ts) waits at least that long, within the cap. Pure.

/** An HTTP `Retry-After` value in ms from `now`: delay-seconds or an HTTP date; undefined if neither. */
export function retryAfterMs(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

// `retry-after: 12.5ms` (a Go duration, GHCR) or `Retry-After: 30` (seconds, as the HTTP header).
const ASKED_WAIT =
  /\bretry-after:\s*((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+|\d+(?:\.\d+)?)(?![\w.]|\s+[a-zµ])/i;
const GO_DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** The wait a line of text asks for, in whole milliseconds (rounded up), or undefined. */
export function askedWaitMs(line: string): number | undefined {
  const m = ASKED_WAIT.exec(line);
  if (!m) return undefined;
  const text = m[1] as string;
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  let ms = 0;
  for (const [, n, unit] of text.matchAll(GO_DURATION_PART)) ms += Number(n) * (UNIT_MS[unit as string] ?? 0);
  return Math.ceil(ms);
}
