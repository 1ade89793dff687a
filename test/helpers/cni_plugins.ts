// Whether the CNI plugins a suite needs are installed. Off CI a missing plugin skips the suite;
// in CI (CI=true) it fails it, so a runner that lost its plugins cannot pass by skipping.

import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Debian's plugin directory (containernetworking-plugins), where hack/setup.sh --test installs them. */
export const CNI_PLUGIN_DIR = '/usr/lib/cni';

export function cniPluginsPresent(names: string[] = ['bridge', 'host-local'], dir = CNI_PLUGIN_DIR): boolean {
  const missing = names.filter((n) => !existsSync(join(dir, n)));
  if (!missing.length) return true;
  if (process.env.CI === 'true') throw new Error(`CNI plugins missing from ${dir}: ${missing.join(', ')} (hack/setup.sh --test installs them)`);
  return false;
}
