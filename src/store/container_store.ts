// Container rows. The state is derived from the timestamps, never stored on its own:
//
//   CREATED  (created_at set, started_at 0)   --StartContainer-->  RUNNING
//   RUNNING  (started_at set, finished_at 0)  --exit file-------->  EXITED (finished_at, exit_code)
//   CREATED  --Stop/Remove or start failure-->  EXITED
//   UNKNOWN: `unknown` flag set when the runtime lost the container (recovery found no state).
//
// The CRI ContainerConfig is stored as its protobuf encoding, so labels, annotations and env
// values come back byte for byte.

import { ContainerConfig, ContainerState } from '../gen/api';
import type { Db, Migration } from './types';

export const CONTAINERS_MIGRATION: Migration = {
  version: 4,
  description: 'containers',
  sql: `
    CREATE TABLE containers (
      id            TEXT PRIMARY KEY,
      sandbox_id    TEXT NOT NULL,
      name_key      TEXT NOT NULL UNIQUE,
      image_ref     TEXT NOT NULL,
      image_id      TEXT NOT NULL,
      config        BLOB NOT NULL,
      handler       TEXT NOT NULL,
      bundle        TEXT NOT NULL,
      log_path      TEXT NOT NULL,
      cgroup_path   TEXT NOT NULL DEFAULT '',
      stop_signal   TEXT NOT NULL DEFAULT '',
      user_json     TEXT NOT NULL DEFAULT '',
      created_at    INTEGER NOT NULL,
      started_at    INTEGER NOT NULL DEFAULT 0,
      finished_at   INTEGER NOT NULL DEFAULT 0,
      exit_code     INTEGER NOT NULL DEFAULT 0,
      reason        TEXT NOT NULL DEFAULT '',
      message       TEXT NOT NULL DEFAULT '',
      pid           INTEGER NOT NULL DEFAULT 0,
      unknown       INTEGER NOT NULL DEFAULT 0,
      resources     TEXT NOT NULL DEFAULT ''
    ) STRICT;
    CREATE INDEX containers_by_sandbox ON containers (sandbox_id);
  `,
};

export interface ContainerRow {
  id: string;
  sandboxId: string;
  nameKey: string;
  /** The image as the caller asked for it (ContainerConfig.image.image). */
  imageRef: string;
  imageId: string;
  config: ContainerConfig;
  handler: string;
  bundle: string;
  logPath: string;
  cgroupPath: string;
  stopSignal: string;
  /** JSON of the OCI process user {uid,gid,additionalGids}. */
  userJson: string;
  createdAt: bigint;
  startedAt: bigint;
  finishedAt: bigint;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  unknown: boolean;
  /** JSON of the LinuxContainerResources last applied (create or update). */
  resources: string;
}

export function stateOf(r: Pick<ContainerRow, 'startedAt' | 'finishedAt' | 'unknown'>): ContainerState {
  if (r.finishedAt > 0n) return ContainerState.CONTAINER_EXITED;
  if (r.unknown) return ContainerState.CONTAINER_UNKNOWN;
  if (r.startedAt > 0n) return ContainerState.CONTAINER_RUNNING;
  return ContainerState.CONTAINER_CREATED;
}

interface RawRow {
  id: string;
  sandbox_id: string;
  name_key: string;
  image_ref: string;
  image_id: string;
  config: Buffer;
  handler: string;
  bundle: string;
  log_path: string;
  cgroup_path: string;
  stop_signal: string;
  user_json: string;
  created_at: bigint;
  started_at: bigint;
  finished_at: bigint;
  exit_code: bigint;
  reason: string;
  message: string;
  pid: bigint;
  unknown: bigint;
  resources: string;
}

const COLUMNS: readonly (keyof RawRow)[] = [
  'id', 'sandbox_id', 'name_key', 'image_ref', 'image_id', 'config', 'handler', 'bundle', 'log_path', 'cgroup_path', 'stop_signal',
  'user_json', 'created_at', 'started_at', 'finished_at', 'exit_code', 'reason', 'message', 'pid', 'unknown', 'resources',
];

