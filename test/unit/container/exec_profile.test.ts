import { strict as assert } from 'node:assert';
import { buildExecProfile, encodeExecProfile, type ExecProfileHost } from '../../../src/container/exec_profile';
import { seccompRules } from '../../../src/container/exec_seccomp';
import { cgroupDirsOf, cgroupMounts } from '../../../src/container/exec_profile_host';

const HOST: ExecProfileHost = {
  containerId: 'abc123',
  initPid: 4242,
  initStartTime: '987654',
  cgroupDirs: ['/sys/fs/cgroup/cpu/pod/c', '/sys/fs/cgroup/unified/pod/c'],
  seccompBpfPath: '/bundle/exec-seccomp.bpf',
};

function spec(process: Record<string, unknown> = {}, linux: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: false,
      user: { uid: 1000, gid: 2000, additionalGids: [2000, 3000], umask: 0o027 },
      args: ['sleep', '1'],
      env: ['PATH=/bin', 'A=1', 'B=2', 'A=3'],
      cwd: '/work',
      capabilities: {
        bounding: ['CAP_CHOWN', 'CAP_NET_RAW'],
        effective: ['CAP_CHOWN'],
        permitted: ['CAP_CHOWN', 'CAP_NET_RAW'],
        inheritable: [],
        ambient: ['CAP_NET_RAW', 'CAP_NOT_A_THING'],
      },
      noNewPrivileges: true,
      oomScoreAdj: -500,
      rlimits: [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 }],
      ...process,
    },
    root: { path: '/rootfs' },
    mounts: [],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/netns/x' }, { type: 'mount' }, { type: 'ipc', path: '/x' }, { type: 'uts', path: '/y' }],
      cgroupsPath: '/pod/c',
      resources: {},
      maskedPaths: ['/proc/kcore'],
      ...linux,
    },
  };
}

describe('exec profile (OCI spec → what nori-exec applies)', () => {
  it('carries the whole process spec, namespaces in runc order', () => {
    const p = buildExecProfile(spec(), HOST);
    assert.ok(p.ok, p.ok ? '' : p.reason);
    assert.deepEqual(p.records, [
      'init=4242:987654',
      'ns=ipc', 'ns=uts', 'ns=net', 'ns=pid', 'ns=mnt',
      'cgroup=/sys/fs/cgroup/cpu/pod/c', 'cgroup=/sys/fs/cgroup/unified/pod/c',
      'oom=-500',
      'keyring=_ses.abc123',
      'nnp=1',
      'umask=27',
      'uid=1000', 'gid=2000', 'groups=2000,3000',
      'cap.bnd=2001', 'cap.eff=1', 'cap.prm=2001', 'cap.inh=0', 'cap.amb=2000',
      'rlimit=7:1024:4096',
      'cwd=/work',
      // A repeated key keeps its first place with the last value (runc's os.Setenv).
      'env=PATH=/bin', 'env=A=3', 'env=B=2',
    ]);
    assert.equal(p.seccomp, undefined);
  });

  it('leaves out what the spec does not ask for', () => {
    const p = buildExecProfile(spec({ noNewPrivileges: false, oomScoreAdj: undefined, user: { uid: 0, gid: 0 }, rlimits: undefined }, { namespaces: [{ type: 'mount' }] }), HOST);
    assert.ok(p.ok);
    assert.ok(!p.records.some((r) => /^(nnp|oom|umask|rlimit)=/.test(r)));
    assert.ok(p.records.includes('groups='));
    assert.deepEqual(p.records.filter((r) => r.startsWith('ns=')), ['ns=mnt']);
  });

  it('a pod\'s user namespace: joined first, its maps (the runtime\'s business) not a reason to fall back', () => {
    const m = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const p = buildExecProfile(spec({}, {
      namespaces: [{ type: 'network', path: '/n' }, { type: 'user', path: '/u' }, { type: 'mount' }],
      uidMappings: m, gidMappings: m,
    }), HOST);
    assert.ok(p.ok, p.ok ? '' : p.reason);
    assert.deepEqual(p.records.filter((r) => r.startsWith('ns=')), ['ns=user', 'ns=net', 'ns=mnt']);
    assert.ok(p.records.includes('rootuid=100000') && p.records.includes('rootgid=100000'));
  });

  it('compiles the seccomp section and points at its program', () => {
    const p = buildExecProfile(spec({}, { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], flags: ['SECCOMP_FILTER_FLAG_LOG'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] } }), HOST);
    assert.ok(p.ok, p.ok ? '' : p.reason);
    assert.ok(p.records.includes('seccomp=/bundle/exec-seccomp.bpf'));
    assert.ok(p.records.includes('seccomp.flags=2'));
    assert.equal(p.seccomp?.rules, 'default errno 1\narch x86_64\narch x86\nrule allow 0 read 0\n');
  });

  const fallbacks: [string, Record<string, unknown>, Record<string, unknown>, RegExp][] = [
    ['a time namespace', {}, { namespaces: [{ type: 'time' }] }, /time namespace/],
    ['an AppArmor profile', { apparmorProfile: 'nori-default' }, {}, /AppArmor/],
    ['an SELinux label', { selinuxLabel: 'system_u:system_r:container_t:s0' }, {}, /SELinux/],
    ['an unknown process field', { ioPriority: { class: 'IOPRIO_CLASS_IDLE' } }, {}, /process.ioPriority/],
    ['an unknown linux field', {}, { mountLabel: 'system_u:object_r:container_file_t:s0' }, /linux.mountLabel/],
    ['intelRdt', {}, { intelRdt: {} }, /linux.intelRdt/],
    ['personality', {}, { personality: { domain: 'LINUX32' } }, /linux.personality/],
    ['an unknown rlimit', { rlimits: [{ type: 'RLIMIT_BOGUS', soft: 1, hard: 1 }] }, {}, /rlimit RLIMIT_BOGUS/],
    ['an env entry without "="', { env: ['PATH=/bin', 'BARE'] }, {}, /not KEY=VALUE/],
    ['a relative cwd', { cwd: 'tmp' }, {}, /not absolute/],
    ['a seccomp notify action', {}, { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] } }, /SCMP_ACT_NOTIFY/],
    ['a seccomp listener', {}, { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/x.sock' } }, /listenerPath/],
    ['an unknown seccomp flag', {}, { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] } }, /flag/],
  ];
  for (const [what, proc, linux, reason] of fallbacks) {
    it(`falls back to runc for ${what}`, () => {
      const p = buildExecProfile(spec(proc, linux), HOST);
      assert.equal(p.ok, false);
      assert.match(p.ok ? '' : p.reason, reason);
    });
  }

  it('ignores capability names the kernel list does not have, as runc does', () => {
    const p = buildExecProfile(spec({ capabilities: { bounding: ['CAP_CHECKPOINT_RESTORE', 'CAP_FUTURE'], effective: [], permitted: [] } }), HOST);
    assert.ok(p.ok);
    assert.ok(p.records.includes(`cap.bnd=${(1n << 40n).toString(16)}`));
    assert.ok(p.records.includes('cap.amb=0'));
  });

  it('encodes records NUL-terminated after the header', () => {
    assert.equal(encodeExecProfile(['uid=0', 'env=A=b\nc']).toString('utf8'), 'nori-exec-profile 1\0uid=0\0env=A=b\nc\0');
  });
});

