// The gRPC server's HTTP/2 against a hostile or unusual peer, part 2: flow control, limits and
// floods, cancellation, a client's GOAWAY. Frames written by hand (raw-h2.ts); expectations from
// RFC 9113 (sections cited per test), not from whichever HTTP/2 implementation GrpcServer sits on.

import { strict as assert } from 'node:assert';
import type { AbortReason, Method } from '../../../src/grpc/h2_server';
import { FLAG, FT, H2_ERROR, PeerFixture, RawH2, errorName, frame, grpcMessage, grpcRequestBlock, headerBlocks, hpackLiteral, parseSettings, settingsPayload } from '../../helpers/raw-h2';
import { DATA_CHUNK, rstCode, streamGrants, totalOf, waitAnswered, writeRequest } from '../../helpers/raw-h2-calls';
import { until } from '../../helpers/until';

const E = H2_ERROR;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const u32 = (n: number) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
const BIG = Buffer.alloc(200 * 1024);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7 + (i >> 10)) & 0xff;

describe('the gRPC server against a hostile HTTP/2 peer: flow control, limits, floods', function () {
  this.timeout(3000);
  // '/t.S/Slow' records its aborts but returns only when released, like a method that finishes its
  // work before it looks at the cancel: the rapid-reset test needs methods still running.
  const slow = { started: 0, returned: 0, aborts: [] as AbortReason[], pending: [] as (() => void)[] };
  const release = () => slow.pending.splice(0).forEach((r) => r());

  const methods: Record<string, Method> = {
    '/t.S/Echo': { responseStream: false, run: async (req) => req },
    '/t.S/Big': { responseStream: false, run: async () => BIG },
    '/t.S/Slow': {
      responseStream: false,
      run: (_req, call) =>
        new Promise((resolve) => {
          slow.started++;
          call.onAbort = (why) => slow.aborts.push(why);
          slow.pending.push(() => {
            slow.returned++;
            resolve(Buffer.from('slow'));
          });
        }),
    },
  };

  const peer = new PeerFixture(methods);
  before(() => peer.start());
  beforeEach(() => Object.assign(slow, { started: 0, returned: 0, aborts: [] }));
  afterEach(() => {
    release();
    peer.closeConnections();
  });
  after(() => peer.stop());

  async function open(settings?: Buffer): Promise<RawH2> {
    const c = await peer.open(settings);
    await c.waitFor((f) => f.type === FT.SETTINGS && !(f.flags & FLAG.ACK), 0, 1000);
    return c;
  }

  const callFrames = (stream: number, path: string, msg: Buffer = Buffer.alloc(0)) =>
    Buffer.concat([frame(FT.HEADERS, FLAG.END_HEADERS, stream, grpcRequestBlock(path)), frame(FT.DATA, FLAG.END_STREAM, stream, grpcMessage(msg))]);
  const dataOn = (c: RawH2, stream: number) => c.frames.filter((f) => f.type === FT.DATA && f.stream === stream);
  const goawayOf = (c: RawH2) => c.frames.find((f) => f.type === FT.GOAWAY)?.payload.readUInt32BE(4);

  /** The ended answer on `stream`: its last header block (trailers) and its data. */
  async function answer(c: RawH2, stream: number, ms = 1500) {
    await c.waitFor((f) => f.stream === stream && ((f.type === FT.HEADERS && (f.flags & FLAG.END_STREAM) !== 0) || f.type === FT.RST_STREAM), 0, ms);
    const blocks = headerBlocks(c.frames);
    const last = c.frames.reduce((k, f, i) => (f.type === FT.HEADERS && f.stream === stream ? i : k), -1);
    const fields = new Map(blocks.get(last) ?? []);
    return { fields, status: fields.get('grpc-status'), rst: rstCode(c, stream), data: Buffer.concat(dataOn(c, stream).map((f) => f.payload)) };
  }

  async function served(c: RawH2, stream: number): Promise<void> {
    const msg = Buffer.from(`call on stream ${stream}`);
    c.write(callFrames(stream, '/t.S/Echo', msg));
    const a = await answer(c, stream);
    assert.equal(a.status, '0', JSON.stringify({ rst: a.rst, fields: [...a.fields] }));
    assert.deepEqual(a.data, grpcMessage(msg));
  }

  it('sends within the stream and connection windows, DATA of at most 16384 bytes, the message intact (RFC 9113 4.2, 5.2, 6.9)', async () => {
    const c = await open(settingsPayload([0x4, 100], [0x5, 16384]));
    const sent = () => dataOn(c, 1).reduce((n, f) => n + f.payload.length, 0); // padding counts too (6.9.1)
    c.write(callFrames(1, '/t.S/Big'));
    await sleep(300);
    assert.ok(sent() <= 100, `${sent()} bytes of DATA in a stream window of 100`);
    c.write(frame(FT.WINDOW_UPDATE, 0, 1, u32(1000)));
    await until('DATA up to the stream window', () => sent() >= 1100, 1000).catch(() => undefined);
    await sleep(100);
    assert.ok(sent() <= 1100, `${sent()} bytes of DATA in a stream window of 1100`);
    c.write(frame(FT.WINDOW_UPDATE, 0, 1, u32(1 << 20)));
    await until('DATA up to the connection window', () => sent() >= 65535, 1000).catch(() => undefined);
    await sleep(100);
    assert.ok(sent() <= 65535, `${sent()} bytes of DATA in a connection window of 65535`);
    c.write(frame(FT.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
    const a = await answer(c, 1);
    assert.equal(a.status, '0');
    assert.equal(a.data.length, 5 + BIG.length);
    assert.ok(a.data.equals(grpcMessage(BIG)), 'the message arrives intact');
    assert.ok(Math.max(...dataOn(c, 1).map((f) => f.payload.length)) <= 16384);
  });

  it('does not serve a header block of 1 MiB, then serves a new connection (RFC 9113 10.5.1)', async () => {
    const shapes: [string, Buffer[]][] = [
      ['one field of 1 MiB', [hpackLiteral('x-big', 'b'.repeat(1 << 20))]],
      ['256 fields of 4 KiB', Array.from({ length: 256 }, (_, i) => hpackLiteral(`x-big-${i}`, 'b'.repeat(4096)))],
    ];
    for (const [what, fields] of shapes) {
      const c = await open();
      const block = grpcRequestBlock('/t.S/Echo', 'localhost', ...fields);
      const parts = [frame(FT.HEADERS, 0, 1, block.subarray(0, 16384))];
      for (let o = 16384; o < block.length; o += 16384) parts.push(frame(FT.CONTINUATION, o + 16384 >= block.length ? FLAG.END_HEADERS : 0, 1, block.subarray(o, o + 16384)));
      c.write(...parts, frame(FT.DATA, FLAG.END_STREAM, 1, grpcMessage(Buffer.from('x'))));
      await c.waitFor((f) => f.type === FT.GOAWAY || (f.stream === 1 && (f.type === FT.RST_STREAM || (f.type === FT.HEADERS && (f.flags & FLAG.END_STREAM) !== 0))), 0, 1000).catch(() => undefined);
      const ended = c.frames.some((f) => f.stream === 1 && f.type === FT.HEADERS && (f.flags & FLAG.END_STREAM) !== 0);
      const a = ended ? await answer(c, 1) : undefined;
      const refused = c.closed || goawayOf(c) !== undefined || rstCode(c, 1) !== undefined || (a !== undefined && (a.status !== '0' || a.fields.get(':status') !== '200'));
      assert.ok(refused, `${what}: neither refused nor reset; frames: ${c.describe()}`);
      c.close();
      await served(await open(), 1);
    }
  });

  it('closes a connection flooded with CONTINUATION frames (20 MB, never END_HEADERS) before it is all written (RFC 9113 10.5)', async () => {
    const c = await open();
    const field = hpackLiteral('x-f', 'v');
    const cont = frame(FT.CONTINUATION, 0, 1, Buffer.concat(Array(Math.floor(16384 / field.length)).fill(field)));
    const chunk = Buffer.concat(Array(64).fill(cont));
    const TOTAL = 20e6;
    c.write(frame(FT.HEADERS, 0, 1, grpcRequestBlock('/t.S/Echo')));
    let written = 0;
    const deadline = Date.now() + 2000;
    while (written < TOTAL && !c.socket.destroyed && goawayOf(c) === undefined && Date.now() < deadline) {
      written += chunk.length;
      if (!c.socket.write(chunk)) await Promise.race([new Promise((r) => c.socket.once('drain', r)), new Promise((r) => c.socket.once('close', r)), sleep(100)]);
    }
    if (goawayOf(c) !== undefined) await c.waitClosed(500);
    assert.ok(written < TOTAL, `all ${written} bytes were written`);
    assert.ok(c.socket.destroyed || c.closed || goawayOf(c) !== undefined, `still open after ${written} bytes, frames: ${c.describe()}`);
  });

  it('a client RST_STREAM CANCEL aborts the method as "cancelled"; the connection serves the next call (RFC 9113 6.4, 5.1)', async () => {
    const c = await open();
    c.write(callFrames(1, '/t.S/Slow'));
    await until('the method runs', () => slow.started === 1, 1000);
    c.write(frame(FT.RST_STREAM, 0, 1, u32(E.CANCEL)));
    await until('the abort', () => slow.aborts.length > 0, 1000);
    assert.deepEqual(slow.aborts, ['cancelled']);
    await served(c, 3);
    const mark = c.frames.length;
    release(); // the method answers now: nothing of it may go out on the closed stream (5.1)
    await sleep(50);
    assert.deepEqual(c.frames.slice(mark).filter((f) => f.stream === 1 && f.type !== FT.PRIORITY), []);
  });

  it('refuses streams past SETTINGS_MAX_CONCURRENT_STREAMS, also while reset streams\' methods still run (RFC 9113 5.1.2, 8.7)', async function () {
    const c = await open();
    const n = parseSettings(c.frames.find((f) => f.type === FT.SETTINGS)!.payload).get(0x3);
    if (n === undefined || n > 2000) this.skip();
    const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + 2 * i);
    const first = ids(1, n);
    c.write(...first.map((s) => callFrames(s, '/t.S/Slow')));
    await until(`${n} methods running`, () => slow.started === n, 2000);
    const extra = 2 * n + 1;
    c.write(callFrames(extra, '/t.S/Slow'));
    await c.waitFor((f) => f.type === FT.RST_STREAM && f.stream === extra, 0, 1000);
    // 5.1.2 lets the server choose PROTOCOL_ERROR or REFUSED_STREAM for a stream over its limit.
    const over = rstCode(c, extra)!;
    assert.ok(over === E.REFUSED_STREAM || over === E.PROTOCOL_ERROR, errorName(over));
    // Rapid reset: the client cancels them all and opens as many again at once. The cancelled
    // methods have not returned, so a server that counts them (our mitigation; 8.7 allows refusing
    // any stream it has not processed) refuses some of the new streams.
    const second = ids(extra + 2, n);
    c.write(...first.map((s) => frame(FT.RST_STREAM, 0, s, u32(E.CANCEL))), ...second.map((s) => callFrames(s, '/t.S/Slow')));
    await until('an answer to the new streams', () => second.some((s) => rstCode(c, s) !== undefined) || slow.started > n, 1000).catch(() => undefined);
    await sleep(100);
    const refused = second.filter((s) => rstCode(c, s) === E.REFUSED_STREAM).length;
    assert.equal(slow.returned, 0);
    assert.ok(refused >= 1, `none of ${n} new streams refused while ${n} reset methods still ran (${slow.started - n} started)`);
    assert.equal(goawayOf(c), undefined);
    release();
    await until('the methods return', () => slow.returned === slow.started, 1000);
    await served(c, second.at(-1)! + 2);
  });

  it('stops reading a PING flood from a client that does not read, then ACKs every PING (RFC 9113 6.7, 10.5)', async () => {
    const c = await open();
    const ping = frame(FT.PING, 0, 0, Buffer.from('floodpng'));
    const PER = Math.floor(65536 / ping.length); // PINGs per write
    const chunk = Buffer.alloc(ping.length * PER);
    for (let i = 0; i < PER; i++) ping.copy(chunk, i * ping.length);
    const CHUNKS = Math.ceil(200_000 / PER); // 3.4 MB in all
    // writableLength only drops once a whole write is in the kernel, so the flood goes out in 64 KB
    // writes, each after the last drained: it stalls once the kernel buffers (a few hundred KB) are
    // full and the server has stopped reading. A server that reads on, queueing ACKs for a reader
    // that never comes, takes all 3.4 MB.
    c.socket.pause();
    let written = 0;
    let stalled = false;
    while (written < CHUNKS && !c.closed && !stalled) {
      written++;
      if (!c.socket.write(chunk)) stalled = !(await Promise.race([new Promise<boolean>((r) => c.socket.once('drain', () => r(true))), sleep(200).then(() => false)]));
    }
    c.socket.resume();
    // RFC 9113 10.5 also lets a server end such a connection as a connection error
    // (ENHANCE_YOUR_CALM; the GOAWAY is only a SHOULD, 5.4.1, and this peer does not read): that is
    // accepted too, if the server then serves a new connection.
    const acks = () => c.frames.filter((f) => f.type === FT.PING && f.flags & FLAG.ACK).length;
    await until('every PING ACKed, or the connection ended', () => acks() === written * PER || c.closed, 2000).catch(() => undefined);
    if (c.closed) {
      const code = goawayOf(c);
      assert.ok(code === undefined || code === E.ENHANCE_YOUR_CALM, `the flood ended the connection with GOAWAY ${errorName(code)}`);
      return served(await open(), 1);
    }
    assert.ok(stalled && (CHUNKS - written) * chunk.length > 1 << 20, `the server read ${written * chunk.length} bytes of PINGs while its answers could not go out`);
    assert.equal(acks(), written * PER);
    await served(c, 1);
  });

  it('still answers a stream opened before the client sent GOAWAY (RFC 9113 6.8)', async () => {
    const c = await open();
    c.write(callFrames(1, '/t.S/Slow'));
    await until('the method runs', () => slow.started === 1, 1000);
    c.write(frame(FT.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(E.NO_ERROR)])));
    await sleep(50);
    release();
    const a = await answer(c, 1);
    assert.equal(a.status, '0');
    assert.deepEqual(a.data, grpcMessage(Buffer.from('slow')));
  });
});

