import { accessSync, constants } from 'node:fs';
import type { RuntimeCondition, RuntimeHandler, StatusRequest, StatusResponse } from '../gen/api';
import type { Config } from '../config';
import type { UnaryHandler } from './context';
import { handlerSupportsUserns } from '../sandbox/userns';
import { hostIdmapsTmpfs } from '../sandbox/userns_host';
import { POD_CIDR_KEY, type ReadinessCheck, type RuntimeDeps } from './deps';
import { recursiveReadOnlyByHandler } from '../runtime/features';
import { rroMounter } from '../sys/rro_mount';

export function status(d: RuntimeDeps): UnaryHandler<StatusRequest, StatusResponse> {
  return async (req) => {
    const runtime = runtimeReadiness(d.config);
    const network = await d.networkStatus();
    const info: Record<string, string> = {};
    if (req.verbose) {
      info.config = JSON.stringify(d.config);
      info.podCIDR = d.kv.get(POD_CIDR_KEY) ?? '';
      info.network = JSON.stringify(network);
    }
    return {
      status: { conditions: [condition('RuntimeReady', runtime), condition('NetworkReady', network)] },
      info,
      runtimeHandlers: runtimeHandlers(d.config, await recursiveReadOnlyByHandler(d.config, () => rroMounter().available()), hostIdmapsTmpfs(d.config.state)),
      features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false },
    };
  };
}

function condition(type: string, c: ReadinessCheck): RuntimeCondition {
  return { type, status: c.ready, reason: c.ready ? '' : c.reason, message: c.ready ? '' : c.message };
}

/** Ready when conmon and the default handler's OCI runtime can be executed. */
export function runtimeReadiness(c: Config): ReadinessCheck {
  const missing: string[] = [];
  for (const bin of [c.conmon, c.runtimes[c.defaultRuntime]!.path]) {
    try {
      accessSync(bin, constants.X_OK);
    } catch {
      missing.push(bin);
    }
  }
  if (missing.length === 0) return { ready: true, reason: '', message: '' };
  return { ready: false, reason: 'RuntimeBinaryMissing', message: `cannot execute ${missing.join(', ')}` };
}

/**
 * Every configured handler, plus the default one again under the empty name: kubelet sends ""
 * for pods without a RuntimeClass, as containerd advertises. Recursive read-only mounts are
 * advertised for the handlers `rro` names (runtime/features.ts).
 */
export function runtimeHandlers(c: Config, rro: Record<string, boolean> = {}, nodeSupportsUserns = true): RuntimeHandler[] {
  const features = (name: string) => ({
    recursiveReadOnlyMounts: rro[name] ?? false,
    // Only where a pod with its own user namespace really runs (sandbox/userns.ts, userns_host.ts).
    userNamespaces: nodeSupportsUserns && handlerSupportsUserns(c.runtimes[name || c.defaultRuntime]?.path ?? ''),
  });
  const named = Object.keys(c.runtimes)
    .sort()
    .map((name) => ({ name, features: features(name) }));
  return [{ name: '', features: features('') }, ...named];
}
