// Test beds shared by several e2e files, as vitest hooks: started before the tests of the block
// that calls the helper, stopped after them. The returned object is filled in by beforeAll, so
// read its fields inside tests and hooks, not at collection time. (Bench scripts do not import
// this file: it needs vitest.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll } from 'vitest';

import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';
import { pushPlatformImages } from './images.ts';
import { type Registry, startRegistry } from './registry.ts';
import { bearer, startTokenRegistry, type TokenRegistry } from './token-registry.ts';

const TWO = ['linux/amd64', 'linux/arm64'];

export interface TokenBed {
  tr: TokenRegistry;
  /** the sources pushed to `src/app`, by digest */
  sources: string[];
}

/** A token-flow registry (startTokenRegistry) with `platforms` pushed to `src/app`. */
export function useTokenRegistry(platforms: string[] = TWO): TokenBed {
  const bed = {} as TokenBed;
  beforeAll(async () => {
    bed.tr = await startTokenRegistry();
    bed.sources = await pushPlatformImages(bed.tr.reg, 'src/app', platforms, {
      auth: bearer(bed.tr.ts, 'src/app'),
    });
  });
  afterAll(async () => {
    await bed.tr?.stop();
  });
  return bed;
}

export interface ProxiedBed {
  reg: Registry;
  /** the fault proxy in front of `reg`; its rules are cleared after each test */
  proxy: FaultProxy;
  /** an empty DOCKER_CONFIG folder */
  dockerConfig: string;
}

/** A registry 2.8 with `platforms` pushed to `src/app`, the fault proxy in front, an empty Docker config. */
export function useProxiedRegistry(platforms: string[], configPrefix: string): ProxiedBed {
  const bed = {} as ProxiedBed;
  beforeAll(async () => {
    bed.reg = await startRegistry();
    await pushPlatformImages(bed.reg, 'src/app', platforms);
    bed.proxy = await startFaultProxy({ target: bed.reg.url });
    bed.dockerConfig = mkdtempSync(join(tmpdir(), configPrefix));
  }, 120_000);
  afterEach(() => bed.proxy.setRules([]));
  afterAll(async () => {
    await bed.proxy?.stop();
    await bed.reg?.stop();
    if (bed.dockerConfig) rmSync(bed.dockerConfig, { recursive: true, force: true });
  });
  return bed;
}
