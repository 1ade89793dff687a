// Inputs and output of the OCI spec builder (src/container/spec/build.ts): a pure function from
// (image, sandbox, container config, handler, node defaults) to an OCI runtime-spec config.json.

import type { ContainerConfig, Mount } from '../../gen/api';
import type { OciImageConfig } from '../../image/api';
import type { SandboxRecord } from '../../sandbox/api';

/** The files of the image the builder needs to resolve users and groups (read by the caller). */
export interface ImageFiles {
  passwd: string | null;
  group: string | null;
}

export interface NodeDefaults {
  /** Parsed RuntimeDefault seccomp profile in containers/common JSON form (seccomp.json). */
  defaultSeccompProfile: unknown;
  /** Reads a Localhost seccomp profile by absolute path (caller supplies, so the builder stays pure). */
  readLocalhostProfile(path: string): string;
  /** The daemon's own hard rlimits; container rlimits are clamped to them. */
  hardRlimits: Record<string, number>;
  /** Current oom_score_adj of the daemon: the floor a container may ask for here. */
  minOomScoreAdj: number;
  /** Whether a v1 hugetlb controller exists; if not, hugepage limits are dropped. */
  hugetlbAvailable: boolean;
  /** cgroupfs or systemd. */
  cgroupDriver: 'cgroupfs' | 'systemd';
  /** Whether AppArmor is enabled on the host. */
  apparmorEnabled: boolean;

  // Optional additions (defaults in parentheses), so existing callers keep compiling.
  /**
   * Capabilities the daemon holds (its bounding set, e.g. parseCapabilityMask of CapBnd in
   * /proc/self/status). Privileged and "ALL" grant these; caps outside it cannot be granted.
   * (every known capability)
   */
  allCapabilities?: string[];
  /** Host device nodes under /dev, given to privileged containers. ([]) */
  hostDevices?: HostDevice[];
  /** Stats a host device node for CRI `devices`; null if missing or not a device. (always null) */
  statDevice?(path: string): HostDevice | null;
  /**
   * Makes a CRI mount's host path usable: creates it as a directory when missing (as containerd
   * does) and returns it with symlinks resolved. (identity)
   */
  resolveHostPath?(path: string): string;
  /** Contents of /proc/self/mountinfo, to check propagation of rshared/rslave host paths. ("": no check) */
  mountInfo?: string;
  /** cgroup v2 (unified) host: adds a cgroup namespace and allows `unified`. (false) */
  cgroupV2?: boolean;
  /** Whether memory+swap limits can be set (memory.memsw.* on v1, memory.swap.max on v2). (false) */
  swapAvailable?: boolean;
  /** The node's hostname, for HOSTNAME when the pod uses the host network. ("") */
  nodeHostname?: string;
  /** Go-style architecture for seccomp includes/excludes (amd64, arm64…). (from process.arch) */
  arch?: string;
  /** Running kernel version ("6.1.0"), for seccomp minKernel. (minKernel ignored) */
  kernelVersion?: string;
  /** Whether the container's OCI runtime takes the `rro` mount option (`runc features`). (false) */
  recursiveReadOnlySupported?: boolean;
  /** AppArmor profile for RuntimeDefault when AppArmor is enabled. (none: warn and skip) */
  apparmorDefaultProfile?: string;
}

/** A device node as stat(2) reports it; `path` is the host path. */
export interface HostDevice {
  path: string;
  type: 'c' | 'b' | 'p' | 'u';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface SpecInput {
  containerId: string;
  config: ContainerConfig;
  sandbox: SandboxRecord;
  image: { id: string; config: OciImageConfig; files: ImageFiles };
  /** Absolute path of the container's rootfs mount point (the overlay). */
  rootfs: string;
  /** Host path of the container's termination-message file (already created). */
  terminationMessagePath: string;
  /** Host path of the container's own /etc/hostname etc. come from the sandbox record. */
  defaults: NodeDefaults;
  /**
   * For PID mode TARGET: the pid namespace file of the target container (/proc/<pid>/ns/pid);
   * the caller resolves it.
   */
  targetPidNamespace?: string;
  /** Host paths nori staged for some of config.mounts (container/prepared_mounts.ts), by mount. */
  preparedMounts?: ReadonlyMap<Mount, string>;
}

/** Warnings the builder wants logged (dropped hugepage limits, ignored AppArmor, clamped values). */
export interface SpecResult {
  spec: OciSpec;
  warnings: string[];
}

// A subset of the OCI runtime-spec types, enough for what nori writes.
export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  annotations?: Record<string, string>;
  linux: Record<string, unknown>;
}

export interface OciProcess {
  terminal?: boolean;
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: { bounding: string[]; effective: string[]; permitted: string[]; inheritable?: string[]; ambient?: string[] };
  rlimits?: { type: string; hard: number; soft: number }[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}
