// Content: whether a target repository already holds every manifest the index lists. Where it
// does, no buildx push is needed: the action writes the index to every tag by manifest PUT.
// Known without a request when every source is in that repository (a digest, a tag, the
// digests-dir's image); otherwise one HEAD per listed manifest there decides. Before the --dry-run
// has printed the index, the sources' own digests, looked up in the target repository, tell
// whether the first push should start alongside it (one missing: content must be moved).
// The decisions are pure; the reads go through the engine's `readDigest`.

import { type ImageRef, parseReference, repositoryOf } from '../registry/reference.js';
import type { MergeOptions } from './options.js';
import type { EngineDeps, RepositoryContent, RunView } from './types.js';

/** How many reads run at once. */
const AT_ONCE = 8;

/** The repositories the sources are in (with --append, the first tag's too: its index is a source). Pure. */
export function sourceRepositories(options: Pick<MergeOptions, 'sources' | 'append' | 'tags'>): Set<string> {
  const repos = new Set<string>();
  for (const s of options.sources) {
    try {
      repos.add(repositoryOf(parseReference(s)));
    } catch {
      repos.add(`? ${s}`); // a source the reference grammar refuses is nowhere known
    }
  }
  const first = options.tags[0];
  if (options.append && first) repos.add(repositoryOf(first));
  return repos;
}

/** The one repository every source is in, if there is one. Pure. */
export function repositoryOfSources(
  options: Pick<MergeOptions, 'sources' | 'append' | 'tags'>,
): string | undefined {
  const repos = sourceRepositories(options);
  return repos.size === 1 ? [...repos][0] : undefined;
}

/** The digests of the manifests an index lists, attestation manifests included. Pure. */
export function listedManifests(index: string): string[] {
  const { manifests } = JSON.parse(index) as { manifests?: { digest?: unknown }[] };
  return (manifests ?? []).flatMap((m) => (typeof m.digest === 'string' ? [m.digest] : []));
}

/** The distinct repositories of some tags, in order. Pure. */
export function repositoriesOf(tags: readonly ImageRef[]): ImageRef[] {
  const seen = new Map<string, ImageRef>();
  for (const t of tags) if (!seen.has(repositoryOf(t))) seen.set(repositoryOf(t), t);
  return [...seen.values()];
}

/** Runs `fn` over `items`, at most AT_ONCE at a time; true when every call is. */
async function everyAtOnce<T>(items: readonly T[], fn: (item: T) => Promise<boolean>): Promise<boolean> {
  let next = 0;
  let all = true;
  const worker = async (): Promise<void> => {
    while (all && next < items.length) if (!(await fn(items[next++]!))) all = false;
  };
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, items.length) }, worker));
  return all;
}

/** Whether `repo` (a tag of it) holds a manifest: a read that fails counts as missing. */
async function holdsManifest(deps: EngineDeps, repo: ImageRef, digest: string): Promise<boolean> {
  const ref = { domain: repo.domain, path: repo.path, digest, original: `${repositoryOf(repo)}@${digest}` };
  try {
    return (await deps.readDigest(ref)) === digest;
  } catch {
    return false;
  }
}

/** Whether the repository of `repo` holds every listed manifest: one HEAD each. */
export function holdsAll(deps: EngineDeps, repo: ImageRef, digests: readonly string[]): Promise<boolean> {
  return everyAtOnce(digests, (d) => holdsManifest(deps, repo, d));
}

/**
 * Before the index is known: whether every source's manifest may be in the repository of `repo`
 * already: a source there is; a source by digest elsewhere is when that digest answers a HEAD
 * there. A source by tag elsewhere is taken as missing (its repository is not read: moving its
 * content is the likely need). False as soon as one is missing; then buildx may start at once.
 */
export async function sourcesPresent(
  deps: EngineDeps,
  repo: ImageRef,
  sources: readonly string[],
): Promise<boolean> {
  const refs: ImageRef[] = [];
  for (const s of sources) {
    let ref: ImageRef;
    try {
      ref = parseReference(s);
    } catch {
      return false;
    }
    if (repositoryOf(ref) === repositoryOf(repo)) continue;
    if (ref.digest === undefined) return false;
    refs.push(ref);
  }
  return everyAtOnce(refs, (ref) => holdsManifest(deps, repo, ref.digest!));
}

/**
 * Which of `repos` hold every manifest of the index now: known from the sources when they are all
 * in it, else by one HEAD per listed manifest (`found`, or `how` when given: after a failed push).
 */
export async function contentOf(
  deps: EngineDeps,
  options: Pick<MergeOptions, 'sources' | 'append' | 'tags'>,
  index: string,
  repos: readonly ImageRef[],
  how: RepositoryContent['content'] = 'found',
): Promise<RepositoryContent[]> {
  const fromSources = repositoryOfSources(options);
  const digests = listedManifests(index);
  const found = await Promise.all(
    repos.map(async (r): Promise<RepositoryContent | undefined> => {
      const repository = repositoryOf(r);
      if (repository === fromSources) return { repository, content: 'sources' };
      return (await holdsAll(deps, r, digests)) ? { repository, content: how } : undefined;
    }),
  );
  return found.filter((c) => c !== undefined);
}

/**
 * Once the index is known, with tags by PUT: which repositories of the pending tags hold its
 * content already. `moving`: the repositories a push under way (the first one) moves it into,
 * not asked.
 */
export async function findContent(
  run: RunView,
  pending: readonly ImageRef[],
  moving: ReadonlySet<string>,
): Promise<RepositoryContent[]> {
  if (!run.byPut || !run.index || pending.length === 0) return [];
  const repos = repositoriesOf(pending).filter((r) => !moving.has(repositoryOf(r)));
  const found = await contentOf(run.deps, run.options, run.index, repos);
  for (const c of found) {
    const why = c.content === 'sources' ? 'the sources are there' : 'each answered a HEAD there';
    run.deps.info(
      `${c.repository} holds every manifest the index lists (${why}): no buildx push, its tags are written by manifest PUT`,
    );
  }
  return found;
}

/**
 * After a failed buildx push, with tags by PUT: the repositories of `batch` that hold every
 * listed manifest now (buildx moved it before it failed), and the tags of `batch` in them: they
 * are completed by PUT, not pushed again.
 */
export async function contentAfterFailure(
  run: RunView,
  batch: readonly ImageRef[],
): Promise<{ content: RepositoryContent[]; done: ImageRef[] }> {
  if (!run.byPut || !run.index || run.putRefused !== undefined) return { content: [], done: [] };
  const repos = repositoriesOf(batch).filter((r) => !run.hasContent(r));
  const content = await contentOf(run.deps, run.options, run.index, repos, 'after-failure');
  const now = new Set(content.map((c) => c.repository));
  return { content, done: batch.filter((t) => run.hasContent(t) || now.has(repositoryOf(t))) };
}
