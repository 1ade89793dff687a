// Host CPU per ExecSync (issue 19 part 4): the host's busy time (all CPUs, /proc/stat: everything
// but idle and iowait) over a burst of N sequential ExecSync `true` calls, minus the busy time of
// N Version calls made the same way, divided by N. The Version burst takes out what any call
// costs the client and the gRPC path, and (roughly) the machine's background load. Both runtimes
// alternate burst by burst, so the background hits both alike; on a busy machine the figure is
// noisy and only many samples make it mean something.

import { readFileSync } from 'node:fs';
import { removePod, runPod, startContainer } from './cri';
import { sampled, type Scenario } from './context';
import type { BenchRuntime } from './runtimes/types';

const BURST = 20;

/** Busy and total jiffies of the whole host (first line of /proc/stat). */
export function hostJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are inside user already)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

/** Milliseconds of host CPU `fn` took (USER_HZ = 100: 10 ms per jiffy). */
async function hostBusyMs(fn: () => Promise<void>): Promise<number> {
  const a = hostJiffies();
  await fn();
  const b = hostJiffies();
  return (b.busy - a.busy) * 10;
}

/** utime + stime + cutime + cstime of a process, in ms (0 when it is gone). */
function treeCpuMs(pid: number): number {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 are at 11..14 counting from field 3
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU of the runtime's own processes: the daemon and its monitors (conmon / shims), each with the
 * children it reaped (nori-exec and the command for nori; runc and the command for containerd's
 * shim). Far less noisy than the host figure on a shared machine; it misses kernel threads' work.
 */
function runtimeCpuMs(rt: BenchRuntime): number {
  return [rt.pid, ...rt.monitorPids()].reduce((a, p) => a + treeCpuMs(p), 0);
}

export const execCpuScenario: Scenario = {
  name: 'exec-cpu',
  describe: `host CPU per ExecSync \`true\`: /proc/stat busy time of ${BURST} ExecSync calls minus that of ${BURST} Version calls, per call`,
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'exec-cpu',
      ops: ['ExecSync host CPU per call', 'ExecSync runtime-process CPU per call', `ExecSync burst of ${BURST} (host busy)`, `Version burst of ${BURST} (host busy)`],
      samples: Math.max(3, Math.ceil(ctx.n / 4)),
      async setup(rt) {
        const pod = await runPod(rt, 'xc');
        const id = await startContainer(rt, pod, ctx.images.busybox.ref);
        return { pod, id };
      },
      async sample(rt, s) {
        const own0 = runtimeCpuMs(rt);
        const exec = await hostBusyMs(async () => {
          for (let i = 0; i < BURST; i++) {
            const r = await rt.client.call('ExecSync', { container_id: s.id, cmd: ['true'], timeout: 10 });
            if (r.exit_code !== 0) throw new Error(`ExecSync true exited ${r.exit_code}`);
          }
        });
        const own1 = runtimeCpuMs(rt);
        const version = await hostBusyMs(async () => {
          for (let i = 0; i < BURST; i++) await rt.client.call('Version', {});
        });
        const own2 = runtimeCpuMs(rt);
        return {
          'ExecSync runtime-process CPU per call': Math.max(0, own1 - own0 - (own2 - own1)) / BURST,
          'ExecSync host CPU per call': Math.max(0, exec - version) / BURST,
          [`ExecSync burst of ${BURST} (host busy)`]: exec,
          [`Version burst of ${BURST} (host busy)`]: version,
        };
      },
      cleanup: (rt, s) => removePod(rt, s.pod.id),
    }),
};
