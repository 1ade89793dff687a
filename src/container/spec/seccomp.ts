// Seccomp: which profile a container gets, and the conversion of the containers/common
// (seccomp.json, Docker-style) format to the OCI linux.seccomp object.

import { InvalidArgumentError, FailedPreconditionError } from '../../errors';
import { SecurityProfile_ProfileType, type LinuxContainerSecurityContext } from '../../gen/api';

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls?: OciSyscall[];
}
export interface OciSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export type SeccompChoice =
  | { kind: 'unconfined' }
  | { kind: 'runtime-default' }
  | { kind: 'localhost'; path: string };

const LOCALHOST_PREFIX = 'localhost/';

/**
 * The profile the CRI fields ask for. The `seccomp` message wins over the deprecated
 * `seccomp_profile_path`; neither set means unconfined (containerd's and critest's default).
 */
export function chooseSeccomp(sc: LinuxContainerSecurityContext | undefined): SeccompChoice {
  const profile = sc?.seccomp;
  if (profile) {
    if (profile.profileType !== SecurityProfile_ProfileType.Localhost && profile.localhostRef !== '') {
      throw new InvalidArgumentError('seccomp config invalid: LocalhostRef must only be set if ProfileType is Localhost');
    }
    switch (profile.profileType) {
      case SecurityProfile_ProfileType.Unconfined:
        return { kind: 'unconfined' };
      case SecurityProfile_ProfileType.RuntimeDefault:
        return { kind: 'runtime-default' };
      case SecurityProfile_ProfileType.Localhost: {
        const path = profile.localhostRef.startsWith(LOCALHOST_PREFIX)
          ? profile.localhostRef.slice(LOCALHOST_PREFIX.length)
          : profile.localhostRef;
        return localhost(path);
      }
      default:
        throw new InvalidArgumentError(`unsupported seccomp profile type ${String(profile.profileType)}`);
    }
  }
  const path = sc?.seccompProfilePath ?? '';
  if (path === '' || path === 'unconfined') return { kind: 'unconfined' };
  if (path === 'runtime/default' || path === 'docker/default') return { kind: 'runtime-default' };
  if (path.startsWith(LOCALHOST_PREFIX)) return localhost(path.slice(LOCALHOST_PREFIX.length));
  throw new InvalidArgumentError(`invalid seccomp profile "${path}"`);
}

function localhost(path: string): SeccompChoice {
  if (!path.startsWith('/')) throw new InvalidArgumentError(`seccomp localhost profile path "${path}" is not absolute`);
  return { kind: 'localhost', path };
}

/** Node's process.arch → Go's GOARCH, the names seccomp.json's includes/excludes use. */
export function goArch(nodeArch: string): string {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le' };
  return map[nodeArch] ?? nodeArch;
}

const NATIVE_SECCOMP_ARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', '386': 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  mips64: 'SCMP_ARCH_MIPS64', mips64le: 'SCMP_ARCH_MIPSEL64', mips: 'SCMP_ARCH_MIPS', mipsle: 'SCMP_ARCH_MIPSEL',
  ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', riscv64: 'SCMP_ARCH_RISCV64',
};

interface Filter { caps?: string[]; arches?: string[]; minKernel?: string }
interface SourceSyscall {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number | null;
  args?: { index: number; value: number; valueTwo?: number; op: string }[] | null;
  includes?: Filter;
  excludes?: Filter;
}
interface SourceProfile {
  defaultAction: string;
  defaultErrnoRet?: number | null;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  flags?: string[];
  syscalls?: SourceSyscall[] | null;
}

export interface ConvertContext {
  /** The container's bounding capabilities: includes/excludes.caps are checked against them. */
  capabilities: string[];
  /** GOARCH of the node. */
  arch: string;
  kernelVersion?: string;
}

