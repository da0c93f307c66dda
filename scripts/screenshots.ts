// Screenshots of the job summary as GitHub shows it, for the README: the same three real runs as
// the render test (__tests__/testbed/summary-runs.ts), rendered by __tests__/testbed/render.ts
// (GFM, GitHub's markdown CSS, Debian's Chromium, a 1012 px column) into docs/summary-<run>.png.
//
// Run with Node 24 (it runs TypeScript directly): `npm run screenshots`, after `npm run testbed`.
import { statSync } from 'node:fs';
import path from 'node:path';

import rebundle from '../__tests__/testbed/bundle.ts';
import { repoRoot } from '../__tests__/testbed/paths.ts';
import { COLUMN_PX, startRenderer } from '../__tests__/testbed/render.ts';
import { runSummaryScenarios, scenarioProblem } from '../__tests__/testbed/summary-runs.ts';

rebundle(); // dist/ from src/, unless it is already the bundle of src/ as it is
const renderer = await startRenderer();
try {
  for (const run of await runSummaryScenarios()) {
    const problem = scenarioProblem(run);
    if (problem) throw new Error(problem);
    const file = path.join(repoRoot, 'docs', `summary-${run.scenario}.png`);
    const page = await renderer.render(run.run.summary, { screenshot: file });
    const wide = page.overflows.map((o) => `${o.tag} ${o.width}px (${o.how})`).join(', ');
    process.stdout.write(
      `${path.relative(repoRoot, file)}: ${page.height}px high, ${Math.round(statSync(file).size / 1024)} KB; ` +
        `${wide ? `wider than ${COLUMN_PX}px: ${wide}` : `fits ${COLUMN_PX}px`}\n`,
    );
  }
} finally {
  await renderer.close();
}
