// Linux ABI constants for mount(2), umount2(2) and the xattr calls. They are fixed by the
// kernel ABI; the integration test checks them against the addon's values.

import { InvalidArgumentError } from '../errors';

export const MS = {
  MS_RDONLY: 0x1,
  MS_NOSUID: 0x2,
  MS_NODEV: 0x4,
  MS_NOEXEC: 0x8,
  MS_SYNCHRONOUS: 0x10,
  MS_REMOUNT: 0x20,
  MS_MANDLOCK: 0x40,
  MS_DIRSYNC: 0x80,
  MS_NOSYMFOLLOW: 0x100,
  MS_NOATIME: 0x400,
  MS_NODIRATIME: 0x800,
  MS_BIND: 0x1000,
  MS_MOVE: 0x2000,
  MS_REC: 0x4000,
  MS_SILENT: 0x8000,
  MS_POSIXACL: 0x10000,
  MS_UNBINDABLE: 0x20000,
  MS_PRIVATE: 0x40000,
  MS_SLAVE: 0x80000,
  MS_SHARED: 0x100000,
  MS_RELATIME: 0x200000,
  MS_STRICTATIME: 0x1000000,
  MS_LAZYTIME: 0x2000000,
} as const;

export const MNT = {
  MNT_FORCE: 0x1,
  MNT_DETACH: 0x2,
  MNT_EXPIRE: 0x4,
  UMOUNT_NOFOLLOW: 0x8,
} as const;

export const XATTR = {
  XATTR_CREATE: 0x1,
  XATTR_REPLACE: 0x2,
} as const;

export const MS_RDONLY = MS.MS_RDONLY;
export const MS_BIND = MS.MS_BIND;
export const MS_REC = MS.MS_REC;
export const MS_REMOUNT = MS.MS_REMOUNT;
export const MS_PRIVATE = MS.MS_PRIVATE;
export const MNT_DETACH = MNT.MNT_DETACH;

export type MountFlagName = keyof typeof MS;
/** A bit mask, or flag names such as ['MS_BIND', 'MS_REC']. */
export type MountFlags = number | readonly MountFlagName[];

const PROPAGATION = MS.MS_SHARED | MS.MS_SLAVE | MS.MS_PRIVATE | MS.MS_UNBINDABLE;

export function mountFlagsToNumber(flags: MountFlags | undefined): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') {
    if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff) {
      throw new InvalidArgumentError(`mount flags ${flags} are not a 32-bit mask`);
    }
    return flags;
  }
  let mask = 0;
  for (const name of flags) {
    const bit = (MS as Record<string, number>)[name];
    if (bit === undefined) throw new InvalidArgumentError(`unknown mount flag '${name}'`);
    mask |= bit;
  }
  return mask >>> 0;
}

/** Whether a mount(2) call only changes propagation (e.g. MS_REC|MS_PRIVATE on an existing mount). */
export function isPropagationChange(mask: number): boolean {
  return (mask & PROPAGATION) !== 0 && (mask & ~(PROPAGATION | MS.MS_REC | MS.MS_SILENT)) === 0;
}
