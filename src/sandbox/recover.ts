// A restarted daemon's view of its pods: half-made ones (a crash during RunPodSandbox) are rolled
// back, READY ones that lost a pinned namespace or their init (a reboot empties /run) become
// NOTREADY, and pod leftovers no row knows of are removed.

import { errorMessage } from '../errors';
import { removeOrphanSandboxes } from '../recovery/orphan_sandboxes';
import type { SandboxRow } from '../store/sandbox_store';
import { isPinned, isPodInit, killPodInit } from './namespaces';
import { decodeRecord, type StoredRecord } from './record';
import { releaseSandbox, sandboxRuntimeConf, type TeardownDeps } from './teardown';

export interface RecoveredSandbox {
  row: SandboxRow;
  rec: StoredRecord;
}

/** Every READY and NOTREADY sandbox in the store, checked; CREATING ones are rolled back. */
export async function recoverSandboxes(d: TeardownDeps): Promise<RecoveredSandbox[]> {
  const kept: RecoveredSandbox[] = [];
  const ready: RecoveredSandbox[] = [];
  for (const row of d.store.all()) {
    let rec: StoredRecord;
    try {
      rec = decodeRecord(row.record);
    } catch (err) {
      d.log.error({ sandbox: row.id, err: errorMessage(err) }, 'unreadable sandbox record');
      continue;
    }
    if (row.state === 'CREATING') {
      await rollbackCreating(d, row, rec);
      continue;
    }
    kept.push({ row, rec });
    if (row.state === 'READY') ready.push({ row, rec });
  }
  // The namespace checks are a few stat calls each, made one pod after the other (see isPinned).
  for (const { row, rec } of ready) {
    try {
      const lost: string[] = [];
      for (const [type, file] of Object.entries(rec.nsPaths)) if (file && !isPinned(file)) lost.push(type);
      if (rec.nsPaths.pid && lost.length === 0 && !(await isPodInit(rec.internals.podInitPid, rec.nsPaths.pid))) lost.push('pod init');
      if (lost.length > 0) {
        d.log.warn({ sandbox: row.id, lost }, 'sandbox lost its namespaces since the last run; marking it NOTREADY');
        d.store.update(row.id, { state: 'NOTREADY' });
        row.state = 'NOTREADY';
      }
    } catch (err) {
      // One sandbox's trouble must not stop the daemon from starting.
      d.log.error({ sandbox: row.id, err: errorMessage(err) }, 'checking a sandbox after the restart failed');
    }
  }
  const rows = new Set(d.store.ids());
  await removeOrphanSandboxes({
    state: d.config.state,
    cgroupRootPrefix: d.config.cgroupRootPrefix,
    network: d.network,
    cgroups: d.cgroups,
    sys: d.sys,
    known: (id) => rows.has(id),
    log: d.log,
  });
  return kept;
}

async function rollbackCreating(d: TeardownDeps, row: SandboxRow, rec: StoredRecord): Promise<void> {
  d.log.warn({ sandbox: row.id }, 'rolling back a sandbox a crash left half-made');
  try {
    // DEL even without a cached result: a crash during ADD leaves the plugins' work (veth,
    // lease) done but nothing cached, and DEL of what was never added is fine.
    if (rec.network !== 'NODE') {
      const cached = await d.network.hasAttachment(row.id);
      await d.network.del(sandboxRuntimeConf(rec), { signal: AbortSignal.timeout(120_000) }).catch((err) => {
        if (cached) throw err; // a lease we know of: keep the row, retry at the next start
        d.log.warn({ sandbox: row.id, err: errorMessage(err) }, 'CNI DEL of a sandbox that may never have been attached failed');
      });
    }
    if (rec.nsPaths.pid) await killPodInit(d.sys, rec.internals.podInitPid, rec.nsPaths.pid, (pid) => d.cgroups.evictToRoot(pid));
    await releaseSandbox(d, row.id, rec);
  } catch (err) {
    d.log.error({ sandbox: row.id, err: errorMessage(err) }, 'rollback of a half-made sandbox failed; will retry at next start');
  }
}
