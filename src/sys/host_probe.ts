// The addon's host probes (native/src/host_probe.cc): sd_notify for the systemd unit, and the
// idmapped-mount probe for `nori doctor`. Kept out of the Sys interface: neither is part of a
// pod's or container's life, and neither has a fake (their tests run against the real kernel).

import { FailedPreconditionError } from '../errors';
import { loadAddon } from './native';

interface HostProbeAddon {
  sdNotify?(socketPath: string, message: string): void;
  probeIdmappedMount?(dir: string): { ok: boolean; syscall: string; errno: number };
}

function addon(): HostProbeAddon {
  return loadAddon() as unknown as HostProbeAddon;
}

export function sdNotifyRaw(socketPath: string, message: string): void {
  const f = addon().sdNotify;
  if (!f) throw new FailedPreconditionError('native addon lacks sdNotify (run npm run build:native)');
  f(socketPath, message);
}

export interface IdmapProbe {
  ok: boolean;
  /** The step that failed (or "mount_setattr" when it worked). */
  syscall: string;
  errno: number;
}

export function probeIdmappedMount(dir: string): IdmapProbe {
  const f = addon().probeIdmappedMount;
  if (!f) throw new FailedPreconditionError('native addon lacks probeIdmappedMount (run npm run build:native)');
  return f(dir);
}
