// Sandbox pieces with no store row: a quarantined row, or a row removed by hand. Every path of
// a sandbox derives from its id (src/sandbox/paths.ts) and libcni's cache (or the built-in
// network's lease table) records each attachment by id, so the pieces are found under nori's own dirs: a cached CNI attachment
// (DEL it: that frees the IP lease and the veth), pinned namespaces (the pod init is the
// process whose PID namespace is the pinned one: killed), the shm mount and the sandbox dir,
// and the default cgroup parent `/<prefix>/pod<id>` (with the pod init's child) once empty.

import { existsSync, promises as fs } from 'node:fs';
import { listDirQuiet } from '../util/fs';
import { join } from 'node:path';
import type { CgroupManager } from '../cgroups/manager';
import { errorMessage } from '../errors';
import { identify, isSameProcess } from '../proc/identity';
import type { Logger } from '../log';
import { podRuntimeConf } from '../network';
import type { PodNetwork } from '../network/pod-network';
import { sandboxPaths } from '../sandbox/paths';
import { MNT_DETACH } from '../sys/constants';
import type { Sys } from '../sys/types';
import { unpinNamespace } from '../sys/unpin';

export interface OrphanSandboxDeps {
  state: string;
  cgroupRootPrefix: string;
  network: PodNetwork;
  cgroups: CgroupManager;
  sys: Sys;
  /** True for ids with a store row. */
  known: (id: string) => boolean;
  log: Logger;
}

const ID = /^[0-9a-f]{64}$/;

/** Live processes whose PID namespace is the one pinned at `pin` (the pod init and its children). */
async function processesInPinnedPidNs(pin: string): Promise<number[]> {
  if (!existsSync(pin)) return [];
  const out: number[] = [];
  for (const p of listDirQuiet('/proc')) {
    if (/^\d+$/.test(p) && isSameProcess(Number(p), { pidNamespace: pin })) out.push(Number(p));
  }
  return out;
}

/** Waits (bounded) until none of `pids` is alive; a zombie counts as gone (it has left its cgroups). */
async function waitUntilExited(pids: readonly number[], boundMs: number): Promise<void> {
  const until = Date.now() + boundMs;
  while (pids.some((pid) => identify(pid) !== undefined) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
}

export async function removeOrphanSandboxes(d: OrphanSandboxDeps): Promise<string[]> {
  const ids = new Set<string>(listDirQuiet(join(d.state, 'sandboxes')));
  for (const t of ['user', 'net', 'ipc', 'uts', 'pid']) for (const n of listDirQuiet(join(d.state, 'ns', t))) ids.add(n);
  for (const id of await d.network.attachedIds()) ids.add(id);
  const cleaned: string[] = [];
  for (const id of ids) {
    if (!ID.test(id) || d.known(id)) continue;
    const p = sandboxPaths(d.state, id);
    try {
      if (await d.network.hasAttachment(id)) {
        // The CNI cache holds the ADD's config, args and result, the store the built-in
        // network's leases and claims: enough for DEL without the record.
        const rt = podRuntimeConf({ sandboxId: id, netns: p.ns.net, podName: '', podNamespace: '', podUid: '' });
        await d.network.del(rt, { signal: AbortSignal.timeout(120_000) });
      }
      const killed = await processesInPinnedPidNs(p.ns.pid);
      for (const pid of killed) {
        try {
          d.sys.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      // The pod init sits in the pod's cgroup: its dirs are busy until it has exited.
      await waitUntilExited(killed, 10_000);
      try {
        d.sys.umount2(p.shm, MNT_DETACH);
      } catch {
        // not mounted
      }
      for (const f of Object.values(p.ns)) await unpinNamespace(d.sys, f);
      await fs.rm(p.dir, { recursive: true, force: true });
      // its pod-init cgroup and its own level; the prefix level goes with the last pod
      await d.cgroups.removeDefaultPodCgroups(d.cgroupRootPrefix, id).catch(() => undefined);
      cleaned.push(id);
    } catch (e) {
      d.log.error({ sandbox: id, err: errorMessage(e) }, 'cleaning up a sandbox without a store row failed; will retry at next start');
    }
  }
  if (cleaned.length) d.log.warn({ sandboxes: cleaned }, 'removed sandbox pieces that had no store row');
  return cleaned;
}