/**
 * Converts a profile in containers/common (Docker) form — or already in OCI form, which passes
 * through — to OCI linux.seccomp, keeping the rules whose includes hold and excludes don't
 * (as containers/common and moby do: every included cap must be held; any excluded cap held
 * drops the rule).
 */
export function convertSeccompProfile(raw: unknown, ctx: ConvertContext): OciSeccomp {
  if (typeof raw !== 'object' || raw === null || typeof (raw as SourceProfile).defaultAction !== 'string') {
    throw new InvalidArgumentError('seccomp profile has no defaultAction');
  }
  const src = raw as SourceProfile;
  const out: OciSeccomp = { defaultAction: src.defaultAction };
  if (typeof src.defaultErrnoRet === 'number') out.defaultErrnoRet = src.defaultErrnoRet;

  const arches: string[] = [...(src.architectures ?? [])];
  const native = NATIVE_SECCOMP_ARCH[ctx.arch];
  for (const entry of src.archMap ?? []) {
    if (entry.architecture !== native) continue;
    arches.push(entry.architecture, ...(entry.subArchitectures ?? []));
  }
  if (arches.length > 0) out.architectures = [...new Set(arches)];
  if (src.flags && src.flags.length > 0) out.flags = [...src.flags];

  const syscalls: OciSyscall[] = [];
  for (const call of src.syscalls ?? []) {
    if (!applies(call, ctx)) continue;
    const names = call.names && call.names.length > 0 ? [...call.names] : call.name ? [call.name] : [];
    if (names.length === 0) continue;
    const rule: OciSyscall = { names, action: call.action };
    if (typeof call.errnoRet === 'number') rule.errnoRet = call.errnoRet;
    if (call.args && call.args.length > 0) {
      rule.args = call.args.map((a) => {
        const arg: { index: number; value: number; valueTwo?: number; op: string } = { index: a.index, value: a.value, op: a.op };
        if (a.valueTwo !== undefined && a.valueTwo !== 0) arg.valueTwo = a.valueTwo;
        return arg;
      });
    }
    syscalls.push(rule);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}

function applies(call: SourceSyscall, ctx: ConvertContext): boolean {
  const inc = call.includes ?? {};
  const exc = call.excludes ?? {};
  if (exc.arches && exc.arches.includes(ctx.arch)) return false;
  if (exc.caps && exc.caps.some((c) => ctx.capabilities.includes(c))) return false;
  if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(ctx.arch)) return false;
  if (inc.caps && inc.caps.length > 0 && !inc.caps.every((c) => ctx.capabilities.includes(c))) return false;
  if (inc.minKernel && ctx.kernelVersion && compareKernel(ctx.kernelVersion, inc.minKernel) < 0) return false;
  return true;
}

/** Compares "major.minor[.patch…]" versions numerically; suffixes like "-amd64" are ignored. */
export function compareKernel(a: string, b: string): number {
  const parts = (v: string): number[] => (v.match(/^\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Resolves a choice to the OCI object (undefined: no seccomp). Privileged never gets one. */
export function buildSeccomp(
  choice: SeccompChoice,
  defaultProfile: unknown,
  readLocalhostProfile: (path: string) => string,
  ctx: ConvertContext,
): OciSeccomp | undefined {
  switch (choice.kind) {
    case 'unconfined':
      return undefined;
    case 'runtime-default':
      if (defaultProfile === null || defaultProfile === undefined) {
        throw new FailedPreconditionError('no RuntimeDefault seccomp profile is configured');
      }
      return convertSeccompProfile(defaultProfile, ctx);
    case 'localhost': {
      let text: string;
      try {
        text = readLocalhostProfile(choice.path);
      } catch (err) {
        throw new InvalidArgumentError(`cannot load seccomp profile "${choice.path}": ${(err as Error).message}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new InvalidArgumentError(`seccomp profile "${choice.path}" is not valid JSON: ${(err as Error).message}`);
      }
      return convertSeccompProfile(parsed, ctx);
    }
  }
}
