import { strict as assert } from 'node:assert';
import { subcommandOf, takeSubcommandFlags } from '../../../src/cli/subcommand_flags';
import { summarizeFeatures } from '../../../src/doctor/binaries';
import { fail, pass, warn } from '../../../src/doctor/check';
import { parseCgroupMounts } from '../../../src/doctor/cgroup_layout';
import { renderText, summarize } from '../../../src/doctor';

// Lines as the kernel prints them (this VM's hybrid layout, a v2 host, and nothing).
const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const V2 = '29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot';

describe('doctor: cgroup layout from mountinfo', () => {
  it('recognises a hybrid host, its v1 controllers and the cgroup2 mount', () => {
    const m = parseCgroupMounts(HYBRID);
    assert.equal(m.kind, 'hybrid');
    assert.deepEqual(m.v1, { cpu: '/sys/fs/cgroup/cpu', memory: '/sys/fs/cgroup/memory', blkio: '/sys/fs/cgroup/blkio' });
    assert.equal(m.v2Mount, '/sys/fs/cgroup/unified');
  });
  it('recognises a v2 host (optional fields before the separator)', () => {
    assert.deepEqual(parseCgroupMounts(V2), { kind: 'v2', v1: {}, v2Mount: '/sys/fs/cgroup' });
  });
  it('recognises nothing mounted', () => {
    assert.equal(parseCgroupMounts('22 1 0:21 / /proc rw - proc proc rw').kind, 'none');
  });
  it('unescapes mount points', () => {
    assert.equal(parseCgroupMounts('1 1 0:1 / /a\\040b rw - cgroup2 cgroup2 rw').v2Mount, '/a b');
  });
});

describe('doctor: runtime features', () => {
  it('reads what runc features says (runtime-spec features.md)', () => {
    const s = summarizeFeatures(JSON.stringify({
      mountOptions: ['rro', 'bind'],
      linux: { namespaces: ['user', 'pid'], seccomp: { enabled: true }, cgroup: { v1: true, v2: true, systemd: false }, mountExtensions: { idmap: { enabled: false } } },
    }));
    assert.deepEqual(s.supports, ['user namespaces', 'rro mounts', 'seccomp', 'cgroup v1', 'cgroup v2']);
    assert.deepEqual(s.lacks, ['idmapped mounts', 'systemd cgroups']);
  });
});

describe('doctor: report', () => {
  it('fails when any check fails, and prints the fix under it', () => {
    const r = summarize([pass('kernel', 'a', 'ok'), warn('kernel', 'b', 'meh', 'do b'), fail('files', 'c', 'bad', 'do c')]);
    assert.equal(r.ok, false);
    assert.deepEqual(r.counts, { pass: 1, warn: 1, fail: 1 });
    assert.equal(renderText(r), [
      'kernel',
      '  PASS  a         ok',
      '  WARN  b         meh',
      '                  fix: do b',
      '',
      'files',
      '  FAIL  c         bad',
      '                  fix: do c',
      '',
      '1 passed, 1 warnings, 1 failed: nori cannot work until each FAIL is fixed',
      '',
    ].join('\n'));
  });
});

describe('subcommand flags', () => {
  it('finds the subcommand after daemon flags and their values', () => {
    assert.equal(subcommandOf(['--root', '/x', 'doctor']), 'doctor');
    assert.equal(subcommandOf(['--root=/x', 'inspect', 'abc']), 'inspect');
    assert.equal(subcommandOf(['--root', 'doctor']), undefined);
  });
  it('takes only that subcommand\'s own flags out', () => {
    assert.deepEqual(takeSubcommandFlags(['doctor', '--json', '--online', '--root', '/x']), { argv: ['doctor', '--root', '/x'], own: new Set(['json', 'online']) });
    assert.deepEqual(takeSubcommandFlags(['--json']), { argv: ['--json'], own: new Set() });
  });
});
