// What the command line writes besides its log: `--summary-file` (the Markdown summary the action
// writes on GitHub) and `--metadata-file` (JSON: the index digest under `containerimage.digest`,
// the key buildx's own --metadata-file uses, the tags under `image.name` as buildx writes them,
// and the action's `result` output under `safe-imagetools.result`); the tool cache outside
// GitHub; and the --help text.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { StepOutputs } from './publish.js';

/** The outputs a run set, kept for the metadata file; the summary written to its file, if asked. */
export class CommandOutputs implements StepOutputs {
  readonly values: Record<string, string> = {};
  constructor(private readonly summaryFile?: string) {}

  setOutput(name: string, value: string): void {
    this.values[name] = value;
  }

  async writeSummary(markdown: string): Promise<void> {
    if (this.summaryFile) await writeFile(this.summaryFile, markdown);
  }
}

/** The metadata file's JSON, from the outputs (`digest`, `result`) and the tags asked for. Pure. */
export function metadataOf(
  outputs: Record<string, string>,
  tags: readonly string[],
): Record<string, unknown> {
  let result: unknown;
  try {
    result = outputs.result ? JSON.parse(outputs.result) : undefined;
  } catch {
    result = undefined;
  }
  return {
    ...(outputs.digest ? { 'containerimage.digest': outputs.digest } : {}),
    ...(tags.length > 0 ? { 'image.name': tags.join(',') } : {}),
    ...(result !== undefined ? { 'safe-imagetools.result': result } : {}),
  };
}

/** The tool cache outside GitHub: RUNNER_TOOL_CACHE, else $XDG_CACHE_HOME/safe-imagetools, else ~/.cache/safe-imagetools. Pure. */
export function toolCacheDir(env: Record<string, string | undefined>, home: string): string {
  if (env.RUNNER_TOOL_CACHE) return env.RUNNER_TOOL_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'safe-imagetools');
  return join(home, '.cache', 'safe-imagetools');
}

export const HELP = `Usage: safe-imagetools create [OPTIONS] SOURCE [SOURCE...]
       safe-imagetools --help | --version

Create a multi-platform index from SOURCE images and push it to every tag, as
'docker buildx imagetools create' does: with a buildx you choose, fewer pushes at
once, crashes, registry errors and hangs recognised and retried where a retry
helps, every tag written and read back.

docker buildx imagetools create's flags:
  -t, --tag TAG            a tag to push to (repeat it for more)
      --annotation ANN     an annotation (index:key=value, manifest-descriptor:...)
      --append             append to the index the first tag holds
      --dry-run            print the index and its digest; push nothing
      --progress MODE      accepted (auto, plain, tty, quiet, rawjson); output is plain
      --metadata-file FILE write the digest and the result as JSON

The action's inputs, as flags of the same name (--name VALUE or --name=VALUE; a
boolean alone is true) or as SAFE_IMAGETOOLS_<NAME> variables (a flag wins):
  --buildx-version, --buildx-checksum, --buildx-mirror, --sigstore-trusted-root,
  --github-token, --install-plugin, --policy, --tag-method, --tags-per-buildx,
  --buildx-at-once, --puts-at-once, --max-attempts, --retry-on, --retry-delay,
  --retry-max-delay, --buildx-timeout, --buildx-idle-timeout, --lag-timeout,
  --verify, --digests-dir, --digests-repository, --sources, --tags, --annotations

Its own:
      --summary-file FILE  write the Markdown summary
  -h, --help               this text
      --version            the version

Exit status: 0 every tag holds the index, 1 the merge failed, 2 bad usage.
Docs: docs/cli.md`;
