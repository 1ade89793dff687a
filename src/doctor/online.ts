// --online: can this node reach the registries it is configured to pull from? Each one's
// /v2/ endpoint answers (200, or 401 asking for a token) when it is reachable.

import type { Config } from '../config';
import { errorMessage } from '../errors';
import { isLoopbackHost, loadRegistriesConf } from '../image/registries_conf';
import { fail, pass, type Check } from './check';

interface Target {
  host: string;
  insecure: boolean;
  why: string;
}

/** registries.conf's registries and mirrors, its search list, and docker.io (Kubernetes' default). */
export function registryTargets(config: Config): Target[] {
  const conf = loadRegistriesConf(config.registriesConf);
  const seen = new Map<string, Target>();
  const add = (host: string, insecure: boolean, why: string) => {
    const h = host === 'docker.io' ? 'registry-1.docker.io' : host.split('/')[0]!;
    if (h && !h.startsWith('*') && !seen.has(h)) seen.set(h, { host: h, insecure, why });
  };
  for (const r of conf.registries) {
    if (r.blocked) continue;
    for (const m of r.mirrors) add(m.location, m.insecure, `mirror of ${r.prefix}`);
    add(r.location || r.prefix, r.insecure, 'registries.conf');
  }
  for (const s of conf.unqualifiedSearchRegistries) add(s, false, 'unqualified-search-registries');
  const dockerBlocked = conf.registries.some((r) => r.blocked && (r.prefix === 'docker.io' || r.location === 'docker.io'));
  if (!dockerBlocked) add('docker.io', false, 'default for unqualified image names');
  return [...seen.values()];
}

async function probe(t: Target, timeoutMs: number): Promise<Check> {
  const scheme = t.insecure || isLoopbackHost(t.host.replace(/:\d+$/, '')) ? 'http' : 'https';
  const url = `${scheme}://${t.host}/v2/`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    if (res.status === 200 || res.status === 401) return pass('registries', t.host, `${url} answers ${res.status} (${t.why})`);
    return fail('registries', t.host, `${url} answers ${res.status}, not a registry API (${t.why})`, `check the location in ${'registries.conf'} or the proxy in between`);
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    return fail(
      'registries', t.host, `${url} unreachable: ${errorMessage(cause ?? e)} (${t.why})`,
      'check DNS, HTTPS_PROXY/NO_PROXY in nori\'s environment and the firewall, or configure a reachable mirror in registries.conf',
    );
  }
}

export async function registryChecks(config: Config, timeoutMs = 5000): Promise<Check[]> {
  let targets: Target[];
  try {
    targets = registryTargets(config);
  } catch (e) {
    return [fail('registries', 'registries.conf', errorMessage(e), `fix the syntax of ${config.registriesConf}`)];
  }
  return Promise.all(targets.map((t) => probe(t, timeoutMs)));
}
