// The process-wide Sys. Code that can take a Sys as a parameter should; getSys() is for the
// places that cannot, and setSys() lets a test swap in a FakeSys (import it from './fake').

import { NativeSys } from './native';
import type { Sys } from './types';

export * from './types';
export * from './constants';
export { isSysError, makeSysError, type SysError } from './errors';
export { sysctlNamespace, sysctlPath } from './validate';
export { NativeSys, nativeBuildDir, preloadAddon, reaperPath } from './native';
export { unpinNamespace } from './unpin';

let current: Sys | undefined;

export function getSys(): Sys {
  if (!current) current = new NativeSys();
  return current;
}

/** Replaces the process-wide Sys (tests); undefined restores the native one on next use. */
export function setSys(sys: Sys | undefined): void {
  current = sys;
}
