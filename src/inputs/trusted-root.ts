// `sigstore-trusted-root`: a Sigstore trusted_root.json replacing the public-good one (a private
// Sigstore deployment, GitHub Enterprise Server, air-gapped runners). Checked here for its shape
// (JSON naming certificate authorities and transparency logs); the Sigstore libraries read it
// only when a signature is verified.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

import { InputError } from '../util/parse.js';
import { printable } from './text.js';

/** `sigstore-trusted-root`: a trusted_root.json in the workspace (or absolute), which must exist. */
export function readTrustedRoot(
  get: (name: string) => string,
  workspace: string,
): { sigstoreTrustedRoot?: string } {
  const value = get('sigstore-trusted-root').trim();
  if (value === '') return {};
  const path = isAbsolute(value) ? value : resolve(workspace, value);
  const expected = 'expected a Sigstore trusted_root.json';
  if (!existsSync(path))
    throw new InputError('sigstore-trusted-root', `"${printable(value)}" is not a file (${expected})`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InputError('sigstore-trusted-root', `cannot read "${printable(value)}" (${code})`);
  }
  const problem = trustedRootProblem(text);
  if (problem)
    throw new InputError('sigstore-trusted-root', `"${printable(value)}": ${problem} (${expected})`);
  return { sigstoreTrustedRoot: path };
}

/** What keeps a text from being a trusted_root.json: not JSON, or no CA or log to trust. Pure. */
export function trustedRootProblem(text: string): string | undefined {
  let root: { certificateAuthorities?: unknown; tlogs?: unknown };
  try {
    root = JSON.parse(text) as typeof root;
  } catch {
    return 'not JSON';
  }
  const some = (v: unknown) => Array.isArray(v) && v.length > 0;
  if (!some(root?.certificateAuthorities)) return 'it names no certificateAuthorities';
  if (!some(root.tlogs)) return 'it names no tlogs (transparency logs)';
  return undefined;
}
