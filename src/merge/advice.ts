// What to say after a failure a retry cannot fix. After an authorization failure the words depend on
// whether the Docker config holds credentials for the registry: "no credentials were found, log
// in" and "the credentials lack push permission" are different advice, and only the config can
// tell them apart (buildx prints `insufficient_scope` for both). advice() is pure: the facts come
// in as data, gathered at the edge (RegistryClient.credentialsKnown, through the engine's deps).

import type { Classification } from '../buildx/classify.js';
import { DOCKER_HUB, parseReference } from '../registry/reference.js';
import type { CredentialsKnown } from '../registry/client.js';

/** Whether the Docker config holds credentials for a registry host (`unknown`: it could not tell). */

export interface HostCredentials {
  host: string;
  credentials: CredentialsKnown;
}

/** What the failing invocation did (push tags, or pull the sources) and what is known of its hosts' credentials. */
export interface AdviceContext {
  action: 'push' | 'pull';
  hosts: readonly HostCredentials[];
}

const AUTH_SIGNATURES = new Set([
  '401 Unauthorized',
  'unauthorized',
  '403 Forbidden',
  'denied',
  'insufficient_scope',
  'oauth token 401',
  'oauth token 403',
]);

/**
 * The facts advice() needs after an authorization failure: what the Docker config holds for the
 * hosts of these references (asked of `credentialsFor`, the engine's dep; nothing is asked after
 * other failures).
 */
export async function adviceContext(
  c: Classification,
  action: AdviceContext['action'],
  references: readonly string[],
  credentialsFor: ((host: string) => Promise<CredentialsKnown>) | undefined,
): Promise<AdviceContext> {
  if (!AUTH_SIGNATURES.has(c.signature) || !credentialsFor) return { action, hosts: [] };
  const domains = new Set<string>();
  for (const r of references) {
    try {
      domains.add(parseReference(r).domain);
    } catch {
      // a bare digest: it lives with the other sources
    }
  }
  const hosts: HostCredentials[] = [];
  for (const host of domains) {
    const credentials = await credentialsFor(host).catch((): CredentialsKnown => 'unknown');
    hosts.push({ host, credentials });
  }
  return { action, hosts };
}

const list = (hosts: readonly HostCredentials[]): string => {
  const names = hosts.map((h) => h.host);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
};

function loginHint(hosts: readonly HostCredentials[]): string {
  const first = hosts[0]?.host ?? '';
  return first === DOCKER_HUB
    ? 'docker/login-action (Docker Hub is its default registry)'
    : `docker/login-action with \`registry: ${first}\``;
}

/** The words for an authorization failure, from what the Docker config says of the hosts' credentials. */
function authAdvice(c: Classification, ctx: AdviceContext): string {
  const missing = ctx.hosts.filter((h) => h.credentials === 'no');
  const found = ctx.hosts.filter((h) => h.credentials === 'yes');
  const all = ctx.hosts.length > 0 ? list(ctx.hosts) : 'the registry';
  const is401 = c.signature === '401 Unauthorized' || c.signature === 'unauthorized';
  const head = is401
    ? ' Authorization failed (401 Unauthorized):'
    : ` The registry refused the ${ctx.action} (${c.signature}):`;
  if (c.signature.startsWith('oauth token ')) {
    const status = c.signature.slice('oauth token '.length);
    return ` The registry's token server refused the credentials for ${found.length > 0 ? list(found) : all} (${status}): the password or token is wrong, expired or revoked; check the secret given to docker/login-action.`;
  }
  if (missing.length > 0) {
    return `${head} no credentials for ${list(missing)} were found in the Docker config ($DOCKER_CONFIG/config.json, default ~/.docker/config.json: auths, credsStore, credHelpers), so buildx went to the registry anonymously. Log in before this step: ${loginHint(missing)}.`;
  }
  if (found.length > 0 && found.length === ctx.hosts.length) {
    return is401
      ? `${head} the registry refused the credentials for ${list(found)} that the Docker config holds: check the username and password or token given to docker/login-action, and that they may ${ctx.action} this repository.`
      : `${head} the credentials for ${list(found)} were accepted but lack ${ctx.action} permission on this repository: give the account ${ctx.action === 'push' ? 'write' : 'read'} access, or log in with one that has it.`;
  }
  return is401
    ? `${head} log in to ${all} before this step (docker/login-action), and check that the credentials may ${ctx.action} this repository.`
    : `${head} either no credentials reached it or they lack ${ctx.action} permission on this repository; check the login to ${all} before this step (docker/login-action).`;
}

/** What to do about a failure a retry cannot fix (empty when there is nothing to say). */
export function advice(c: Classification, ctx: AdviceContext = { action: 'push', hosts: [] }): string {
  if (c.notFound) {
    return ' Check that every source reference is right and that the jobs that build them pushed them; a source pushed a moment ago by another runner is retried twice before this counts as permanent.';
  }
  if (AUTH_SIGNATURES.has(c.signature)) return authAdvice(c, ctx);
  switch (c.signature) {
    case 'invalid reference':
      return ' Check the references in sources and tags.';
    case 'TLS configuration':
      return " The registry's TLS setup is not one buildx accepts (certificate, or plain HTTP where HTTPS was expected).";
    case 'bad arguments':
      return ' This buildx does not accept the arguments this action gives it: use a newer buildx (buildx-version).';
    case 'annotation refused':
      return ' Check the annotations input: buildx imagetools create writes index: and manifest-descriptor: annotations only.';
    case 'invalid platform':
      return ' Check the platforms named in the annotations input (as in manifest-descriptor[linux/amd64]:).';
    default:
      return '';
  }
}
