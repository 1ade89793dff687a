// An ExecTarget that runs commands as local processes: "containers" are just names. It records
// what the protocol layer asks of it (resizes, kills, options) so tests can check them.

import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type { ExecProcess, ExecTarget, StdioOptions } from '../../../src/streaming/types';

export interface ExecCall {
  containerId: string;
  cmd: string[];
  opts: StdioOptions;
  resizes: Array<[number, number]>;
  killed: boolean;
  pid?: number;
}

export class LocalExecTarget implements ExecTarget {
  readonly calls: ExecCall[] = [];
  netns: Record<string, string | null> = {};
  /** attach runs this command as the "container's" main process. */
  attachCmd: string[] = ['sh', '-c', 'echo attached; cat'];

  async exec(containerId: string, cmd: string[], opts: StdioOptions): Promise<ExecProcess> {
    return this.run(containerId, cmd, opts);
  }

  async attach(containerId: string, opts: StdioOptions): Promise<ExecProcess> {
    return this.run(containerId, this.attachCmd, opts);
  }

  podNetns(sandboxId: string): string | null {
    return this.netns[sandboxId] ?? null;
  }

  private run(containerId: string, cmd: string[], opts: StdioOptions): ExecProcess {
    const call: ExecCall = { containerId, cmd, opts, resizes: [], killed: false };
    this.calls.push(call);
    // A pty is the container side's business; here the tty flag is only passed through.
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FAKE_TTY: opts.tty ? '1' : '0' } });
    call.pid = child.pid;
    const exited = new Promise<{ exitCode: number }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 + 9 : 255) }));
    });
    if (!opts.stdin) child.stdin.end();
    // With a tty, stderr goes to the same terminal as stdout.
    let stdout: NodeJS.ReadableStream & import('node:stream').Readable = child.stdout;
    if (opts.tty) {
      const merged = new PassThrough();
      let open = 2;
      for (const s of [child.stdout, child.stderr]) {
        s.pipe(merged, { end: false });
        s.once('end', () => --open === 0 && merged.end());
      }
      stdout = merged;
    }
    return {
      stdin: opts.stdin ? child.stdin : undefined,
      stdout: opts.stdout ? stdout : undefined,
      stderr: opts.stderr && !opts.tty ? child.stderr : undefined,
      resize: (c, r) => call.resizes.push([c, r]),
      wait: () => exited,
      kill: () => {
        call.killed = true;
        child.kill('SIGKILL');
      },
    };
  }
}
