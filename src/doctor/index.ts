// `nori doctor [--json] [--online] [flags]`: every host fact nori depends on, PASS/WARN/FAIL,
// with the fix for each problem in one line. Exit status 1 when anything FAILs (a blocking
// problem), else 0. It reads the same configuration the daemon would (file + flags).

import type { Config } from '../config';
import { errorMessage } from '../errors';
import { fail, type Check } from './check';
import { binaryChecks } from './binaries';
import { cgroupChecks } from './cgroups';
import { fileChecks } from './files';
import { capabilityChecks, idmappedMountCheck, namespacesCheck, overlayCheck, sysctlChecks, userNamespacesCheck } from './kernel';
import { networkChecks } from './network';
import { registryChecks } from './online';

export interface DoctorOptions {
  json: boolean;
  online: boolean;
}

export interface DoctorReport {
  ok: boolean;
  counts: { pass: number; warn: number; fail: number };
  checks: Check[];
}

/** Runs every check; one that throws becomes a FAIL line instead of ending the run. */
export async function diagnose(config: Config, opts: Pick<DoctorOptions, 'online'>): Promise<DoctorReport> {
  const isRoot = process.getuid?.() === 0;
  const checks: Check[] = [];
  const step = async (area: Check['area'], name: string, f: () => Check | Check[] | Promise<Check | Check[]>) => {
    try {
      const r = await f();
      checks.push(...(Array.isArray(r) ? r : [r]));
    } catch (e) {
      checks.push(fail(area, name, `check failed: ${errorMessage(e)}`, 'report this: the doctor could not run the check'));
    }
  };
  await step('kernel', 'namespaces', () => namespacesCheck());
  await step('kernel', 'user namespaces', () => userNamespacesCheck(isRoot));
  await step('kernel', 'overlayfs', () => overlayCheck(config, isRoot));
  await step('kernel', 'idmapped mounts', () => idmappedMountCheck(config, isRoot));
  await step('kernel', 'capabilities', () => capabilityChecks());
  await step('kernel', 'sysctls', () => sysctlChecks());
  await step('cgroups', 'layout', () => cgroupChecks(config));
  await step('binaries', 'binaries', () => binaryChecks(config));
  await step('network', 'network', () => networkChecks(config));
  await step('files', 'files', () => fileChecks(config));
  if (opts.online) await step('registries', 'registries', () => registryChecks(config));
  return summarize(checks);
}

export function summarize(checks: Check[]): DoctorReport {
  const counts = {
    pass: checks.filter((c) => c.status === 'PASS').length,
    warn: checks.filter((c) => c.status === 'WARN').length,
    fail: checks.filter((c) => c.status === 'FAIL').length,
  };
  return { ok: counts.fail === 0, counts, checks };
}

/** The terminal view: one line per check, the fix indented under each WARN and FAIL. */
export function renderText(r: DoctorReport): string {
  const width = Math.max(...r.checks.map((c) => c.name.length), 8);
  const lines: string[] = [];
  let area = '';
  for (const c of r.checks) {
    if (c.area !== area) {
      area = c.area;
      lines.push(`${lines.length ? '\n' : ''}${area}`);
    }
    lines.push(`  ${c.status}  ${c.name.padEnd(width)}  ${c.message}`);
    if (c.fix) lines.push(`        ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  lines.push('', `${r.counts.pass} passed, ${r.counts.warn} warnings, ${r.counts.fail} failed${r.ok ? '' : ': nori cannot work until each FAIL is fixed'}`);
  return lines.join('\n') + '\n';
}

/** When the configuration itself does not load, that is the one blocking problem to report. */
export function configFailure(message: string): DoctorReport {
  return summarize([fail('files', 'config', message, 'fix the named setting in the config file or on the command line')]);
}

export async function runDoctor(config: Config | Error, opts: DoctorOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const report = config instanceof Error ? configFailure(errorMessage(config)) : await diagnose(config, opts);
  out.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderText(report));
  return report.ok ? 0 : 1;
}
