// Interactive Exec with a terminal through nori-exec's tty mode: the helper opens a pty in the
// container (as runc's setupConsole does), relays our stdin to it and it to our stdout, resizes it
// on "<cols> <rows>" lines written to its fd 4, and reports the exit status on fd 3. No `script`
// and no runc process. Returns why not (the command has not run) when it cannot start.

import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExecProcess, StdioOptions } from '../streaming/types';

export async function startFastTtyExec(helper: string, profile: string, cmd: string[], opts: StdioOptions): Promise<ExecProcess | string> {
  const child = spawn(helper, ['tty', profile, '80', '24', ...cmd], { stdio: ['pipe', 'pipe', 'ignore', 'pipe', 'pipe'] });
  const status = child.stdio[3] as Readable;
  const control = child.stdio[4] as Writable;
  control.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  let text = '';
  status.setEncoding('utf8');
  const statusEnded = new Promise<void>((r) => {
    status.once('end', r);
    status.once('close', r);
    status.once('error', () => r());
  });
  const exited = new Promise<void>((r) => {
    child.once('exit', () => r());
    child.once('error', () => r());
  });
  let spawnError = '';
  child.once('error', (e) => (spawnError = e.message));
  const started = await new Promise<boolean>((resolve) => {
    status.on('data', (d: string) => {
      text += d;
      if (/^started$/m.test(text)) resolve(true);
      if (/^setup /m.test(text)) resolve(false);
    });
    void statusEnded.then(() => resolve(/^started$/m.test(text)));
  });
  if (!started) {
    await exited;
    child.stdout!.destroy();
    return spawnError ? `nori-exec: ${spawnError}` : (/^setup (.*)$/m.exec(text)?.[1] ?? `nori-exec ended early (${JSON.stringify(text)})`);
  }
  const pid = Number(/^pid (\d+)$/m.exec(text)?.[1] ?? 0);
  const outEnded = new Promise<void>((r) => {
    child.stdout!.once('end', r);
    child.stdout!.once('close', r);
  });
  const waited = Promise.all([exited, statusEnded]).then(async () => {
    await Promise.race([outEnded, new Promise((r) => setTimeout(r, 200))]);
    child.stdout!.destroy();
    child.stdin!.destroy();
    const m = /^(exit|signal) (\d+)$/m.exec(text);
    return { exitCode: !m ? 255 : m[1] === 'exit' ? Number(m[2]) : 128 + Number(m[2]) };
  });
  return {
    // The helper turns the end of its input into an EOF (Ctrl-D) for the terminal.
    stdin: opts.stdin ? child.stdin! : undefined,
    stdout: child.stdout!,
    resize(cols, rows) {
      if (cols > 0 && rows > 0 && control.writable) control.write(`${Math.floor(cols)} ${Math.floor(rows)}\n`);
    },
    wait: () => waited,
    kill() {
      if (child.exitCode !== null || !pid) return;
      // The command leads its own session on the terminal: end it and what it started.
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    },
  };
}
