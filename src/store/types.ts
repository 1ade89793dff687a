// Types every store module shares. A leaf: it imports nothing from the store, so the stores can
// use it while migrations.ts imports their migrations (no cycle).

import type Database from 'better-sqlite3';

export type Db = Database.Database;

export interface Migration {
  version: number;
  description: string;
  sql: string;
}