function fromRaw(r: RawRow, decoded?: ContainerConfig): ContainerRow {
  return {
    id: r.id,
    sandboxId: r.sandbox_id,
    nameKey: r.name_key,
    imageRef: r.image_ref,
    imageId: r.image_id,
    config: decoded ?? ContainerConfig.decode(r.config),
    handler: r.handler,
    bundle: r.bundle,
    logPath: r.log_path,
    cgroupPath: r.cgroup_path,
    stopSignal: r.stop_signal,
    userJson: r.user_json,
    createdAt: BigInt(r.created_at),
    startedAt: BigInt(r.started_at),
    finishedAt: BigInt(r.finished_at),
    exitCode: Number(r.exit_code),
    reason: r.reason,
    message: r.message,
    pid: Number(r.pid),
    unknown: Number(r.unknown) !== 0,
    resources: r.resources,
  };
}

/**
 * Configs that the start-up check of a db (recovery/quarantine.ts) decoded already, row by row,
 * exactly as the store does: the store's first load takes them instead of decoding every row a
 * second time (with thousands of rows, each decode pass is a good part of the time before the
 * daemon answers). Taken once; nothing writes the table between the check and the load.
 */
const predecoded = new WeakMap<Db, Map<string, ContainerConfig>>();

export function primeDecodedConfigs(db: Db, configs: Map<string, ContainerConfig>): void {
  predecoded.set(db, configs);
}

export class ContainerStore {
  /** Rows cached in memory; the table is the durable copy. */
  private readonly rows = new Map<string, ContainerRow>();

  constructor(private readonly db: Db) {
    const pre = predecoded.get(db);
    predecoded.delete(db);
    // Without the config blobs when the start-up check decoded the configs already.
    const cols = pre ? COLUMNS.filter((c) => c !== 'config') : COLUMNS;
    const all = db.prepare(`SELECT ${cols.join(', ')} FROM containers`).safeIntegers(true).all() as RawRow[];
    for (const r of all) {
      const decoded = pre?.get(r.id);
      if (!decoded && r.config === undefined) r.config = (db.prepare('SELECT config FROM containers WHERE id = ?').get(r.id) as { config: Buffer }).config;
      this.rows.set(r.id, fromRaw(r, decoded));
    }
  }

  get(id: string): ContainerRow | undefined {
    return this.rows.get(id);
  }

  /** Full id or unique prefix. */
  find(idOrPrefix: string): ContainerRow | undefined {
    const exact = this.rows.get(idOrPrefix);
    if (exact || idOrPrefix === '') return exact;
    let hit: ContainerRow | undefined;
    for (const [id, r] of this.rows) {
      if (!id.startsWith(idOrPrefix)) continue;
      if (hit) return undefined;
      hit = r;
    }
    return hit;
  }

  byNameKey(key: string): ContainerRow | undefined {
    for (const r of this.rows.values()) if (r.nameKey === key) return r;
    return undefined;
  }

  list(): ContainerRow[] {
    return [...this.rows.values()];
  }

  /** Every id, without copying the rows (id checks run on every call naming a container). */
  ids(): Iterable<string> {
    return this.rows.keys();
  }

  insert(r: ContainerRow): void {
    this.db
      .prepare(
        `INSERT INTO containers (id, sandbox_id, name_key, image_ref, image_id, config, handler, bundle, log_path,
           cgroup_path, stop_signal, user_json, created_at, started_at, finished_at, exit_code, reason, message, pid, unknown, resources)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(
        r.id, r.sandboxId, r.nameKey, r.imageRef, r.imageId, Buffer.from(ContainerConfig.encode(r.config).finish()),
        r.handler, r.bundle, r.logPath, r.cgroupPath, r.stopSignal, r.userJson, r.createdAt, r.startedAt, r.finishedAt,
        r.exitCode, r.reason, r.message, r.pid, r.unknown ? 1 : 0, r.resources,
      );
    this.rows.set(r.id, r);
  }

  update(id: string, patch: Partial<Pick<ContainerRow, 'startedAt' | 'finishedAt' | 'exitCode' | 'reason' | 'message' | 'pid' | 'unknown' | 'resources'>>): ContainerRow {
    const cur = this.rows.get(id);
    if (!cur) throw new Error(`container ${id} not in store`);
    const next = { ...cur, ...patch };
    this.db
      .prepare('UPDATE containers SET started_at=?, finished_at=?, exit_code=?, reason=?, message=?, pid=?, unknown=?, resources=? WHERE id=?')
      .run(next.startedAt, next.finishedAt, next.exitCode, next.reason, next.message, next.pid, next.unknown ? 1 : 0, next.resources, id);
    this.rows.set(id, next);
    return next;
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    this.rows.delete(id);
  }
}
