// Bundled by bench/foundation.ts (ncc) so that the benchmark measures the classifier the action
// ships, in-process, the way the process runner feeds it: 64 KiB chunks, the chunk filter, lines.
import { CHUNK_FILTER, OutputClassifier } from '../src/buildx/classify.js';

/** Feeds `data` through the filter and the classifier as the runner does; returns the verdict. */
export function classifyChunks(data: Buffer, chunkSize = 64 * 1024): string {
  const c = new OutputClassifier();
  let partial = '';
  for (let i = 0; i < data.length; i += chunkSize) {
    const text = partial + data.subarray(i, i + chunkSize).toString('latin1');
    const nl = text.lastIndexOf('\n');
    if (nl < 0) {
      partial = text;
      continue;
    }
    const complete = text.slice(0, nl);
    partial = text.slice(nl + 1);
    if (!CHUNK_FILTER.test(complete)) continue;
    for (const line of complete.split('\n')) c.push(line);
  }
  if (partial) c.push(partial);
  const r = c.result();
  return `${r.class}: ${r.signature}`;
}
