// The cgroup files a verbose status keeps open between calls (src/inspect/cgroup_files.ts): each
// read shows what the kernel has now, not what the file held when it was opened, and a cgroup
// being removed is neither held up by them nor makes a read throw.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverPathCgroup } from '../../../src/inspect/cgroup';
import { KeptCgroupFiles } from '../../../src/inspect/cgroup_files';
import { CGROUP_MOUNT, CGROUP_V2 } from '../../helpers/cgroup';

describe('verbose status: cgroup files kept open between calls', function () {
  // A v1 pids hierarchy (this VM) or cgroup2 with pids enabled at the root (test:vm's guest).
  const name = `nori-test-keptfiles-${randomBytes(4).toString('hex')}`;
  const pidsDir = CGROUP_V2 ? join(CGROUP_MOUNT, name) : join(CGROUP_MOUNT, 'pids', name);
  let kept: KeptCgroupFiles | undefined;

  before(function () {
    if (!existsSync(CGROUP_V2 ? CGROUP_MOUNT : join(CGROUP_MOUNT, 'pids'))) this.skip();
    mkdirSync(pidsDir);
    if (!existsSync(join(pidsDir, 'pids.max'))) this.skip();
  });

  after(() => {
    kept?.close();
    if (existsSync(pidsDir)) rmdirSync(pidsDir);
  });

  const pidsMax = (view: ReturnType<KeptCgroupFiles['read']>) =>
    view.hierarchies.find((h) => h.dir === pidsDir)?.files['pids.max'];

  it('each read shows the file as the kernel has it now', () => {
    const { shape } = discoverPathCgroup(name);
    kept = new KeptCgroupFiles(shape);
    writeFileSync(join(pidsDir, 'pids.max'), '17');
    assert.equal(pidsMax(kept.read()), readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim());
    assert.equal(pidsMax(kept.read()), '17');
    writeFileSync(join(pidsDir, 'pids.max'), '23');
    assert.equal(pidsMax(kept.read()), '23', 'a second read through the same open file sees the new limit');
    writeFileSync(join(pidsDir, 'pids.max'), 'max');
    assert.equal(pidsMax(kept.read()), 'max');
  });

  it('the cgroup can be removed while they are open; a read then leaves its files out', () => {
    assert.ok(kept, 'the previous test opened them');
    rmdirSync(pidsDir);
    assert.equal(existsSync(pidsDir), false);
    assert.equal(pidsMax(kept.read()), undefined);
    kept.close();
    kept = undefined;
  });
});
