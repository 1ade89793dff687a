// Issue 7's sampling budget: stats list calls on the fleet (default 100 pods x 1 running
// container), reported per item, so "a few milliseconds per container" can be checked directly.

import type { Msg } from '../test/helpers/cri-client';
import { timed } from './cri';
import { sampled, type Scenario } from './context';
import { ensureFleet } from './scenarios';

export const statsScenario: Scenario = {
  name: 'stats',
  describe: 'ListContainerStats / ListPodSandboxStats / ListPodSandboxMetrics on the fleet, total and per item',
  run: (ctx) =>
    sampled(ctx, {
      scenario: 'stats',
      ops: [
        'ListContainerStats',
        'ListContainerStats per container',
        'ListPodSandboxStats',
        'ListPodSandboxStats per pod',
        'ListPodSandboxMetrics',
        'ListPodSandboxMetrics per pod',
      ],
      samples: ctx.n,
      setup: (rt) => ensureFleet(ctx, rt),
      async sample(rt) {
        const [cs, c] = await timed(() => rt.client.call('ListContainerStats', {}));
        const containers = Math.max(1, (c.stats as Msg[]).length);
        const [ps, p] = await timed(() => rt.client.call('ListPodSandboxStats', {}));
        const pods = Math.max(1, (p.stats as Msg[]).length);
        const [pm] = await timed(() => rt.client.call('ListPodSandboxMetrics', {}));
        return {
          ListContainerStats: cs,
          'ListContainerStats per container': cs / containers,
          ListPodSandboxStats: ps,
          'ListPodSandboxStats per pod': ps / pods,
          ListPodSandboxMetrics: pm,
          'ListPodSandboxMetrics per pod': pm / pods,
        };
      },
    }),
};
