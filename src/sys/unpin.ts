// Unmounting quietly, and removing a pinned namespace file, idempotently: RemovePodSandbox may
// run many times and after a crash that happened half-way.

import * as fs from 'node:fs';

import { MNT_DETACH } from './constants';
import { isSysError } from './errors';
import type { Sys } from './types';

/** Detaches the mount at target; nothing mounted there, or no target, is fine. */
export function umountQuiet(sys: Sys, target: string): void {
  try {
    sys.umount2(target, MNT_DETACH);
  } catch (e) {
    // EINVAL: not a mount point (already unmounted); ENOENT: already deleted.
    if (!isSysError(e, 'EINVAL') && !isSysError(e, 'ENOENT')) throw e;
  }
}

/** Unmounts (lazily) and deletes a pin file; a file already unmounted or gone is fine. */
export async function unpinNamespace(sys: Sys, file: string): Promise<void> {
  umountQuiet(sys, file);
  try {
    await fs.promises.unlink(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
