import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeContainerCgroups } from '../../../src/runtime/cgroup_cleanup';

describe('container cgroups left by a failed create (runtime/cgroup_cleanup)', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'nori-cgc-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('v1: removes the empty container dir in each hierarchy, keeps the pod and busy ones', () => {
    for (const h of ['memory', 'cpu', 'pids']) mkdirSync(join(root, h, 'kp', 'pod1', 'nori-c1'), { recursive: true });
    // "busy": a cgroup with a process cannot be rmdir'd; a non-empty dir stands in for it here
    writeFileSync(join(root, 'pids', 'kp', 'pod1', 'nori-c1', 'cgroup.procs'), '42\n');
    const removed = removeContainerCgroups('/kp/pod1/nori-c1', root);
    assert.deepEqual(removed.sort(), [join(root, 'cpu', 'kp/pod1/nori-c1'), join(root, 'memory', 'kp/pod1/nori-c1')]);
    assert.ok(existsSync(join(root, 'memory', 'kp', 'pod1')));
    assert.ok(existsSync(join(root, 'pids', 'kp', 'pod1', 'nori-c1')));
  });

  it('v2: one hierarchy at the root', () => {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory\n');
    mkdirSync(join(root, 'kp', 'nori-c2'), { recursive: true });
    assert.deepEqual(removeContainerCgroups('/kp/nori-c2', root), [join(root, 'kp/nori-c2')]);
  });

  it('leaves systemd slices, empty and escaping paths alone', () => {
    mkdirSync(join(root, 'memory', 'x'), { recursive: true });
    assert.deepEqual(removeContainerCgroups('kubepods.slice:nori:c3', root), []);
    assert.deepEqual(removeContainerCgroups('/', root), []);
    assert.deepEqual(removeContainerCgroups('/../memory/x', root), []);
    assert.ok(existsSync(join(root, 'memory', 'x')));
  });
});
