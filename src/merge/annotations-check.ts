// Whether the index `--dry-run` printed carries every annotation asked for, at the level asked:
// buildx (0.13.1 to 0.29.1 at least) builds a Docker manifest list from sources in Docker media
// types, and a manifest list has no annotations: it drops `index:` annotations without a word
// (docker/buildx#2148, #3061). Pure: the index JSON and the `annotations` lines in, the lost out.

import { DOCKER_MANIFEST_LIST } from '../registry/media-types.js';

interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

interface Descriptor {
  platform?: Platform;
  annotations?: Record<string, string>;
}

interface IndexJson {
  mediaType?: string;
  annotations?: Record<string, string>;
  manifests?: Descriptor[];
}

export interface Requested {
  /** the line as given, e.g. `index:org.opencontainers.image.description=hello` */
  line: string;
  level: 'index' | 'manifest-descriptor';
  /** `linux/arm64`, when the level names one */
  platform?: string;
  key: string;
  value: string;
}

/** A checked `annotations` line (one level, as inputs/annotations.ts leaves them); else undefined. */
export function requestedAnnotation(line: string): Requested | undefined {
  const m = /^(index|manifest-descriptor)(?:\[([^\]]+)\])?:([^=]+)=(.*)$/s.exec(line);
  if (!m) return undefined;
  const level = m[1] as Requested['level'];
  return { line, level, platform: m[2], key: m[3] as string, value: m[4] as string };
}

const isAttestation = (d: Descriptor): boolean =>
  d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
  (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');

/** Whether a descriptor's platform is the one a level names (`os/arch`, `os/arch/variant`). */
function platformIs(d: Descriptor, platform: string): boolean {
  const [os, arch, variant] = platform.split('/');
  const p = d.platform ?? {};
  return p.os === os && p.architecture === arch && (variant === undefined || p.variant === variant);
}

function carried(index: IndexJson, r: Requested): boolean {
  if (r.level === 'index') return index.annotations?.[r.key] === r.value;
  const images = (index.manifests ?? []).filter((d) => !isAttestation(d));
  const targets = r.platform ? images.filter((d) => platformIs(d, r.platform!)) : images;
  return targets.length > 0 && targets.every((d) => d.annotations?.[r.key] === r.value);
}

/** The requested annotations the index lacks (at their level), in the order given. */
export function droppedAnnotations(indexJson: string, lines: readonly string[]): Requested[] {
  const index = JSON.parse(indexJson) as IndexJson;
  return lines.map(requestedAnnotation).filter((r): r is Requested => r !== undefined && !carried(index, r));
}

/** What the step says when annotations were dropped: which, why, and how to keep them. */
export function droppedAnnotationsMessage(
  dropped: readonly Requested[],
  mediaType: string | undefined,
): string {
  const which = dropped.map((r) => r.line).join('; ');
  const n = dropped.length === 1 ? '1 requested annotation' : `${dropped.length} requested annotations`;
  if (mediaType === DOCKER_MANIFEST_LIST) {
    return (
      `buildx would drop ${n} without a word: ${which}. The sources are in Docker media types, so buildx ` +
      'builds a Docker manifest list, and a manifest list cannot carry annotations (docker/buildx#2148). ' +
      'Nothing was pushed. Build the sources with OCI media types: oci-mediatypes=true on the image exporter ' +
      '(`--output type=image,oci-mediatypes=true`, or in docker/build-push-action `outputs: type=image,oci-mediatypes=true`), ' +
      'or remove the annotations.'
    );
  }
  return `buildx would drop ${n}: ${which} (the index it computed, ${mediaType ?? 'without a mediaType'}, lacks them at the level asked). Nothing was pushed.`;
}
