// Containers a crash left half-made: CreateContainer mounts the rootfs and starts conmon + the
// runtime's create before the store row is written, so a kill -9 in between leaves a bundle
// dir (with a mounted overlay), a writable layer, perhaps a created runtime container and its
// conmon — and no row. Start-up recovery removes every such piece whose id has no row. Ids come
// only from this daemon's own dirs and store, never from a host-wide listing.

import { existsSync, rmSync } from 'node:fs';
import { listDirQuiet } from '../util/fs';
import { join } from 'node:path';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import type { OciRuntime } from '../runtime/oci_runtime';
import { killConmon } from './conmon_alive';

export interface OrphanContainerDeps {
  /** nori's --state dir. */
  stateDir: string;
  containersDir: string;
  exitDir: string;
  socketDir: string;
  /** Every configured runtime handler (an orphan's handler is not recorded anywhere). */
  runtimes: OciRuntime[];
  /** Container ids that have a writable layer recorded by the image store. */
  layerIds: () => string[];
  removeLayer: (id: string) => Promise<void>;
  unmount: (target: string) => void;
  /** True for ids with a store row. */
  known: (id: string) => boolean;
  log: Logger;
}

const ID = /^[0-9a-f]{64}$/;

/** Removes every container piece whose id has no row; returns the ids cleaned. */
export async function removeOrphanContainers(d: OrphanContainerDeps): Promise<string[]> {
  const ids = new Set<string>();
  for (const n of listDirQuiet(d.containersDir)) ids.add(n);
  for (const n of listDirQuiet(d.socketDir)) ids.add(n);
  for (const n of listDirQuiet(d.exitDir)) if (!n.includes('.')) ids.add(n);
  // A handler's state root is listed only when it is nori's own (under --state): a root shared
  // with other users of runc holds containers that are none of nori's business.
  for (const rt of d.runtimes) if (rt.handler.root.startsWith(`${d.stateDir}/`)) for (const n of listDirQuiet(rt.handler.root)) ids.add(n);
  for (const n of d.layerIds()) ids.add(n);
  const cleaned: string[] = [];
  for (const id of ids) {
    if (!ID.test(id) || d.known(id)) continue;
    const bundle = join(d.containersDir, id);
    try {
      // conmon first: killed, it writes no exit file that would appear after our cleanup
      await killConmon(bundle, id);
      for (const rt of d.runtimes) {
        if (existsSync(join(rt.handler.root, id))) await rt.delete(id);
      }
      d.unmount(join(bundle, 'rootfs'));
      await d.removeLayer(id);
      rmSync(bundle, { recursive: true, force: true });
      rmSync(join(d.exitDir, id), { force: true });
      rmSync(join(d.socketDir, id), { recursive: true, force: true });
      cleaned.push(id);
    } catch (e) {
      d.log.error({ container: id, err: errorMessage(e) }, 'cleaning up a container a crash left half-made failed; will retry at next start');
    }
  }
  if (cleaned.length) d.log.warn({ containers: cleaned }, 'removed containers a crash left half-made');
  return cleaned;
}
