// The real Sys: a thin typed layer over native/build/Release/nori_native.node. The addon is
// loaded on first use, so importing this module never fails on a machine without the build.

import * as fs from 'node:fs';
import * as path from 'node:path';

import { FailedPreconditionError } from '../errors';
import { mountFlagsToNumber, type MountFlags } from './constants';
import type {
  ConfigureNamespacesOptions,
  ConnectOptions,
  NamespacePaths,
  PinNamespacesOptions,
  StartPodInitOptions,
  Sys,
} from './types';
import { namespaceEntries, validateConfigure, validateConnect, validatePin } from './validate';

type Pairs = Array<[string, string | Buffer]>;

/** The addon's raw exports (native/src/*.cc). */
export interface NativeAddon {
  constants: Record<string, number>;
  pinNamespaces(opts: { targets: NamespacePaths; hostname?: string; loopbackUp?: boolean; sysctls?: Pairs }): Promise<void>;
  pinNamespacesSync(opts: { targets: NamespacePaths; hostname?: string; loopbackUp?: boolean; sysctls?: Pairs }): void;
  configureNamespaces(opts: {
    join: NamespacePaths;
    hostname?: string;
    loopbackUp?: boolean;
    sysctls?: Pairs;
    writes?: Pairs;
  }): Promise<void>;
  /** reaperFd: exec that open file instead of reaperPath; mountNsFd: start in that mount namespace. */
  startPodInit(opts: { reaperPath: string; reaperFd?: number; mountNsFd?: number; cgroupTasks?: string[]; join?: NamespacePaths }): Promise<number>;
  /** A close-on-exec fd of a new mount namespace whose only mount is an empty read-only tmpfs (empty_root.cc). */
  makeEmptyMountNamespace?(): Promise<number>;
  /** A close-on-exec memfd holding the file, sealed against change (exec_spawn.cc). */
  sealedExecCopy?(path: string): number;
  connectInNetns(nsPath: string, host: string, port: number, timeoutMs?: number): Promise<number>;
  /** Absent from addons built before native/src/net_stats.cc. */
  readNetDevInNetns?(nsPath: string): string;
  /** Absent from addons built before native/src/memory.cc. */
  mallocTrim?(): boolean;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  lsetxattr(path: string, name: string, value: Buffer, flags: number): void;
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  mknod(path: string, mode: number, major: number, minor: number): void;
  sendFd(socketFd: number, fd: number): void;
  recvFd(socketFd: number): number;
  pidfdOpen(pid: number): number;
}

let packageRootCache: string | undefined;

/** The nori package root: the nearest ancestor of this file with nori's package.json. */
export function packageRoot(): string {
  if (packageRootCache) return packageRootCache;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'nori') return (packageRootCache = dir);
    } catch {
      // no package.json here: keep walking up
    }
    if (path.dirname(dir) === dir) throw new FailedPreconditionError(`nori package root not found above ${__dirname}`);
  }
}

/** Where node-gyp puts the addon and the reaper; NORI_NATIVE_DIR overrides (packaging). */
export function nativeBuildDir(): string {
  return process.env.NORI_NATIVE_DIR ?? path.join(packageRoot(), 'native', 'build', 'Release');
}

export function reaperPath(): string {
  return path.join(nativeBuildDir(), 'nori-reaper');
}

let addon: NativeAddon | undefined;

/**
 * Loads the addon now if it is there (a missing one is reported at its first use). The daemon does
 * this first: loading makes libnftables' context, whose socket must get a descriptor below 1024
 * (native/src/nftables.cc).
 */
export function preloadAddon(): void {
  try {
    loadAddon();
  } catch {
    // reported by the first call that needs it
  }
}

export function loadAddon(): NativeAddon {
  if (addon) return addon;
  const file = path.join(nativeBuildDir(), 'nori_native.node');
  try {
    addon = require(file) as NativeAddon;
  } catch (e) {
    throw new FailedPreconditionError(`native addon ${file} cannot be loaded (run npm run build:native)`, { cause: e });
  }
  return addon;
}

function pairs(list: ReadonlyArray<readonly [string, string]> | undefined): Pairs {
  return (list ?? []).map(([k, v]) => [k, v]);
}

export class NativeSys implements Sys {
  private get n(): NativeAddon {
    return loadAddon();
  }

  /** The daemon's sealed copy of the reaper, made on first use. */
  private static sealedReaperFd: number | undefined;
  /** The empty mount namespace every pod init starts in, made on first use (undefined: none). */
  private static emptyMountNs: Promise<number | undefined> | undefined;

