import type { VersionRequest, VersionResponse } from '../gen/api';
import type { UnaryHandler } from './context';
import type { RuntimeDeps } from './deps';

/** The CRI version this server speaks; kubelet only checks the runtime_api_version. */
export const KUBE_API_VERSION = '0.1.0';

export function version(d: Pick<RuntimeDeps, 'version'>): UnaryHandler<VersionRequest, VersionResponse> {
  return async () => ({
    version: KUBE_API_VERSION,
    runtimeName: 'nori',
    runtimeVersion: d.version,
    runtimeApiVersion: 'v1',
  });
}
