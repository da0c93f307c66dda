// The command line's options, read into the action's inputs: `safe-imagetools create` takes
// `docker buildx imagetools create`'s own flags (-t/--tag, --annotation, --append, --dry-run,
// --progress, --metadata-file, the sources as arguments), every input of action.yml as a long flag
// of the same name, and each input as a `SAFE_IMAGETOOLS_<NAME>` variable (a flag wins). The
// values are then read by readInputs, as the action reads its inputs: one parser, whichever door a
// value came in by. Pure.

/** Every input of action.yml; `boolean` ones may be given as a bare flag (true). */
export const ACTION_INPUTS = [
  'sources',
  'digests-dir',
  'digests-repository',
  'tags',
  'annotations',
  'append',
  'dry-run',
  'buildx-version',
  'buildx-checksum',
  'buildx-mirror',
  'sigstore-trusted-root',
  'github-token',
  'install-plugin',
  'tag-method',
  'tags-per-buildx',
  'buildx-at-once',
  'puts-at-once',
  'max-attempts',
  'retry-on',
  'retry-delay',
  'retry-max-delay',
  'buildx-timeout',
  'buildx-idle-timeout',
  'lag-timeout',
  'verify',
  'workflow-annotations',
  'policy',
] as const;

const BOOLEAN_INPUTS = new Set(['append', 'dry-run', 'install-plugin', 'verify', 'workflow-annotations']);

/** Inputs that make no sense outside GitHub Actions. */
const GITHUB_ONLY = new Set(['workflow-annotations']);

/** buildx's `--progress` values, accepted for a drop-in; buildx's output is streamed as it is. */
const PROGRESS = ['auto', 'plain', 'tty', 'quiet', 'rawjson'];

/** Bad usage: exit 2, with a message that names the flag or variable. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What `safe-imagetools create ...` asks for. */
export interface CommandLine {
  kind: 'create';
  /** an input's value, as readInputs reads it ('' when not given) */
  values: Record<string, string>;
  /** where each given input came from: `--max-attempts` or `SAFE_IMAGETOOLS_MAX_ATTEMPTS` */
  from: Record<string, string>;
  metadataFile?: string;
  summaryFile?: string;
}

export type Command = CommandLine | { kind: 'help' } | { kind: 'version' };

/** The variable an input may be given in: `max-attempts` -> `SAFE_IMAGETOOLS_MAX_ATTEMPTS`. */
export function envName(input: string): string {
  return `SAFE_IMAGETOOLS_${input.toUpperCase().replace(/-/g, '_')}`;
}

/** Reads argv (without `node` and the script) and the environment. Throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: Record<string, string | undefined>): Command {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help')
    return { kind: 'help' };
  if (command === '--version') return { kind: 'version' };
  if (command !== 'create')
    throw new UsageError(`unknown command "${command}" (expected create, --help or --version)`);
  const cl: CommandLine = { kind: 'create', values: {}, from: {} };
  for (const input of ACTION_INPUTS) {
    const value = env[envName(input)];
    if (value !== undefined && value !== '' && !GITHUB_ONLY.has(input)) set(cl, input, value, envName(input));
  }
  const fromFlags = readFlags(rest);
  if (fromFlags === 'help') return { kind: 'help' };
  for (const [input, { value, flag }] of fromFlags.values) set(cl, input, value, flag);
  // buildx's -t, --annotation and the arguments add to --tags, --annotations and --sources
  add(cl, 'sources', fromFlags.sources, 'SOURCE');
  add(cl, 'tags', fromFlags.tags, '--tag');
  add(cl, 'annotations', fromFlags.annotations, '--annotation');
  return { ...cl, ...fromFlags.files };
}

function add(cl: CommandLine, input: string, items: string[], from: string): void {
  if (items.length === 0) return;
  const given = cl.from[input]?.startsWith('--') ? [cl.values[input]!] : [];
  set(cl, input, [...given, ...items].join('\n'), given.length > 0 ? `${cl.from[input]}/${from}` : from);
}

/** Where an input's error points when the input was not given: buildx's own spelling. */
const DOOR: Record<string, string> = { sources: 'SOURCE', tags: '--tag', annotations: '--annotation' };

function set(cl: CommandLine, input: string, value: string, from: string): void {
  cl.values[input] = value;
  cl.from[input] = from;
}

interface Flags {
  values: Map<string, { value: string; flag: string }>;
  sources: string[];
  tags: string[];
  annotations: string[];
  files: { metadataFile?: string; summaryFile?: string };
}

/** The flags and arguments after `create`, each checked for its name. */
function readFlags(args: readonly string[]): Flags | 'help' {
  const flags: Flags = { values: new Map(), sources: [], tags: [], annotations: [], files: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      flags.sources.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      flags.sources.push(arg);
      continue;
    }
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const next = (): string => {
      if (inline !== undefined) return inline;
      const v = args[i + 1];
      if (v === undefined || (v.startsWith('-') && v !== '-'))
        throw new UsageError(`${name}: expected a value`);
      i++;
      return v;
    };
    readFlag(flags, name, inline, next);
  }
  return flags;
}

/** One flag: buildx's own, the CLI's files, or an input of the action. */
function readFlag(flags: Flags, name: string, inline: string | undefined, next: () => string): void {
  if (name === '-t' || name === '--tag') flags.tags.push(next());
  else if (name === '--annotation') flags.annotations.push(next());
  else if (name === '--metadata-file') flags.files.metadataFile = next();
  else if (name === '--summary-file') flags.files.summaryFile = next();
  else if (name === '--progress') {
    const v = next();
    if (!PROGRESS.includes(v))
      throw new UsageError(`--progress: expected one of ${PROGRESS.join(', ')}, got "${v}"`);
  } else {
    const input = name.startsWith('--') ? name.slice(2) : '';
    if (!(ACTION_INPUTS as readonly string[]).includes(input) || GITHUB_ONLY.has(input))
      throw new UsageError(`unknown flag ${name} (safe-imagetools --help lists them)`);
    const value = BOOLEAN_INPUTS.has(input) && inline === undefined ? 'true' : next();
    flags.values.set(input, { value, flag: name });
  }
}

/**
 * An input error or a policy error (`Input "max-attempts": ...`) worded for the door its value
 * came in by: `--max-attempts: ...` or `SAFE_IMAGETOOLS_MAX_ATTEMPTS: ...`. Pure.
 */
export function wordedFor(message: string, from: Record<string, string>): string {
  return message.replace(
    /^Input "([^"]+)": /,
    (_, input: string) => `${from[input] ?? DOOR[input] ?? `--${input}`}: `,
  );
}
