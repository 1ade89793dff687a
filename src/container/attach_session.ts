// Attach to a running container. Output comes from the container's CRI log file (followed from
// its end), since conmon's attach socket is SOCK_SEQPACKET, which Node cannot open; stdin goes
// to that socket through `nori-exec attach` (native/exec/attach.c), packet by packet. The container keeps running when
// the client goes; wait() resolves when the container exits or the client detaches.

import { spawn, type ChildProcess } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { PassThrough } from 'node:stream';
import type { ExecProcess, StdioOptions } from '../streaming/types';
import { LogFollower } from './log_follower';
import { defaultExecHelper } from './exec_sync';

export interface AttachInput {
  /** <conmon socket dir>/<id>/attach */
  attachSocket: string;
  logPath: string;
  stdinOnce: boolean;
  opts: StdioOptions;
  /** True once the container's exit is recorded (polled). */
  hasExited(): boolean;
  /** nori-exec. Default: the native build's. */
  helper?: string;
}

export function startAttach(i: AttachInput): ExecProcess {
  const follower = new LogFollower(i.logPath);
  let relay: ChildProcess | undefined;
  let stdin: PassThrough | undefined;
  if (i.opts.stdin) {
    // cwd + relative name: the socket's full path can exceed sun_path's 108 bytes.
    relay = spawn(i.helper ?? defaultExecHelper(), ['attach', basename(i.attachSocket)], {
      cwd: dirname(i.attachSocket),
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    relay.on('error', () => undefined);
    relay.stdin!.on('error', () => undefined);
    // What conmon echoes to attach clients is framed per packet; the log has the same, demuxed.
    relay.stdout!.resume();
    stdin = new PassThrough();
    stdin.on('data', (d: Buffer) => relay!.stdin!.write(d));
    // Only a StdinOnce container loses its stdin when this client half-closes.
    stdin.on('end', () => {
      if (i.stdinOnce) relay!.stdin!.end();
    });
  }
  let detach!: () => void;
  const detached = new Promise<void>((r) => (detach = r));
  const poll = setInterval(() => {
    if (i.hasExited()) detach();
  }, 250);
  const waited = detached.then(async () => {
    clearInterval(poll);
    // conmon writes the last lines before the exit file; give the log a moment to settle.
    await new Promise((r) => setTimeout(r, 100));
    follower.stop();
    relay?.kill('SIGTERM');
    return { exitCode: 0 };
  });
  if (!i.opts.stdout) follower.stdout.resume();
  if (!i.opts.stderr) follower.stderr.resume();
  return {
    stdin,
    stdout: i.opts.stdout ? follower.stdout : undefined,
    // With a tty everything is on stdout.
    stderr: i.opts.stderr && !i.opts.tty ? follower.stderr : undefined,
    resize() {
      /* the container's own terminal size is not changed by attach (not supported) */
    },
    wait: () => waited,
    kill: () => detach(),
  };
}
