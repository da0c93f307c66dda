// Reads every input into one typed, validated object (the policy file by policy-file.ts, the
// annotations by annotations.ts). Bad input fails here, with the input's name in the message,
// before anything touches a registry. `workflow-annotations` is also read on its own (readAnnotate): the step
// needs its annotator before the other inputs are known to be good.

import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import { FAILURE_CLASSES, type FailureClass } from '../buildx/classify.js';
import { DEFAULT_MIRROR } from '../buildx/release-assets.js';
import { normaliseChecksum } from '../buildx/release-assets.js';
import { type BuildxSpec, parseBuildxSpec } from '../buildx/spec.js';
import { parseAnnotations } from './annotations.js';
import { loadPolicy, type Policy } from './policy-file.js';
import { isLoopbackHost } from '../util/loopback.js';
import { hasControl, printable } from './text.js';
import { readTrustedRoot } from './trusted-root.js';
import { InputError, parseBoolean, parseDurationMs, parseInteger, parseList } from '../util/parse.js';
import {
  type ImageRef,
  isDigest,
  parseReference,
  parseTag,
  InvalidReferenceError,
} from '../registry/reference.js';

export interface Inputs {
  /** source references, as given (and from digests-dir) */
  sources: string[];
  /** target tags, parsed; `original` is what buildx is given */
  tags: ImageRef[];
  /** `index:` and `manifest-descriptor:` annotations, one level per line, as buildx is given them */
  annotations: string[];
  /** what to say about `manifest:` lines left out (docker/metadata-action's `manifest,index`) */
  annotationsNotice?: string;
  append: boolean;
  dryRun: boolean;
  /** `buildx-version`, parsed */
  buildx: BuildxSpec;
  /** lower-case hex sha256 the binary must have */
  buildxChecksum?: string;
  buildxMirror: string;
  /** a Sigstore trusted_root.json replacing the public-good one (a private deployment) */
  sigstoreTrustedRoot?: string;
  githubToken: string;
  installPlugin: boolean;
  /** the version-pin policy (the default when the input is empty) */
  policy: Policy;
  tagsPerBuildx: number;
  /** buildx invocations copying the index to further tags at once */
  buildxAtOnce: number;
  /** further tags by manifest PUT (`put`) or by buildx copies only (`buildx`) */
  tagMethod: 'put' | 'buildx';
  /** manifest PUTs at once */
  putsAtOnce: number;
  maxAttempts: number;
  retryOn: ReadonlySet<FailureClass>;
  retryDelayMs: number;
  retryMaxDelayMs: number;
  attemptTimeoutMs: number;
  idleTimeoutMs: number;
  /** how long a tag this run wrote is asked for again before it counts as not holding the index */
  lagTimeoutMs: number;
  verify: boolean;
}

/** The raw text of each input, as a getter over INPUT_* gives it. */
export type InputReader = (name: string) => string;

/** What an empty input means, for the inputs with a default of their own. */
export const INPUT_DEFAULTS = {
  tagsPerBuildx: 1,
  buildxAtOnce: 1,
  putsAtOnce: 4,
  maxAttempts: 5,
  retryOn: 'panic,transient,timeout',
  retryDelayMs: 2_000,
  retryMaxDelayMs: 60_000,
  attemptTimeoutMs: 15 * 60_000,
  idleTimeoutMs: 5 * 60_000,
  lagTimeoutMs: 30_000,
} as const;

const HOUR = 3_600_000;
const RETRYABLE = FAILURE_CLASSES.filter((c) => c !== 'permanent');

function checkReference(input: string, text: string, parse: (t: string) => ImageRef): ImageRef {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof InvalidReferenceError) {
      throw new InputError(input, `"${printable(text)}" is not a valid image reference: ${err.message}`);
    }
    throw err;
  }
}

/** The `tag-method` input: `put` (the default) or `buildx`. */
export function parseTagMethod(value: string): 'put' | 'buildx' {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'put') return 'put';
  if (v === 'buildx') return 'buildx';
  throw new InputError('tag-method', `expected "put" or "buildx", got "${value.trim()}"`);
}

export function parseRetryOn(value: string): Set<FailureClass> {
  const items = parseList(value.trim() === '' ? INPUT_DEFAULTS.retryOn : value).map((s) => s.toLowerCase());
  const set = new Set<FailureClass>();
  for (const item of items) {
    if (item === 'any') {
      for (const c of RETRYABLE) set.add(c);
    } else if (item === 'none') {
      // an explicit "never retry"
    } else if (item === 'permanent') {
      throw new InputError(
        'retry-on',
        'permanent errors (authorization, invalid references) are never retried',
      );
    } else if ((FAILURE_CLASSES as readonly string[]).includes(item)) {
      set.add(item as FailureClass);
    } else {
      throw new InputError(
        'retry-on',
        `unknown class "${item}"; expected a list of ${RETRYABLE.join(', ')}, or any, or none`,
      );
    }
  }
  return set;
}

