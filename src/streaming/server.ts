// nori's streaming server: Exec/Attach/PortForward return a URL here; the API server (or crictl)
// then connects and upgrades to SPDY/3.1 or WebSocket. Routes /exec|attach|portforward/<token>;
// tokens are single-use and live a minute, as kubelet's.

import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log';
import type { Metrics } from '../metrics';
import { UnavailableError } from '../errors';
import { replyError } from './http-reply';
import { netnsDialer } from './portforward';
import { handleSpdy } from './spdy-handler';
import { TOKEN_TTL_MS, TokenCache } from './tokens';
import type { AnyPayload, ExecProcess, ExecTarget, PayloadOf, PortDialer, StreamKind, TlsOptions } from './types';
import { handleWebSocket, isWebSocketUpgrade } from './ws-handler';

export interface StreamingServerOptions {
  /** host:port; port 0 picks a free port. */
  listen: string;
  log: Logger;
  metrics?: Metrics;
  tls?: TlsOptions;
  /** The container runtime side; may also be set later with setTarget(). */
  target?: ExecTarget;
  /** Overrides how port-forward connects (tests); default: the pod's netns via the native addon. */
  dial?: PortDialer;
  tokenTtlMs?: number;
  /** Host put in URLs; default the listen host (127.0.0.1 when that is a wildcard). */
  advertiseHost?: string;
}

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)\/?$/;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.trim());
  if (!m) throw new Error(`streaming listen address ${JSON.stringify(listen)} is not host:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`streaming listen port ${port} out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export class StreamingServer {
  private readonly tokens: TokenCache;
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  private target?: ExecTarget;
  private readonly dial: PortDialer;
  private bound?: { host: string; port: number };
  private readonly sessions?: import('prom-client').Counter<'kind' | 'transport'>;
  private readonly rejected?: import('prom-client').Counter<'reason'>;
  private readonly open?: import('prom-client').Gauge<'kind'>;

  constructor(private readonly opts: StreamingServerOptions) {
    this.tokens = new TokenCache(opts.tokenTtlMs ?? TOKEN_TTL_MS);
    this.target = opts.target;
    this.dial = opts.dial ?? netnsDialer(() => this.target);
    if (opts.metrics) {
      this.sessions = opts.metrics.counter('nori_streaming_sessions_total', 'Streaming sessions started, by kind and transport', ['kind', 'transport']);
      this.rejected = opts.metrics.counter('nori_streaming_rejected_total', 'Streaming requests refused, by reason', ['reason']);
      this.open = opts.metrics.gauge('nori_streaming_sessions_open', 'Streaming sessions open now, by kind', ['kind']);
    }
  }

  setTarget(target: ExecTarget): void {
    this.target = target;
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.opts.listen);
    const server = this.opts.tls ? https.createServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }) : http.createServer();
    server.on('request', (req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on(this.opts.tls ? 'secureConnection' : 'connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.bound = { host, port: (server.address() as AddressInfo).port };
    this.opts.log.info({ address: this.baseUrl }, 'streaming server listening');
  }

  /** Stops listening and cuts every live session (the processes behind them get killed). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get port(): number {
    if (!this.bound) throw new UnavailableError('streaming server not started');
    return this.bound.port;
  }

  get baseUrl(): string {
    if (!this.bound) throw new UnavailableError('streaming server not started');
    let host = this.opts.advertiseHost ?? this.bound.host;
    if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
    if (host.includes(':')) host = `[${host}]`;
    return `${this.opts.tls ? 'https' : 'http'}://${host}:${this.bound.port}`;
  }

  /** A fresh single-use URL for the request. */
  register<K extends StreamKind>(kind: K, payload: PayloadOf[K]): string {
    const token = this.tokens.insert({ kind, payload } as AnyPayload);
    return `${this.baseUrl}/${kind}/${token}`;
  }

  getExecUrl(req: { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): string {
    return this.register('exec', { containerId: req.containerId, cmd: [...req.cmd], tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
  }

  getAttachUrl(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }): string {
    return this.register('attach', { containerId: req.containerId, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
  }

  getPortForwardUrl(req: { podSandboxId: string; port: number[] }): string {
    return this.register('portforward', { sandboxId: req.podSandboxId, ports: [...req.port] });
  }

  private lookup(url: string | undefined): AnyPayload | undefined {
    const m = ROUTE.exec((url ?? '').split('?')[0]);
    if (!m) return undefined;
    const request = this.tokens.consume(m[2]);
    // A token only opens the route it was issued for; either way it is spent.
    return request && request.kind === m[1] ? request : undefined;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const request = this.lookup(req.url);
    if (!request) {
      this.rejected?.inc({ reason: 'not_found' });
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    this.rejected?.inc({ reason: 'bad_upgrade' });
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('unable to upgrade: missing upgrade headers in request\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', (err) => this.opts.log.debug({ err }, 'streaming: socket error'));
    const request = this.lookup(req.url);
    if (!request) {
      this.rejected?.inc({ reason: 'not_found' });
      replyError(socket, 404, 'not found');
      return;
    }
    const ws = isWebSocketUpgrade(req);
    this.sessions?.inc({ kind: request.kind, transport: ws ? 'websocket' : 'spdy' });
    if (this.open) {
      const open = this.open;
      open.inc({ kind: request.kind });
      socket.once('close', () => open.dec({ kind: request.kind }));
    }
    this.opts.log.debug({ kind: request.kind, transport: ws ? 'websocket' : 'spdy' }, 'streaming session');
    const deps = { log: this.opts.log, dial: this.dial, start: this.starter(request) };
    if (ws) handleWebSocket(req, socket, head, request, deps);
    else handleSpdy(req, socket, head, request, deps);
  }

  private starter(request: AnyPayload): (() => Promise<ExecProcess>) | undefined {
    if (request.kind === 'portforward') return undefined;
    return async () => {
      const t = this.target;
      if (!t) throw new UnavailableError('no container runtime attached to the streaming server');
      const p = request.payload;
      const stdio = { tty: p.tty, stdin: p.stdin, stdout: p.stdout, stderr: p.stderr && !p.tty };
      return request.kind === 'exec' ? t.exec(p.containerId, request.payload.cmd, stdio) : t.attach(p.containerId, stdio);
    };
  }
}
