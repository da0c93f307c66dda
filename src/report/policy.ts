// The policy's findings as the step reports them: each one annotated (on the input it is about)
// and kept for the summary and the `result` output; a blocking finding stops the run.

import type { Policy } from '../inputs/policy-file.js';
import type { Installed } from '../install/types.js';
import { blocking, checkActual, type Finding } from '../policy/evaluate.js';
import type { Annotator } from './annotate.js';
import { Reported } from './guard.js';
import type { PolicyInfo } from './report.js';

export class PolicyGate {
  readonly info: PolicyInfo;

  constructor(
    private readonly policy: Policy,
    private readonly annotator: Annotator,
  ) {
    this.info = { origin: policy.origin, mode: policy.mode, advisories: policy.advisories, findings: [] };
  }

  /** Reports the findings; throws Reported, with `stopped` for the log, when one of them blocks. */
  pass(findings: readonly Finding[], stopped: string): void {
    for (const f of findings) {
      const { rule, severity, message, advisory: a } = f;
      const advisory = a ? { issue: a.issue, url: a.url, fixed: a.fixed, short: a.short } : undefined;
      this.info.findings.push({ rule, severity, message, ...(advisory ? { advisory } : {}) });
      const title =
        f.rule === 'advisory' ? `known-bad buildx: ${f.advisory?.issue ?? ''}` : `buildx policy: ${f.rule}`;
      this.annotator.annotate(f.severity, f.message, { input: f.input, title });
    }
    if (blocking(findings)) throw new Reported(stopped);
  }

  /** The policy on the version that runs; what the spec check found (`found`) is not found again. */
  onVersion(located: Pick<Installed, 'version' | 'source'>, found: readonly Finding[]): Finding[] {
    return checkActual(this.policy, located.version, located.source, undefined, found);
  }

  /** Reports what onVersion found; throws Reported when one of them blocks. */
  passVersion(located: Pick<Installed, 'version'>, findings: readonly Finding[]): void {
    this.pass(
      findings,
      `buildx ${located.version} violates the policy (${this.policy.origin}); nothing was pushed`,
    );
  }
}
