// crictl as a client, for the figures the issue quotes at crictl's wall clock (process start-up
// included). Optional: NORI_BENCH_CRICTL names the binary, else `crictl` on PATH; without one
// the rows are left out. crictl is never part of the project, only run when it is there.

import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { timed } from './cri';

const execFileAsync = promisify(execFile);

export function crictlPath(): string | undefined {
  if (process.env.NORI_BENCH_CRICTL) return process.env.NORI_BENCH_CRICTL;
  try {
    return execFileSync('sh', ['-c', 'command -v crictl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds one `crictl <args>` against `endpoint` took, start-up included. */
export async function crictlTimed(crictl: string, endpoint: string, args: string[]): Promise<number> {
  const [ms] = await timed(() =>
    execFileAsync(crictl, ['--config', '/dev/null', '-r', endpoint, '-i', endpoint, '--timeout', '30s', ...args], { maxBuffer: 64 << 20 }),
  );
  return ms;
}
