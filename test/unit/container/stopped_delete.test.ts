import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteStoppedInProcess } from '../../../src/runtime/stopped_delete';

const ID = 'ab'.repeat(32);

describe('deleting a stopped runc container in-process (runtime/stopped_delete)', () => {
  let dir: string;
  let cg: string;
  let rt: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-sdel-'));
    cg = join(dir, 'cgroup');
    rt = join(dir, 'runc');
    mkdirSync(join(rt, ID), { recursive: true });
    writeFileSync(join(rt, ID, 'state.json'), '{}');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('v1: removes the container cgroup in every hierarchy (symlinked names too) and the state dir', () => {
    for (const h of ['memory', 'cpu,cpuacct', 'pids']) mkdirSync(join(cg, h, 'kp', 'pod1', `nori-${ID}`), { recursive: true });
    symlinkSync('cpu,cpuacct', join(cg, 'cpu'));
    mkdirSync(join(cg, 'blkio')); // a hierarchy the container has no cgroup in
    assert.equal(deleteStoppedInProcess(rt, ID, `/kp/pod1/nori-${ID}`, cg), true);
    for (const h of ['memory', 'cpu,cpuacct', 'pids']) {
      assert.ok(!existsSync(join(cg, h, 'kp', 'pod1', `nori-${ID}`)), h);
      assert.ok(existsSync(join(cg, h, 'kp', 'pod1')), `the pod's ${h} cgroup stays`);
    }
    assert.ok(!existsSync(join(rt, ID)));
  });

  it('gives up, keeping the state dir, when a cgroup cannot be removed (a process or a child cgroup in it)', () => {
    mkdirSync(join(cg, 'memory', 'kp', `nori-${ID}`, 'child'), { recursive: true });
    assert.equal(deleteStoppedInProcess(rt, ID, `/kp/nori-${ID}`, cg), false);
    assert.ok(existsSync(join(rt, ID, 'state.json')), 'left for the runtime delete');
  });

  it('leaves systemd-driver paths, odd paths and odd ids to the runtime', () => {
    assert.equal(deleteStoppedInProcess(rt, ID, `kubepods.slice:nori:${ID}`, cg), false);
    assert.equal(deleteStoppedInProcess(rt, ID, '/kp/../etc', cg), false);
    assert.equal(deleteStoppedInProcess(rt, ID, '/', cg), false);
    assert.equal(deleteStoppedInProcess(rt, '../x', '/kp/c', cg), false);
    assert.ok(existsSync(join(rt, ID, 'state.json')));
  });

  it('v2: one unified tree', () => {
    mkdirSync(cg);
    writeFileSync(join(cg, 'cgroup.controllers'), 'memory pids\n');
    mkdirSync(join(cg, 'kp', `nori-${ID}`), { recursive: true });
    assert.equal(deleteStoppedInProcess(rt, ID, `/kp/nori-${ID}`, cg), true);
    assert.ok(!existsSync(join(cg, 'kp', `nori-${ID}`)));
    assert.ok(existsSync(join(cg, 'kp')));
  });
});
