// FakeSys: an in-memory Sys for unit tests. It records every call in `calls`, keeps the state
// the real kernel would (mount stacks, pinned namespaces and their settings, xattrs, device
// nodes, pod inits), fails the way the kernel does for the common cases (umount of a
// non-mount → EINVAL, joining an unknown namespace file → ENOENT), and lets a test inject an
// error for any op with failOn().

import { isPropagationChange, MS, mountFlagsToNumber, XATTR, type MountFlags } from './constants';
import { makeSysError } from './errors';
import type {
  ConfigureNamespacesOptions,
  ConnectOptions,
  NamespacePaths,
  NamespaceType,
  PinNamespacesOptions,
  StartPodInitOptions,
  Sys,
} from './types';
import { namespaceEntries, sysctlNamespace, validateConfigure, validateConnect, validatePin } from './validate';

export type SysOp = keyof Sys;

export interface FakeCall {
  op: SysOp;
  args: unknown[];
}

/** One namespace the fake created; pinned files point at it. */
export interface FakeNamespace {
  type: NamespaceType;
  inode: number;
  hostname?: string;
  loopbackUp: boolean;
  /** /proc/sys-relative path → value. */
  sysctls: Map<string, string>;
  /** Absolute path → last data written there from inside this namespace. */
  files: Map<string, Buffer>;
}

export interface FakeMount {
  source: string | null;
  fstype: string | null;
  flags: number;
  data: string | null;
  /** Set for namespace pins. */
  ns?: FakeNamespace;
}

export interface FakePodInit {
  pid: number;
  join: NamespacePaths;
  alive: boolean;
}

interface Injection {
  op: SysOp;
  error: Error;
  remaining: number;
  match?: (args: unknown[]) => boolean;
}

export interface FailOnOptions {
  /** How many calls fail; default 1. Infinity for all. */
  times?: number;
  /** Only calls whose arguments match fail (and count). */
  match?: (args: unknown[]) => boolean;
}

let nextInode = 4026540000;

export class FakeSys implements Sys {
  readonly calls: FakeCall[] = [];
  /** target → stack of mounts, top last (mounting over a mount point stacks, as in Linux). */
  readonly mounts = new Map<string, FakeMount[]>();
  readonly xattrs = new Map<string, Map<string, Buffer>>();
  readonly nodes = new Map<string, { mode: number; major: number; minor: number }>();
  readonly podInits = new Map<number, FakePodInit>();
  /** What connectInNetns returns; replace to hand out real fds (e.g. from a socketpair). */
  connectHandler: (nsPath: string, host: string, port: number) => number | Promise<number>;
  /** /proc/net/dev text readNetDevInNetns returns, by netns path; set by tests. */
  readonly netDev = new Map<string, string>();

  private injections: Injection[] = [];
  private fdQueues = new Map<number, number[]>();
  private nextFd = 1000;
  private nextPid = 900000;

  constructor() {
    this.connectHandler = () => this.nextFd++;
  }

  /** Makes the next call(s) of op fail with error (a code such as 'EPERM', or any Error). */
  failOn(op: SysOp, error: string | Error, opts: FailOnOptions = {}): void {
    const err = typeof error === 'string' ? makeSysError(error, fakeSyscallName(op)) : error;
    this.injections.push({ op, error: err, remaining: opts.times ?? 1, match: opts.match });
  }

  /** The argument lists of every recorded call of op. */
  callsOf(op: SysOp): unknown[][] {
    return this.calls.filter((c) => c.op === op).map((c) => c.args);
  }

  isMounted(target: string): boolean {
    return (this.mounts.get(target)?.length ?? 0) > 0;
  }

  /** The top mount at target, if any. */
  mountAt(target: string): FakeMount | undefined {
    const stack = this.mounts.get(target);
    return stack?.[stack.length - 1];
  }

  /** The namespace pinned at file, if any. */
  namespaceAt(file: string): FakeNamespace | undefined {
    return this.mountAt(file)?.ns;
  }

  // ---- Sys ----

