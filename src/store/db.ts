// The SQLite store: opened once per daemon, WAL, foreign keys on, schema migrated forward in
// one transaction per step. A crash at any point leaves either the old or the new schema.

import Database from 'better-sqlite3';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { FailedPreconditionError } from '../errors';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations';
import { mkdirp } from '../util/fs';

export type { Db } from './types';
import type { Db } from './types';

export function openDb(rootDir: string, migrations = MIGRATIONS): Db {
  try {
    mkdirp(rootDir, 0o700);
    accessSync(rootDir, constants.W_OK);
  } catch (e) {
    throw new FailedPreconditionError(`root directory ${rootDir} is not writable: ${(e as Error).message}`);
  }
  const file = join(rootDir, 'nori.db');
  let db: Db;
  try {
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new FailedPreconditionError(`cannot open state database ${file}: ${(e as Error).message}`);
  }
  try {
    migrate(db, migrations);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db, migrations: typeof MIGRATIONS): void {
  const have = schemaVersion(db);
  const newest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (have > newest) {
    throw new FailedPreconditionError(
      `state database schema version ${have} is newer than this nori supports (${newest}); run a newer nori or move the root directory aside`,
    );
  }
  for (const m of migrations) {
    if (m.version <= have) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

export { SCHEMA_VERSION };
