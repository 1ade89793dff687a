// Whole-spec tests: one full golden spec for a plain container, then what each typical
// configuration changes relative to it.

import { strict as assert } from 'node:assert';
import { buildOciSpec } from '../../../../src/container/spec/build';
import { ALL_CAPABILITIES, DEFAULT_CAPABILITIES } from '../../../../src/container/spec/capabilities';
import { DEFAULT_DEVICE_RULES } from '../../../../src/container/spec/devices';
import { DEFAULT_PATH } from '../../../../src/container/spec/env';
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../../../src/container/spec/masked_paths';
import { InvalidArgumentError } from '../../../../src/errors';
import { NamespaceMode, SecurityProfile_ProfileType } from '../../../../src/gen/api';
import type { HostDevice } from '../../../../src/container/spec/types';
import { defaults, input, sandbox } from './fixtures';

const POD_NS = [
  { type: 'network', path: '/run/nori/ns/net-sb1' },
  { type: 'ipc', path: '/run/nori/ns/ipc-sb1' },
  { type: 'uts', path: '/run/nori/ns/uts-sb1' },
  { type: 'mount' },
];
const caps = ALL_CAPABILITIES.filter((c) => DEFAULT_CAPABILITIES.includes(c));

describe('container spec: buildOciSpec', () => {
  it('plain container: golden spec', () => {
    const { spec, warnings } = buildOciSpec(input({ command: ['sleep'], args: ['10'], envs: [{ key: 'A', value: Buffer.from('1') }] }));
    assert.deepEqual(warnings, []);
    assert.deepEqual(spec, {
      ociVersion: '1.0.2-dev',
      process: {
        terminal: false,
        user: { uid: 0, gid: 0, additionalGids: [0, 10] },
        args: ['sleep', '10'],
        env: ['PATH=/usr/bin:/bin', 'HOSTNAME=pod1-host', 'A=1'],
        cwd: '/',
        capabilities: { bounding: caps, effective: caps, permitted: caps },
        noNewPrivileges: false,
        oomScoreAdj: 0,
      },
      root: { path: '/var/lib/nori/c1/rootfs', readonly: false },
      hostname: 'pod1-host',
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
        { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/etc/hostname', type: 'bind', source: '/var/lib/nori/sb1/hostname', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/etc/hosts', type: 'bind', source: '/var/lib/nori/sb1/hosts', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/etc/resolv.conf', type: 'bind', source: '/var/lib/nori/sb1/resolv.conf', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/dev/shm', type: 'bind', source: '/run/nori/sb1/shm', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/dev/termination-log', type: 'bind', source: '/var/lib/nori/c1/termination-log', options: ['rbind', 'rprivate', 'rw'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ],
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'ctr',
        'io.kubernetes.cri.sandbox-id': 'sb1',
        'io.kubernetes.cri.sandbox-name': 'pod1',
        'io.kubernetes.cri.sandbox-namespace': 'ns1',
        'io.kubernetes.cri.sandbox-uid': 'uid-1',
        'io.kubernetes.cri.image-name': 'busybox:latest',
      },
      linux: {
        resources: { devices: DEFAULT_DEVICE_RULES },
        cgroupsPath: '/kubepods/besteffort/poduid-1/nori-c1',
        namespaces: [...POD_NS, { type: 'pid' }],
        maskedPaths: DEFAULT_MASKED_PATHS,
        readonlyPaths: DEFAULT_READONLY_PATHS,
      },
    });
  });

  it('privileged: all caps, host devices, no masks, rw sysfs, no seccomp', () => {
    const fuse: HostDevice = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
    const held = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const { spec } = buildOciSpec(input(
      { linux: { securityContext: { privileged: true, seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault } } } },
      { sandbox: sandbox({ securityContext: { privileged: true } }), defaults: defaults({ allCapabilities: held, hostDevices: [fuse] }) },
    ));
    assert.deepEqual(spec.process.capabilities?.bounding, held);
    assert.deepEqual(spec.process.capabilities?.effective, held);
    assert.deepEqual(spec.linux.devices, [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }]);
    assert.deepEqual((spec.linux.resources as { devices: unknown }).devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(spec.linux.maskedPaths, undefined);
    assert.equal(spec.linux.readonlyPaths, undefined);
    assert.equal(spec.linux.seccomp, undefined);
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.ok(!spec.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options?.includes('ro'));
  });

  it('privileged container in an unprivileged pod is refused', () => {
    assert.throws(() => buildOciSpec(input({ linux: { securityContext: { privileged: true } } })), InvalidArgumentError);
  });

  it('readonly rootfs: root and pod files read-only', () => {
    const { spec } = buildOciSpec(input({ linux: { securityContext: { readonlyRootfs: true } } }));
    assert.equal(spec.root.readonly, true);
    for (const d of ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname']) {
      assert.ok(spec.mounts.find((m) => m.destination === d)?.options?.includes('ro'), d);
    }
    assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('rw'));
  });

  it('host network: no net/uts namespace, no hostname, node hostname in env', () => {
    const sb = sandbox({ network: 'NODE', hostname: '', nsPaths: { ipc: '/run/nori/ns/ipc-sb1' } });
    const { spec } = buildOciSpec(input({}, { sandbox: sb, defaults: defaults({ nodeHostname: 'node-1' }) }));
    assert.deepEqual(spec.linux.namespaces, [{ type: 'ipc', path: '/run/nori/ns/ipc-sb1' }, { type: 'mount' }, { type: 'pid' }]);
    assert.equal(spec.hostname, undefined);
    assert.ok(spec.process.env.includes('HOSTNAME=node-1'));
  });

  it('POD pid mode from the container namespace options', () => {
    const { spec } = buildOciSpec(input({ linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } } }));
    assert.deepEqual(spec.linux.namespaces, [...POD_NS, { type: 'pid', path: '/proc/100/ns/pid' }]);
  });

  const users: { name: string; user?: string; sc?: object; want: object }[] = [
    { name: 'image user www-data', user: 'www-data', want: { uid: 33, gid: 33, additionalGids: [33, 1004] } },
    { name: 'image user 1002', user: '1002', want: { uid: 1002, gid: 1002, additionalGids: [1002, 1004] } },
    { name: 'image user 1003:1004', user: '1003:1004', want: { uid: 1003, gid: 1004, additionalGids: [1004] } },
    { name: 'run_as_username nori + group 1004', sc: { runAsUsername: 'nori', runAsGroup: { value: 1004n } }, want: { uid: 1002, gid: 1004, additionalGids: [1004] } },
  ];
  for (const u of users) {
    it(`user: ${u.name}`, () => {
      const base = input({ linux: { securityContext: u.sc ?? {} } });
      base.image.config.User = u.user;
      assert.deepEqual(buildOciSpec(base).spec.process.user, u.want);
    });
  }

  it('RuntimeDefault seccomp uses the container caps; warnings for dropped hugepages and clamped oom', () => {
    const { spec, warnings } = buildOciSpec(input({
      linux: {
        securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault }, capabilities: { addCapabilities: ['SYS_ADMIN'] } },
        resources: { oomScoreAdj: -999n, hugepageLimits: [{ pageSize: '2MB', limit: 0n }] },
      },
    }));
    assert.deepEqual(spec.linux.seccomp, {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }, { names: ['mount'], action: 'SCMP_ACT_ALLOW' }],
    });
    assert.equal(spec.process.oomScoreAdj, 0);
    assert.equal(warnings.length, 2);
  });

  it('no_new_privs, sysctls, tty, working dir, apparmor ignored with a warning', () => {
    const { spec, warnings } = buildOciSpec(input(
      { tty: true, workingDir: '/tmp', linux: { securityContext: { noNewPrivs: true, apparmor: { profileType: SecurityProfile_ProfileType.RuntimeDefault } } } },
      { sandbox: sandbox({ sysctls: { 'net.ipv4.ip_forward': '1' } }) },
    ));
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(spec.process.terminal, true);
    assert.equal(spec.process.cwd, '/tmp');
    assert.equal(spec.process.apparmorProfile, undefined);
    assert.deepEqual(spec.linux.sysctl, { 'net.ipv4.ip_forward': '1' });
    assert.match(warnings.join('\n'), /AppArmor/);
  });

  it('user namespaces: the pod\'s is joined first with its maps; modes and mappings checked', () => {
    const m = [{ containerId: 0, hostId: 200000, length: 65536 }];
    const sb = sandbox({ nsPaths: { user: '/run/nori/ns/user/x', net: '/n', ipc: '/i', uts: '/u', pid: '/p' }, userns: { uidMappings: m, gidMappings: m } });
    const pod = { usernsOptions: { mode: NamespaceMode.POD, uids: m, gids: m } };
    const { spec } = buildOciSpec(input({ linux: { securityContext: { namespaceOptions: pod } } }, { sandbox: sb }));
    const ns = spec.linux.namespaces as Array<{ type: string; path?: string }>;
    assert.deepEqual(ns[0], { type: 'user', path: '/run/nori/ns/user/x' });
    // OCI runtime-spec LinuxIDMapping field names
    assert.deepEqual(spec.linux.uidMappings, [{ containerID: 0, hostID: 200000, size: 65536 }]);
    assert.deepEqual(spec.linux.gidMappings, [{ containerID: 0, hostID: 200000, size: 65536 }]);
    // Without options the container follows its pod.
    assert.deepEqual((buildOciSpec(input({}, { sandbox: sb })).spec.linux.namespaces as Array<{ type: string }>)[0]!.type, 'user');
    const bad = [
      { mode: NamespaceMode.CONTAINER, uids: [], gids: [] },
      { mode: NamespaceMode.TARGET, uids: [], gids: [] },
      { mode: NamespaceMode.NODE, uids: [], gids: [] },
      { mode: NamespaceMode.POD, uids: [{ containerId: 0, hostId: 300000, length: 65536 }], gids: m },
    ];
    for (const u of bad) {
      assert.throws(() => buildOciSpec(input({ linux: { securityContext: { namespaceOptions: { usernsOptions: u } } } }, { sandbox: sb })), InvalidArgumentError);
    }
    // A mount's own mappings must be the pod's.
    assert.throws(
      () => buildOciSpec(input({ mounts: [{ containerPath: '/d', hostPath: '/x', uidMappings: [{ containerId: 0, hostId: 1, length: 1 }] }] }, { sandbox: sb })),
      /other than the pod's/,
    );
    assert.ok(buildOciSpec(input({ mounts: [{ containerPath: '/d', hostPath: '/x', uidMappings: m, gidMappings: m }] }, { sandbox: sb })).spec);
  });

  it('host user namespace: mode NODE accepted, POD refused for a pod without one', () => {
    assert.ok(buildOciSpec(input({ linux: { securityContext: { namespaceOptions: { usernsOptions: { mode: NamespaceMode.NODE } } } } })).spec);
    assert.equal((buildOciSpec(input({})).spec.linux.namespaces as Array<{ type: string }>).some((n) => n.type === 'user'), false);
    assert.throws(
      () => buildOciSpec(input({ linux: { securityContext: { namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } } } } })),
      InvalidArgumentError,
    );
  });

  it('image without command fails', () => {
    const i = input({});
    i.image.config = { Env: [] };
    assert.throws(() => buildOciSpec(i), /no command specified/);
  });

  it('PATH default when the image has none', () => {
    const i = input({});
    i.image.config = { Cmd: ['sh'] };
    assert.equal(buildOciSpec(i).spec.process.env[0], `PATH=${DEFAULT_PATH}`);
  });
});
