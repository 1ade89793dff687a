// The WebSocket side of the streaming server: the RFC 6455 handshake with kubelet's subprotocol
// negotiation, then remotecommand or port-forward over channel-prefixed messages.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log';
import { headerList, replyError, replySwitching } from './http-reply';
import { WS_CHANNEL, WS_PORTFORWARD, WS_REMOTECOMMAND, type WsProtocol } from './protocols';
import { type ClientStreams, runSession } from './remotecommand';
import { encodeStatus } from './status';
import type { AnyPayload, ExecProcess, PortDialer } from './types';
import { WsChannels } from './websocket/channels';
import { WsConnection, acceptKey } from './websocket/connection';

export interface WsDeps {
  log: Logger;
  start?: () => Promise<ExecProcess>;
  dial: PortDialer;
}

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const conn = headerList(req.headers.connection).map((v) => v.toLowerCase());
  return conn.includes('upgrade') && (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

export function handleWebSocket(req: IncomingMessage, socket: Socket, head: Buffer, request: AnyPayload, deps: WsDeps): void {
  const key = req.headers['sec-websocket-key'];
  if (req.method !== 'GET' || typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) {
    replyError(socket, 400, 'bad websocket handshake');
    return;
  }
  if (req.headers['sec-websocket-version'] !== '13') {
    replyError(socket, 400, 'unsupported websocket version', { 'Sec-WebSocket-Version': '13' });
    return;
  }
  const table = request.kind === 'portforward' ? WS_PORTFORWARD : WS_REMOTECOMMAND;
  const offered = headerList(req.headers['sec-websocket-protocol']);
  const chosen = offered.length === 0 ? '' : offered.find((p) => p in table && p !== '');
  if (chosen === undefined) {
    replyError(socket, 400, `requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${Object.keys(table).filter((k) => k).join(' ')}]`);
    return;
  }
  let ports: number[] = [];
  if (request.kind === 'portforward') {
    const url = new URL(req.url ?? '/', 'http://x');
    const named = headerList(url.searchParams.getAll('ports'));
    ports = named.length > 0 ? named.map(Number) : request.payload.ports;
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
      replyError(socket, 400, 'port-forward needs ports=<port>[,<port>...] in 1-65535');
      return;
    }
  }
  const headers: Record<string, string> = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Accept': acceptKey(key) };
  if (chosen !== '') headers['Sec-WebSocket-Protocol'] = chosen;
  replySwitching(socket, headers);
  const ws = new WsConnection(socket, head);
  const proto = table[chosen];
  if (request.kind === 'portforward') {
    void servePortForwardWs(ws, proto, request.payload.sandboxId, ports, deps);
    return;
  }
  const p = request.payload;
  void serveRemoteCommandWs(ws, proto, { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr && !p.tty, tty: p.tty }, deps, request.kind === 'exec', request.kind === 'exec' ? request.payload.cmd : undefined);
}

async function serveRemoteCommandWs(
  ws: WsConnection,
  proto: WsProtocol,
  o: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  deps: WsDeps,
  reportExitCode: boolean,
  cmd?: string[],
): Promise<void> {
  const ch = new WsChannels(ws, proto);
  const client: ClientStreams = {
    stdin: o.stdin ? ch.readable(WS_CHANNEL.stdin) : undefined,
    stdout: o.stdout ? ch.writable(WS_CHANNEL.stdout) : undefined,
    stderr: o.stderr ? ch.writable(WS_CHANNEL.stderr) : undefined,
    resize: o.tty ? ch.readable(WS_CHANNEL.resize) : undefined,
    writeStatus: async (status) => {
      const bytes = encodeStatus(status, proto.jsonStatus);
      if (bytes) await ch.send(WS_CHANNEL.error, bytes);
    },
    close: () => ws.close(1000),
    onGone: (cb) => ws.once('close', cb),
  };
  // Tell the client the streams are up: an empty message on the lowest writable channel.
  const first = o.stdout ? WS_CHANNEL.stdout : o.stderr ? WS_CHANNEL.stderr : WS_CHANNEL.error;
  await ch.send(first, Buffer.alloc(0)).catch(() => undefined);
  await runSession(deps.start!, client, { reportExitCode, cmd, log: deps.log });
}

async function servePortForwardWs(ws: WsConnection, proto: WsProtocol, sandboxId: string, ports: number[], deps: WsDeps): Promise<void> {
  const ch = new WsChannels(ws, proto);
  const sockets = new Set<import('node:net').Socket>();
  ws.once('close', () => {
    for (const s of sockets) s.destroy();
  });
  const one = async (port: number, i: number) => {
    const dataCh = i * 2;
    const errCh = i * 2 + 1;
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    const input = ch.readable(dataCh);
    await ch.send(dataCh, portBytes);
    await ch.send(errCh, portBytes);
    try {
      const tcp = await deps.dial(sandboxId, port);
      sockets.add(tcp);
      await new Promise<void>((resolve) => {
        const out = ch.writable(dataCh);
        input.pipe(tcp);
        tcp.pipe(out);
        // A WebSocket channel cannot be half-closed, so the pod's FIN ends this port once
        // everything it sent has gone out.
        out.once('finish', () => {
          tcp.destroy();
          resolve();
        });
        out.once('error', () => resolve());
        tcp.once('close', () => setTimeout(resolve, 1000).unref());
        tcp.once('error', (e) => {
          void ch.send(errCh, Buffer.from(`error forwarding port ${port} to pod ${sandboxId}: ${e.message}`)).catch(() => undefined);
          resolve();
        });
      });
    } catch (e) {
      await ch.send(errCh, Buffer.from(`error forwarding port ${port} to pod ${sandboxId}: ${e instanceof Error ? e.message : String(e)}`)).catch(() => undefined);
    }
  };
  await Promise.all(ports.map(one));
  await ws.close(1000);
}
