// The buildx that ran and the policy's verdict, as pure builders: version, source, path, sha256;
// then each finding once, an advisory as one short line (its issue linked, what happens, the fix).

import type { SignatureInfo } from '../buildx/signing.js';
import type { AdvisoryRef, BuildxInfo, PolicyFinding, PolicyInfo } from './report.js';
import { esc, plural } from './words.js';

export function buildxTable(buildx: BuildxInfo): string[] {
  return [
    '| buildx | |',
    '| --- | --- |',
    `| version | \`${buildx.version}\` |`,
    `| source | ${buildx.source}${buildx.resolved ? ` (${esc(buildx.resolved)})` : ''} |`,
    `| path | \`${buildx.path}\` |`,
    ...(buildx.checksum ? [`| sha256 | \`${buildx.checksum}\` |`] : []),
    ...(buildx.signature ? signatureRows(buildx.signature) : []),
  ];
}

/** Who signed the binary (workflow, ref, OIDC issuer) and its transparency-log entry, linked when public. */
function signatureRows(s: SignatureInfo): string[] {
  const entry = s.logUrl ? `[${esc(s.logIndex)}](${s.logUrl})` : `${esc(s.logIndex)} (${esc(s.trustRoot)})`;
  return [
    `| signed by | \`${esc(s.workflow)}\` at \`${esc(s.ref)}\` (${esc(s.issuer)}), Sigstore signature verified |`,
    `| transparency log | entry ${entry} |`,
  ];
}

/** The policy's verdict in one line. */
export function policyVerdict(p: PolicyInfo): string {
  const errors = p.findings.filter((f) => f.severity === 'error').length;
  const warnings = p.findings.length - errors;
  const what =
    p.origin === 'default'
      ? 'no policy (advisories warn)'
      : `policy ${p.origin} (${p.mode}, advisories ${p.advisories})`;
  const verdict =
    p.findings.length === 0
      ? 'passed'
      : [errors ? plural(errors, 'violation') : '', warnings ? plural(warnings, 'warning') : '']
          .filter(Boolean)
          .join(', ');
  return `${what}: ${verdict}`;
}

/** `[docker/buildx#3503](url) crash: concurrent map writes while copying sources; fixed in 0.30.1` */
export function advisoryLine(a: AdvisoryRef): string {
  const fix = a.fixed ? `fixed in ${a.fixed}` : 'not fixed yet';
  return `[${esc(a.issue)}](${a.url}) ${esc(a.short)}; ${fix}`;
}

const findingLine = (f: PolicyFinding): string =>
  `- ${f.severity}: ${f.advisory ? advisoryLine(f.advisory) : esc(f.message)}`;

/** The verdict, then each finding once (at most 20). */
export function policyLines(p: PolicyInfo): string[] {
  return [`Policy: ${esc(policyVerdict(p))}`, ...p.findings.slice(0, 20).map(findingLine)];
}
