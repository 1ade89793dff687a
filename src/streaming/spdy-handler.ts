// The SPDY side of the streaming server: negotiates X-Stream-Protocol-Version and the SPDY/3.1
// upgrade exactly as kubelet does, then serves remotecommand (exec/attach) or port-forward.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log';
import { headerList, replyError, replySwitching } from './http-reply';
import { servePortForwardSpdy } from './portforward-spdy';
import {
  HEADER_ACCEPTED_PROTOCOL_VERSIONS,
  HEADER_PROTOCOL_VERSION,
  SPDY_31,
  SPDY_PORTFORWARD,
  SPDY_REMOTECOMMAND,
  negotiate,
} from './protocols';
import { type ClientStreams, runSession } from './remotecommand';
import { SpdyConnection, type SpdyStream } from './spdy/connection';
import { encodeStatus } from './status';
import type { AnyPayload, ExecProcess, PortDialer, StdioOptions } from './types';

/** How long the client has to open every stream it announced (kubelet: 30 s). */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export interface SpdyDeps {
  log: Logger;
  start: () => Promise<ExecProcess>;
  dial: PortDialer;
  streamCreationTimeoutMs?: number;
}

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  const conn = headerList(req.headers.connection).map((v) => v.toLowerCase());
  const up = headerList(req.headers.upgrade).map((v) => v.toLowerCase());
  return conn.includes('upgrade') && up.includes(SPDY_31.toLowerCase());
}

export function handleSpdy(req: IncomingMessage, socket: Socket, head: Buffer, request: AnyPayload, deps: Omit<SpdyDeps, 'start'> & { start?: () => Promise<ExecProcess> }): void {
  const offered = headerList(req.headers[HEADER_PROTOCOL_VERSION.toLowerCase()]);
  const server: readonly string[] = request.kind === 'portforward' ? SPDY_PORTFORWARD : SPDY_REMOTECOMMAND;
  if (offered.length === 0) {
    replyError(socket, 400, `unable to upgrade: ${HEADER_PROTOCOL_VERSION} is required`);
    return;
  }
  const protocol = negotiate(offered, server);
  if (!protocol) {
    replyError(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${server.join(' ')}]`, {
      [HEADER_ACCEPTED_PROTOCOL_VERSIONS]: [...server],
    });
    return;
  }
  if (!isSpdyUpgrade(req)) {
    replyError(socket, 400, 'unable to upgrade: missing upgrade headers in request');
    return;
  }
  replySwitching(socket, { Connection: 'Upgrade', Upgrade: SPDY_31, [HEADER_PROTOCOL_VERSION]: protocol });
  const conn = new SpdyConnection(socket, head);
  conn.on('protocolError', (err: Error) => deps.log.debug({ err }, 'streaming: SPDY protocol error'));
  if (request.kind === 'portforward') {
    servePortForwardSpdy(conn, request.payload.sandboxId, deps.dial, deps.log);
    return;
  }
  const p = request.payload;
  const stdio: StdioOptions = { tty: p.tty, stdin: p.stdin, stdout: p.stdout, stderr: p.stderr && !p.tty };
  const cmd = request.kind === 'exec' ? request.payload.cmd : undefined;
  void serveRemoteCommandSpdy(conn, protocol, stdio, { ...deps, start: deps.start! }, request.kind === 'exec', cmd);
}

function expectedStreams(protocol: string, o: StdioOptions): Set<string> {
  const want = new Set(['error']);
  if (o.stdin) want.add('stdin');
  if (o.stdout) want.add('stdout');
  if (o.stderr && !o.tty) want.add('stderr');
  if (o.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io') want.add('resize');
  return want;
}

async function serveRemoteCommandSpdy(conn: SpdyConnection, protocol: string, o: StdioOptions, deps: SpdyDeps, reportExitCode: boolean, cmd?: string[]): Promise<void> {
  const want = expectedStreams(protocol, o);
  const got = new Map<string, SpdyStream>();
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), deps.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS);
    timer.unref();
    conn.on('stream', (s: SpdyStream) => {
      s.on('error', () => undefined);
      const type = s.header('streamtype') ?? '';
      if (!want.has(type) || got.has(type)) {
        deps.log.debug({ type }, 'streaming: unexpected SPDY stream');
        s.reset();
        return;
      }
      got.set(type, s);
      if (got.size === want.size) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    conn.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    deps.log.debug({ got: [...got.keys()] }, 'streaming: client did not open its streams');
    conn.destroy();
    return;
  }
  const errorStream = got.get('error')!;
  const client: ClientStreams = {
    stdin: got.get('stdin'),
    stdout: got.get('stdout'),
    stderr: got.get('stderr'),
    resize: got.get('resize'),
    writeStatus: async (status) => {
      const bytes = encodeStatus(status, protocol === 'v4.channel.k8s.io');
      await new Promise<void>((resolve) => {
        if (bytes) errorStream.write(bytes);
        errorStream.end(() => resolve());
        errorStream.once('close', () => resolve());
      });
    },
    close: () => conn.close(),
    onGone: (cb) => conn.once('close', cb),
  };
  await runSession(deps.start, client, { reportExitCode, cmd, log: deps.log });
}
