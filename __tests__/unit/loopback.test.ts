import { describe, expect, it } from 'vitest';

import { isLoopbackAuthority, isLoopbackHost } from '../../src/util/loopback.js';

describe('isLoopbackHost (a URL hostname)', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['localhost.example.com', false],
    ['mylocalhost', false],
    ['127.0.0.1.nip.io', false],
    ['128.0.0.1', false],
    ['::1', false],
    ['[::2]', false],
    ['localhost:5000', false],
    ['', false],
  ])('%s -> %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('isLoopbackAuthority (a registry domain, port optional)', () => {
  it.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['[::1]', true],
    ['[::1]:5000', true],
    ['localhost:', false],
    ['localhost:abc', false],
    ['127.0.0.1.nip.io:5000', false],
    ['registry.example.com:5000', false],
    ['ghcr.io', false],
    ['[::2]:5000', false],
  ])('%s -> %s', (domain, expected) => {
    expect(isLoopbackAuthority(domain)).toBe(expected);
  });
});
