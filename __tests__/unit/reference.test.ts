import { describe, expect, it } from 'vitest';

import {
  formatReference,
  parseReference,
  parseTag,
  InvalidReferenceError,
  repositoryOf,
} from '../../src/registry/reference.js';

const D = 'sha256:9a9aebe7452ef57aa2eac0adc21f040334c5db86ec6a0486c8effd0adbf310e0';

describe('parseReference accepts the Docker reference grammar', () => {
  it.each([
    ['alpine', 'docker.io', 'library/alpine', undefined, undefined],
    ['alpine:3.20', 'docker.io', 'library/alpine', '3.20', undefined],
    ['user/app:v1.2.3-rc.1', 'docker.io', 'user/app', 'v1.2.3-rc.1', undefined],
    ['ghcr.io/org/team/app:latest', 'ghcr.io', 'org/team/app', 'latest', undefined],
    ['127.0.0.1:5000/src/app:amd64', '127.0.0.1:5000', 'src/app', 'amd64', undefined],
    ['localhost/app', 'localhost', 'app', undefined, undefined],
    ['localhost:5000/a__b/c-d.e:t_1', 'localhost:5000', 'a__b/c-d.e', 't_1', undefined],
    ['[::1]:5000/app:t', '[::1]:5000', 'app', 't', undefined],
    [`ghcr.io/org/app@${D}`, 'ghcr.io', 'org/app', undefined, D],
    [`ghcr.io/org/app:v1@${D}`, 'ghcr.io', 'org/app', 'v1', D],
    ['Registry.Example.com/app:t', 'Registry.Example.com', 'app', 't', undefined],
  ])('%s', (text, domain, path, tag, digest) => {
    expect(parseReference(text)).toEqual({ domain, path, tag, digest, original: text });
  });
});

describe("Docker Hub's other names are docker.io, as buildx and the Docker CLI read them", () => {
  it.each([
    ['index.docker.io/library/alpine:3', 'docker.io', 'library/alpine', '3'],
    ['index.docker.io/alpine', 'docker.io', 'library/alpine', undefined],
    ['index.docker.io/org/app:v1', 'docker.io', 'org/app', 'v1'],
    ['registry-1.docker.io/org/app:v1', 'docker.io', 'org/app', 'v1'],
    ['registry-1.docker.io/alpine:3', 'docker.io', 'library/alpine', '3'],
    ['docker.io/alpine', 'docker.io', 'library/alpine', undefined],
    // another port is another host
    ['index.docker.io:443/org/app', 'index.docker.io:443', 'org/app', undefined],
    ['ghcr.io/docker.io/app', 'ghcr.io', 'docker.io/app', undefined],
  ])('%s', (text, domain, path, tag) => {
    const ref = parseReference(text);
    expect(ref).toMatchObject({ domain, path, tag });
    // what the user wrote is what buildx is given and what the log shows
    expect(ref.original).toBe(text);
  });
  it('so a tag written both ways is one tag', () => {
    expect(repositoryOf(parseReference('index.docker.io/org/app'))).toBe(
      repositoryOf(parseReference('org/app')),
    );
  });
});

describe('parseReference refuses what buildx would refuse, and anything a shell would interpret', () => {
  it.each([
    ['', /empty/],
    ['app:v1 && rm -rf /', /whitespace/],
    ['app:$(id)', /not a valid tag/],
    ['`id`/app', /not a valid repository path/],
    ['app;id', /not a valid repository path/],
    ['app\nother', /whitespace, control/],
    ['app|cat', /not a valid repository path/],
    ['ghcr.io/Org/app', /must be lower-case/],
    ['app:', /not a valid tag/],
    ['app:-bad', /not a valid tag/],
    [`app:${'x'.repeat(129)}`, /not a valid tag/],
    ['app@sha256:abc', /not a digest/],
    ['app@sha256:' + 'A'.repeat(64), /not a sha256 digest/],
    ['-rf', /not a valid repository path/],
    ['--tag=x', /not a valid repository path/],
    ['ghcr.io/', /not a valid repository path/],
    ['/app', /not a valid repository path/],
    ['a//b', /not a valid repository path/],
    ['app--', /not a valid repository path/],
    ['exa_mple.com:5000/app', /not a valid registry host/],
    ['ümlaut/app', /non-ASCII/],
    [`${'a'.repeat(256)}`, /longer than 255/],
  ])('%j', (text, message) => {
    expect(() => parseReference(text)).toThrow(InvalidReferenceError);
    expect(() => parseReference(text)).toThrow(message);
  });
});

describe('tags', () => {
  it('default to latest, as docker does', () => {
    expect(parseTag('ghcr.io/o/app').tag).toBe('latest');
  });
  it('cannot hold a digest', () => {
    expect(() => parseTag(`ghcr.io/o/app@${D}`)).toThrow(/cannot hold a digest/);
  });
  it('format back to a canonical reference', () => {
    const r = parseReference('alpine:3');
    expect(repositoryOf(r)).toBe('docker.io/library/alpine');
    expect(formatReference({ ...r, tag: undefined, digest: D })).toBe(`docker.io/library/alpine@${D}`);
  });
});
