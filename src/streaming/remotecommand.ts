// Runs one exec/attach session once a protocol (SPDY or WebSocket) has produced the client's
// streams: wires stdio both ways, feeds resize events, reports the result on the error stream,
// and kills the process if the client goes away first.

import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../log';
import { ResizeDecoder } from './resize';
import { type CommandResult, statusFor } from './status';
import type { MetaStatus } from './status';
import type { ExecProcess } from './types';

/** The client side of a session, as the protocol layer exposes it. */
export interface ClientStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
  /** Writes the final status on the error stream (protocol-version dependent) and ends it. */
  writeStatus(status: MetaStatus): Promise<void>;
  /** Ends the session after the status (GOAWAY / close frame). */
  close(): Promise<void>;
  /** Calls cb once if the client disconnects before close(). */
  onGone(cb: () => void): void;
}

/** After exit, how long output may keep draining (a background child holding the pipe). */
const OUTPUT_DRAIN_MS = 2000;

export interface SessionOptions {
  /** attach reports Success whatever the exit code, as kubelet does. */
  reportExitCode: boolean;
  cmd?: string[];
  log: Logger;
}

export async function runSession(start: () => Promise<ExecProcess>, client: ClientStreams, opts: SessionOptions): Promise<void> {
  let gone = false;
  let proc: ExecProcess | undefined;
  client.onGone(() => {
    gone = true;
    proc?.kill();
  });
  let result: CommandResult;
  try {
    proc = await start();
    if (gone) proc.kill();
    result = await drive(proc, client, opts);
  } catch (e) {
    result = { error: e instanceof Error ? e : new Error(String(e)) };
  }
  if (gone) return;
  const status = 'exitCode' in result && !opts.reportExitCode ? statusFor({ exitCode: 0 }) : statusFor(result, opts.cmd);
  try {
    await client.writeStatus(status);
  } catch (e) {
    opts.log.debug({ err: e }, 'streaming: writing status failed');
  }
  await client.close().catch(() => undefined);
}

async function drive(proc: ExecProcess, client: ClientStreams, opts: SessionOptions): Promise<CommandResult> {
  const { stdin, stdout, stderr, resize } = client;
  for (const s of [stdin, stdout, stderr, resize, proc.stdin, proc.stdout, proc.stderr]) {
    s?.on('error', (err: Error) => opts.log.debug({ err }, 'streaming: stream error'));
  }
  if (stdin && proc.stdin) {
    stdin.pipe(proc.stdin); // ends proc.stdin on the client's half-close
  } else if (stdin) {
    stdin.resume();
  }
  if (resize) {
    const dec = new ResizeDecoder();
    resize.on('data', (chunk: Buffer) => {
      for (const size of dec.push(chunk)) proc.resize(size.Width, size.Height);
    });
  }
  const outputs = [copyOut(proc.stdout, stdout), copyOut(proc.stderr, stderr)];
  const { exitCode } = await proc.wait();
  await Promise.race([Promise.all(outputs), new Promise((r) => setTimeout(r, OUTPUT_DRAIN_MS).unref())]);
  stdout?.end();
  stderr?.end();
  if (stdin && proc.stdin) stdin.unpipe(proc.stdin);
  return { exitCode };
}

/** Copies a process stream to the client; resolves when everything is written (or dropped). */
function copyOut(from: Readable | undefined, to: Writable | undefined): Promise<void> {
  if (!from) return Promise.resolve();
  if (!to) {
    from.resume();
    return new Promise((r) => from.once('close', r).once('end', r));
  }
  return new Promise((resolve) => {
    from.pipe(to, { end: false });
    const done = () => {
      // Everything piped is queued on `to`; an empty write's callback fires after it.
      if (to.writableEnded || to.destroyed) return resolve();
      to.write(Buffer.alloc(0), () => resolve());
    };
    from.once('end', done);
    from.once('error', done);
    to.once('close', () => resolve());
  });
}
