// A fixed verbose-info kernel view (shaped as a real run on the test VM produced it) for the
// golden-output test of `nori inspect`.

import type { ContainerKernelView, PodKernelView } from '../../../src/inspect/model';

export const POD_ID = 'b8ad9f97bb8714852abefd76c2533afbbe9de4898a65b64e5fbb1510811e148f';
export const CTR_ID = '295e96b647c2c654242ac7eff13f3c5d514c1600b62a8f053ecd9cf20b16bd9d';

export const POD_VIEW: PodKernelView = {
  namespaces: [
    { type: 'ipc', inode: 4026532571, sharedWith: 'pod', path: `/run/nori/sandboxes/${POD_ID}/ns/ipc` },
    { type: 'net', inode: 4026532573, sharedWith: 'pod', path: `/run/nori/sandboxes/${POD_ID}/ns/net` },
    { type: 'uts', inode: 4026532570, sharedWith: 'pod', path: `/run/nori/sandboxes/${POD_ID}/ns/uts` },
  ],
  cgroup: {
    configured: `/nori/pod${POD_ID}`,
    hierarchies: [
      { id: -1, controllers: ['memory'], path: `/nori/pod${POD_ID}`, dir: `/sys/fs/cgroup/memory/nori/pod${POD_ID}`, files: { 'memory.limit_in_bytes': '9223372036854771712', 'memory.usage_in_bytes': '430080' } },
      { id: -1, controllers: ['pids'], path: `/nori/pod${POD_ID}`, dir: `/sys/fs/cgroup/pids/nori/pod${POD_ID}`, files: { 'pids.max': 'max', 'pids.current': '1' } },
    ],
  },
  network: {
    netns: `/run/nori/sandboxes/${POD_ID}/ns/net`,
    interfaces: [{ name: 'eth0', ifindex: 2, kind: 'veth', mac: '2a:41:91:a1:20:a0', mtu: 1500, state: 'UP', addresses: ['10.89.0.2/16'], peer: { name: 'veth5d1c0e2a', ifindex: 91, mac: 'f2:06:7a:f2:0d:06', bridge: 'nori0' } }],
    bridges: [{ name: 'nori0', ifindex: 88, addresses: ['10.89.0.1/16'] }],
  },
  netfilter: {
    ips: ['10.89.0.2'],
    id: POD_ID,
    rules: [
      { source: 'iptables', table: 'nat', chain: 'POSTROUTING', rule: `-A POSTROUTING -s 10.89.0.2/32 -m comment --comment "name: \\"nori\\" id: \\"${POD_ID}\\"" -j CNI-4a1f0d` },
      { source: 'iptables', table: 'nat', chain: 'CNI-4a1f0d', rule: '-A CNI-4a1f0d ! -d 224.0.0.0/4 -j MASQUERADE' },
    ],
  },
  pids: { init: null, inCgroup: [48211] },
};

export const CTR_VIEW: ContainerKernelView = {
  namespaces: [
    { type: 'cgroup', inode: 4026532640, sharedWith: 'own' },
    { type: 'ipc', inode: 4026532571, sharedWith: 'pod' },
    { type: 'mnt', inode: 4026532637, sharedWith: 'own' },
    { type: 'net', inode: 4026532573, sharedWith: 'pod' },
    { type: 'pid', inode: 4026532638, sharedWith: 'own' },
    { type: 'time', inode: 4026531834, sharedWith: 'host' },
    { type: 'user', inode: 4026531837, sharedWith: 'host' },
    { type: 'uts', inode: 4026532570, sharedWith: 'pod' },
  ],
  cgroup: {
    configured: `/nori/pod${POD_ID}/nori-${CTR_ID}`,
    hierarchies: [
      { id: 5, controllers: ['memory'], path: `/nori/pod${POD_ID}/nori-${CTR_ID}`, dir: `/sys/fs/cgroup/memory/nori/pod${POD_ID}/nori-${CTR_ID}`, files: { 'memory.limit_in_bytes': '67108864', 'memory.usage_in_bytes': '430080' } },
      { id: 2, controllers: ['cpu'], path: `/nori/pod${POD_ID}/nori-${CTR_ID}`, dir: `/sys/fs/cgroup/cpu/nori/pod${POD_ID}/nori-${CTR_ID}`, files: { 'cpu.cfs_quota_us': '50000', 'cpu.cfs_period_us': '100000', 'cpu.shares': '512' } },
    ],
  },
  rootfs: {
    mountPoint: `/run/nori/bundles/${CTR_ID}/rootfs`,
    mountId: 612,
    lowerdirs: ['/var/lib/nori/overlay2/l/QX7B2', '/var/lib/nori/overlay2/l/K3M9P'],
    upperdir: `/var/lib/nori/overlay2/containers/${CTR_ID}/upper`,
    workdir: `/var/lib/nori/overlay2/containers/${CTR_ID}/work`,
    resolved: {
      lowerdirs: ['/var/lib/nori/overlay2/5f0c7e1a/diff', '/var/lib/nori/overlay2/91d2b4c3/diff'],
      upperdir: `/var/lib/nori/overlay2/containers/${CTR_ID}/upper`,
      workdir: `/var/lib/nori/overlay2/containers/${CTR_ID}/work`,
    },
  },
  pids: { init: 48211, inCgroup: [48211] },
};
