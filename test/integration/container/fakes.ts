// Stand-ins for the image and sandbox subsystems over real directories and real pinned
// namespaces, so container tests run real runc + conmon without pulling or running pods.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContainerLayer, ImageLookup, ImageRecord } from '../../../src/image/api';
import type { PodContainerHooks, SandboxLookup, SandboxRecord } from '../../../src/sandbox/api';
import { getSys } from '../../../src/sys';
import { defaultConfig, type Config } from '../../../src/config';
import { openDb } from '../../../src/store/db';
import { ContainerManager } from '../../../src/container/manager';
import { staticNodeDefaults, withMountInfo } from '../../../src/container/node_defaults';
import { buildSpec } from '../../../src/container/spec_source';
import pino from 'pino';

export const BUSYBOX_LAYOUT = '/var/cache/nori-test-images/small/layouts/busybox';
export const IMAGE_ID = 'sha256:' + 'b'.repeat(64);

/** One-layer image: the busybox fixture unpacked once per test run. */
export class FakeImages implements ImageLookup {
  readonly layers = new Map<string, string>();
  constructor(readonly lower: string, readonly work: string, readonly config: ImageRecord['config'] = {}) {}

  resolve(ref: string): ImageRecord | undefined {
    if (ref !== 'busybox' && ref !== IMAGE_ID) return undefined;
    return { id: IMAGE_ID, repoTags: ['docker.io/library/busybox:1'], repoDigests: [], size: 1, config: this.config, pinned: false };
  }
  async createContainerLayer(id: string): Promise<ContainerLayer> {
    const dir = join(this.work, id);
    for (const d of [dir, join(dir, 'upper'), join(dir, 'work')]) if (!existsSync(d)) execFileSync('mkdir', ['-p', d]);
    this.layers.set(id, dir);
    return { lowerdir: this.lower, upperdir: join(dir, 'upper'), workdir: join(dir, 'work'), mountCwd: '' };
  }
  async removeContainerLayer(id: string): Promise<void> {
    rmSync(join(this.work, id), { recursive: true, force: true });
    this.layers.delete(id);
  }
  async readImageFile(_imageId: string, path: string): Promise<Buffer | null> {
    try {
      return readFileSync(join(this.lower, path));
    } catch {
      return null;
    }
  }
  async containerLayerUsage(id: string): Promise<{ bytes: number; inodes: number }> {
    const out = execFileSync('du', ['-sb', join(this.work, id, 'upper')], { encoding: 'utf8' });
    return { bytes: Number(out.split('\t')[0]), inodes: 1 };
  }
}

export class FakeSandboxes implements SandboxLookup {
  readonly records = new Map<string, SandboxRecord>();
  hooks?: PodContainerHooks;
  get(id: string): SandboxRecord | undefined {
    return this.records.get(id);
  }
  setContainerHooks(h: PodContainerHooks): void {
    this.hooks = h;
  }
}

export interface Rig {
  dir: string;
  config: Config;
  images: FakeImages;
  sandboxes: FakeSandboxes;
  sandbox: SandboxRecord;
  cgroupParent: string;
  manager(): ContainerManager;
  cleanup(): Promise<void>;
}

let rootfsCache: string | undefined;
function busyboxRootfs(): string {
  if (rootfsCache) return rootfsCache;
  const dir = mkdtempSync('/tmp/nori-ctr-img-');
  execFileSync('umoci', ['raw', 'unpack', '--rootless=false', '--image', `${BUSYBOX_LAYOUT}:1`, join(dir, 'rootfs')], { stdio: 'ignore' });
  rootfsCache = join(dir, 'rootfs');
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return rootfsCache;
}

export async function makeRig(imageConfig: ImageRecord['config'] = {}): Promise<Rig> {
  const dir = mkdtempSync('/tmp/nori-ctr-');
  const config = { ...defaultConfig(), root: join(dir, 'root'), state: join(dir, 'state') };
  const images = new FakeImages(busyboxRootfs(), join(dir, 'layers'), imageConfig);
  const sandboxes = new FakeSandboxes();
  const sys = getSys();
  const pod = join(dir, 'pod');
  execFileSync('mkdir', ['-p', pod, join(pod, 'logs'), join(pod, 'shm')]);
  const ns = { net: join(pod, 'net'), ipc: join(pod, 'ipc'), uts: join(pod, 'uts') };
  await sys.pinNamespaces({ targets: ns, hostname: 'testpod' });
  writeFileSync(join(pod, 'hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(pod, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  writeFileSync(join(pod, 'hostname'), 'testpod\n');
  const cgroupParent = `/nori-ctest-${randomBytes(4).toString('hex')}`;
  const sandbox: SandboxRecord = {
    id: randomBytes(32).toString('hex'),
    name: 'pod',
    namespace: 'ns',
    uid: 'uid1',
    attempt: 0,
    state: 'READY',
    runtimeHandler: '',
    createdAt: 1n,
    labels: {},
    annotations: {},
    hostname: 'testpod',
    network: 'POD',
    ipc: 'POD',
    pid: 'CONTAINER',
    nsPaths: ns,
    hostsPath: join(pod, 'hosts'),
    resolvConfPath: join(pod, 'resolv.conf'),
    hostnamePath: join(pod, 'hostname'),
    shmPath: join(pod, 'shm'),
    cgroupParent,
    securityContext: {},
    sysctls: {},
    ip: '',
    additionalIps: [],
    logDirectory: join(pod, 'logs'),
  };
  sandboxes.records.set(sandbox.id, sandbox);
  const managers: ContainerManager[] = [];
  const fixed = staticNodeDefaults(config);
  const rig: Rig = {
    dir,
    config,
    images,
    sandboxes,
    sandbox,
    cgroupParent,
    manager() {
      const db = openDb(config.root);
      const m = new ContainerManager({
        config, db, log: pino({ level: process.env.NORI_TEST_LOGS ? 'debug' : 'silent' }), sys, images, sandboxes,
        buildSpec, nodeDefaults: () => withMountInfo(fixed),
      });
      managers.push(m);
      return m;
    },
    async cleanup() {
      const m = managers[managers.length - 1];
      if (m) for (const r of m.store.list()) await m.remove(r.id).catch(() => undefined);
      for (const x of managers) {
        await x.close();
        x.deps.db.close();
      }
      for (const p of Object.values(ns)) {
        try {
          sys.umount2(p, 2);
        } catch {
          /* not mounted */
        }
      }
      for (const c of readdirSync('/sys/fs/cgroup')) {
        const p = join('/sys/fs/cgroup', c, cgroupParent);
        if (existsSync(p)) {
          try {
            rmdirSync(p);
          } catch {
            /* busy or not ours */
          }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