  async pinNamespaces(opts: PinNamespacesOptions): Promise<void> {
    this.record('pinNamespaces', [opts]);
    const targets = validatePin(opts);
    const created = new Map<NamespaceType, FakeNamespace>();
    for (const [type] of targets) {
      created.set(type, { type, inode: nextInode++, loopbackUp: false, sysctls: new Map(), files: new Map() });
    }
    this.applySettings(created, opts, opts.loopbackUp ?? created.has('net'));
    for (const [type, file] of targets) this.push(file, { source: `/proc/self/ns/${type}`, fstype: 'nsfs', flags: MS.MS_BIND, data: null, ns: created.get(type) });
  }

  async configureNamespaces(opts: ConfigureNamespacesOptions): Promise<void> {
    this.record('configureNamespaces', [opts]);
    this.configure(opts);
  }

  async writeFileInNamespaces(join: NamespacePaths, file: string, data: string | Buffer): Promise<void> {
    this.record('writeFileInNamespaces', [join, file, data]);
    this.configure({ join, writes: [{ path: file, data }] });
  }

  private configure(opts: ConfigureNamespacesOptions): void {
    const join = validateConfigure(opts);
    const joined = this.resolveJoin(join);
    this.applySettings(joined, opts, opts.loopbackUp ?? false);
    for (const w of opts.writes ?? []) {
      const ns = joined.get(w.path.startsWith('/proc/sys/net/') ? 'net' : 'ipc') ?? [...joined.values()][0];
      ns?.files.set(w.path, Buffer.from(w.data));
    }
  }

  async startPodInit(opts: StartPodInitOptions = {}): Promise<number> {
    this.record('startPodInit', [opts]);
    this.resolveJoin(namespaceEntries(opts.join ?? {}, 'join'));
    const pid = this.nextPid++;
    this.podInits.set(pid, { pid, join: { ...(opts.join ?? {}) }, alive: true });
    return pid;
  }

  async connectInNetns(nsPath: string, host: string, port: number, opts: ConnectOptions = {}): Promise<number> {
    this.record('connectInNetns', [nsPath, host, port, opts]);
    validateConnect(host, port, opts.timeoutMs);
    this.resolveJoin([['net', nsPath]]);
    return this.connectHandler(nsPath, host, port);
  }

  /** Nothing to trim in a fake; counted for tests. */
  mallocTrims = 0;
  mallocTrim(): boolean {
    this.mallocTrims++;
    return false;
  }

  readNetDevInNetns(nsPath: string): string {
    this.record('readNetDevInNetns', [nsPath]);
    this.resolveJoin([['net', nsPath]]);
    return this.netDev.get(nsPath) ?? '';
  }

  mount(source: string | null, target: string, fstype: string | null, flags?: MountFlags, data?: string | null): void {
    this.record('mount', [source, target, fstype, flags, data]);
    const mask = mountFlagsToNumber(flags);
    const top = this.mountAt(target);
    if (mask & MS.MS_REMOUNT || isPropagationChange(mask)) {
      if (!top) throw makeSysError('EINVAL', 'mount', { path: target });
      top.flags = mask & MS.MS_REMOUNT ? mask : top.flags | mask;
      if (mask & MS.MS_REMOUNT && data != null) top.data = data;
      return;
    }
    if (mask & MS.MS_MOVE) {
      const moved = source !== null ? this.mounts.get(source)?.pop() : undefined;
      if (!moved) throw makeSysError('EINVAL', 'mount', { path: target });
      this.push(target, moved);
      return;
    }
    const bound = mask & MS.MS_BIND && source !== null ? this.mountAt(source) : undefined;
    this.push(target, { source, fstype, flags: mask, data: data ?? null, ns: bound?.ns });
  }

  umount2(target: string, flags = 0): void {
    this.record('umount2', [target, flags]);
    const stack = this.mounts.get(target);
    if (!stack || stack.length === 0) throw makeSysError('EINVAL', 'umount2', { path: target });
    stack.pop();
    if (stack.length === 0) this.mounts.delete(target);
  }

  lsetxattr(file: string, name: string, value: Buffer, flags = 0): void {
    this.record('lsetxattr', [file, name, value, flags]);
    const attrs = this.xattrs.get(file) ?? new Map<string, Buffer>();
    if (flags & XATTR.XATTR_CREATE && attrs.has(name)) throw makeSysError('EEXIST', 'lsetxattr', { path: file });
    if (flags & XATTR.XATTR_REPLACE && !attrs.has(name)) throw makeSysError('ENODATA', 'lsetxattr', { path: file });
    attrs.set(name, Buffer.from(value));
    this.xattrs.set(file, attrs);
  }