function digestsDirSources(dir: string, image: string, workspace: string): string[] {
  const ref = checkReference('digests-repository', image, parseReference);
  if (ref.tag || ref.digest)
    throw new InputError('digests-repository', `"${image}" must be a repository, without a tag or digest`);
  const path = isAbsolute(dir) ? dir : resolve(workspace, dir);
  let names: string[];
  try {
    if (!statSync(path).isDirectory()) throw new Error('not a folder');
    names = readdirSync(path).filter((n) => !n.startsWith('.'));
  } catch (err) {
    throw new InputError('digests-dir', `cannot read the folder "${dir}": ${(err as Error).message}`);
  }
  if (names.length === 0) throw new InputError('digests-dir', `the folder "${dir}" holds no digest files`);
  return names.sort().map((name) => {
    const hex = name.replace(/^sha256[:-]/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new InputError(
        'digests-dir',
        `"${printable(name)}" is not a digest file name (64 lower-case hex characters)`,
      );
    }
    return `${image}@sha256:${hex}`;
  });
}

export function readInputs(get: InputReader, workspace = process.cwd()): Inputs {
  const dryRun = parseBoolean('dry-run', get('dry-run'), false);
  const append = parseBoolean('append', get('append'), false);
  const sources = readSources(get, workspace);
  const tags = readTags(get, dryRun, append);
  const { annotations, notice: annotationsNotice } = parseAnnotations(parseList(get('annotations'), false));
  const delays = readRetryDelays(get);
  const buildx = readBuildx(get, workspace);
  const count = (name: string, fallback: number, max: number): number =>
    parseInteger(name, get(name), fallback, 1, max);
  const inputs: Inputs = {
    sources,
    tags,
    annotations,
    ...(annotationsNotice ? { annotationsNotice } : {}),
    append,
    dryRun,
    ...buildx,
    githubToken: get('github-token').trim(),
    installPlugin: parseBoolean('install-plugin', get('install-plugin'), false),
    policy: loadPolicy(get('policy'), workspace),
    tagsPerBuildx: count('tags-per-buildx', INPUT_DEFAULTS.tagsPerBuildx, 100),
    buildxAtOnce: count('buildx-at-once', INPUT_DEFAULTS.buildxAtOnce, 16),
    tagMethod: parseTagMethod(get('tag-method')),
    putsAtOnce: count('puts-at-once', INPUT_DEFAULTS.putsAtOnce, 32),
    maxAttempts: count('max-attempts', INPUT_DEFAULTS.maxAttempts, 20),
    retryOn: parseRetryOn(get('retry-on')),
    ...delays,
    ...readTimeouts(get),
    verify: parseBoolean('verify', get('verify'), true),
  };
  readAnnotate(get); // refused here like any other input; the step has read it already
  return inputs;
}

/**
 * The `workflow-annotations` input: whether annotations go on the workflow. The step reads it on its own as
 * well, `lenient`ly (a bad value means true there), because it needs its annotator to refuse the
 * inputs, this one included.
 */
export function readAnnotate(get: InputReader, lenient = false): boolean {
  try {
    return parseBoolean('workflow-annotations', get('workflow-annotations'), true);
  } catch (err) {
    if (lenient && err instanceof InputError) return true;
    throw err;
  }
}

/** `sources`, and `digests-dir` with `digests-repository`: at least one full reference among them. */
function readSources(get: InputReader, workspace: string): string[] {
  const sources: string[] = [];
  for (const s of parseList(get('sources'))) {
    if (isDigest(s)) {
      sources.push(s); // a bare digest: buildx resolves it in the target repository
      continue;
    }
    checkReference('sources', s, parseReference);
    sources.push(s);
  }
  const digestsDir = get('digests-dir').trim();
  const image = get('digests-repository').trim();
  if (digestsDir && !image)
    throw new InputError(
      'digests-repository',
      'required with digests-dir: the repository the digests belong to',
    );
  if (image && !digestsDir)
    throw new InputError('digests-dir', 'required with digests-repository: the folder of digest files');
  if (digestsDir) sources.push(...digestsDirSources(digestsDir, image, workspace));
  if (sources.length === 0)
    throw new InputError('sources', 'no source images: give sources, or digests-dir with image');
  if (sources.every(isDigest)) {
    throw new InputError('sources', 'bare digests need at least one full reference to say where they live');
  }
  return sources;
}

