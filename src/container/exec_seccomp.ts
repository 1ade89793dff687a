// The container's OCI linux.seccomp as the line format `nori-exec compile` reads
// (native/exec/seccomp.c), following runc 1.1's libcontainer/seccomp: ERRNO and TRACE default
// to EPERM, a rule naming several syscalls becomes one rule per name, and a rule whose
// conditions test one argument twice becomes one rule per condition. What runc supports but the
// helper does not (SCMP_ACT_NOTIFY, unknown flags) is reported so ExecSync falls back to runc.

import type { OciSeccomp } from './spec/seccomp';

export type SeccompRules = { ok: true; text: string; flags: number } | { ok: false; reason: string };

const EPERM = 1;

const ACTIONS: Record<string, string> = {
  SCMP_ACT_KILL: 'kill_thread',
  SCMP_ACT_KILL_THREAD: 'kill_thread',
  SCMP_ACT_KILL_PROCESS: 'kill_process',
  SCMP_ACT_TRAP: 'trap',
  SCMP_ACT_ERRNO: 'errno',
  SCMP_ACT_TRACE: 'trace',
  SCMP_ACT_ALLOW: 'allow',
  SCMP_ACT_LOG: 'log',
};

/** OCI architecture → libseccomp's name (seccomp_arch_resolve_name). */
const ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32', SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64', SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel', SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32', SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64', SCMP_ARCH_PPC64LE: 'ppc64le', SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_RISCV64: 'riscv64',
};

const OPS: Record<string, string> = {
  SCMP_CMP_NE: 'ne', SCMP_CMP_LT: 'lt', SCMP_CMP_LE: 'le', SCMP_CMP_EQ: 'eq', SCMP_CMP_GE: 'ge', SCMP_CMP_GT: 'gt',
  SCMP_CMP_MASKED_EQ: 'masked_eq',
};

/** seccomp(2) filter flags runc 1.1 applies. */
const FLAGS: Record<string, number> = { SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };

class Unsupported extends Error {}

function action(name: string, errnoRet: number | undefined): string {
  const a = ACTIONS[name];
  if (!a) throw new Unsupported(`seccomp action ${name}`);
  const errno = a === 'errno' || a === 'trace' ? errnoRet ?? EPERM : 0;
  if (!Number.isInteger(errno) || errno < 0 || errno > 0xffff) throw new Unsupported(`seccomp errnoRet ${errno}`);
  return `${a} ${errno}`;
}

function u64(v: unknown): string {
  if (v === undefined || v === null) return '0';
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Unsupported(`seccomp argument value ${String(v)}`);
  return String(v);
}

export function seccompRules(sc: OciSeccomp & Record<string, unknown>): SeccompRules {
  try {
    for (const k of Object.keys(sc)) {
      if (!['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'syscalls'].includes(k)) throw new Unsupported(`seccomp field ${k}`);
    }
    const lines = [`default ${action(sc.defaultAction, sc.defaultErrnoRet)}`];
    for (const a of sc.architectures ?? []) {
      const name = ARCHES[a];
      if (!name) throw new Unsupported(`seccomp architecture ${a}`);
      lines.push(`arch ${name}`);
    }
    let flags = 0;
    for (const f of sc.flags ?? []) {
      const bit = FLAGS[f];
      if (bit === undefined) throw new Unsupported(`seccomp flag ${f}`);
      flags |= bit;
    }
    for (const rule of sc.syscalls ?? []) {
      const act = action(rule.action, rule.errnoRet);
      const conds = (rule.args ?? []).map((c) => {
        const op = OPS[c.op];
        if (!op || !Number.isInteger(c.index) || c.index < 0 || c.index > 5) throw new Unsupported(`seccomp condition ${JSON.stringify(c)}`);
        return { index: c.index, text: `${c.index} ${op} ${u64(c.value)} ${u64(c.valueTwo)}` };
      });
      const repeats = new Set(conds.map((c) => c.index)).size !== conds.length;
      const groups = repeats ? conds.map((c) => [c]) : [conds];
      for (const name of rule.names) {
        if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Unsupported(`seccomp syscall name ${JSON.stringify(name)}`);
        for (const g of groups) lines.push(`rule ${act} ${name} ${g.length}${g.map((c) => ' ' + c.text).join('')}`);
      }
    }
    return { ok: true, text: lines.join('\n') + '\n', flags };
  } catch (e) {
    if (e instanceof Unsupported) return { ok: false, reason: `unsupported ${e.message}` };
    throw e;
  }
}
