// The `annotations` input: the lines buildx imagetools create is given, each checked against the
// annotation levels it can write, with a notice for the `manifest:` lines it cannot.

import { InputError } from '../util/parse.js';
import { hasControl, printable } from './text.js';

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