/** `tags`: each a valid tag, none twice, at least one unless a dry run. */
function readTags(get: InputReader, dryRun: boolean, append: boolean): ImageRef[] {
  const tags = parseList(get('tags')).map((t) => checkReference('tags', t, parseTag));
  if (tags.length === 0 && !dryRun)
    throw new InputError('tags', 'at least one target tag is required (or set dry-run)');
  const seen = new Set<string>();
  for (const t of tags) {
    const key = `${t.domain}/${t.path}:${t.tag}`;
    if (seen.has(key)) throw new InputError('tags', `"${t.original}" is listed twice`);
    seen.add(key);
  }
  if (append && tags.length === 0) throw new InputError('append', 'append needs a tag to append to');
  return tags;
}

type BuildxInputs = Pick<Inputs, 'buildx' | 'buildxChecksum' | 'buildxMirror' | 'sigstoreTrustedRoot'>;

/** `buildx-version`, `buildx-checksum` (only where a checksum can apply) and `buildx-mirror`. */
function readBuildx(get: InputReader, workspace: string): BuildxInputs {
  const buildxVersion = get('buildx-version').trim();
  if (hasControl(buildxVersion)) throw new InputError('buildx-version', 'must be a single line');
  const buildx = parseBuildxSpec(buildxVersion);
  const checksumText = get('buildx-checksum').trim();
  let buildxChecksum: string | undefined;
  if (checksumText !== '') {
    buildxChecksum = normaliseChecksum(checksumText);
    if (!buildxChecksum)
      throw new InputError(
        'buildx-checksum',
        `expected a sha256 (64 hex characters, optionally sha256:), got "${printable(checksumText)}"`,
      );
    if (!['release', 'url', 'path'].includes(buildx.kind)) {
      throw new InputError(
        'buildx-checksum',
        `applies to an exact release, a URL or a path, not to buildx-version "${buildxVersion || "(the runner's)"}"`,
      );
    }
  }
  return { buildx, buildxChecksum, buildxMirror: readMirror(get), ...readTrustedRoot(get, workspace) };
}

/** `buildx-mirror`: an https URL, or plain http on loopback. */
function readMirror(get: InputReader): string {
  const buildxMirror = (get('buildx-mirror').trim() || DEFAULT_MIRROR).replace(/\/$/, '');
  let mirrorUrl: URL;
  try {
    mirrorUrl = new URL(buildxMirror);
  } catch {
    throw new InputError('buildx-mirror', `"${printable(buildxMirror)}" is not a URL`);
  }
  if (
    mirrorUrl.protocol !== 'https:' &&
    !(mirrorUrl.protocol === 'http:' && isLoopbackHost(mirrorUrl.hostname))
  ) {
    throw new InputError('buildx-mirror', 'must be an https URL (plain http only on loopback)');
  }
  return buildxMirror;
}

/** `retry-delay` and `retry-max-delay`: the longest wait no shorter than the first. */
function readRetryDelays(get: InputReader): Pick<Inputs, 'retryDelayMs' | 'retryMaxDelayMs'> {
  const retryDelayMs = parseDurationMs(
    'retry-delay',
    get('retry-delay'),
    INPUT_DEFAULTS.retryDelayMs,
    0,
    HOUR,
  );
  const retryMaxDelayMs = parseDurationMs(
    'retry-max-delay',
    get('retry-max-delay'),
    Math.max(INPUT_DEFAULTS.retryMaxDelayMs, retryDelayMs),
    0,
    HOUR,
  );
  if (retryMaxDelayMs < retryDelayMs) {
    throw new InputError(
      'retry-max-delay',
      `must not be shorter than retry-delay (${get('retry-delay').trim()})`,
    );
  }
  return { retryDelayMs, retryMaxDelayMs };
}

/** `buildx-timeout` and `buildx-idle-timeout`: how long one attempt may run, and stay silent. */
function readTimeouts(get: InputReader): Pick<Inputs, 'attemptTimeoutMs' | 'idleTimeoutMs' | 'lagTimeoutMs'> {
  return {
    attemptTimeoutMs: parseDurationMs(
      'buildx-timeout',
      get('buildx-timeout'),
      INPUT_DEFAULTS.attemptTimeoutMs,
      1000,
      6 * HOUR,
    ),
    idleTimeoutMs: parseDurationMs(
      'buildx-idle-timeout',
      get('buildx-idle-timeout'),
      INPUT_DEFAULTS.idleTimeoutMs,
      1000,
      6 * HOUR,
    ),
    lagTimeoutMs: parseDurationMs('lag-timeout', get('lag-timeout'), INPUT_DEFAULTS.lagTimeoutMs, 0, HOUR),
  };
}
