// Forward-only schema migrations. Append new steps; never edit a released one. The schema
// version is SQLite's user_version, so a crash mid-migration rolls back with the transaction.

import { CONTAINERS_MIGRATION } from './container_store';
import { IMAGES_MIGRATION } from './image_store';
import { NET_LEASES_MIGRATION } from './lease_store';
import { SANDBOXES_MIGRATION } from './sandbox_store';

import type { Migration } from './types';

export type { Migration };

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'runtime key/value settings',
    sql: `
      CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
    `,
  },
  IMAGES_MIGRATION,
  SANDBOXES_MIGRATION,
  CONTAINERS_MIGRATION,
  NET_LEASES_MIGRATION,
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
