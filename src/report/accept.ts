// The buildx of the run, accepted: its outputs and log line (./publish.ts) and the policy on the
// version it reports (./policy.ts; a finding that blocks throws Reported). At once; or, for a
// check that ran alongside the --dry-run (no finding can block then), in two steps: the findings
// are worked out once the first push has started (semver's first use costs a few ms of CPU), and
// said once the log is free of buildx sections (a workflow command inside one is not read).

import type { SerialLog } from '../exec/log.js';
import type { Installed } from '../install/types.js';
import type { Finding } from '../policy/evaluate.js';
import type { Annotator } from './annotate.js';
import type { PolicyGate } from './policy.js';
import { publishBuildx, type StepOutputs } from './publish.js';

/** Accepts the buildx now; `found`: what the spec check found, not reported again. */
export function acceptBuildx(
  located: Installed,
  gate: PolicyGate,
  found: readonly Finding[],
  out: StepOutputs,
): Installed {
  publishBuildx(located, out);
  gate.passVersion(located, gate.onVersion(located, found));
  return located;
}

/** Accepts the buildx whose check runs alongside the --dry-run, once it passed. */
export async function acceptAlongside(
  installed: Promise<Installed>,
  gate: PolicyGate,
  found: readonly Finding[],
  { annotator, log, out }: { annotator: Annotator; log: SerialLog; out: StepOutputs },
): Promise<Installed> {
  const located = await installed;
  // The engine's first push, waiting for this check, starts in the microtasks before this.
  await new Promise((resolve) => setImmediate(resolve));
  const findings = gate.onVersion(located, found);
  if (findings.length > 0) annotator.step(); // the workflow is read now, not when the log is free
  return log.whenFree(() => {
    publishBuildx(located, out);
    gate.passVersion(located, findings);
    return located;
  });
}
