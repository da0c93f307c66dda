import { describe, expect, it } from 'vitest';

import { type HttpRequest, redirected } from '../../src/http/request.js';

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
