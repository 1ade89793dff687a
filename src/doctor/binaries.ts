// The programs nori runs: each OCI runtime handler (version and what `runc features` says it
// supports), conmon, nori's own native products, the seccomp profile, and the packet filter
// tools the CNI plugins call.

import { execFile } from 'node:child_process';
import { accessSync, constants as fsc, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import { needsHybridWrapper, readCgroupLayout } from '../runtime/crun_hybrid';
import { nativeBuildDir } from '../sys';
import { fail, pass, warn, type Check } from './check';

export interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], timeoutMs = 5000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      resolve({ ok: !err, stdout: String(stdout), stderr: err && !stderr ? errorMessage(err) : String(stderr) });
    });
  });
}

function executable(path: string): boolean {
  try {
    accessSync(path, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The features nori cares about, from `runc features` JSON (runtime-spec features.md). */
export function summarizeFeatures(json: string): { supports: string[]; lacks: string[] } {
  const f = JSON.parse(json) as {
    mountOptions?: string[];
    linux?: { namespaces?: string[]; seccomp?: { enabled?: boolean }; cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean }; mountExtensions?: { idmap?: { enabled?: boolean } } };
  };
  const have: Record<string, boolean> = {
    'user namespaces': f.linux?.namespaces?.includes('user') ?? false,
    'rro mounts': f.mountOptions?.includes('rro') ?? false,
    'idmapped mounts': f.linux?.mountExtensions?.idmap?.enabled ?? false,
    seccomp: f.linux?.seccomp?.enabled ?? false,
    'cgroup v1': f.linux?.cgroup?.v1 ?? false,
    'cgroup v2': f.linux?.cgroup?.v2 ?? false,
    'systemd cgroups': f.linux?.cgroup?.systemd ?? false,
  };
  return {
    supports: Object.keys(have).filter((k) => have[k]),
    lacks: Object.keys(have).filter((k) => !have[k]),
  };
}

async function runtimeCheck(name: string, path: string, isDefault: boolean): Promise<Check> {
  const label = `runtime ${name}`;
  if (!executable(path)) {
    const fix = `apt-get install ${name === 'crun' ? 'crun' : 'runc'}, or set [runtimes.${name}] path in the config file to the binary`;
    return isDefault
      ? fail('binaries', label, `${path} not found or not executable (the default handler)`, fix)
      : warn('binaries', label, `${path} not found: pods with RuntimeClass handler "${name}" fail`, fix);
  }
  const v = await run(path, ['--version']);
  const version = v.stdout.split('\n')[0]?.trim() || v.stderr.trim();
  const f = await run(path, ['features']);
  let supports = '';
  const facts: Record<string, unknown> = { path, version, default: isDefault };
  if (f.ok) {
    try {
      const s = summarizeFeatures(f.stdout);
      supports = `; supports ${s.supports.join(', ')}${s.lacks.length ? `; lacks ${s.lacks.join(', ')} (nori prepares idmapped mounts itself)` : ''}`;
      Object.assign(facts, s);
    } catch {
      supports = '; `features` output is not JSON';
    }
  } else {
    // crun 1.8 has no `features`; its --version line lists compiled-in features (+SECCOMP …).
    const flags = v.stdout.split('\n').find((l) => l.startsWith('+'));
    supports = flags ? `; built with ${flags.trim()}` : '; no `features` subcommand';
    facts.built = flags?.trim() ?? null;
  }
  if (needsHybridWrapper(path, readCgroupLayout())) {
    return warn(
      'binaries', label, `${version}${supports}; refuses this hybrid cgroup layout, so nori runs it through a wrapper that hides cgroup2`,
      'move the host to pure cgroup v2 to run crun directly', facts,
    );
  }
  return pass('binaries', label, `${version}${supports}`, facts);
}

export async function binaryChecks(config: Config): Promise<Check[]> {
  const out: Check[] = [];
  for (const [name, h] of Object.entries(config.runtimes)) out.push(await runtimeCheck(name, h.path, name === config.defaultRuntime));
  if (!executable(config.conmon)) {
    out.push(fail('binaries', 'conmon', `${config.conmon} not found or not executable`, 'apt-get install conmon, or set conmon = "/path/to/conmon"'));
  } else {
    const v = await run(config.conmon, ['--version']);
    out.push(pass('binaries', 'conmon', v.stdout.split('\n')[0]?.trim() || 'present', { path: config.conmon }));
  }
  const dir = nativeBuildDir();
  const products = ['nori_native.node', 'nori-reaper', 'nori-exec'].filter((p) => !existsSync(join(dir, p)));
  out.push(
    products.length
      ? fail('binaries', 'native helpers', `missing in ${dir}: ${products.join(' ')}`, 'npm run build:native')
      : pass('binaries', 'native helpers', `addon, nori-reaper and nori-exec in ${dir}`),
  );
  out.push(seccompCheck(config.seccompProfile));
  return out;
}

function seccompCheck(path: string): Check {
  try {
    const p = JSON.parse(readFileSync(path, 'utf8')) as { defaultAction?: string; syscalls?: unknown[] };
    if (!p.defaultAction) throw new Error('no defaultAction');
    return pass('binaries', 'seccomp profile', `${path} (${p.syscalls?.length ?? 0} rules)`);
  } catch (e) {
    return warn('binaries', 'seccomp profile', `${path}: ${errorMessage(e)}: pods asking for RuntimeDefault fail`, 'apt-get install golang-github-containers-common, or set seccomp-profile');
  }
}

/** iptables (nft or legacy backend) or nft: the bridge plugin's ipMasq and portmap call iptables. */
export async function firewallCheck(needIptables: boolean): Promise<Check> {
  const ipt = await run('iptables', ['--version']);
  const nft = await run('nft', ['--version']);
  const found = [ipt.ok ? ipt.stdout.trim() : '', nft.ok ? nft.stdout.trim() : ''].filter(Boolean);
  if (found.length === 0) {
    return needIptables
      ? fail('network', 'packet filter', 'neither iptables nor nft found; the CNI network uses ipMasq/portmap', 'apt-get install iptables')
      : warn('network', 'packet filter', 'neither iptables nor nft found', 'apt-get install iptables (portmap and ipMasq plugins need it)');
  }
  if (needIptables && !ipt.ok) return fail('network', 'packet filter', `${found.join('; ')}, but no iptables: the CNI network uses ipMasq/portmap`, 'apt-get install iptables');
  return pass('network', 'packet filter', found.join('; '));
}
