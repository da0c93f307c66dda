// Pure argument builders for `buildx imagetools`. Every value has been validated by the inputs
// module; none of it starts with "-", and nothing here is ever interpreted by a shell.

export interface CreateArgs {
  sources: string[];
  tags: string[];
  annotations?: string[];
  append?: boolean;
  dryRun?: boolean;
}

export function createArgs(a: CreateArgs): string[] {
  const args = ['imagetools', 'create'];
  if (!a.dryRun) args.push('--progress=plain');
  for (const tag of a.tags) args.push('--tag', tag);
  for (const annotation of a.annotations ?? []) args.push('--annotation', annotation);
  if (a.append) args.push('--append');
  if (a.dryRun) args.push('--dry-run');
  args.push(...a.sources);
  return args;
}

/** A command line for the log: arguments quoted where needed, so it reads back unambiguously. */
export function displayCommand(file: string, args: string[]): string {
  return [file, ...args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}
