// The check of the --dry-run's index against the annotations asked for, over index JSON in the
// shapes buildx prints: an OCI index carrying them, and the Docker manifest list it builds from
// Docker-media-type sources, which drops them (docker/buildx#2148).
import { describe, expect, it } from 'vitest';

import { droppedAnnotations, droppedAnnotationsMessage } from '../../src/merge/annotations-check.js';
import { DOCKER_MANIFEST_LIST, OCI_INDEX } from '../../src/registry/media-types.js';
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const desc = (platform: object, annotations?: Record<string, string>) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:aa',
  size: 1,
  platform,
  ...(annotations ? { annotations } : {}),
});
const attestation = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:bb',
  size: 1,
  platform: { os: 'unknown', architecture: 'unknown' },
  annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
};
const index = (mediaType: string, manifests: object[], annotations?: Record<string, string>): string =>
  JSON.stringify({ schemaVersion: 2, mediaType, manifests, ...(annotations ? { annotations } : {}) });

const D = 'org.opencontainers.image.description';

describe('droppedAnnotations', () => {
  it.each([
    ['index: carried', index(OCI_INDEX, [desc(amd64)], { [D]: 'hi' }), [`index:${D}=hi`], []],
    [
      'index: dropped (Docker manifest list)',
      index(DOCKER_MANIFEST_LIST, [desc(amd64)]),
      [`index:${D}=hi`],
      [`index:${D}=hi`],
    ],
    [
      'index: another value',
      index(OCI_INDEX, [desc(amd64)], { [D]: 'other' }),
      [`index:${D}=hi`],
      [`index:${D}=hi`],
    ],
    ['a value with = in it', index(OCI_INDEX, [], { [D]: 'a=b' }), [`index:${D}=a=b`], []],
    ['an empty value', index(OCI_INDEX, [], { [D]: '' }), [`index:${D}=`], []],
    [
      'manifest-descriptor: on every image descriptor (attestations aside)',
      index(OCI_INDEX, [desc(amd64, { [D]: 'hi' }), desc(arm64, { [D]: 'hi' }), attestation]),
      [`manifest-descriptor:${D}=hi`],
      [],
    ],
    [
      'manifest-descriptor: missing on one',
      index(OCI_INDEX, [desc(amd64, { [D]: 'hi' }), desc(arm64)]),
      [`manifest-descriptor:${D}=hi`],
      [`manifest-descriptor:${D}=hi`],
    ],
    [
      'manifest-descriptor[linux/amd64]: only that platform needs it',
      index(OCI_INDEX, [desc(amd64, { [D]: 'hi' }), desc(arm64)]),
      [`manifest-descriptor[linux/amd64]:${D}=hi`],
      [],
    ],
    [
      'manifest-descriptor[linux/arm64]: missing on that platform',
      index(OCI_INDEX, [desc(amd64, { [D]: 'hi' }), desc(arm64)]),
      [`manifest-descriptor[linux/arm64]:${D}=hi`],
      [`manifest-descriptor[linux/arm64]:${D}=hi`],
    ],
    [
      'manifest-descriptor[linux/s390x]: no such platform in the index',
      index(OCI_INDEX, [desc(amd64, { [D]: 'hi' })]),
      [`manifest-descriptor[linux/s390x]:${D}=hi`],
      [`manifest-descriptor[linux/s390x]:${D}=hi`],
    ],
    [
      'several, only the lost ones named, in order',
      index(DOCKER_MANIFEST_LIST, [desc(amd64, { [D]: 'hi' })]),
      [`index:${D}=hi`, `manifest-descriptor:${D}=hi`, 'index:b=2'],
      [`index:${D}=hi`, 'index:b=2'],
    ],
  ])('%s', (_name, json, asked, lost) => {
    expect(droppedAnnotations(json, asked).map((r) => r.line)).toEqual(lost);
  });
});

describe('droppedAnnotationsMessage', () => {
  it('names the annotations, the cause and the fix for a Docker manifest list', () => {
    const dropped = droppedAnnotations(index(DOCKER_MANIFEST_LIST, []), [`index:${D}=hi`]);
    const msg = droppedAnnotationsMessage(dropped, DOCKER_MANIFEST_LIST);
    expect(msg).toContain(`index:${D}=hi`);
    expect(msg).toContain('a manifest list cannot carry annotations');
    expect(msg).toContain('oci-mediatypes=true');
    expect(msg).toContain('Nothing was pushed');
  });
  it('does not blame the media types of an OCI index', () => {
    const dropped = droppedAnnotations(index(OCI_INDEX, []), ['index:a=1']);
    expect(droppedAnnotationsMessage(dropped, OCI_INDEX)).not.toContain('manifest list');
  });
});
