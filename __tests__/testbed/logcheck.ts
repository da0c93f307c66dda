// Reads a step's stdout the way the runner does (workflow commands, `::stop-commands::` blocks,
// log groups) and reports every way its structure could let a child's output act or mislead:
// a child's line outside a stop-commands block, a block token used twice or never closed, a stray
// resume line, a group opened inside another, an `::endgroup::` with no group open.

export interface LogBlock {
  token: string;
  /** the group the block was opened in ('' when none was open) */
  group: string;
  lines: string[];
}

export interface LogStructure {
  /** group titles, in order */
  groups: string[];
  blocks: LogBlock[];
  problems: string[];
}

const COMMAND = /^::([A-Za-z][\w-]*)(?:\s+[^:]*)?::(.*)$/;
const RESUME = /^::[0-9a-f]{16,}::$/;

/** `isChild` tells the lines the child printed (they must all lie inside a stop-commands block). */
export function logStructure(stdout: string, isChild: (line: string) => boolean): LogStructure {
  const out: LogStructure = { groups: [], blocks: [], problems: [] };
  const seen = new Set<string>();
  let group: string | undefined;
  let block: LogBlock | undefined;
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const at = `line ${i + 1}`;
    if (block) {
      if (line.trim() === `::${block.token}::`) block = undefined;
      else block.lines.push(line);
      return;
    }
    if (isChild(line)) out.problems.push(`${at}: a child's line outside any stop-commands block: ${line}`);
    if (RESUME.test(line.trim())) {
      out.problems.push(`${at}: a resume line with no block open: ${line}`);
      return;
    }
    const cmd = COMMAND.exec(line.trimStart());
    if (!cmd) return;
    const [, name, message = ''] = cmd;
    if (name === 'group') {
      if (group !== undefined) out.problems.push(`${at}: group "${message}" opened inside "${group}"`);
      group = message;
      out.groups.push(message);
    } else if (name === 'endgroup') {
      if (group === undefined) out.problems.push(`${at}: ::endgroup:: with no group open`);
      group = undefined;
    } else if (name === 'stop-commands') {
      if (seen.has(message)) out.problems.push(`${at}: stop-commands token used twice: ${message}`);
      seen.add(message);
      block = { token: message, group: group ?? '', lines: [] };
      out.blocks.push(block);
    }
  });
  if (block) out.problems.push(`the stop-commands block ${block.token} is never closed`);
  if (group !== undefined) out.problems.push(`the group "${group}" is never closed`);
  return out;
}
