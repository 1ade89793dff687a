// Streaming clients that attack the daemon's memory (real bin/nori, a real container): a SPDY
// header block that inflates to 128 MiB (a zlib bomb on a valid stream), a WebSocket frame
// announcing 1 GiB, a fragmented WebSocket message past the 4 MiB bound. Each is refused (the
// connection closed, WebSocket code 1009), the daemon's RSS grows by less than 50 MiB, and other
// sessions opened before the attack (SPDY and WebSocket exec of `cat`) keep echoing. A message
// in 20,000 one-byte fragments and a 3 MiB frame in many TCP pieces still arrive whole.

import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as zlib from 'node:zlib';
import { SPDY_DICTIONARY } from '../../../src/streaming/spdy/dictionary';
import { rssBytes } from '../../helpers/hostile-registry';
import { rawRequest, SpdyClient, openRemotecommandStreams, type ClientStream } from '../../helpers/spdy-client';
import { WsClient } from '../../helpers/ws-client';
import { canRun, privateNori, type PrivateNori } from './private_nori';

const MiB = 1 << 20;
const V4 = 'v4.channel.k8s.io';
const V5 = 'v5.channel.k8s.io';

/** A SPDY header block (count, then u32-length name/value pairs) deflated with the SPDY
 *  dictionary and sync-flushed, as a client's first block; the value is `valueBytes` of 'a'. */
