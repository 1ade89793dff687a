import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupManager, detectLayout, isCgroupMount } from '../../../src/cgroups/manager';

describe('cgroups/manager (temp dir layouts)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'nori-cg-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('v1: creates the parent in every hierarchy, copies cpuset cpus/mems down, removes only what it made', async () => {
    for (const h of ['cpu', 'memory', 'cpuset', 'unified']) mkdirSync(path.join(root, h));
    writeFileSync(path.join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
    writeFileSync(path.join(root, 'cpuset', 'cpuset.mems'), '0\n');
    mkdirSync(path.join(root, 'memory', 'kubepods')); // kubelet's, must stay
    assert.equal(detectLayout(root), 'v1');
    const m = new CgroupManager({ root });
    const created = await m.createParent('/kubepods/pod1');
    for (const h of ['cpu', 'memory', 'cpuset', 'unified']) assert.ok(existsSync(path.join(root, h, 'kubepods', 'pod1')), h);
    assert.equal(created.includes(path.join(root, 'memory', 'kubepods')), false);
    assert.equal(readFileSync(path.join(root, 'cpuset', 'kubepods', 'cpuset.cpus'), 'utf8'), '0-1');
    assert.equal(readFileSync(path.join(root, 'cpuset', 'kubepods', 'pod1', 'cpuset.mems'), 'utf8'), '0');
    // a temp dir is not cgroupfs: files stay, so clear them as the kernel would
    for (const d of ['kubepods/pod1', 'kubepods']) for (const f of ['cpuset.cpus', 'cpuset.mems']) rmSync(path.join(root, 'cpuset', d, f));
    assert.deepEqual(await m.removeDirs(created), []);
    assert.equal(existsSync(path.join(root, 'cpu', 'kubepods')), false);
    assert.ok(existsSync(path.join(root, 'memory', 'kubepods')), 'pre-existing dir kept');
    assert.equal(existsSync(path.join(root, 'memory', 'kubepods', 'pod1')), false);
  });

  it('v1: a level that exists with an empty cpuset (another pod is making it) gets the parent\'s before a child copies it', async () => {
    mkdirSync(path.join(root, 'cpuset', 'nori'), { recursive: true });
    writeFileSync(path.join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
    writeFileSync(path.join(root, 'cpuset', 'cpuset.mems'), '0\n');
    // as the kernel shows a new v1 cpuset dir: the files exist and are empty
    writeFileSync(path.join(root, 'cpuset', 'nori', 'cpuset.cpus'), '');
    writeFileSync(path.join(root, 'cpuset', 'nori', 'cpuset.mems'), '');
    const m = new CgroupManager({ root, layout: 'v1' });
    const created = await m.createParent('/nori/pod1');
    assert.deepEqual(created, [path.join(root, 'cpuset', 'nori', 'pod1')]);
    for (const d of ['nori', 'nori/pod1']) {
      assert.equal(readFileSync(path.join(root, 'cpuset', d, 'cpuset.cpus'), 'utf8'), '0-1', d);
      assert.equal(readFileSync(path.join(root, 'cpuset', d, 'cpuset.mems'), 'utf8'), '0', d);
    }
  });

  it('v1: a dir still in use is kept and reported', async () => {
    mkdirSync(path.join(root, 'pids'));
    const m = new CgroupManager({ root, layout: 'v1' });
    const created = await m.createParent('/a/b');
    writeFileSync(path.join(root, 'pids', 'a', 'b', 'busy'), '');
    assert.deepEqual(await m.removeDirs(created), [path.join(root, 'pids', 'a', 'b'), path.join(root, 'pids', 'a')]);
  });

  it('v2: one tree; each new level enables its parent\'s controllers for the subtree', async () => {
    writeFileSync(path.join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    assert.equal(detectLayout(root), 'v2');
    const m = new CgroupManager({ root });
    assert.deepEqual(await m.hierarchies(), [root]);
    const created = await m.createParent('/kubepods.slice/pod2');
    assert.deepEqual(created, [path.join(root, 'kubepods.slice'), path.join(root, 'kubepods.slice', 'pod2')]);
    assert.equal(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
    assert.deepEqual(await m.paths('/kubepods.slice/pod2'), [path.join(root, 'kubepods.slice', 'pod2')]);
  });

  it('v1: a directory that is no mounted hierarchy gets no pod level', async () => {
    for (const h of ['cpu', 'memory', 'cpu,cpuacct']) mkdirSync(path.join(root, h));
    const m = new CgroupManager({ root, layout: 'v1', isHierarchy: (dir) => path.basename(dir) !== 'cpu,cpuacct' });
    await m.createParent('/nori/pod1');
    assert.ok(existsSync(path.join(root, 'memory', 'nori', 'pod1')));
    assert.equal(existsSync(path.join(root, 'cpu,cpuacct', 'nori')), false);
  });

  it('tells cgroup mounts from other directories by the filesystem (statfs)', function () {
    if (!existsSync('/sys/fs/cgroup')) this.skip();
    // the mount root is a cgroup2 mount on a v2 host and a tmpfs holding the v1 hierarchies otherwise
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    assert.equal(isCgroupMount('/sys/fs/cgroup'), v2);
    if (!v2) assert.equal(isCgroupMount('/sys/fs/cgroup/memory'), existsSync('/sys/fs/cgroup/memory/memory.stat'));
    assert.equal(isCgroupMount(root), false);
    assert.equal(isCgroupMount(path.join(root, 'absent')), false);
  });
});
