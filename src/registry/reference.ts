// Docker image references, parsed by the grammar of distribution/reference:
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [ domain "/" ] path-component [ "/" path-component ]*
//   domain     := host [ ":" port ]       host := domain-name | IPv4 | "[" IPv6 "]"
//   path-comp  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
//   digest     := algorithm ":" hex{32,}
//
// The first path element is a domain when it contains "." or ":", or is "localhost", or holds an
// upper-case letter (which a path component may not). Without a domain the reference is Docker
// Hub's: `alpine` is `docker.io/library/alpine`. Hub's other names, `index.docker.io` (which
// distribution/reference normalises) and `registry-1.docker.io` (its API host, which buildkit looks
// credentials up as Hub's), are `docker.io` too: `index.docker.io/alpine` is
// `docker.io/library/alpine`. `original` keeps the text as written (it is what buildx is given).

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io']);
const NAME_TOTAL_LENGTH_MAX = 255;

export interface ImageRef {
  /** registry host, with port when one was given; `docker.io` for Docker Hub (by any of its names) */
  domain: string;
  /** repository path within the registry, e.g. `library/alpine` */
  path: string;
  tag?: string;
  digest?: string;
  /** the text as the user wrote it */
  original: string;
}

export class InvalidReferenceError extends Error {}

/** Parses a reference, throwing an InvalidReferenceError that says what is wrong with it. */
export function parseReference(text: string): ImageRef {
  if (text.length === 0) throw new InvalidReferenceError('empty reference');
  if (/[^\x21-\x7e]/.test(text)) {
    throw new InvalidReferenceError('a reference holds no whitespace, control or non-ASCII characters');
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) {
      throw new InvalidReferenceError(
        `"${digest}" is not a digest (expected algorithm:hex, e.g. sha256:<64 hex>)`,
      );
    }
    if (digest.startsWith('sha256:') && !SHA256_DIGEST_RE.test(digest)) {
      throw new InvalidReferenceError(`"${digest}" is not a sha256 digest (64 lower-case hex characters)`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw new InvalidReferenceError(
        `"${tag}" is not a valid tag (letters, digits, "_", "." and "-", at most 128)`,
      );
    }
  }
  const name = rest;
  if (name.length === 0) throw new InvalidReferenceError('the repository name is missing');
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidReferenceError(`the repository name is longer than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const parts = name.split('/');
  let domain = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    domain = first;
    parts.shift();
    if (!DOMAIN_RE.test(domain)) throw new InvalidReferenceError(`"${domain}" is not a valid registry host`);
    if (DOCKER_HUB_ALIASES.has(domain)) domain = DOCKER_HUB;
  }
  for (const part of parts) {
    if (!PATH_COMPONENT_RE.test(part)) {
      throw new InvalidReferenceError(
        /[A-Z]/.test(part)
          ? `repository name "${name}" must be lower-case`
          : `"${part}" is not a valid repository path component in "${name}"`,
      );
    }
  }
  let path = parts.join('/');
  if (domain === DOCKER_HUB && parts.length === 1) path = `library/${path}`;
  return { domain, path, tag, digest, original: text };
}

/** `domain/path`, the repository a reference lives in. */
export function repositoryOf(ref: ImageRef): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical text of a reference (Docker Hub spelled out). */
export function formatReference(ref: Pick<ImageRef, 'domain' | 'path' | 'tag' | 'digest'>): string {
  let s = `${ref.domain}/${ref.path}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** A target tag: a reference with no digest; `latest` when no tag is written, as docker does. */
export function parseTag(text: string): ImageRef {
  const ref = parseReference(text);
  if (ref.digest) throw new InvalidReferenceError('a target tag cannot hold a digest');
  return { ...ref, tag: ref.tag ?? 'latest' };
}

export function isDigest(text: string): boolean {
  return SHA256_DIGEST_RE.test(text);
}
