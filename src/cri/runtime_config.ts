import { CgroupDriver, type RuntimeConfigRequest, type RuntimeConfigResponse } from '../gen/api';
import type { UnaryHandler } from './context';
import type { RuntimeDeps } from './deps';

export function runtimeConfig(d: Pick<RuntimeDeps, 'config'>): UnaryHandler<RuntimeConfigRequest, RuntimeConfigResponse> {
  return async () => ({
    linux: { cgroupDriver: d.config.cgroupDriver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS },
  });
}
