// Device nodes and the device cgroup: deny all, allow the runtime's standard nodes, then
// CRI `devices` (and every host device when privileged).

import { InvalidArgumentError } from '../../errors';
import type { Device } from '../../gen/api';
import type { HostDevice } from './types';

export interface OciDevice { path: string; type: string; major: number; minor: number; fileMode: number; uid: number; gid: number }
export interface OciDeviceRule { allow: boolean; type?: string; major?: number; minor?: number; access?: string }

/**
 * runc's and containerd's default allow list (null, zero, full, random, urandom, tty, console,
 * ptmx, pts, tun). A wildcard major or minor is left out, as the OCI spec says: runc also takes
 * -1, but crun writes it to devices.allow verbatim and the kernel refuses "c -1:-1 m".
 */
export const DEFAULT_DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

export function normalizePermissions(p: string): string {
  if (p === '') return 'rwm';
  if (!/^[rwm]+$/.test(p)) throw new InvalidArgumentError(`invalid device permissions "${p}"`);
  return ['r', 'w', 'm'].filter((c) => p.includes(c)).join('');
}

export function buildDevices(
  requested: Device[],
  privileged: boolean,
  hostDevices: HostDevice[],
  statDevice: (path: string) => HostDevice | null,
): { devices: OciDevice[]; rules: OciDeviceRule[] } {
  const byPath = new Map<string, OciDevice>();
  const rules: OciDeviceRule[] = privileged ? [{ allow: true, access: 'rwm' }] : DEFAULT_DEVICE_RULES.map((r) => ({ ...r }));
  if (privileged) {
    for (const d of hostDevices) byPath.set(d.path, toOci(d, d.path));
  }
  for (const req of requested) {
    if (!req.hostPath || !req.containerPath) throw new InvalidArgumentError('device needs host_path and container_path');
    const stat = statDevice(req.hostPath);
    if (!stat) throw new InvalidArgumentError(`device ${req.hostPath}: not a device node`);
    const access = normalizePermissions(req.permissions);
    byPath.set(req.containerPath, toOci(stat, req.containerPath));
    if (!privileged) rules.push({ allow: true, type: stat.type, major: stat.major, minor: stat.minor, access });
  }
  return { devices: [...byPath.values()], rules };
}

function toOci(d: HostDevice, path: string): OciDevice {
  return { path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid };
}
