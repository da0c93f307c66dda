// The command line's entry point (dist/cli.js; `npx safe-imagetools create ...`): the same run as
// the action, on a host whose inputs are the command's flags and SAFE_IMAGETOOLS_* variables,
// whose log carries no workflow command, and whose summary and metadata go to the files asked for.

import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';

import pkg from '../package.json' with { type: 'json' };
import { type CommandLine, parseCommandLine, UsageError, wordedFor } from './inputs/command-line.js';
import { parseList } from './util/parse.js';
import { run } from './main.js';
import { CommandOutputs, HELP, metadataOf, toolCacheDir } from './report/command-line.js';

const USAGE_EXIT = 2;

/** Runs `safe-imagetools` with these arguments; the exit code is process.exitCode. */
export async function cli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let command;
  try {
    command = parseCommandLine(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`safe-imagetools: ${err.message}\n`);
    process.exitCode = USAGE_EXIT;
    return;
  }
  if (command.kind === 'help') return void process.stdout.write(`${HELP}\n`);
  if (command.kind === 'version') return void process.stdout.write(`safe-imagetools ${pkg.version}\n`);
  await create(command, env);
}

/**
 * @actions/tool-cache logs through @actions/core's debug, a workflow command (`::debug::...`), as
 * text: dropped here, or printed as `debug: ...` with SAFE_IMAGETOOLS_DEBUG set. Only the strings
 * the libraries write are looked at; buildx's output reaches stdout as bytes and passes as it is.
 */
function plainDebug(env: NodeJS.ProcessEnv): void {
  const write = process.stdout.write.bind(process.stdout) as (chunk: string | Uint8Array) => boolean;
  const show = !!env.SAFE_IMAGETOOLS_DEBUG;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('::debug::')) {
      if (!show) return true;
      chunk = `debug: ${chunk.slice('::debug::'.length)}`;
    }
    return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
}

async function create(command: CommandLine, env: NodeJS.ProcessEnv): Promise<void> {
  plainDebug(env);
  // Installs and the Docker config helpers read these from the environment, as on a runner.
  env.RUNNER_TOOL_CACHE = toolCacheDir(env, homedir());
  const outputs = new CommandOutputs(command.summaryFile);
  await run({
    workspace: process.cwd(),
    input: (name) => command.values[name] ?? '',
    workflowCommands: false,
    outputs,
    wordInputError: (message) => wordedFor(message, command.from),
    badInputExitCode: USAGE_EXIT,
  });
  if (command.metadataFile && process.exitCode !== USAGE_EXIT) {
    const tags = parseList(command.values.tags ?? '');
    const json = `${JSON.stringify(metadataOf(outputs.values, tags), null, 2)}\n`;
    await writeFile(command.metadataFile, json).catch((err: NodeJS.ErrnoException) => {
      process.stdout.write(
        `error: --metadata-file: cannot write "${command.metadataFile}" (${err.code ?? err.message})\n`,
      );
      process.exitCode = 1;
    });
  }
}

await cli(process.argv.slice(2), process.env);
