import { describe, expect, it } from 'vitest';

import {
  dockerBuildArgs,
  gitEnv,
  gitVersionLabel,
  matchRef,
  parseLsRemote,
  versionLdflags,
} from '../../src/install/git.js';

describe('git', () => {
  const S1 = '1'.repeat(40);
  const S2 = '2'.repeat(40);
  const S3 = '3'.repeat(40);
  const S4 = '4'.repeat(40);
  const ls = `${S1}\tHEAD\n${S1}\trefs/heads/main\n${S2}\trefs/heads/fix/x\n${S3}\trefs/tags/v0.99.0\n${S4}\trefs/tags/v0.99.0^{}\n${S2}\trefs/pull/7/head\n`;
  it.each([
    ['main', S1],
    ['HEAD', S1],
    ['fix/x', S2],
    ['v0.99.0', S4], // the peeled commit, not the tag object
    ['refs/pull/7/head', S2],
    ['refs/heads/main', S1],
    ['5'.repeat(40), '5'.repeat(40)],
    ['abc1234', undefined],
    ['nope', undefined],
  ])('%s', (ref, commit) => {
    expect(matchRef(parseLsRemote(ls), ref)?.commit).toBe(commit);
  });
  it('sets the version ldflags buildx reads', () => {
    expect(versionLdflags('github.com/docker/buildx', 'fix/x', S2)).toBe(
      `-s -w -X github.com/docker/buildx/version.Version=fix/x -X github.com/docker/buildx/version.Revision=${S2} -X github.com/docker/buildx/version.Package=github.com/docker/buildx`,
    );
    expect(gitVersionLabel('refs/heads/fix/x', S2)).toBe('fix/x');
    expect(gitVersionLabel('HEAD', S2)).toBe('2222222');
    expect(gitVersionLabel('abc1234', S2)).toBe('2222222');
  });
  it('builds with Docker from the repository at the commit', () => {
    expect(dockerBuildArgs('https://github.com/o/buildx.git', S2, '/out')).toEqual([
      'buildx',
      'build',
      '--target',
      'binaries',
      '--platform',
      'local',
      '--output',
      'type=local,dest=/out',
      `https://github.com/o/buildx.git#${S2}`,
    ]);
  });
  it('gives a token to git through its environment, only for https URLs of the token host', () => {
    const env = gitEnv('https://github.com/o/private-buildx.git', {
      token: 'ghs_secret',
      tokenHost: 'github.com',
      env: {},
    });
    expect(env.GIT_CONFIG_KEY_0).toBe('http.https://github.com/.extraheader');
    expect(
      Buffer.from(
        (env.GIT_CONFIG_VALUE_0 as string).replace('AUTHORIZATION: basic ', ''),
        'base64',
      ).toString(),
    ).toBe('x-access-token:ghs_secret');
    expect(env.GIT_TERMINAL_PROMPT).toBe('0');
    for (const url of [
      'https://gitlab.com/o/buildx.git',
      'git@github.com:o/buildx.git',
      'file:///x/buildx.git',
    ]) {
      expect(
        gitEnv(url, { token: 'ghs_secret', tokenHost: 'github.com', env: {} }).GIT_CONFIG_COUNT,
      ).toBeUndefined();
    }
  });
});
