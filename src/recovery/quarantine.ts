// One bad store record must never stop the daemon from starting. Before any subsystem loads its
// rows, each sandbox and container row is decoded the way the subsystems will decode it; a row
// that fails is written, columns and all, to <root>/quarantine/<table>-<id>.json for an operator
// to look at, deleted from its table, and logged. A quarantined container's pieces are found by
// id under nori's own dirs and removed by the orphan sweep (src/recovery/orphan_containers.ts);
// a quarantined sandbox's network cannot be torn down without its record and is left alone.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors';
import { ContainerConfig, PodSandboxConfig } from '../gen/api';
import type { Logger } from '../log';
import { decodeRecord } from '../sandbox/record';
import type { Db } from '../store/types';
import { primeDecodedConfigs } from '../store/container_store';
import { mkdirp } from '../util/fs';

export interface QuarantinedRow {
  table: string;
  id: string;
  error: string;
  file: string;
}

type Raw = Record<string, unknown>;

function checkSandbox(r: Raw): void {
  if (typeof r.id !== 'string' || !/^[0-9a-f]{64}$/.test(r.id)) throw new Error('bad id');
  BigInt(r.created_at_ns as string);
  PodSandboxConfig.decode(r.config as Buffer);
  const rec = decodeRecord(r.record as string);
  if (rec.id !== r.id) throw new Error(`record is of sandbox ${String(rec.id)}`);
  if (typeof rec.nsPaths !== 'object' || rec.nsPaths === null) throw new Error('record has no nsPaths');
  const i = rec.internals;
  if (typeof i !== 'object' || i === null || !Array.isArray(i.cgroupCreated) || !Array.isArray(i.portMappings)) throw new Error('record has no internals');
  if (typeof rec.network !== 'string' || typeof rec.cgroupParent !== 'string' || typeof rec.shmPath !== 'string') throw new Error('record lacks network, cgroupParent or shmPath');
}

function checkContainer(r: Raw, decoded: Map<string, ContainerConfig>): void {
  if (typeof r.id !== 'string' || !/^[0-9a-f]{64}$/.test(r.id)) throw new Error('bad id');
  const c = ContainerConfig.decode(r.config as Buffer);
  if (!c.metadata?.name) throw new Error('config has no metadata.name');
  if (typeof r.bundle !== 'string' || !r.bundle) throw new Error('no bundle');
  decoded.set(r.id, c);
}

/** Per table: the columns its check reads (the whole row is read only for a bad one), the check. */
const CHECKS: Record<string, { columns: string; check: (r: Raw, decoded: Map<string, ContainerConfig>) => void }> = {
  sandboxes: { columns: '*', check: checkSandbox },
  containers: { columns: 'id, config, bundle', check: checkContainer },
};

function jsonable(r: Raw): Raw {
  const out: Raw = {};
  for (const [k, v] of Object.entries(r)) out[k] = Buffer.isBuffer(v) ? { base64: v.toString('base64') } : typeof v === 'bigint' ? v.toString() : v;
  return out;
}

/**
 * Moves every undecodable sandbox/container row out of the store; returns what it moved. The
 * container configs it decoded go to the container store's first load (primeDecodedConfigs).
 */
export function quarantineBadRows(db: Db, root: string, log: Logger): QuarantinedRow[] {
  const out: QuarantinedRow[] = [];
  const decoded = new Map<string, ContainerConfig>();
  for (const [table, { columns, check }] of Object.entries(CHECKS)) {
    const rows = db.prepare(`SELECT rowid AS _rowid, ${columns} FROM ${table}`).safeIntegers(true).all() as Raw[];
    for (const checked of rows) {
      try {
        check(checked, decoded);
        continue;
      } catch (e) {
        const r = (db.prepare(`SELECT rowid AS _rowid, * FROM ${table} WHERE rowid = ?`).safeIntegers(true).get(checked._rowid) as Raw | undefined) ?? checked;
        const dir = join(root, 'quarantine');
        mkdirp(dir, 0o700);
        const id = typeof r.id === 'string' && /^[\w.-]{1,128}$/.test(r.id) ? r.id : `rowid-${String(r._rowid)}`;
        const file = join(dir, `${table}-${id}-${Date.now()}.json`);
        const error = errorMessage(e);
        writeFileSync(file, JSON.stringify({ table, error, quarantinedAt: new Date().toISOString(), row: jsonable(r) }, null, 2), { mode: 0o600 });
        db.prepare(`DELETE FROM ${table} WHERE rowid = ?`).run(r._rowid);
        log.error({ table, id, err: error, file }, 'unreadable store record quarantined; the daemon starts without it');
        out.push({ table, id, error, file });
      }
    }
  }
  primeDecodedConfigs(db, decoded);
  return out;
}