describe('the gRPC server against a client that holds many requests open', function () {
  this.timeout(5000);
  const LIMIT = 256 * 1024;
  // answers the request's length: small answers, so this client's own windows never run out
  const peer = new PeerFixture({ '/t.S/Size': { responseStream: false, run: async (req) => Buffer.from(String(req.length)) } }, { maxHeldRequestBytes: LIMIT });
  before(() => peer.start());
  after(() => peer.stop());

  it('grants no more stream window once unfinished requests hold the limit, and again once requests end', async () => {
    const c = await peer.open();
    await c.waitFor((f) => f.type === FT.SETTINGS && !(f.flags & FLAG.ACK), 0, 1000);
    // 8 requests of 60 KiB each (480 KiB, within each stream's first 64 KiB window), none ended
    const body = 60 * 1024;
    const streams = [1, 3, 5, 7, 9, 11, 13, 15];
    for (const id of streams) writeRequest(c, id, '/t.S/Size', body, false);
    await until('the server to read every DATA frame', async () => totalOf(streamGrants(c)) > 0);
    await sleep(200);
    const before = streamGrants(c);
    // granted while the held bytes were within the limit, then nothing (RFC 9113 6.9: a receiver may withhold WINDOW_UPDATE)
    assert.ok(totalOf(before) <= LIMIT + DATA_CHUNK, `granted ${totalOf(before)} of ${streams.length * body} held bytes`);
    assert.ok(streams.some((id) => (before.get(id) ?? 0) < body), 'some stream is owed window');
    // four requests end (480 - 240 KiB held, under the limit): they are answered, and the others get their window
    for (const id of streams.slice(0, 4)) c.write(frame(FT.DATA, FLAG.END_STREAM, id));
    for (const id of streams.slice(0, 4)) await waitAnswered(c, id);
    await until('owed window to be granted', async () => totalOf(streamGrants(c)) > totalOf(before));
    for (const id of streams.slice(4)) c.write(frame(FT.DATA, FLAG.END_STREAM, id));
    for (const id of streams.slice(4)) await waitAnswered(c, id);
    assert.ok(!c.frames.some((f) => f.type === FT.GOAWAY || f.type === FT.RST_STREAM), c.describe());
  });
});
