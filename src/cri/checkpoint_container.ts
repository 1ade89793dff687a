// CheckpointContainer: `runc checkpoint --leave-running` through CRIU, the image directory
// exported as a tar archive at the requested location. Where CRIU cannot work on this node
// (`criu check` fails, e.g. on kernels whose vDSO it cannot parse) the call says so instead.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ContainerState } from '../gen/api';
import type { CheckpointContainerRequest, CheckpointContainerResponse } from '../gen/api';
import type { ContainerManager } from '../container/manager';
import { FailedPreconditionError, InternalError, InvalidArgumentError, errorMessage } from '../errors';
import { stateOf } from '../store/container_store';
import { mkdirp } from '../util/fs';
import type { UnaryHandler } from './context';

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(((stderr || '') + (stdout || '')).trim() || err.message));
      else resolve(stdout);
    });
  });
}

let criuCheck: Promise<string | undefined> | undefined;

/** Why CRIU cannot checkpoint on this node, or undefined when `criu check` passes. Cached. */
export function criuProblem(criu = 'criu'): Promise<string | undefined> {
  criuCheck ??= run(criu, ['check'], 30_000).then(
    () => undefined,
    (e: Error) => {
      const lines = e.message.split('\n').map((l) => l.trim()).filter(Boolean);
      return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? e.message;
    },
  );
  return criuCheck;
}

export function checkpointContainer(m: ContainerManager, opts: { criu?: string } = {}): UnaryHandler<CheckpointContainerRequest, CheckpointContainerResponse> {
  return async (req) => {
    const row = m.get(req.containerId);
    if (!req.location || !isAbsolute(req.location)) throw new InvalidArgumentError('checkpoint location must be an absolute path of the archive to write');
    if (stateOf(row) !== ContainerState.CONTAINER_RUNNING) throw new FailedPreconditionError(`container ${row.id} is not running; only running containers can be checkpointed`);
    if (m.deps.sandboxes.get(row.sandboxId)?.userns) {
      // Its rootfs and volumes are idmapped mounts nori made outside the runtime: a restore could
      // not recreate them, and CRIU's user-namespace support is not wired here.
      throw new FailedPreconditionError(`container ${row.id} is in a pod with its own user namespace (hostUsers: false); checkpointing such containers is not supported`);
    }
    const problem = await criuProblem(opts.criu);
    if (problem !== undefined) {
      throw new FailedPreconditionError(`checkpointing needs CRIU, and \`criu check\` fails on this node: ${problem}`);
    }
    const timeoutMs = req.timeout > 0n ? Number(req.timeout) * 1000 : 300_000;
    const work = mkdtempSync(join(m.deps.config.state, 'checkpoint-'));
    try {
      const rt = m.runtimeFor(row.handler);
      const image = join(work, 'checkpoint');
      mkdirp(image, 0o700);
      try {
        await run(rt.handler.path, [...rt.globalArgs(), 'checkpoint', '--image-path', image, '--work-path', work, '--leave-running', '--file-locks', row.id], timeoutMs);
      } catch (e) {
        throw new InternalError(`${rt.handler.name} checkpoint of ${row.id} failed: ${errorMessage(e)}`);
      }
      mkdirp(dirname(req.location));
      // The archive layout CRI-O and containerd use: the CRIU images under checkpoint/, plus the spec.
      await run('tar', ['-cf', req.location, '-C', work, 'checkpoint', '-C', row.bundle, 'config.json'], timeoutMs);
      return {};
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
}