describe('exec seccomp rules (runc 1.1 semantics)', () => {
  it('one rule per name; ERRNO and TRACE default to EPERM; conditions kept together', () => {
    const r = seccompRules({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' },
        { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 8, op: 'SCMP_CMP_NE' }, { index: 1, value: 3, valueTwo: 7, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    });
    assert.ok(r.ok);
    assert.equal(r.text, [
      'default allow 0',
      'rule errno 1 mkdir 0',
      'rule errno 1 mkdirat 0',
      'rule errno 38 ptrace 0',
      'rule errno 1 personality 2 0 ne 8 0 1 masked_eq 3 7',
      '',
    ].join('\n'));
  });

  it('splits conditions on the same argument into separate rules, as runc does', () => {
    const r = seccompRules({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
    });
    assert.ok(r.ok);
    assert.equal(r.text, 'default errno 38\nrule allow 0 personality 1 0 eq 0 0\nrule allow 0 personality 1 0 eq 8 0\n');
  });

  it('refuses values JSON cannot carry exactly and odd syscall names', () => {
    assert.equal(seccompRules({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 2 ** 60, op: 'SCMP_CMP_EQ' }] }] }).ok, false);
    assert.equal(seccompRules({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a b'], action: 'SCMP_ACT_ERRNO' }] }).ok, false);
    assert.equal(seccompRules({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }).ok, false);
  });
});

describe('exec profile cgroups (from /proc/<pid>/cgroup and mountinfo)', () => {
  const mountinfo = [
    '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
    '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
    '',
  ].join('\n');

  it('maps every hierarchy of a hybrid host to its directory', () => {
    const proc = '4:name=systemd:/pod/c\n3:memory:/pod/c\n2:cpu,cpuacct:/pod/c\n0::/pod/c\n';
    assert.deepEqual(cgroupDirsOf(proc, cgroupMounts(mountinfo)), [
      '/sys/fs/cgroup/systemd/pod/c', '/sys/fs/cgroup/memory/pod/c', '/sys/fs/cgroup/cpu,cpuacct/pod/c', '/sys/fs/cgroup/unified/pod/c',
    ]);
  });

  it('a pure v2 host: one directory', () => {
    const mi = '25 22 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';
    assert.deepEqual(cgroupDirsOf('0::/kubepods/pod1/c\n', cgroupMounts(mi)), ['/sys/fs/cgroup/kubepods/pod1/c']);
  });

  it('refuses a hierarchy it cannot find', () => {
    assert.throws(() => cgroupDirsOf('5:pids:/pod/c\n', cgroupMounts(mountinfo)), /no mount for cgroup hierarchy "pids"/);
  });
});
