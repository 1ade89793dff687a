import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../src/store/db';
import { ImageStore } from '../../../src/store/image_store';

// The container-layer ids are kept in memory per database (the writable-layer loop reads them
// on every turn); every ImageStore over one Db must see the same, current set.
describe('image store: container-layer ids in memory', () => {
  let dir: string;
  let db: Db;
  const IMG = 'sha256:' + 'a'.repeat(64);
  const id = (c: string) => c.repeat(64);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-imgids-'));
    db = openDb(dir);
    new ImageStore(db).putImage({ id: IMG, size: 1, config: '{}', manifestDigest: 'sha256:' + 'b'.repeat(64), layers: [], repoTags: [], repoDigests: [] });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the rows already in the table, then follows adds and removes by any store over the db', () => {
    db.prepare('INSERT INTO container_layers (container_id, image_id) VALUES (?, ?)').run(id('1'), IMG);
    const a = new ImageStore(db);
    const live = a.containerIds();
    assert.deepEqual([...live], [id('1')]);
    const b = new ImageStore(db);
    b.addContainer(id('2'), IMG);
    assert.deepEqual([...live].sort(), [id('1'), id('2')]);
    assert.deepEqual(a.containers().sort(), [id('1'), id('2')]);
    b.removeContainer(id('1'));
    assert.deepEqual([...a.containerIds()], [id('2')]);
    // the memory agrees with the table
    const rows = db.prepare('SELECT container_id FROM container_layers').all() as Array<{ container_id: string }>;
    assert.deepEqual(rows.map((r) => r.container_id), [id('2')]);
  });

  it('a failed add (an image that is not recorded) leaves the set as the table', () => {
    const s = new ImageStore(db);
    assert.deepEqual(s.containers(), []);
    assert.throws(() => s.addContainer(id('3'), 'sha256:' + 'f'.repeat(64)));
    assert.deepEqual(s.containers(), []);
  });
});
