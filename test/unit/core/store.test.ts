import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { FailedPreconditionError } from '../../../src/errors';
import { openDb, schemaVersion, SCHEMA_VERSION } from '../../../src/store/db';
import { KvStore } from '../../../src/store/kv';

describe('state store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync('/tmp/nori-db-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the schema once, in WAL mode with foreign keys', () => {
    const db = openDb(dir);
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    new KvStore(db).set('k', 'v1');
    db.close();
    const again = openDb(dir);
    assert.equal(new KvStore(again).get('k'), 'v1', 'reopening keeps data and does not re-run migrations');
    again.close();
  });

  it('applies only the missing migrations, in order', () => {
    const m1 = [{ version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER);' }];
    openDb(dir, m1).close();
    const m2 = [...m1, { version: 2, description: 'b', sql: 'CREATE TABLE b (y INTEGER);' }];
    const db = openDb(dir, m2);
    assert.equal(schemaVersion(db), 2);
    db.close();
  });

  it('a failing migration leaves the previous schema intact', () => {
    const m1 = [{ version: 1, description: 'a', sql: 'CREATE TABLE a (x INTEGER);' }];
    openDb(dir, m1).close();
    const bad = [...m1, { version: 2, description: 'bad', sql: 'CREATE TABLE c (z INTEGER); SELECT nonsense FROM nowhere;' }];
    assert.throws(() => openDb(dir, bad));
    const raw = new Database(join(dir, 'nori.db'));
    assert.equal(raw.pragma('user_version', { simple: true }), 1);
    assert.equal(raw.prepare("SELECT count(*) n FROM sqlite_master WHERE name = 'c'").get()!.constructor, Object);
    assert.deepEqual(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'c'").get(), { n: 0 });
    raw.close();
  });

  it('refuses a schema newer than this binary with a clear error', () => {
    const raw = new Database(join(dir, 'nori.db'));
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    assert.throws(() => openDb(dir), (e: unknown) => e instanceof FailedPreconditionError && /newer than this nori/.test(e.message));
  });

  it('refuses an unwritable root with a clear error', () => {
    writeFileSync(join(dir, 'file'), '');
    assert.throws(() => openDb(join(dir, 'file', 'root')), (e: unknown) => e instanceof FailedPreconditionError && /not writable/.test(e.message));
  });
});
