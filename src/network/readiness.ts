// NetworkReady for Status: true once the CNI conf dir holds a loadable network configuration
// whose plugins are all installed.

import type { ReadinessCheck } from '../health';
import { loadDefaultNetwork } from './cni-config';

export async function networkReadiness(confDir: string, binDirs: readonly string[]): Promise<ReadinessCheck> {
  const r = await loadDefaultNetwork(confDir, { binDirs });
  if (r.network) return { ready: true, reason: '', message: '' };
  return { ready: false, reason: 'NetworkPluginNotReady', message: `cni config not loaded: ${r.reason}` };
}