async function bombBlock(valueBytes: number): Promise<Buffer> {
  const z = zlib.createDeflate({ dictionary: SPDY_DICTIONARY, level: 9 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const head = Buffer.alloc(4 + 4 + 4 + 4);
  head.writeUInt32BE(1, 0);
  head.writeUInt32BE(4, 4);
  head.write('bomb', 8);
  head.writeUInt32BE(valueBytes, 12);
  z.write(head);
  const chunk = Buffer.alloc(MiB, 0x61);
  for (let left = valueBytes; left > 0; left -= MiB) {
    if (!z.write(left >= MiB ? chunk : chunk.subarray(0, left))) await once(z, 'drain');
  }
  await new Promise<void>((r) => z.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  z.close();
  return Buffer.concat(out);
}

function synStream(streamId: number, block: Buffer): Buffer {
  const f = Buffer.alloc(8 + 10);
  f.writeUInt32BE(0x80030001, 0); // control, version 3, SYN_STREAM
  f.writeUIntBE(10 + block.length, 5, 3);
  f.writeUInt32BE(streamId, 8);
  return Buffer.concat([f, block]);
}

/** Writes frames from next() as fast as the socket takes them until it stops taking them for a
 *  second (the daemon stopped reading) or `limit` bytes went out; returns the bytes written. */
async function floodUntilStalled(socket: import('node:net').Socket, next: () => Buffer, limit: number): Promise<number> {
  let sent = 0;
  while (sent < limit && !socket.destroyed) {
    const f = next();
    sent += f.length;
    if (!socket.write(f)) {
      const drained = await Promise.race([once(socket, 'drain').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1000))]);
      if (!drained) break;
    }
  }
  return sent;
}

describe('hostile streaming clients are bounded (real daemon)', function () {
  this.timeout(120_000);
  let env: PrivateNori;
  let ctr: string;
  let spdyCat: { stdin: ClientStream; stdout: ClientStream };
  let wsCat: WsClient;

  const exec = async (cmd: string[], extra: Record<string, unknown> = {}) =>
    (await env.nori.client.call('Exec', { container_id: ctr, cmd, stdout: true, ...extra })).url as string;

  async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The sessions opened before the attack still carry bytes both ways, and the daemon answers. */
  async function othersUnaffected(tag: string): Promise<void> {
    assert.equal((await env.nori.client.call('Version', {}, { deadlineMs: 2000 })).runtime_name, 'nori');
    spdyCat.stdin.write(`spdy-${tag}\n`);
    await until(`the SPDY session to echo ${tag}`, () => spdyCat.stdout.text().includes(`spdy-${tag}\n`));
    wsCat.sendChannel(0, `ws-${tag}\n`);
    await until(`the WebSocket session to echo ${tag}`, () => wsCat.text(1).includes(`ws-${tag}\n`));
  }

  /** Runs attack(), sampling the daemon's RSS every 20 ms until done() holds; returns the growth. */
  async function peakGrowth(attack: () => void, done: () => boolean, what: string): Promise<{ growth: number; ms: number }> {
    const pid = env.nori.proc.pid!;
    const before = rssBytes(pid);
    let peak = before;
    const t0 = Date.now();
    attack();
    await until(what, () => {
      peak = Math.max(peak, rssBytes(pid));
      return done();
    });
    const ms = Date.now() - t0;
    peak = Math.max(peak, rssBytes(pid));
    const growth = peak - before;
    assert.ok(growth < 50 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
    console.log(`      ${what}: ${ms} ms, RSS +${(growth / MiB).toFixed(1)} MiB`);
    return { growth, ms };
  }

  before(async function () {
    if (!canRun()) this.skip();
    env = await privateNori();
    const config = env.podConfig('strm', { linux: { security_context: { namespace_options: { network: 'NODE' } } } });
    const pod = (await env.nori.client.call('RunPodSandbox', { config })).pod_sandbox_id;
    ctr = (
      await env.nori.client.call('CreateContainer', {
        pod_sandbox_id: pod, sandbox_config: config,
        config: { metadata: { name: 'c' }, image: { image: env.busybox }, command: ['sleep', '3600'], log_path: 'c.log' },
      })
    ).container_id;
    await env.nori.client.call('StartContainer', { container_id: ctr });
    const s = await openRemotecommandStreams(await SpdyClient.connect(await exec(['cat'], { stdin: true }), [V4]), { stdin: true });
    spdyCat = { stdin: s.stdin!, stdout: s.stdout! };
    wsCat = await WsClient.connect(await exec(['cat'], { stdin: true }), [V5]);
    await othersUnaffected('start');
  });
  after(async () => {
    wsCat?.socket.destroy();
    await env?.cleanup();
  });

  it('a SPDY header block that inflates to 128 MiB closes that connection at the 1 MiB bound', async () => {
    const block = await bombBlock(128 * MiB);
    assert.ok(block.length < 1 * MiB, `the bomb is ${block.length} bytes on the wire`);
    const r = await rawRequest(await exec(['true']), 'POST', [
      ['Connection', 'Upgrade'], ['Upgrade', 'SPDY/3.1'], ['X-Stream-Protocol-Version', V4], ['Content-Length', '0'],
    ]);
    assert.equal(r.status, 101);
    r.socket.on('error', () => undefined);
    r.socket.resume();
    let closed = false;
    r.socket.once('close', () => (closed = true));
    await peakGrowth(() => r.socket.write(synStream(1, block)), () => closed, 'SPDY zlib bomb: connection closed');
    await othersUnaffected('after-bomb');
  });

  it('a WebSocket frame announcing 1 GiB is refused with 1009 from its header alone', async () => {
    const ws = await WsClient.connect(await exec(['cat'], { stdin: true }), [V5]);
    ws.socket.on('error', () => undefined);
    const head = Buffer.alloc(14);
    head[0] = 0x82; // fin, binary
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(1n << 30n, 2);
    await peakGrowth(() => ws.socket.write(Buffer.concat([head, Buffer.alloc(64 * 1024, 1)])), () => ws.closeCode !== undefined || ws.closed, 'WebSocket 1 GiB frame: closed');
    assert.equal(ws.closeCode, 1009);
    ws.socket.destroy();
    await othersUnaffected('after-huge-frame');
  });

  it('a fragmented WebSocket message past 4 MiB is refused with 1009 at the fragment that passes it', async () => {
    const ws = await WsClient.connect(await exec(['cat'], { stdin: true }), [V5]);
    ws.socket.on('error', () => undefined);
    const piece = Buffer.alloc(256 * 1024, 0x62);
    let sent = 0;
    await peakGrowth(
      () => {
        // 24 fragments of 256 KiB: 6 MiB announced in pieces, the 17th passes 4 MiB
        for (let i = 0; i < 24 && !ws.closed; i++) {
          ws.frame(i === 0 ? 2 : 0, i === 0 ? Buffer.concat([Buffer.from([0]), piece]) : piece, false);
          sent += piece.length;
        }
      },
      () => ws.closeCode !== undefined || ws.closed,
      'WebSocket fragmented 6 MiB message: closed',
    );
    assert.equal(ws.closeCode, 1009);
    assert.ok(sent > 4 * MiB);
    ws.socket.destroy();
    await othersUnaffected('after-fragments');
  });

  it('stdin nobody reads: the daemon stops reading the WebSocket (TCP pushes back) instead of buffering it', async () => {
    const ws = await WsClient.connect(await exec(['sleep', '3600'], { stdin: true }), [V5]);
    ws.socket.on('error', () => undefined);
    const payload = Buffer.concat([Buffer.from([0]), Buffer.alloc(64 * 1024, 0x63)]);
    const frame = () => {
      // one masked binary frame on channel 0, built as the client helper builds it
      let out: Buffer = Buffer.alloc(0);
      const write = ws.socket.write.bind(ws.socket);
      (ws.socket as unknown as { write: (b: Buffer) => boolean }).write = (b: Buffer) => ((out = b), true);
      ws.frame(2, payload);
      (ws.socket as unknown as { write: typeof write }).write = write;
      return out;
    };
    let sent = 0;
    const { growth } = await peakGrowth(
      () => void floodUntilStalled(ws.socket, frame, 256 * MiB).then((n) => (sent = n)),
      () => sent > 0,
      'WebSocket stdin flood: stalled',
    );
    assert.ok(sent < 64 * MiB, `the client could push ${(sent / MiB).toFixed(1)} MiB`);
    console.log(`      (the client pushed ${(sent / MiB).toFixed(1)} MiB before the daemon stopped reading; RSS +${(growth / MiB).toFixed(1)} MiB)`);
    ws.socket.destroy();
    await othersUnaffected('after-ws-flood');
  });

  it('stdin nobody reads: the daemon stops reading the SPDY connection instead of buffering it', async () => {
    const c = await SpdyClient.connect(await exec(['sleep', '3600'], { stdin: true }), [V4]);
    c.socket.on('error', () => undefined);
    const s = await openRemotecommandStreams(c, { stdin: true });
    const data = Buffer.alloc(64 * 1024, 0x64);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(s.stdin!.id, 0);
    head.writeUIntBE(data.length, 5, 3);
    const frame = Buffer.concat([head, data]);
    let sent = 0;
    const { growth } = await peakGrowth(
      () => void floodUntilStalled(c.socket, () => frame, 256 * MiB).then((n) => (sent = n)),
      () => sent > 0,
      'SPDY stdin flood: stalled',
    );
    assert.ok(sent < 64 * MiB, `the client could push ${(sent / MiB).toFixed(1)} MiB`);
    console.log(`      (the client pushed ${(sent / MiB).toFixed(1)} MiB before the daemon stopped reading; RSS +${(growth / MiB).toFixed(1)} MiB)`);
    c.socket.destroy();
    await othersUnaffected('after-spdy-flood');
  });

  it('a message in 20,000 one-byte fragments and a 3 MiB frame in small TCP pieces arrive whole', async () => {
    const ws = await WsClient.connect(await exec(['cat'], { stdin: true }), [V5]);
    const text = Buffer.from(Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
    ws.frame(2, Buffer.from([0]), false); // channel 0 (stdin), then one byte per fragment
    for (let i = 0; i < text.length; i++) ws.frame(0, text.subarray(i, i + 1), i === text.length - 1);
    await until('the fragmented message echoed', () => ws.text(1).length >= text.length);
    assert.equal(ws.text(1), text.toString());
    // one frame of 3 MiB, written to the socket 1000 bytes at a time
    const big = Buffer.alloc(3 * MiB);
    for (let i = 0; i < big.length; i++) big[i] = 65 + (i % 26);
    const before = ws.text(1).length;
    const write = ws.socket.write.bind(ws.socket);
    const pieces: Buffer[] = [];
    (ws.socket as unknown as { write: (b: Buffer) => boolean }).write = (b: Buffer) => (pieces.push(b), true);
    ws.sendChannel(0, big);
    (ws.socket as unknown as { write: typeof write }).write = write;
    const wire = Buffer.concat(pieces);
    for (let off = 0; off < wire.length; off += 1000) ws.socket.write(wire.subarray(off, off + 1000));
    await until('the 3 MiB frame echoed', () => ws.text(1).length >= before + big.length, 30_000);
    assert.ok(ws.text(1).slice(before) === big.toString(), 'the 3 MiB message arrived whole');
    ws.socket.destroy();
  });
});
