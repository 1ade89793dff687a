// Recursive read-only bind mounts made by nori (native/src/rro_mount.cc), for runtimes without
// the `rro` mount option. Kept apart from the Sys interface: only the container mount
// preparation uses it, and unit tests swap in FakeRroMounter (./rro_mount_fake.ts).

import { FailedPreconditionError } from '../errors';
import { loadAddon } from './native';

export interface RroMounter {
  /** Whether the kernel can make a mount tree read-only recursively (mount_setattr, 5.12+). */
  available(): boolean;
  /**
   * Mounts a private, recursively read-only copy of the whole mount tree at `source` onto
   * `target` (an existing directory, or file for a file source).
   */
  bindRecursiveReadOnly(source: string, target: string): void;
}

interface RroAddon {
  /** Absent from addons built before native/src/rro_mount.cc. */
  bindRecursiveReadOnly?(source: string, target: string): void;
  mountSetattrAvailable?(): boolean;
}

export class NativeRroMounter implements RroMounter {
  private cached: boolean | undefined;

  available(): boolean {
    if (this.cached === undefined) {
      try {
        this.cached = (loadAddon() as unknown as RroAddon).mountSetattrAvailable?.() ?? false;
      } catch {
        this.cached = false;
      }
    }
    return this.cached;
  }

  bindRecursiveReadOnly(source: string, target: string): void {
    const fn = (loadAddon() as unknown as RroAddon).bindRecursiveReadOnly;
    if (!fn) throw new FailedPreconditionError('native addon lacks bindRecursiveReadOnly (run npm run build:native)');
    fn(source, target);
  }
}

let shared: RroMounter | undefined;

/** The process-wide mounter (the native one unless a test set another). */
export function rroMounter(): RroMounter {
  return (shared ??= new NativeRroMounter());
}

export function setRroMounter(m: RroMounter | undefined): void {
  shared = m;
}
