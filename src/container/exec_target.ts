// The streaming server's view of containers: exec and attach in nori's containers, and the pod
// network namespace for port-forward.

import { join } from 'node:path';
import { FailedPreconditionError } from '../errors';
import type { SandboxLookup } from '../sandbox/api';
import type { ExecProcess, ExecTarget, StdioOptions } from '../streaming/types';
import { startAttach } from './attach_session';
import { startExec } from './exec_session';
import type { ContainerManager } from './manager';
import { isRunning } from './views';

export class ContainerExecTarget implements ExecTarget {
  constructor(
    private readonly m: ContainerManager,
    private readonly sandboxes: SandboxLookup,
  ) {}

  private running(containerId: string) {
    const row = this.m.get(containerId);
    if (!isRunning(row)) throw new FailedPreconditionError(`container ${row.id} is not running`);
    return row;
  }

  exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ExecProcess> {
    const row = this.running(containerId);
    return startExec({ runtime: this.m.runtimeFor(row.handler), containerId: row.id, bundle: row.bundle, cmd, opts });
  }

  async attach(containerId: string, opts: StdioOptions): Promise<ExecProcess> {
    const row = this.running(containerId);
    return startAttach({
      attachSocket: join(this.m.deps.config.state, 'conmon-sockets', row.id, 'attach'),
      logPath: row.logPath || join(row.bundle, 'ctr.log'),
      stdinOnce: row.config.stdinOnce,
      opts,
      hasExited: () => {
        this.m.onExitFile(row.id);
        return (this.m.store.get(row.id)?.finishedAt ?? 1n) > 0n;
      },
    });
  }

  podNetns(sandboxId: string): string | null {
    const sb = this.sandboxes.get(sandboxId);
    if (!sb) throw new FailedPreconditionError(`pod sandbox ${sandboxId} not found`);
    return sb.nsPaths.net ?? null;
  }
}
