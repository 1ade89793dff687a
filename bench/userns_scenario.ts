// Issue 15's budget: a pod with its own user namespace (kubelet's hostUsers: false) adds at most
// 20 ms to "pod + container from scratch". Each sample runs the same pod + container twice, once
// in the host's user namespace and once in its own, so both see the same machine load.

import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { containerConfig, createdIds, podConfig, removePod, timed } from './cri';
import { sampled, type BenchContext, type Scenario } from './context';
import type { BenchRuntime } from './runtimes/types';

/** kubelet's shape: container 0 → a 65536-aligned host range of 65536 ids. */
const MAPPING = [{ container_id: 0, host_id: 65536 * 40, length: 65536 }];

/** The pod's root reaches its rootfs by path: the bench's private temp dirs must be searchable. */
function searchable(dir: string): void {
  for (let d = dir; d !== '/'; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o011);
  }
}

async function fromScratch(ctx: BenchContext, rt: BenchRuntime, userns: boolean): Promise<number> {
  const config = podConfig(rt, userns ? 'uns' : 'hu');
  if (userns) config.linux = { security_context: { namespace_options: { userns_options: { mode: 'POD', uids: MAPPING, gids: MAPPING } } } };
  const [ms] = await timed(async () => {
    const res = await rt.client.call('RunPodSandbox', { config });
    const pod = res.pod_sandbox_id as string;
    createdIds.add(pod);
    const c = await rt.client.call('CreateContainer', { pod_sandbox_id: pod, config: containerConfig(ctx.images.busybox.ref), sandbox_config: config });
    createdIds.add(c.container_id as string);
    await rt.client.call('StartContainer', { container_id: c.container_id });
    await removePod(rt, pod);
  });
  return ms;
}

export const usernsScenario: Scenario = {
  name: 'userns',
  describe: 'pod + container from scratch (run pod, create + start, stop + remove pod) in the host user namespace and with hostUsers: false, alternately',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'userns',
      ops: ['pod+container, host users', 'pod+container, hostUsers: false', 'added by hostUsers: false'],
      samples: ctx.n,
      async setup(rt) {
        searchable(rt.dataDir);
        // A runtime without user namespaces (containerd 1.6 ignores the option) still runs both.
      },
      async sample(rt, _s, i) {
        // Alternate which goes first, so neither always pays for the other's teardown.
        const order = i % 2 === 0 ? [false, true] : [true, false];
        const t: Record<string, number> = {};
        for (const u of order) t[u ? 'uns' : 'host'] = await fromScratch(ctx, rt, u);
        return {
          'pod+container, host users': t.host!,
          'pod+container, hostUsers: false': t.uns!,
          'added by hostUsers: false': t.uns! - t.host!,
        };
      },
    }),
};
