// Process capabilities: containerd's default set, CRI add/drop (incl. "ALL") and ambient caps.

import { InvalidArgumentError } from '../../errors';
import type { Capability } from '../../gen/api';
import type { OciProcess } from './types';

/** Every capability by number (linux/capability.h up to CAP_CHECKPOINT_RESTORE = 40). */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** containerd's default set (the same as Docker's). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Names of the bits set in a hex mask such as CapBnd in /proc/self/status. */
export function parseCapabilityMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** "net_raw", "NET_RAW" and "CAP_NET_RAW" all name CAP_NET_RAW; unknown names are rejected. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw new InvalidArgumentError(`unknown capability "${name}"`);
  return full;
}

const isAll = (c: string): boolean => c.trim().toUpperCase() === 'ALL';

/**
 * Applies CRI add/drop in containerd's order: add ALL, drop ALL, then individual adds, then
 * individual drops (so add ALL + drop CHOWN is everything but CHOWN, and drop ALL + add X is X).
 * Ambient caps are also added to the other sets, since the kernel only keeps an ambient cap
 * that is permitted and inheritable. `available` is what the daemon holds: capabilities outside
 * it cannot be granted (capset fails), so they are left out with a warning.
 */
export function buildCapabilities(
  caps: Capability | undefined,
  privileged: boolean,
  available: string[],
  warnings: string[],
): NonNullable<OciProcess['capabilities']> {
  let set: string[];
  let ambient: string[] = [];
  if (privileged) {
    set = [...available];
  } else {
    set = [...DEFAULT_CAPABILITIES];
    const add = caps?.addCapabilities ?? [];
    const drop = caps?.dropCapabilities ?? [];
    if (add.some(isAll)) set = [...available];
    if (drop.some(isAll)) set = [];
    for (const c of add.filter((c) => !isAll(c))) set.push(normalizeCapability(c));
    const dropped = new Set(drop.filter((c) => !isAll(c)).map(normalizeCapability));
    set = set.filter((c) => !dropped.has(c));
    ambient = (caps?.addAmbientCapabilities ?? []).map(normalizeCapability);
    set.push(...ambient);
  }
  const unavailable = [...new Set(set.filter((c) => !available.includes(c)))];
  if (unavailable.length > 0) warnings.push(`capabilities not held by the runtime, left out: ${unavailable.join(', ')}`);
  const ordered = ALL_CAPABILITIES.filter((c) => set.includes(c) && available.includes(c));
  const amb = ALL_CAPABILITIES.filter((c) => ambient.includes(c) && available.includes(c));
  const out: NonNullable<OciProcess['capabilities']> = {
    bounding: ordered,
    effective: [...ordered],
    permitted: [...ordered],
  };
  if (amb.length > 0) {
    out.inheritable = [...amb];
    out.ambient = [...amb];
  }
  return out;
}
