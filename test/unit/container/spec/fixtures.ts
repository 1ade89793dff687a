// Shared inputs for the spec builder tests: the fixture images' /etc/passwd and /etc/group
// (hack/images), a pod sandbox record and node defaults.

import { ContainerConfig, type DeepPartial } from '../../../../src/gen/api';
import type { SandboxRecord } from '../../../../src/sandbox/api';
import type { NodeDefaults, SpecInput } from '../../../../src/container/spec/types';

export const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nori:x:1002:1002:nori test user:/home/nori:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;

export const GROUP = `root:x:0:
tty:x:5:
wheel:x:10:root
www-data:x:33:
nori:x:1002:
nori-extra:x:1004:nori,www-data
nogroup:x:65534:
`;

export const FILES = { passwd: PASSWD, group: GROUP };

export function sandbox(over: Partial<SandboxRecord> = {}): SandboxRecord {
  return {
    id: 'sb1',
    name: 'pod1',
    namespace: 'ns1',
    uid: 'uid-1',
    attempt: 0,
    state: 'READY',
    runtimeHandler: '',
    createdAt: 1n,
    labels: {},
    annotations: {},
    hostname: 'pod1-host',
    network: 'POD',
    ipc: 'POD',
    pid: 'CONTAINER',
    nsPaths: { net: '/run/nori/ns/net-sb1', ipc: '/run/nori/ns/ipc-sb1', uts: '/run/nori/ns/uts-sb1', pid: '/proc/100/ns/pid' },
    hostsPath: '/var/lib/nori/sb1/hosts',
    resolvConfPath: '/var/lib/nori/sb1/resolv.conf',
    hostnamePath: '/var/lib/nori/sb1/hostname',
    shmPath: '/run/nori/sb1/shm',
    cgroupParent: '/kubepods/besteffort/poduid-1',
    securityContext: {},
    sysctls: {},
    ip: '10.88.0.2',
    additionalIps: [],
    logDirectory: '/var/log/pods/ns1_pod1_uid-1',
    ...over,
  };
}

export function defaults(over: Partial<NodeDefaults> = {}): NodeDefaults {
  return {
    defaultSeccompProfile: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [], comment: '', includes: {}, excludes: {} },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] }, excludes: {} },
      ],
    },
    readLocalhostProfile: () => {
      throw new Error('no such file');
    },
    hardRlimits: { RLIMIT_NOFILE: 20000 },
    minOomScoreAdj: 0,
    hugetlbAvailable: false,
    cgroupDriver: 'cgroupfs',
    apparmorEnabled: false,
    arch: 'amd64',
    ...over,
  };
}

export type ConfigPartial = DeepPartial<ContainerConfig>;

export function input(config: ConfigPartial, over: Partial<SpecInput> = {}): SpecInput {
  return {
    containerId: 'c1',
    config: ContainerConfig.fromPartial<DeepPartial<ContainerConfig>>({ metadata: { name: 'ctr', attempt: 0 }, image: { image: 'busybox:latest' }, ...config }),
    sandbox: sandbox(),
    image: { id: 'sha256:abc', config: { Cmd: ['sh'], Env: ['PATH=/usr/bin:/bin'] }, files: FILES },
    rootfs: '/var/lib/nori/c1/rootfs',
    terminationMessagePath: '/var/lib/nori/c1/termination-log',
    defaults: defaults(),
    ...over,
  };
}
