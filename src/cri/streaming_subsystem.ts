// The streaming subsystem: nori's exec/attach/port-forward server and the CRI calls that hand
// out its URLs. The server listens from recovery on, before the init gate opens.

import { ContainerExecTarget } from '../container/exec_target';
import type { ContainerManager } from '../container/manager';
import type { SandboxLookup } from '../sandbox/api';
import { StreamingServer } from '../streaming';
import type { Subsystem, SubsystemContext } from '../subsystem';
import { attach } from './attach';
import { exec } from './exec';
import { portForward } from './port_forward';
import { guardIds } from './validate_ids';

export function streamingSubsystem(ctx: SubsystemContext, deps: { containers: ContainerManager; sandboxes: SandboxLookup }): Subsystem & { server: StreamingServer } {
  const server = new StreamingServer({
    listen: ctx.config.streamingListen,
    log: ctx.log.child({ subsystem: 'streaming' }),
    metrics: ctx.metrics,
    target: new ContainerExecTarget(deps.containers, deps.sandboxes),
  });
  return {
    name: 'streaming',
    server,
    handlers: guardIds(
      guardIds(
        { Exec: exec(deps.containers, server), Attach: attach(deps.containers, server), PortForward: portForward(deps.sandboxes, server) },
        ['Exec', 'Attach'],
        'containerId',
        'container',
        () => deps.containers.store.ids(),
      ),
      ['PortForward'],
      'podSandboxId',
      'pod sandbox',
      deps.sandboxes.ids ? () => deps.sandboxes.ids!() : undefined,
    ),
    recover: () => server.start(),
    close: () => server.close(),
  };
}
