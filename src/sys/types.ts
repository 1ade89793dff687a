// The kernel boundary: the few syscalls Node lacks, as one typed interface. NativeSys
// (native.ts) calls the addon in native/; FakeSys (fake.ts) records calls for unit tests.
// Failures are SysErrors (errors.ts): Node fs-style code/errno/syscall/path.

import type { MountFlags } from './constants';

/** 'user' only to join (a pod's user namespace is made by UsernsSys.pinUserNamespace, sys/userns.ts). */
export type NamespaceType = 'user' | 'net' | 'ipc' | 'uts';
/** Namespace type → file: a pin target, or a namespace file to join (/proc/PID/ns/net, a pin). */
export type NamespacePaths = Partial<Record<NamespaceType, string>>;
/** [path under /proc/sys, value], e.g. ['net/ipv4/ip_unprivileged_port_start', '0']. */
export type SysctlList = ReadonlyArray<readonly [string, string]>;

export interface PinNamespacesOptions {
  /** Which new namespaces to create, and the file each is bind-mounted on (created if missing). */
  targets: NamespacePaths;
  /** Set in the new UTS namespace (needs targets.uts). */
  hostname?: string;
  /** Bring `lo` up in the new network namespace. Default: true when targets.net is given. */
  loopbackUp?: boolean;
  /** Written inside the new namespaces: net/* needs targets.net, IPC sysctls need targets.ipc. */
  sysctls?: SysctlList;
}

export interface FileWrite {
  /** A /proc path, opened O_WRONLY (no create) inside the joined namespaces. */
  path: string;
  data: string | Buffer;
}

export interface ConfigureNamespacesOptions {
  /** Existing namespaces to enter (setns) before applying the rest. */
  join: NamespacePaths;
  hostname?: string;
  /** Default false. */
  loopbackUp?: boolean;
  sysctls?: SysctlList;
  writes?: readonly FileWrite[];
}

export interface StartPodInitOptions {
  /** Namespaces the init joins before exec, so the pod's processes see one pod (ps, hostname). */
  join?: NamespacePaths;
  /** Default: native/build/Release/nori-reaper of this package. */
  reaperPath?: string;
  /**
   * cgroup v1 `tasks` files of the cgroups the init is to be born in: its starter moves itself
   * there first (a self-move skips the kernel's global lock that moving another process takes).
   */
  cgroupTasks?: string[];
}

export interface ConnectOptions {
  /** Bound on the TCP connect; 0 or absent: the kernel's default. */
  timeoutMs?: number;
}

export interface Sys {
  /**
   * Creates new net/ipc/uts namespaces in a short-lived child, configures them (hostname, lo,
   * sysctls) and pins each on its target file with a bind mount. On failure nothing stays
   * mounted and files it created are removed. Undo with umount2(target, MNT_DETACH) + unlink.
   */
  pinNamespaces(opts: PinNamespacesOptions): Promise<void>;
  /** Enters existing namespaces in a short-lived child and applies settings/writes there. */
  configureNamespaces(opts: ConfigureNamespacesOptions): Promise<void>;
  /** Writes one file (a sysctl under /proc/sys, usually) inside the given namespaces. */
  writeFileInNamespaces(join: NamespacePaths, path: string, data: string | Buffer): Promise<void>;
  /**
   * Starts nori-reaper as PID 1 of a new PID namespace (after joining `join`), detached from
   * nori (own session, stdio on /dev/null, re-parented to init). Returns its host pid; pin the
   * namespace by bind-mounting /proc/PID/ns/pid. SIGTERM ends it and with it the namespace.
   */
  startPodInit(opts?: StartPodInitOptions): Promise<number>;
  /** A TCP socket fd connected from inside the netns at nsPath; wrap with new net.Socket({ fd }). */
  connectInNetns(nsPath: string, host: string, port: number, opts?: ConnectOptions): Promise<number>;
  /** The text of /proc/net/dev as seen inside the netns at nsPath (pod network counters). */
  readNetDevInNetns(nsPath: string): string;
  /** Asks glibc to return freed arena memory to the kernel; false when there was none (or no addon support). */
  mallocTrim(): boolean;

  mount(source: string | null, target: string, fstype: string | null, flags?: MountFlags, data?: string | null): void;
  umount2(target: string, flags?: number): void;

  lsetxattr(path: string, name: string, value: Buffer, flags?: number): void;
  /** null when the attribute is not set. */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  /** mode includes the file type (fs.constants.S_IFCHR | 0o600); 0/0 char device = overlay whiteout. */
  mknod(path: string, mode: number, major: number, minor: number): void;

  /** Sends fd over a connected Unix socket (SCM_RIGHTS). */
  sendFd(socketFd: number, fd: number): void;
  /** Receives one fd (close-on-exec); EAGAIN on a non-blocking socket with nothing queued. */
  recvFd(socketFd: number): number;
  pidfdOpen(pid: number): number;
  /** process.kill, here so code that starts pod inits can be tested with the fake. */
  kill(pid: number, signal: NodeJS.Signals | number): void;
}
