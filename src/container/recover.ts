// Start-up recovery of the containers the store says have not exited: containers outlive the
// daemon (each runs under its own conmon), so a restart finds out what became of each.

import { join } from 'node:path';
import { errorMessage } from '../errors';
import type { Logger } from '../log';
import { liveConmonPid } from '../recovery/conmon_alive';
import { quickRuntimeState, type QuickState } from '../recovery/quick_state';
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
 * Most containers are answered synchronously from a few files and one /proc read each
 * (recoverQuickly); the rest several at a time, each bounded: one container's trouble must not
 * stop or stall the start. Only rows not known to have exited (the caller's sweep of exit files
 * recorded the exits seen while nori was down): an exited row has nothing to recover, and a
 * bound per row (a timer made and cleared) for thousands of exited rows was a good part of the
 * start; so was one for each of hundreds of healthy running containers.
 */
export async function recoverUnfinished(d: ContainerRecoveryDeps): Promise<void> {
  const rest: ContainerRow[] = [];
  for (const row of d.store.list()) {
    if (row.finishedAt !== 0n) continue;
    try {
      if (!recoverQuickly(d, row)) rest.push(row);
    } catch {
      rest.push(row); // the full path below logs what goes wrong
    }
  }
  await eachLimited(rest, RECOVERY_WIDTH, (row) =>
    withTimeout(recoverContainer(d, row), RECOVERY_TIMEOUT_MS, `recovering container ${row.id}`).catch((e) =>
      d.log.error({ container: row.id, err: errorMessage(e) }, 'recovering a container failed'),
    ),
  );
}

function quickState(d: ContainerRecoveryDeps, row: ContainerRow): QuickState | undefined {
  const rt = d.runtimeFor(row.handler);
  return quickRuntimeState({
    id: row.id, pid: row.pid, identityFile: join(row.bundle, INIT_IDENTITY_FILE), runtimePath: rt.handler.path, runtimeRoot: rt.handler.root,
  });
}

/**
 * The common case, with no runtime call and no await: runc's state is there, the recorded init
 * lives (same start time) and its conmon too. True when the row is recovered; false sends it
 * to recoverContainer, which checks it all again and handles everything else.
 */
function recoverQuickly(d: ContainerRecoveryDeps, row: ContainerRow): boolean {
  const quick = quickState(d, row);
  if (!quick || !liveConmonPid(row.bundle, row.id, quick.initParent)) return false;
  if (quick.status === 'running' && row.startedAt === 0n) d.store.update(row.id, { startedAt: nowNs() });
  return true;
}

async function recoverContainer(d: ContainerRecoveryDeps, row: ContainerRow): Promise<void> {
  if (row.finishedAt > 0n) return;
  let lost = false;
  const rt = d.runtimeFor(row.handler);
  const quick = quickState(d, row);
  const state = quick
    ? { status: quick.status }
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
  if ((state.status === 'running' || state.status === 'created') && !liveConmonPid(row.bundle, row.id, quick?.initParent)) {
    // Its conmon died while nori was down: nobody would ever write its exit file, collect
    // its logs or serve attach. Kill it now and say why, rather than report a ghost.
    await rt.kill(row.id, 'SIGKILL', true).catch(() => undefined);
    d.exits.record(row.id);
    if (d.store.get(row.id)!.finishedAt === 0n) d.exits.recordLost(row.id, 137, 'Error', 'conmon (the container monitor) died while nori was down; container killed');
  }
}
