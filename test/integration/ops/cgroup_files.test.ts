// The cgroup files a verbose status keeps open between calls (src/inspect/cgroup_files.ts): each
// read shows what the kernel has now, not what the file held when it was opened, and a cgroup
// being removed is neither held up by them nor makes a read throw.

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverPathCgroup, type CgroupView } from '../../../src/inspect/cgroup';
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

  /** What a verbose ask shows: the kept files' JSON text, parsed. */
  const viewOf = (files: KeptCgroupFiles) => JSON.parse(files.readJson()) as CgroupView;
  const pidsFiles = (view: CgroupView) => view.hierarchies.find((h) => h.dir === pidsDir)?.files;
  const pidsMax = (view: CgroupView) => pidsFiles(view)?.['pids.max'];

  it('each read shows the file as the kernel has it now', () => {
    const { shape } = discoverPathCgroup(name);
    kept = new KeptCgroupFiles(shape);
    writeFileSync(join(pidsDir, 'pids.max'), '17');
    assert.equal(pidsMax(viewOf(kept)), readFileSync(join(pidsDir, 'pids.max'), 'utf8').trim());
    assert.equal(pidsMax(viewOf(kept)), '17');
    writeFileSync(join(pidsDir, 'pids.max'), '23');
    assert.equal(pidsMax(viewOf(kept)), '23', 'a second read through the same open file sees the new limit');
    writeFileSync(join(pidsDir, 'pids.max'), 'max');
    assert.equal(pidsMax(viewOf(kept)), 'max');
  });

  it('the JSON text is the view the cgroup\'s discovery reads by path, with the file as the kernel has it now', () => {
    assert.ok(kept, 'the previous test opened them');
    writeFileSync(join(pidsDir, 'pids.max'), '31');
    const fromText = viewOf(kept);
    assert.equal(pidsMax(fromText), '31');
    assert.deepEqual(fromText, discoverPathCgroup(name).view);
    writeFileSync(join(pidsDir, 'pids.max'), 'max');
  });

  it('lists the pids of the cgroup and of a child cgroup made after the files were opened', async () => {
    const { shape } = discoverPathCgroup(name);
    const files = new KeptCgroupFiles(shape);
    const child = join(pidsDir, 'child');
    const sleepers = [spawn('sleep', ['30']), spawn('sleep', ['30'])];
    try {
      await Promise.all(sleepers.map((p) => new Promise((r) => p.once('spawn', r))));
      writeFileSync(join(pidsDir, 'cgroup.procs'), String(sleepers[0]!.pid));
      const inKernel = () => readFileSync(join(pidsDir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      assert.deepEqual(files.pidsUnder(pidsDir), inKernel());
      assert.deepEqual(files.pidsUnder(pidsDir), [sleepers[0]!.pid]);
      mkdirSync(child);
      writeFileSync(join(child, 'cgroup.procs'), String(sleepers[1]!.pid));
      assert.deepEqual(files.pidsUnder(pidsDir), [sleepers[0]!.pid!, sleepers[1]!.pid!].sort((a, b) => a - b), 'the child cgroup is walked');
    } finally {
      for (const p of sleepers) p.kill('SIGKILL');
      await Promise.all(sleepers.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
      files.close();
      if (existsSync(child)) rmdirSync(child);
    }
  });

  it('the cgroup can be removed while they are open; a read then leaves its files out', () => {
    assert.ok(kept, 'the previous test opened them');
    rmdirSync(pidsDir);
    assert.equal(existsSync(pidsDir), false);
    const fromText = viewOf(kept);
    assert.equal(pidsMax(fromText), undefined);
    assert.deepEqual(pidsFiles(fromText), {}, 'every file of the removed cgroup is left out, and the text stays valid JSON');
    kept.close();
    kept = undefined;
  });
});
