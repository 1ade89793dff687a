// A kept descriptor of a cgroup file against the real kernel: it must not keep the cgroup from
// being removed, a removed cgroup reads as gone, and one made again at the same path is read.

import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { HeldFileReader } from '../../../src/cgroups/held_files';
import { CGROUP_MOUNT, CGROUP_V2 } from '../../helpers/cgroup';

// pids.max exists in a child cgroup on both layouts: v1's pids hierarchy, v2 with pids enabled
// below the root (the test:vm guest's systemd enables it)
const parent = CGROUP_V2 ? CGROUP_MOUNT : join(CGROUP_MOUNT, 'pids');

describe('held cgroup file descriptors', () => {
  const dir = join(parent, `nori-held-test-${process.pid}`);
  const file = join(dir, 'pids.max');
  afterEach(() => {
    if (existsSync(dir)) rmdirSync(dir);
  });

  it('lets the cgroup go, reads it as gone, and reads one made again at the path', function () {
    mkdirSync(dir);
    if (!existsSync(file)) this.skip(); // no pids controller in this cgroup
    const r = new HeldFileReader({ maxHeld: 8 });
    assert.equal(r.read(file)?.trim(), 'max', 'a new cgroup has no pids limit');
    assert.equal(r.size, 1);
    rmdirSync(dir); // throws EBUSY if the kept descriptor held the cgroup
    assert.equal(r.read(file), undefined);
    assert.equal(r.size, 0, 'the stale descriptor is closed');
    mkdirSync(dir);
    assert.equal(r.read(file)?.trim(), 'max');
    assert.equal(r.size, 1);
    r.close();
  });
});
