// Reads every input once into one typed, validated object. Bad input fails here, with the input's
// name in the message, before anything touches a registry.

import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import { FAILURE_CLASSES, type FailureClass } from '../buildx/classify.js';
import { DEFAULT_MIRROR } from '../buildx/release.js';
import { normaliseChecksum } from '../buildx/release.js';
import { type BuildxSpec, parseBuildxSpec } from '../buildx/spec.js';
import { loadPolicy, type Policy } from './policy-file.js';
import { isLoopbackHost } from '../util/loopback.js';
import { InputError, parseBoolean, parseDurationMs, parseInteger, parseList } from '../util/parse.js';
import { type ImageRef, isDigest, parseReference, parseTag, ReferenceError } from '../registry/reference.js';

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
  buildxVersion: string;
  /** `buildx-version`, parsed */
  buildx: BuildxSpec;
  /** lower-case hex sha256 the binary must have */
  buildxChecksum?: string;
  buildxMirror: string;
  githubToken: string;
  installPlugin: boolean;
  /** the version-pin policy (the default when the input is empty) */
  policy: Policy;
  maxConcurrency: number;
  /** buildx invocations copying the index to further tags at once */
  parallelCopies: number;
  maxAttempts: number;
  retryOn: ReadonlySet<FailureClass>;
  retryDelayMs: number;
  retryMaxDelayMs: number;
  attemptTimeoutMs: number;
  idleTimeoutMs: number;
  verify: boolean;
  /** annotations on the workflow line (else the log only; the summary stays) */
  annotate: boolean;
}

/** The raw text of each input, as a getter over INPUT_* gives it. */
export type InputReader = (name: string) => string;

export const DEFAULTS = {
  maxConcurrency: 1,
  parallelCopies: 1,
  maxAttempts: 5,
  retryOn: 'panic,transient,timeout',
  retryDelayMs: 2_000,
  retryMaxDelayMs: 60_000,
  attemptTimeoutMs: 15 * 60_000,
  idleTimeoutMs: 5 * 60_000,
} as const;

const HOUR = 3_600_000;
const RETRYABLE = FAILURE_CLASSES.filter((c) => c !== 'permanent');

function checkReference(input: string, text: string, parse: (t: string) => ImageRef): ImageRef {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof ReferenceError) {
      throw new InputError(input, `"${printable(text)}" is not a valid image reference: ${err.message}`);
    }
    throw err;
  }
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++)
    if (text.charCodeAt(i) < 0x20 || text.charCodeAt(i) === 0x7f) return true;
  return false;
}

