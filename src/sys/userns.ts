// The kernel side of pods with their own user namespace (hostUsers: false): creating the user
// namespace with the namespaces it owns, and idmapped mounts. Beside Sys (types.ts) rather than
// in it: only the sandbox and container code of user-namespaced pods need it. NativeUsernsSys
// calls native/src/{userns,idmap}.cc; FakeUsernsSys (userns_fake.ts) is for unit tests.

import { InvalidArgumentError } from '../errors';
import { loadAddon } from './native';
import type { NamespacePaths, SysctlList } from './types';
import { validatePin } from './validate';

/** One range of a uid or gid map: container ids [containerId, containerId+length) → host ids. */
export interface IdRange {
  containerId: number;
  hostId: number;
  length: number;
}

export interface PinUserNamespaceOptions {
  /** Pin file of the new user namespace (created if missing). */
  user: string;
  /** Namespaces created inside it (so it owns them), each pinned on its file. */
  targets: NamespacePaths;
  uidMappings: readonly IdRange[];
  gidMappings: readonly IdRange[];
  hostname?: string;
  /** Default: true when targets.net is given. */
  loopbackUp?: boolean;
  sysctls?: SysctlList;
}

export interface UsernsSys {
  /**
   * Creates a user namespace with the given maps, then net/ipc/uts inside it, configures those
   * (hostname, lo, sysctls: as the namespace's root) and pins all of them. On failure nothing
   * stays mounted and files it created are removed. Undo: umount2(MNT_DETACH) + unlink each.
   */
  pinUserNamespace(opts: PinUserNamespaceOptions): Promise<void>;
  /**
   * Mounts an idmapped clone of `source` (a directory or a file; its submounts too when
   * `recursive`) on `target`, created as a directory or an empty file when missing; owners read
   * through the maps of the user namespace pinned at `usernsPath`. Undo: umount2(MNT_DETACH).
   */
  idmapMount(source: string, target: string, usernsPath: string, recursive: boolean): void;
}

interface UsernsAddon {
  pinUserNamespace?(opts: {
    user: string;
    targets: NamespacePaths;
    uidMappings: IdRange[];
    gidMappings: IdRange[];
    hostname?: string;
    loopbackUp?: boolean;
    sysctls?: Array<[string, string]>;
  }): Promise<void>;
  idmapMount?(source: string, target: string, usernsPath: string, recursive: boolean): void;
}

function checkRanges(ranges: readonly IdRange[], what: string): void {
  if (ranges.length === 0) throw new InvalidArgumentError(`${what} must not be empty`);
  for (const r of ranges) {
    for (const k of ['containerId', 'hostId', 'length'] as const) {
      const v = r[k];
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(`${what}.${k} ${v} is not a 32-bit id`);
    }
    if (r.length === 0) throw new InvalidArgumentError(`${what}.length must be > 0`);
    if (r.hostId + r.length > 0x100000000 || r.containerId + r.length > 0x100000000) {
      throw new InvalidArgumentError(`${what} range ${r.containerId}:${r.hostId}:${r.length} overflows 32 bits`);
    }
  }
}

/** Checks shared by the native and the fake implementation. */
export function validatePinUserns(opts: PinUserNamespaceOptions): void {
  if (!opts.user || opts.user.includes('\0')) throw new InvalidArgumentError('user must be a non-empty path');
  if ('user' in opts.targets) throw new InvalidArgumentError('targets.user: the user namespace pin is `user`');
  checkRanges(opts.uidMappings, 'uidMappings');
  checkRanges(opts.gidMappings, 'gidMappings');
  if (Object.keys(opts.targets).length > 0) validatePin(opts);
}

export class NativeUsernsSys implements UsernsSys {
  private get n(): UsernsAddon {
    return loadAddon() as unknown as UsernsAddon;
  }

  async pinUserNamespace(opts: PinUserNamespaceOptions): Promise<void> {
    validatePinUserns(opts);
    const pin = this.n.pinUserNamespace;
    if (!pin) throw new InvalidArgumentError('native addon lacks pinUserNamespace (run npm run build:native)');
    await pin({
      user: opts.user,
      targets: { ...opts.targets },
      uidMappings: opts.uidMappings.map((r) => ({ ...r })),
      gidMappings: opts.gidMappings.map((r) => ({ ...r })),
      hostname: opts.hostname,
      loopbackUp: opts.loopbackUp ?? opts.targets.net !== undefined,
      sysctls: (opts.sysctls ?? []).map(([k, v]) => [k, v]),
    });
  }

  idmapMount(source: string, target: string, usernsPath: string, recursive: boolean): void {
    const mount = this.n.idmapMount;
    if (!mount) throw new InvalidArgumentError('native addon lacks idmapMount (run npm run build:native)');
    mount(source, target, usernsPath, recursive);
  }
}
