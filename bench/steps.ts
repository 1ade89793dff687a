// Where nori's milliseconds go inside the calls that log their steps: "pod sandbox ready"
// (RunPodSandbox: cgroup, pin, podInit, shm, cni, files), "container created" and "container
// removed". Means and p50 per step over a run, from the daemon's own log lines.

import { percentile } from './stats';

const MESSAGES: Record<string, string> = {
  'pod sandbox ready': 'RunPodSandbox',
  'container created': 'CreateContainer',
  'container removed': 'RemoveContainer',
};

export function stepTable(logs: Record<string, unknown>[]): string {
  const per = new Map<string, Map<string, number[]>>();
  for (const l of logs) {
    const call = MESSAGES[String(l.msg)];
    const steps = l.steps as Record<string, number> | undefined;
    if (!call || !steps || typeof steps !== 'object') continue;
    const m = per.get(call) ?? per.set(call, new Map()).get(call)!;
    for (const [k, v] of Object.entries(steps)) if (typeof v === 'number') (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  }
  if (per.size === 0) return '';
  const lines = ['| call | step | n | p50 ms | mean ms |', '|---|---|---|---|---|'];
  for (const [call, m] of per) {
    for (const [step, xs] of m) {
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      lines.push(`| ${call} | ${step} | ${xs.length} | ${percentile(xs, 0.5)!.toFixed(1)} | ${mean.toFixed(1)} |`);
    }
  }
  return lines.join('\n');
}
