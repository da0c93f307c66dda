// Whether a host is this machine's loopback, where plain HTTP is allowed (as buildx and Docker
// allow an insecure registry there): `localhost`, 127.0.0.0/8 and `[::1]`. Pure.

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/** A URL's hostname (no port): `localhost`, `127.x.y.z` or `[::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOST.test(hostname);
}

/** A host with an optional port, as a registry domain is written (`localhost:5000`, `[::1]:5000`). */
export function isLoopbackAuthority(authority: string): boolean {
  const m = authority.match(/^(\[[^\]]*\]|[^:]*)(:\d+)?$/);
  return m !== null && isLoopbackHost(m[1] as string);
}