  /**
   * The pod init is exec'd after it entered the pod's user namespace, as the pod's root: from
   * a sealed in-memory copy (inherited through the clones) it runs whatever the permissions on
   * the way to the checkout (a clone in a 0700 temp dir refused it), and /proc/1/exe in the pod
   * leads to no host file.
   */
  private sealedReaper(): number | undefined {
    const copy = this.n.sealedExecCopy;
    if (!copy) return undefined;
    NativeSys.sealedReaperFd ??= copy.call(this.n, reaperPath());
    return NativeSys.sealedReaperFd;
  }

  /**
   * Without it each pod init would build its own empty namespace, copying the node's mount
   * table per pod. If it cannot be made, that is what happens: the init never runs unconfined.
   */
  private emptyMountNamespace(): Promise<number | undefined> {
    const make = this.n.makeEmptyMountNamespace;
    NativeSys.emptyMountNs ??= make ? make.call(this.n).catch(() => undefined) : Promise.resolve(undefined);
    return NativeSys.emptyMountNs;
  }

  async pinNamespaces(opts: PinNamespacesOptions): Promise<void> {
    validatePin(opts);
    await this.n.pinNamespaces({
      targets: { ...opts.targets },
      hostname: opts.hostname,
      loopbackUp: opts.loopbackUp ?? opts.targets.net !== undefined,
      sysctls: pairs(opts.sysctls),
    });
  }

  async configureNamespaces(opts: ConfigureNamespacesOptions): Promise<void> {
    validateConfigure(opts);
    await this.n.configureNamespaces({
      join: { ...opts.join },
      hostname: opts.hostname,
      loopbackUp: opts.loopbackUp ?? false,
      sysctls: pairs(opts.sysctls),
      writes: (opts.writes ?? []).map((w) => [w.path, w.data]),
    });
  }

  writeFileInNamespaces(join: NamespacePaths, file: string, data: string | Buffer): Promise<void> {
    return this.configureNamespaces({ join, writes: [{ path: file, data }] });
  }

  async startPodInit(opts: StartPodInitOptions = {}): Promise<number> {
    const join = opts.join ?? {};
    namespaceEntries(join, 'join');
    const cgroupTasks = opts.cgroupTasks ?? [];
    const reaperFd = opts.reaperPath ? undefined : this.sealedReaper();
    if (reaperFd === undefined) return this.n.startPodInit({ reaperPath: opts.reaperPath ?? reaperPath(), cgroupTasks, join: { ...join } });
    const mountNsFd = await this.emptyMountNamespace();
    return this.n.startPodInit({ reaperPath: `/proc/self/fd/${reaperFd}`, reaperFd, mountNsFd, cgroupTasks, join: { ...join } });
  }

  connectInNetns(nsPath: string, host: string, port: number, opts: ConnectOptions = {}): Promise<number> {
    validateConnect(host, port, opts.timeoutMs);
    return this.n.connectInNetns(nsPath, host, port, opts.timeoutMs ?? 0);
  }

  readNetDevInNetns(nsPath: string): string {
    const read = this.n.readNetDevInNetns;
    if (!read) throw new FailedPreconditionError('native addon lacks readNetDevInNetns (run npm run build:native)');
    return read(nsPath);
  }

  mallocTrim(): boolean {
    return this.n.mallocTrim?.() ?? false;
  }

  mount(source: string | null, target: string, fstype: string | null, flags?: MountFlags, data?: string | null): void {
    this.n.mount(source, target, fstype, mountFlagsToNumber(flags), data ?? null);
  }

  umount2(target: string, flags = 0): void {
    this.n.umount2(target, flags);
  }

  lsetxattr(file: string, name: string, value: Buffer, flags = 0): void {
    this.n.lsetxattr(file, name, value, flags);
  }

  lgetxattr(file: string, name: string): Buffer | null {
    return this.n.lgetxattr(file, name);
  }

  llistxattr(file: string): string[] {
    return this.n.llistxattr(file);
  }

  mknod(file: string, mode: number, major: number, minor: number): void {
    this.n.mknod(file, mode, major, minor);
  }

  sendFd(socketFd: number, fd: number): void {
    this.n.sendFd(socketFd, fd);
  }

  recvFd(socketFd: number): number {
    return this.n.recvFd(socketFd);
  }

  pidfdOpen(pid: number): number {
    return this.n.pidfdOpen(pid);
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    process.kill(pid, signal);
  }
}
