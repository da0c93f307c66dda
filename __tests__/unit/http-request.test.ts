import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type HttpRequest, readBody, redirected, request } from '../../src/http/request.js';

const AUTH = { Authorization: 'Bearer secret', Accept: 'application/json' };

describe('what a redirect keeps of a request', () => {
  it.each<[string, string, string, number, HttpRequest, HttpRequest]>([
    [
      'same origin: everything',
      'https://github.com/a',
      'https://github.com/b',
      302,
      { headers: AUTH },
      { headers: AUTH },
    ],
    [
      'another host (a release asset on its object store): no credentials',
      'https://github.com/docker/buildx/releases/download/v1/x',
      'https://objects.githubusercontent.com/x?sig=1',
      302,
      { headers: AUTH },
      { headers: { Accept: 'application/json' } },
    ],
    [
      'https to http on the same host is another origin',
      'https://h.example/a',
      'http://h.example/a',
      301,
      { headers: { authorization: 'x', Cookie: 'c' } },
      { headers: {} },
    ],
    [
      '303: GET without a body',
      'https://h.example/token',
      'https://h.example/t2',
      303,
      { method: 'POST', body: 'a=b', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
      { method: 'GET', body: undefined, headers: {} },
    ],
    [
      '307 keeps a POST and its body',
      'https://h.example/token',
      'https://h.example/t2',
      307,
      { method: 'POST', body: 'a=b', headers: { 'Content-Type': 'x' } },
      { method: 'POST', body: 'a=b', headers: { 'Content-Type': 'x' } },
    ],
  ])('%s', (_, from, to, status, req, want) => {
    expect(redirected(new URL(from), new URL(to), status, req)).toEqual(want);
  });
});

/** A loopback server that records each request's User-Agent; `/to/<n>` redirects to `/to/<n-1>`. */
function uaServer(): { server: http.Server; seen: (string | undefined)[]; url: () => string } {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers['user-agent']);
    const hops = Number(/^\/to\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
    if (hops > 0) res.writeHead(302, { Location: `/to/${hops - 1}` }).end();
    else res.end('ok');
  });
  const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, seen, url };
}

describe('every request says who sends it: User-Agent safe-imagetools/<package.json version>', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  const ours = `safe-imagetools/${version}`;
  const bed = uaServer();
  beforeAll(() => new Promise<void>((resolve) => bed.server.listen(0, '127.0.0.1', resolve)));
  afterAll(() => new Promise<void>((resolve) => bed.server.close(() => resolve())));

  it.each<[string, string, HttpRequest, string[]]>([
    ['a GET', '/', {}, [ours]],
    ['a HEAD with headers of its own', '/', { method: 'HEAD', headers: { Accept: 'x/y' } }, [ours]],
    ['a POST', '/', { method: 'POST', body: 'a=b' }, [ours]],
    ['every hop of a redirect chain', '/to/2', {}, [ours, ours, ours]],
    ['a request that names its own keeps it', '/', { headers: { 'user-agent': 'other/1' } }, ['other/1']],
  ])('%s', async (_, path, req, want) => {
    bed.seen.length = 0;
    const res = await request(`${bed.url()}${path}`, req);
    await readBody(res);
    expect(res.status).toBe(200);
    expect(bed.seen).toEqual(want);
  });
});
