// A registry the tests control byte for byte, on loopback in the test process: each request path
// is answered by a handler the test gives, so a case can send an endless manifest, a config that
// does not match its descriptor, a huge token response or an endless error body. Endless bodies
// are written with back-pressure and stop when the client goes (or at a hard limit), and the bytes
// actually sent are counted per path, so a test can show that the daemon stopped reading early.

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { listenLoopbackHttp } from './loopback-http';

export type Handler = (req: IncomingMessage, res: ServerResponse, reg: HostileRegistry) => void;

export interface HostileRegistry {
  /** 127.0.0.1:PORT (loopback: nori speaks plain HTTP to it) */
  host: string;
  /** body bytes written per request path */
  sent: Map<string, number>;
  /** path → handler; a path with none gets 404 */
  routes: Map<string, Handler>;
  stop(): Promise<void>;
}

/** Never more than this from one endless body, whatever the client does. */
export const ENDLESS_LIMIT = 1 << 30;

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function startHostileRegistry(): Promise<HostileRegistry> {
  const reg: HostileRegistry = { host: '', sent: new Map(), routes: new Map(), stop: async () => undefined };
  const server = await listenLoopbackHttp((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const h = reg.routes.get(path) ?? (path === '/v2/' ? json({}) : undefined);
    if (!h) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"NOT_FOUND","message":"no such thing"}]}');
      return;
    }
    h(req, res, reg);
  });
  reg.host = server.host;
  reg.stop = server.stop;
  return reg;
}

const count = (reg: HostileRegistry, req: IncomingMessage, n: number) => {
  const p = (req.url ?? '/').split('?')[0]!;
  reg.sent.set(p, (reg.sent.get(p) ?? 0) + n);
};

/** A fixed answer. */
export function fixed(status: number, headers: Record<string, string>, body: Buffer | string): Handler {
  return (req, res, reg) => {
    const b = Buffer.from(body);
    res.writeHead(status, { 'Content-Length': String(b.length), ...headers });
    res.end(b);
    count(reg, req, b.length);
  };
}

export const json = (v: unknown, contentType = 'application/json'): Handler => fixed(200, { 'Content-Type': contentType }, JSON.stringify(v));

/** `head` then `filler` over and over (chunked, no length) until the client hangs up. */
export function endless(status: number, headers: Record<string, string>, head: Buffer | string, filler: Buffer | string = 'x'.repeat(64 << 10)): Handler {
  return (req, res, reg) => {
    res.writeHead(status, headers);
    const f = Buffer.from(filler);
    let sent = 0;
    let closed = false;
    res.on('close', () => (closed = true));
    const pump = () => {
      while (!closed && sent < ENDLESS_LIMIT) {
        const chunk = sent === 0 ? Buffer.concat([Buffer.from(head), f]) : f;
        sent += chunk.length;
        count(reg, req, chunk.length);
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed) res.end();
    };
    pump();
  };
}

/** `head` and then nothing, until the client hangs up. */
export function stalls(status: number, headers: Record<string, string>, head: Buffer | string): Handler {
  return (req, res, reg) => {
    res.writeHead(status, headers);
    res.write(head);
    count(reg, req, Buffer.byteLength(head));
  };
}

export const MEDIA = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  tarLayer: 'application/vnd.oci.image.layer.v1.tar',
};

export interface CraftedImage {
  repo: string;
  manifest: Buffer;
  config: Buffer;
  layer: Buffer;
  configDigest: string;
  layerDigest: string;
}

/** A one-layer image (an uncompressed tar layer) whose parts a case may then replace. */
export function craftImage(repo: string, layer: Buffer, configOverride?: { digest: string; size: number }): CraftedImage {
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/x'] }, rootfs: { type: 'layers', diff_ids: [layerDigest] } }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configOverride?.digest ?? configDigest, size: configOverride?.size ?? config.length },
      layers: [{ mediaType: MEDIA.tarLayer, digest: layerDigest, size: layer.length }],
    }),
  );
  return { repo, manifest, config, layer, configDigest: configOverride?.digest ?? configDigest, layerDigest };
}

/** Serves an image's manifest (as :latest), config and layer, unless the case overrides a part. */
export function serveImage(reg: HostileRegistry, img: CraftedImage, override: { manifest?: Handler; config?: Handler; layer?: Handler } = {}): string {
  const base = `/v2/${img.repo}`;
  reg.routes.set(`${base}/manifests/latest`, override.manifest ?? fixed(200, { 'Content-Type': MEDIA.manifest }, img.manifest));
  reg.routes.set(`${base}/blobs/${img.configDigest}`, override.config ?? fixed(200, { 'Content-Type': 'application/octet-stream' }, img.config));
  reg.routes.set(`${base}/blobs/${img.layerDigest}`, override.layer ?? fixed(200, { 'Content-Type': 'application/octet-stream' }, img.layer));
  return `${reg.host}/${img.repo}:latest`;
}

/** The daemon's resident set, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
