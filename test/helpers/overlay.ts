// What nori's overlay2 layer store holds on disk, for tests that check pulls and removals leave
// exactly the layers they should.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The layer dirs (named by 64 hex digits) of the store under a nori root, sorted. */
export function layerDirs(root: string): string[] {
  return readdirSync(join(root, 'overlay2'))
    .filter((n) => /^[a-f0-9]{64}$/.test(n))
    .sort();
}
