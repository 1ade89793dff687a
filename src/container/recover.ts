// Start-up recovery of the containers the store says have not exited: containers outlive the
// daemon (each runs under its own conmon), so a restart finds out what became of each.

import { join } from 'node:path';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { liveConmonPid } from '../recovery/conmon_alive';
import { quickRuntimeState } from '../recovery/quick_state';
import type { OciRuntime } from '../runtime/oci_runtime';
import type { ContainerRow, ContainerStore } from '../store/container_store';
import { eachLimited, withTimeout } from '../util/parallel';
import { nowNs } from '../util/clock';
import type { ExitBook } from './exits';
import { INIT_IDENTITY_FILE } from './identity_file';

/** Containers recovered at once at start-up, and how long one may take before the rest go on. */
const RECOVERY_WIDTH = 8;
const RECOVERY_TIMEOUT_MS = 10_000;

export interface ContainerRecoveryDeps {
  store: ContainerStore;
  exits: ExitBook;
  runtimeFor(handler: string): OciRuntime;
  log: Logger;
}

/**
 * Several at a time, each bounded: one container's trouble must not stop or stall the start.
 * Only rows not known to have exited (the caller's sweep of exit files recorded the exits seen
 * while nori was down): an exited row has nothing to recover, and a bound per row (a timer made
 * and cleared) for thousands of exited rows was a good part of the start.
 */
export async function recoverUnfinished(d: ContainerRecoveryDeps): Promise<void> {
  const unfinished = d.store.list().filter((r) => r.finishedAt === 0n);
  await eachLimited(unfinished, RECOVERY_WIDTH, (row) =>
    withTimeout(recoverContainer(d, row), RECOVERY_TIMEOUT_MS, `recovering container ${row.id}`).catch((e) =>
      d.log.error({ container: row.id, err: errorMessage(e) }, 'recovering a container failed'),
    ),
  );
}

async function recoverContainer(d: ContainerRecoveryDeps, row: ContainerRow): Promise<void> {
  if (row.finishedAt > 0n) return;
  let lost = false;
  const rt = d.runtimeFor(row.handler);
  const quick = quickRuntimeState({
    id: row.id, pid: row.pid, identityFile: join(row.bundle, INIT_IDENTITY_FILE), runtimePath: rt.handler.path, runtimeRoot: rt.handler.root,
  });
  const state = quick
    ? { status: quick }
    : await rt.state(row.id).then(
        (s) => ((lost = s === undefined), s),
        () => undefined,
      );
  if (!state) {
    d.exits.record(row.id);
    if (d.store.get(row.id)!.finishedAt > 0n) return;
    // The runtime has no such container (its state under /run is gone: a reboot): it cannot
    // be running, and no exit file will ever come. As containerd: exited, 255, "Unknown".
    if (lost) d.exits.recordLost(row.id, 255, 'Unknown', 'the container was gone when nori restarted (node reboot?)');
    else d.store.update(row.id, { unknown: true });
    return;
  }
  if (state.status === 'running' && row.startedAt === 0n) d.store.update(row.id, { startedAt: nowNs() });
  if (state.status === 'stopped') d.exits.record(row.id);
  if ((state.status === 'running' || state.status === 'created') && !liveConmonPid(row.bundle, row.id)) {
    // Its conmon died while nori was down: nobody would ever write its exit file, collect
    // its logs or serve attach. Kill it now and say why, rather than report a ghost.
    await rt.kill(row.id, 'SIGKILL', true).catch(() => undefined);
    d.exits.record(row.id);
    if (d.store.get(row.id)!.finishedAt === 0n) d.exits.recordLost(row.id, 137, 'Error', 'conmon (the container monitor) died while nori was down; container killed');
  }
}
