// Pod sandbox rows. One row per sandbox from the moment RunPodSandbox starts work, so a crash
// half-way leaves a CREATING row that start-up recovery rolls back (every path a sandbox uses
// is derived from its id, so the row is enough to find what to undo).
//
//   (RunPodSandbox)            StopPodSandbox              RemovePodSandbox
//   CREATING ──ok──▶ READY ───────────────▶ NOTREADY ─────────────────▶ (row deleted)
//      │                │  recovery: a pinned ns or the pod init is gone ▲
//      │                └────────────────────────────────────────────────┘
//      └─failure / crash: rolled back, row deleted (the name is free again)
//
// The name key `<name>_<namespace>_<uid>_<attempt>` is UNIQUE: a live duplicate cannot exist.

import type { Db, Migration } from './types';

export const SANDBOXES_MIGRATION: Migration = {
  version: 3,
  description: 'pod sandboxes',
  sql: `
    CREATE TABLE sandboxes (
      id                TEXT PRIMARY KEY,
      name_key          TEXT NOT NULL UNIQUE,
      state             TEXT NOT NULL CHECK (state IN ('CREATING', 'READY', 'NOTREADY')),
      created_at_ns     TEXT NOT NULL,
      config            BLOB NOT NULL,
      record            TEXT NOT NULL,
      pod_init_pid      INTEGER,
      network_torn_down INTEGER NOT NULL DEFAULT 0,
      cni_result        TEXT
    ) STRICT;
  `,
};

export type SandboxRowState = 'CREATING' | 'READY' | 'NOTREADY';

export interface SandboxRow {
  id: string;
  nameKey: string;
  state: SandboxRowState;
  createdAtNs: bigint;
  /** runtime.v1 PodSandboxConfig as sent, protobuf-encoded. */
  config: Buffer;
  /** JSON of the sandbox's derived record (src/sandbox/record.ts). */
  record: string;
  podInitPid: number | null;
  networkTornDown: boolean;
  /** The CNI ADD result (raw JSON) or null (host network, or not yet attached). */
  cniResult: string | null;
}

interface RawRow {
  id: string;
  name_key: string;
  state: SandboxRowState;
  created_at_ns: string;
  config: Buffer;
  record: string;
  pod_init_pid: number | null;
  network_torn_down: number;
  cni_result: string | null;
}

function fromRaw(r: RawRow): SandboxRow {
  return {
    id: r.id,
    nameKey: r.name_key,
    state: r.state,
    createdAtNs: BigInt(r.created_at_ns),
    config: r.config,
    record: r.record,
    podInitPid: r.pod_init_pid,
    networkTornDown: r.network_torn_down !== 0,
    cniResult: r.cni_result,
  };
}

export class SandboxStore {
  constructor(private readonly db: Db) {}

  /** Inserts a CREATING row; false when the name key is taken (by the id `existingId`). */
  insert(row: SandboxRow): { ok: true } | { ok: false; existingId: string } {
    const existing = this.db.prepare<[string], { id: string }>('SELECT id FROM sandboxes WHERE name_key = ?').get(row.nameKey);
    if (existing) return { ok: false, existingId: existing.id };
    this.db
      .prepare(
        `INSERT INTO sandboxes (id, name_key, state, created_at_ns, config, record, pod_init_pid, network_torn_down, cni_result)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(row.id, row.nameKey, row.state, row.createdAtNs.toString(), row.config, row.record, row.podInitPid, row.networkTornDown ? 1 : 0, row.cniResult);
    return { ok: true };
  }

  get(id: string): SandboxRow | undefined {
    const r = this.db.prepare<[string], RawRow>('SELECT * FROM sandboxes WHERE id = ?').get(id);
    return r ? fromRaw(r) : undefined;
  }

  byNameKey(nameKey: string): SandboxRow | undefined {
    const r = this.db.prepare<[string], RawRow>('SELECT * FROM sandboxes WHERE name_key = ?').get(nameKey);
    return r ? fromRaw(r) : undefined;
  }

  all(): SandboxRow[] {
    return this.db.prepare<[], RawRow>('SELECT * FROM sandboxes ORDER BY created_at_ns, id').all().map(fromRaw);
  }

  /** Every sandbox id (no rows decoded). */
  ids(): string[] {
    return this.db.prepare<[], { id: string }>('SELECT id FROM sandboxes').all().map((r) => r.id);
  }

  update(id: string, fields: Partial<Pick<SandboxRow, 'state' | 'record' | 'podInitPid' | 'networkTornDown' | 'cniResult'>>): void {
    const sets: string[] = [];
    const vals: unknown[] = [];
    if (fields.state !== undefined) (sets.push('state = ?'), vals.push(fields.state));
    if (fields.record !== undefined) (sets.push('record = ?'), vals.push(fields.record));
    if (fields.podInitPid !== undefined) (sets.push('pod_init_pid = ?'), vals.push(fields.podInitPid));
    if (fields.networkTornDown !== undefined) (sets.push('network_torn_down = ?'), vals.push(fields.networkTornDown ? 1 : 0));
    if (fields.cniResult !== undefined) (sets.push('cni_result = ?'), vals.push(fields.cniResult));
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE sandboxes SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM sandboxes WHERE id = ?').run(id);
  }
}
