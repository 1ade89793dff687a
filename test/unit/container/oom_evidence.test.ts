import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupReader } from '../../../src/container/cgroup_stats';
import { OomEvidence } from '../../../src/container/oom_evidence';

// memory.events as cgroup v2 writes it (Documentation/admin-guide/cgroup-v2.rst).
const events = (oomKill: number) => `low 0\nhigh 0\nmax ${oomKill * 3}\noom ${oomKill}\noom_kill ${oomKill}\noom_group_kill 0\n`;

describe('OOM evidence at exit (container/oom_evidence)', () => {
  let root: string;
  let bundle: string;
  const pod = 'kubepods.slice/kubepods-pod1.slice';
  const scope = `${pod}/nori-c1.scope`;
  const c = () => ({ bundle, cgroupPath: `/${scope}` });
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nori-oom-'));
    bundle = join(root, 'bundle');
    mkdirSync(bundle);
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids\n');
    mkdirSync(join(root, scope), { recursive: true });
    writeFileSync(join(root, pod, 'memory.events'), events(2));
    writeFileSync(join(root, scope, 'memory.events'), events(0));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('believes the container cgroup while it is there', () => {
    const oom = new OomEvidence(new CgroupReader(root), true);
    oom.noteBaseline(c());
    assert.equal(oom.oomKilled(c(), 137), false);
    writeFileSync(join(root, scope, 'memory.events'), events(1));
    assert.equal(oom.oomKilled(c(), 137), true);
  });

  it('systemd driver: a vanished scope is judged by the pod cgroup count against the baseline', () => {
    const oom = new OomEvidence(new CgroupReader(root), true);
    oom.noteBaseline(c());
    rmSync(join(root, scope), { recursive: true });
    assert.equal(oom.oomKilled(c(), 137), false, 'no kill in the pod since the container was made');
    writeFileSync(join(root, pod, 'memory.events'), events(3));
    assert.equal(oom.oomKilled(c(), 137), true);
    assert.equal(oom.oomKilled(c(), 1), false, 'an exit that was not SIGKILL is not an OOM kill');
  });

  it('cgroupfs driver: the pod count is not evidence (the container cgroup outlives the exit)', () => {
    const oom = new OomEvidence(new CgroupReader(root), false);
    oom.noteBaseline(c());
    rmSync(join(root, scope), { recursive: true });
    writeFileSync(join(root, pod, 'memory.events'), events(3));
    assert.equal(oom.oomKilled(c(), 137), false);
  });

  it("conmon's persist/oom counts in any driver", () => {
    const oom = new OomEvidence(new CgroupReader(root), false);
    mkdirSync(join(bundle, 'persist'));
    writeFileSync(join(bundle, 'persist', 'oom'), '');
    assert.equal(oom.oomKilled(c(), 137), true);
  });
});