  lgetxattr(file: string, name: string): Buffer | null {
    this.record('lgetxattr', [file, name]);
    const value = this.xattrs.get(file)?.get(name);
    return value ? Buffer.from(value) : null;
  }

  llistxattr(file: string): string[] {
    this.record('llistxattr', [file]);
    return [...(this.xattrs.get(file)?.keys() ?? [])];
  }

  mknod(file: string, mode: number, major: number, minor: number): void {
    this.record('mknod', [file, mode, major, minor]);
    if (this.nodes.has(file)) throw makeSysError('EEXIST', 'mknod', { path: file });
    this.nodes.set(file, { mode, major, minor });
  }

  sendFd(socketFd: number, fd: number): void {
    this.record('sendFd', [socketFd, fd]);
    const queue = this.fdQueues.get(socketFd) ?? [];
    queue.push(fd);
    this.fdQueues.set(socketFd, queue);
  }

  recvFd(socketFd: number): number {
    this.record('recvFd', [socketFd]);
    const fd = this.fdQueues.get(socketFd)?.shift();
    if (fd === undefined) throw makeSysError('EAGAIN', 'recvmsg');
    return fd;
  }

  pidfdOpen(pid: number): number {
    this.record('pidfdOpen', [pid]);
    const init = this.podInits.get(pid);
    if (init && !init.alive) throw makeSysError('ESRCH', 'pidfd_open');
    return this.nextFd++;
  }

  kill(pid: number, signal: NodeJS.Signals | number): void {
    this.record('kill', [pid, signal]);
    const init = this.podInits.get(pid);
    if (!init || !init.alive) throw makeSysError('ESRCH', 'kill');
    if (signal !== 0) init.alive = false; // the reaper exits on TERM/INT; KILL is KILL
  }

  // ---- helpers ----

  /** Records the call, then throws an injected error if one matches. */
  private record(op: SysOp, args: unknown[]): void {
    this.calls.push({ op, args });
    const i = this.injections.findIndex((inj) => inj.op === op && (!inj.match || inj.match(args)));
    if (i < 0) return;
    const inj = this.injections[i];
    if (--inj.remaining <= 0) this.injections.splice(i, 1);
    throw inj.error;
  }

  private push(target: string, m: FakeMount): void {
    const stack = this.mounts.get(target) ?? [];
    stack.push(m);
    this.mounts.set(target, stack);
  }

  /** Namespace files to join: a fake pin, or a /proc path (the host's, not modelled). */
  private resolveJoin(entries: Array<[NamespaceType, string]>): Map<NamespaceType, FakeNamespace> {
    const out = new Map<NamespaceType, FakeNamespace>();
    for (const [type, file] of entries) {
      const ns = this.namespaceAt(file);
      if (ns) {
        if (ns.type !== type) throw makeSysError('EINVAL', 'setns', { path: file, step: 'setns' });
        out.set(type, ns);
      } else if (!file.startsWith('/proc/')) {
        throw makeSysError('ENOENT', 'open', { path: file, step: 'setns' });
      }
    }
    return out;
  }

  private applySettings(
    nss: Map<NamespaceType, FakeNamespace>,
    opts: { hostname?: string; sysctls?: ReadonlyArray<readonly [string, string]> },
    loopbackUp: boolean,
  ): void {
    const uts = nss.get('uts');
    if (opts.hostname !== undefined && uts) uts.hostname = opts.hostname;
    const net = nss.get('net');
    if (loopbackUp && net) net.loopbackUp = true;
    for (const [key, value] of opts.sysctls ?? []) {
      const type = sysctlNamespace(key);
      const ns = type ? nss.get(type) : undefined;
      ns?.sysctls.set(key, value);
    }
  }
}

function fakeSyscallName(op: SysOp): string {
  switch (op) {
    case 'pinNamespaces':
      return 'unshare';
    case 'configureNamespaces':
    case 'writeFileInNamespaces':
    case 'startPodInit':
      return 'setns';
    case 'connectInNetns':
      return 'connect';
    case 'readNetDevInNetns':
      return 'setns';
    case 'recvFd':
      return 'recvmsg';
    case 'sendFd':
      return 'sendmsg';
    case 'pidfdOpen':
      return 'pidfd_open';
    default:
      return op;
  }
}