/** Shows control characters escaped, so an error message cannot be used to forge log lines. */
function printable(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

export function parseRetryOn(value: string): Set<FailureClass> {
  const items = parseList(value.trim() === '' ? DEFAULTS.retryOn : value).map((s) => s.toLowerCase());
  const set = new Set<FailureClass>();
  for (const item of items) {
    if (item === 'any' || item === 'all') {
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
  const ref = checkReference('image', image, parseReference);
  if (ref.tag || ref.digest)
    throw new InputError('image', `"${image}" must be a repository, without a tag or digest`);
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

// The annotation levels buildx imagetools create writes (checked in buildx 0.13.1 and 0.29.1:
// util/imagetools/create.go): `index` and `manifest-descriptor`. It refuses `manifest` and lines
// without a level ("... annotations are not supported yet") and `index-descriptor` ("invalid while
// creating an image"). A level may carry one platform, as buildx's own pattern has it.
const LEVEL = /^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$/;
const LEVELS_TAKEN =
  'buildx imagetools create writes index: and manifest-descriptor: annotations (a level may name one platform: manifest-descriptor[linux/amd64]:)';

type AnnotationLine = { keep: string[]; manifest: number } | { refused: string };

/** One line: the lines buildx is given for it (one per level, as every buildx reads them), or why not. */
export function annotationLine(line: string): AnnotationLine {
  const eq = line.indexOf('=');
  if (eq < 0 || hasControl(line)) return { refused: ' is not an annotation (expected level:key=value)' };
  const head = line.slice(0, eq);
  const colon = head.indexOf(':');
  const key = head.slice(colon + 1);
  if (!/^\S+$/.test(key)) return { refused: ' has no key, or a key with spaces (expected level:key=value)' };
  if (colon < 0) return { refused: ` has no level: write index:${printable(line)} to annotate the index` };
  const keep: string[] = [];
  let manifest = 0;
  for (const level of head.slice(0, colon).split(',')) {
    const type = LEVEL.exec(level)?.[1];
    if (type === 'index' || type === 'manifest-descriptor') keep.push(`${level}${line.slice(colon)}`);
    else if (type === 'manifest') manifest++;
    else if (type === 'index-descriptor')
      return {
        refused:
          ': index-descriptor annotations go on a descriptor of the index, which a pushed index does not have (buildx: "invalid while creating an image"); use index: instead',
      };
    else
      return {
        refused: `: "${printable(level)}" is not a level (expected index or manifest-descriptor, optionally with one platform in brackets)`,
      };
  }
  return { keep, manifest };
}

/**
 * The `annotations` input's lines: what buildx is given, and a notice when `manifest:` lines were
 * left out (docker/metadata-action with DOCKER_METADATA_ANNOTATIONS_LEVELS: manifest,index). A
 * line buildx would refuse, or nothing but `manifest:` lines, is an InputError naming each line.
 */
export function parseAnnotations(lines: readonly string[]): { annotations: string[]; notice?: string } {
  const annotations: string[] = [];
  const refused: string[] = [];
  let manifest = 0;
  let firstManifest = '';
  for (const line of lines) {
    const v = annotationLine(line);
    if ('refused' in v) {
      refused.push(`"${printable(line)}"${v.refused}`);
      continue;
    }
    annotations.push(...v.keep);
    if (v.manifest > 0 && manifest === 0) firstManifest = line;
    manifest += v.manifest;
  }
  if (refused.length > 0) {
    const more = refused.length > 5 ? `; and ${refused.length - 5} more` : '';
    throw new InputError('annotations', `${refused.slice(0, 5).join('; ')}${more}. ${LEVELS_TAKEN}.`);
  }
  if (manifest === 0) return { annotations };
  if (annotations.length === 0) {
    throw new InputError(
      'annotations',
      `${lines.length === 1 ? 'the only line is a manifest: annotation' : `all ${lines.length} lines are manifest: annotations`} (such as "${printable(firstManifest)}"), which buildx imagetools create cannot write: the platform manifests are already pushed, and annotating them would change their digests. ` +
        'docker/metadata-action writes manifest: lines unless told otherwise: set DOCKER_METADATA_ANNOTATIONS_LEVELS: index in the env of its step ' +
        '(or manifest,index when a build step uses the same output: the manifest: lines are then skipped here), or write index:key=value.',
    );
  }
  return {
    annotations,
    notice: `Skipped ${manifest} manifest: annotation${manifest === 1 ? '' : 's'} (buildx imagetools create cannot change the platform manifests; the build step annotates those) and wrote the other ${annotations.length}.`,
  };
}

export function readInputs(get: InputReader, workspace = process.cwd()): Inputs {
  const dryRun = parseBoolean('dry-run', get('dry-run'), false);
  const append = parseBoolean('append', get('append'), false);

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
  const image = get('image').trim();
  if (digestsDir && !image)
    throw new InputError('image', 'required with digests-dir: the repository the digests belong to');
  if (image && !digestsDir)
    throw new InputError('digests-dir', 'required with image: the folder of digest files');
  if (digestsDir) sources.push(...digestsDirSources(digestsDir, image, workspace));
  if (sources.length === 0)
    throw new InputError('sources', 'no source images: give sources, or digests-dir with image');
  if (sources.every(isDigest)) {
    throw new InputError('sources', 'bare digests need at least one full reference to say where they live');
  }

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

  const { annotations, notice: annotationsNotice } = parseAnnotations(parseList(get('annotations'), false));

  const retryDelayMs = parseDurationMs('retry-delay', get('retry-delay'), DEFAULTS.retryDelayMs, 0, HOUR);
  const retryMaxDelayMs = parseDurationMs(
    'retry-max-delay',
    get('retry-max-delay'),
    Math.max(DEFAULTS.retryMaxDelayMs, retryDelayMs),
    0,
    HOUR,
  );
  if (retryMaxDelayMs < retryDelayMs) {
    throw new InputError(
      'retry-max-delay',
      `must not be shorter than retry-delay (${get('retry-delay').trim()})`,
    );
  }

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

  return {
    sources,
    tags,
    annotations,
    ...(annotationsNotice ? { annotationsNotice } : {}),
    append,
    dryRun,
    buildxVersion,
    buildx,
    buildxChecksum,
    buildxMirror,
    githubToken: get('github-token').trim(),
    installPlugin: parseBoolean('install-plugin', get('install-plugin'), false),
    policy: loadPolicy(get('policy'), workspace),
    maxConcurrency: parseInteger('max-concurrency', get('max-concurrency'), DEFAULTS.maxConcurrency, 1, 100),
    parallelCopies: parseInteger('parallel-copies', get('parallel-copies'), DEFAULTS.parallelCopies, 1, 16),
    maxAttempts: parseInteger('max-attempts', get('max-attempts'), DEFAULTS.maxAttempts, 1, 20),
    retryOn: parseRetryOn(get('retry-on')),
    retryDelayMs,
    retryMaxDelayMs,
    attemptTimeoutMs: parseDurationMs(
      'attempt-timeout',
      get('attempt-timeout'),
      DEFAULTS.attemptTimeoutMs,
      1000,
      6 * HOUR,
    ),
    idleTimeoutMs: parseDurationMs(
      'idle-timeout',
      get('idle-timeout'),
      DEFAULTS.idleTimeoutMs,
      1000,
      6 * HOUR,
    ),
    verify: parseBoolean('verify', get('verify'), true),
    annotate: parseBoolean('annotate', get('annotate'), true),
  };
}
