// Running one plugin binary, as libcni's invoke.RawExec does: the CNI_* variables on top of our
// own environment, the config on stdin, the result (or a CNI error object) on stdout, and a
// retry when the binary is busy being replaced. On top of libcni: a per-exec timeout that kills
// the plugin's whole process group (bridge runs host-local as a child), and an abort signal.

import { spawn } from 'node:child_process';
import { CancelledError, errorMessage } from '../errors';
import { CniPluginError, CniPluginTimeoutError } from './cni-errors';
import type { CniCommand } from './cni-types';

export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

export interface PluginExecRequest {
  /** For error messages: the network and the plugin `type`. */
  readonly network: string;
  readonly pluginType: string;
  readonly pluginPath: string;
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly args: ReadonlyArray<readonly [string, string]>;
  readonly binDirs: readonly string[];
  readonly stdin: Buffer;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Environment the CNI variables are added to; defaults to this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Receives what the plugin wrote to stderr (libcni copies it to its own stderr). */
  readonly onStderr?: (text: string) => void;
}

/** libcni Args.AsEnv: CNI_ARGS is `K=V;K=V`; the CNI variables override inherited ones. */
export function pluginEnv(req: Pick<PluginExecRequest, 'command' | 'containerId' | 'netns' | 'ifName' | 'args' | 'binDirs' | 'env'>): NodeJS.ProcessEnv {
  return {
    ...(req.env ?? process.env),
    CNI_COMMAND: req.command,
    CNI_CONTAINERID: req.containerId,
    CNI_NETNS: req.netns,
    CNI_ARGS: req.args.map(([k, v]) => `${k}=${v}`).join(';'),
    CNI_IFNAME: req.ifName,
    CNI_PATH: req.binDirs.join(':'),
  };
}

const TEXT_BUSY_RETRIES = 5;
const TEXT_BUSY_DELAY_MS = 1000;

/** Runs the plugin and returns its stdout; throws CniPluginError / CniPluginTimeoutError. */
export async function execPlugin(req: PluginExecRequest): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await runOnce(req);
    if (outcome.kind === 'ok') return outcome.stdout;
    // The binary is being written (an upgrade in progress): libcni waits a second and retries.
    if (outcome.kind === 'spawn-error' && outcome.code === 'ETXTBSY' && attempt < TEXT_BUSY_RETRIES) {
      await new Promise((r) => setTimeout(r, TEXT_BUSY_DELAY_MS));
      continue;
    }
    throw toError(req, outcome);
  }
}

type Outcome =
  | { kind: 'ok'; stdout: Buffer }
  | { kind: 'exit'; status: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer }
  | { kind: 'spawn-error'; code: string | undefined; message: string }
  | { kind: 'timeout' }
  | { kind: 'aborted' };

function runOnce(req: PluginExecRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    if (req.signal?.aborted) return resolve({ kind: 'aborted' });
    // A new process group, so a timeout can kill the plugin's children (IPAM delegates) too.
    const child = spawn(req.pluginPath, [], { env: pluginEnv(req), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let stopped: 'timeout' | 'aborted' | null = null;

    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const stop = (why: 'timeout' | 'aborted') => {
      if (stopped || settled) return;
      stopped = why;
      killGroup();
      // Do not wait for 'close': a grandchild that left the group could hold stdout open.
      child.stdout.destroy();
      child.stderr.destroy();
      finish({ kind: why });
    };
    // 0 or Infinity means no limit (setTimeout would fire at once for values past 2^31-1).
    const limited = Number.isFinite(req.timeoutMs) && req.timeoutMs > 0;
    const timer = limited ? setTimeout(() => stop('timeout'), req.timeoutMs) : undefined;
    const onAbort = () => stop('aborted');
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };

    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // A plugin that exits without reading stdin closes the pipe under us; its exit status says
    // whether it failed, so the EPIPE itself is not interesting.
    child.stdin.on('error', () => {});
    child.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'spawn-error', code: e.code, message: errorMessage(e) }));
    child.on('close', (status, signal) => {
      if (stopped) return;
      const stderr = Buffer.concat(err);
      if (stderr.length > 0 && req.onStderr) req.onStderr(stderr.toString('utf8'));
      const stdout = Buffer.concat(out);
      if (status === 0) return finish({ kind: 'ok', stdout });
      // Children left in the group after a failed plugin (rare) should not outlive it.
      killGroup();
      finish({ kind: 'exit', status, signal, stdout, stderr });
    });
    child.stdin.end(req.stdin);
  });
}

function toError(req: PluginExecRequest, o: Exclude<Outcome, { kind: 'ok' }>): Error {
  const fail = (code: number | undefined, msg: string, details = '', stderr = '') =>
    new CniPluginError(req.network, req.pluginType, req.command, code, msg, details, stderr);
  switch (o.kind) {
    case 'timeout':
      return new CniPluginTimeoutError(req.network, req.pluginType, req.command, req.timeoutMs);
    case 'aborted':
      return new CancelledError(`network "${req.network}": plugin type="${req.pluginType}" (${req.command.toLowerCase()}) cancelled`);
    case 'spawn-error':
      return fail(undefined, `failed to execute ${req.pluginPath}: ${o.message}`);
    case 'exit':
      return parsePluginFailure(o.stdout, o.stderr, exitText(o.status, o.signal), fail);
  }
}

/**
 * libcni RawExec.pluginErr: the CNI error object from stdout ({code, msg, details}); without
 * one, stderr or the exit status stand in as the message.
 */
export function parsePluginFailure<E>(
  stdout: Buffer,
  stderr: Buffer,
  exit: string,
  make: (code: number | undefined, msg: string, details: string, stderr: string) => E,
): E {
  const errText = stderr.toString('utf8');
  if (stdout.length === 0) {
    if (stderr.length === 0) return make(undefined, `netplugin failed with no error message: ${exit}`, '', errText);
    return make(undefined, `netplugin failed: ${JSON.stringify(errText)}: ${exit}`, '', errText);
  }
  const text = stdout.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return make(undefined, `netplugin failed but error parsing its diagnostic message ${JSON.stringify(text)}: ${errorMessage(e)}`, '', errText);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return make(undefined, `netplugin failed but its diagnostic message is not an object: ${JSON.stringify(text)}`, '', errText);
  }
  const o = parsed as Record<string, unknown>;
  const code = typeof o['code'] === 'number' ? o['code'] : undefined;
  const msg = typeof o['msg'] === 'string' ? o['msg'] : '';
  const details = typeof o['details'] === 'string' ? o['details'] : '';
  return make(code, msg, details, errText);
}

function exitText(status: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal: ${signal}` : `exit status ${status}`;
}
