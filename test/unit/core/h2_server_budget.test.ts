// The gRPC server's limits across connections: a client that opens many connections must not
// hold more than one server's worth of calls, request bytes or sockets. Frames by hand
// (raw-h2.ts); error codes from RFC 9113 section 7, REFUSED_STREAM's meaning from 8.7.

import { strict as assert } from 'node:assert';
import type { GrpcServerOptions, Method } from '../../../src/grpc/h2_server';
import { FLAG, FT, H2_ERROR, PeerFixture, type RawH2, errorName, frame, grpcMessage, grpcRequestBlock, headerBlocks, settingsPayload } from '../../helpers/raw-h2';
import { DATA_CHUNK, rstCode, streamGrants, totalOf, waitAnswered, writeRequest } from '../../helpers/raw-h2-calls';
import { until } from '../../helpers/until';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
/** All stream window the server granted on `c`. */
const granted = (c: RawH2) => totalOf(streamGrants(c));

/** Methods whose calls stay in progress until the test lets them go: Wait answers "ok", Hold its request's length. */
class HeldCalls {
  private readonly held: (() => void)[] = [];
  readonly methods: Record<string, Method> = {
    '/t.S/Wait': { responseStream: false, run: () => new Promise((resolve) => this.held.push(() => resolve(Buffer.from('ok')))) },
    '/t.S/Hold': { responseStream: false, run: (req) => new Promise((resolve) => this.held.push(() => resolve(Buffer.from(String(req.length))))) },
  };

  get count(): number {
    return this.held.length;
  }

  /** Lets the first `n` calls (all by default) settle. */
  release(n = this.held.length): void {
    this.held.splice(0, n).forEach((r) => r());
  }
}

/** A peer serving `calls`' methods and `more` under `options`, started before the suite and stopped after it. */
function heldPeer(calls: HeldCalls, options: Partial<GrpcServerOptions>, more: Record<string, Method> = {}): PeerFixture {
  const peer = new PeerFixture({ ...calls.methods, ...more }, options);
  before(() => peer.start());
  after(() => {
    calls.release();
    peer.stop();
  });
  return peer;
}

/** The server's GOAWAY on `c` as RFC 9113 6.8 lays it out: last stream id, error code, debug data. */
async function goawayOf(c: RawH2): Promise<{ lastStream: number; code: number; debug: string }> {
  const p = c.frames[await c.waitFor((f) => f.type === FT.GOAWAY, 0, 2000)]!.payload;
  return { lastStream: p.readUInt32BE(0) & 0x7fffffff, code: p.readUInt32BE(4), debug: p.subarray(8).toString() };
}

/** A whole unary call to `path` in one write. */
const unary = (c: RawH2, id: number, path: string, msg = Buffer.alloc(0)) =>
  c.write(frame(FT.HEADERS, FLAG.END_HEADERS, id, grpcRequestBlock(path)), frame(FT.DATA, FLAG.END_STREAM, id, grpcMessage(msg)));

describe('the gRPC server shares one budget across connections', function () {
  this.timeout(5000);

  describe('calls in progress', () => {
    const calls = new HeldCalls();
    const peer = heldPeer(calls, { maxServerCalls: 3, callsKeptPerConnection: 1 });

    it('refuses a call past the server-wide count (REFUSED_STREAM) to a connection that used its kept share, still runs the first call of another, and takes calls again once some end', async () => {
      const a = await peer.open();
      const b = await peer.open();
      const call = (c: RawH2, id: number) => unary(c, id, '/t.S/Wait');
      for (const id of [1, 3, 5]) call(a, id);
      await until('three calls to run', async () => calls.count === 3);
      // a is far below its own 1000 calls: only the shared count refuses this one
      call(a, 7);
      await a.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 7, 0, 2000);
      // RFC 9113 8.7: REFUSED_STREAM says the call was not processed and may be retried
      assert.equal(errorName(rstCode(a, 7)), 'REFUSED_STREAM');
      // b has no call in progress: the one it keeps runs although a filled the server
      call(b, 1);
      await until('b\'s kept call to run', async () => calls.count === 4);
      call(b, 3);
      await b.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 3, 0, 2000);
      assert.equal(errorName(rstCode(b, 3)), 'REFUSED_STREAM');
      assert.equal(calls.count, 4);
      assert.equal(peer.server.refusals().streamsRefused, 2, 'a\'s fourth call and b\'s second');
      calls.release();
      for (const id of [1, 3, 5]) await waitAnswered(a, id);
      await waitAnswered(b, 1);
      call(b, 5);
      await until('the retried call to run', async () => calls.count === 1);
      calls.release();
      await waitAnswered(b, 5);
      assert.ok(![a, b].some((c) => c.frames.some((f) => f.type === FT.GOAWAY)), `${a.describe()} | ${b.describe()}`);
    });
  });

  describe('answers a client does not take', () => {
    const ANSWER = 10 * 1024;
    const peer = new PeerFixture({ '/t.S/Big': { responseStream: false, run: async () => Buffer.alloc(ANSWER, 7) } }, { maxServerCalls: 2, callsKeptPerConnection: 0 });
    before(() => peer.start());
    after(() => peer.stop());
    const call = (c: RawH2, id: number) => unary(c, id, '/t.S/Big');
    const dataOn = (c: RawH2, id: number) => c.frames.filter((f) => f.type === FT.DATA && f.stream === id).reduce((n, f) => n + f.payload.length, 0);

    it('counts a call whose answer waits behind a zero window until the answer is out', async () => {
      // RFC 9113 6.5.2: SETTINGS_INITIAL_WINDOW_SIZE 0, so the server may send no DATA on any stream
      const a = await peer.open(settingsPayload([0x4, 0]));
      call(a, 1);
      call(a, 3);
      await until('both answers to start', async () => a.frames.filter((f) => f.type === FT.HEADERS).length === 2);
      await sleep(50);
      assert.equal(dataOn(a, 1) + dataOn(a, 3), 0, 'no DATA within a zero window');
      // both methods have settled, but their answers are not out: the server is full
      const b = await peer.open();
      call(b, 1);
      await b.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 1, 0, 2000);
      assert.equal(errorName(rstCode(b, 1)), 'REFUSED_STREAM');
      // a takes its answers: window on both streams (the connection's first 64 KiB is enough)
      a.write(frame(FT.WINDOW_UPDATE, 0, 1, u32(2 * ANSWER)), frame(FT.WINDOW_UPDATE, 0, 3, u32(2 * ANSWER)));
      await waitAnswered(a, 1);
      await waitAnswered(a, 3);
      // the 5-byte gRPC prefix and the message
      assert.equal(dataOn(a, 1), 5 + ANSWER);
      call(b, 3);
      await waitAnswered(b, 3);
      assert.equal(dataOn(b, 3), 5 + ANSWER);
    });
  });

  describe('request bytes held by unfinished requests', () => {
    const LIMIT = 256 * 1024;
    // answers the request's length; per-connection limit far above the shared one
    const peer = new PeerFixture({ '/t.S/Size': { responseStream: false, run: async (req) => Buffer.from(String(req.length)) } }, { maxServerHeldBytes: LIMIT, maxHeldRequestBytes: 64 << 20, heldBytesKeptPerConnection: 0 });
    before(() => peer.start());
    after(() => peer.stop());

    it('withholds stream window on every connection once they hold the shared limit together, and grants it again when one ends its requests', async () => {
      const body = 60 * 1024;
      const streams = [1, 3, 5, 7];
      const send = (c: RawH2) => streams.forEach((id) => writeRequest(c, id, '/t.S/Size', body, false));
      const a = await peer.open();
      const b = await peer.open();
      // 2 × 4 × 60 KiB = 480 KiB, each stream within its first 64 KiB window, none ended
      send(a);
      send(b);
      await until('the server to read both', async () => granted(a) + granted(b) > 0);
      await sleep(200);
      const before = granted(a) + granted(b);
      // RFC 9113 6.9: a receiver may withhold WINDOW_UPDATE; the server grants only while the shared bytes are within LIMIT
      assert.ok(before <= LIMIT + DATA_CHUNK, `granted ${before} of ${2 * streams.length * body} held bytes`);
      assert.ok(before < 2 * streams.length * body, 'some stream is owed window');
      // connection a ends its four requests (240 KiB let go): b's owed window is granted
      const bBefore = granted(b);
      for (const id of streams) a.write(frame(FT.DATA, FLAG.END_STREAM, id));
      for (const id of streams) await waitAnswered(a, id);
      if (bBefore < streams.length * body) await until('b to be granted what it was owed', async () => granted(b) > bBefore);
      for (const id of streams) b.write(frame(FT.DATA, FLAG.END_STREAM, id));
      for (const id of streams) await waitAnswered(b, id);
      assert.ok(![a, b].some((c) => c.frames.some((f) => f.type === FT.GOAWAY || f.type === FT.RST_STREAM)), `${a.describe()} | ${b.describe()}`);
    });

    it('lets go of what a connection held when it is cut', async () => {
      const a = await peer.open();
      const body = 60 * 1024;
      for (const id of [1, 3, 5, 7, 9]) writeRequest(a, id, '/t.S/Size', body, false);
      await until('the server to read a', async () => granted(a) > 0);
      await sleep(100);
      assert.ok(granted(a) < 5 * body, 'a holds more than the limit: some of its window is withheld');
      assert.ok(!a.frames.some((f) => f.type === FT.GOAWAY), a.describe());
      a.close();
      await sleep(100);
      // had a's 300 KiB stayed counted, b's requests would get no window past LIMIT - 300 KiB < 0
      const b = await peer.open();
      writeRequest(b, 1, '/t.S/Size', body, false);
      await until('b to be granted window', async () => granted(b) >= body);
      b.write(frame(FT.DATA, FLAG.END_STREAM, 1));
      await waitAnswered(b, 1);
    });
  });

  describe('requests held by methods still running', () => {
    const LIMIT = 256 * 1024;
    // Hold keeps its request until released, like a slow pull or exec holding what it was sent
    const calls = new HeldCalls();
    const peer = heldPeer(calls, { maxServerHeldBytes: LIMIT, maxHeldRequestBytes: 64 << 20, heldBytesKeptPerConnection: 0 });

    it('counts a whole request until its method settles: no window for new requests while running methods hold the limit', async () => {
      const body = 60 * 1024;
      const send = (c: RawH2, id: number, end: boolean) => writeRequest(c, id, '/t.S/Hold', body, end);
      const a = await peer.open();
      // five whole requests (300 KiB) to a method that keeps them: all five run
      for (const id of [1, 3, 5, 7, 9]) send(a, id, true);
      await until('five methods to run', async () => calls.count === 5);
      // a sixth request, not ended: what it sends is not granted back while the five hold 300 KiB
      const b = await peer.open();
      send(b, 1, false);
      await sleep(300);
      assert.equal(granted(b), 0, `granted ${granted(b)} while running methods hold more than ${LIMIT} bytes`);
      // the five settle: their requests no longer count, and the sixth gets its window
      calls.release();
      for (const id of [1, 3, 5, 7, 9]) await waitAnswered(a, id);
      await until('the sixth request to be granted window', async () => granted(b) >= body - DATA_CHUNK);
      b.write(frame(FT.DATA, FLAG.END_STREAM, 1));
      await until('the sixth method to run', async () => calls.count === 1);
      calls.release();
      await waitAnswered(b, 1);
    });
  });

  describe('the end of a burst of held requests', () => {
    const BURST = 256 * 1024;
    let bursts = 0;
    const calls = new HeldCalls();
    const peer = heldPeer(calls, { requestBurstBytes: BURST, onRequestBurstOver: () => bursts++ });

    it('is told once the held bytes that passed the burst size are let go, and not for small requests', async () => {
      const a = await peer.open();
      const body = 60 * 1024;
      // 5 × 60 KiB held by running methods: past the 256 KiB burst size
      for (const id of [1, 3, 5, 7, 9]) writeRequest(a, id, '/t.S/Hold', body, true);
      await until('five methods to run', async () => calls.count === 5);
      assert.equal(bursts, 0, 'the burst is still held');
      calls.release(4);
      for (const id of [1, 3, 5, 7]) await waitAnswered(a, id);
      // 60 KiB still held: above a sixteenth of the burst size
      assert.equal(bursts, 0, 'one request of the burst still held');
      calls.release();
      await waitAnswered(a, 9);
      assert.equal(bursts, 1);
      writeRequest(a, 11, '/t.S/Hold', 1024, true);
      await until('the small call to run', async () => calls.count === 1);
      calls.release();
      await waitAnswered(a, 11);
      assert.equal(bursts, 1, 'a small request is no burst');
    });
  });

  describe('what each connection keeps of the request bytes', () => {
    const LIMIT = 256 * 1024;
    const KEPT = 128 * 1024;
    const calls = new HeldCalls();
    const peer = heldPeer(calls, { maxServerHeldBytes: LIMIT, heldBytesKeptPerConnection: KEPT, maxHeldRequestBytes: 64 << 20 });

    it('grants window to a connection holding less than its kept share while another holds the shared limit, and no more past that share', async () => {
      const body = 60 * 1024;
      const a = await peer.open();
      for (const id of [1, 3, 5, 7, 9]) writeRequest(a, id, '/t.S/Hold', body, true);
      await until('five methods to run', async () => calls.count === 5);
      // a's running methods hold 300 KiB, over the shared 256 KiB: a is granted nothing more
      writeRequest(a, 11, '/t.S/Hold', body, false);
      // b holds nothing yet: its three unfinished requests are granted until b holds its kept 128 KiB
      const b = await peer.open();
      for (const id of [1, 3, 5]) writeRequest(b, id, '/t.S/Hold', body, false);
      await until('b to be granted window', async () => granted(b) > 0);
      await sleep(300);
      const grants = granted(b);
      assert.ok(grants >= KEPT - DATA_CHUNK && grants <= KEPT, `b was granted ${grants} bytes; its kept share is ${KEPT}`);
      const aLate = streamGrants(a).get(11) ?? 0;
      assert.equal(aLate, 0, `a's sixth request was granted ${aLate} while a held more than the shared limit`);
      calls.release();
      for (const id of [1, 3, 5, 7, 9]) await waitAnswered(a, id);
      assert.ok(![a, b].some((c) => c.frames.some((f) => f.type === FT.GOAWAY)), `${a.describe()} | ${b.describe()}`);
    });
  });

  describe('requests left unfinished', () => {
    const STALL_MS = 300;
    const peer = new PeerFixture({ '/t.S/Echo': { responseStream: false, run: async (req) => req } }, { requestStallMs: STALL_MS, maxServerCalls: 1, callsKeptPerConnection: 0 });
    before(() => peer.start());
    after(() => peer.stop());

    it('answers a request not ended within the stall time DEADLINE_EXCEEDED and frees its call for others', async () => {
      const a = await peer.open();
      // HEADERS and half a message, then nothing: the one call slot is held
      writeRequest(a, 1, '/t.S/Echo', 1000, false);
      await sleep(50);
      const b = await peer.open();
      const call = (id: number) => unary(b, id, '/t.S/Echo', Buffer.from('hi'));
      call(1);
      await b.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 1, 0, 2000);
      assert.equal(errorName(rstCode(b, 1)), 'REFUSED_STREAM');
      const opened = Date.now();
      await waitAnswered(a, 1, 5000);
      assert.ok(Date.now() - opened >= STALL_MS - 60, `answered after ${Date.now() - opened} ms`);
      const trailers = new Map([...headerBlocks(a.frames).values()].at(-1)!);
      // gRPC status codes: 4 is DEADLINE_EXCEEDED
      assert.equal(trailers.get('grpc-status'), '4');
      assert.match(decodeURIComponent(trailers.get('grpc-message') ?? ''), /not sent whole/);
      assert.equal(peer.server.refusals().requestsStalled, 1);
      // the answer came before the request ended: gRPC over HTTP/2 has the server reset it with NO_ERROR
      await a.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 1, 0, 2000);
      assert.equal(errorName(rstCode(a, 1)), 'NO_ERROR');
      call(3);
      await waitAnswered(b, 3);
      assert.equal(new Map([...headerBlocks(b.frames).values()].at(-1)!).get('grpc-status'), '0');
    });
  });

  describe('open connections', () => {
    const calls = new HeldCalls();
    const peer = heldPeer(calls, { maxConnections: 2 }, { '/t.S/Echo': { responseStream: false, run: async (req) => req } });
    const call = (c: RawH2, id: number, path: string) => unary(c, id, path, Buffer.from('hi'));

    it('past the limit, tells a new connection GOAWAY (ENHANCE_YOUR_CALM) and closes it while every open one has calls in progress', async () => {
      const a = await peer.open();
      const b = await peer.open();
      call(a, 1, '/t.S/Wait');
      call(b, 1, '/t.S/Wait');
      await until('both calls to run', async () => calls.count === 2);
      const c = await peer.raw();
      const { lastStream, code, debug } = await goawayOf(c);
      assert.deepEqual([lastStream, code], [0, H2_ERROR.ENHANCE_YOUR_CALM]);
      assert.match(debug, /too many connections/);
      assert.ok(await c.waitClosed(3000), 'the refused connection is closed');
      calls.release();
      await waitAnswered(a, 1);
      await waitAnswered(b, 1);
      assert.ok(![a, b].some((x) => x.frames.some((f) => f.type === FT.GOAWAY)), `${a.describe()} | ${b.describe()}`);
      a.close();
      b.close();
      await sleep(100);
    });

    it('past the limit, closes the connection idle longest (GOAWAY NO_ERROR) to serve the new one, and leaves one with a call in progress alone', async () => {
      const a = await peer.open();
      const b = await peer.open();
      call(a, 1, '/t.S/Echo');
      await waitAnswered(a, 1);
      call(b, 1, '/t.S/Wait');
      await until('b\'s call to run', async () => calls.count === 1);
      const c = await peer.open();
      // last stream id 1: a's one call was processed; NO_ERROR: a graceful close the client may reconnect after
      const { lastStream, code } = await goawayOf(a);
      assert.deepEqual([lastStream, code], [1, H2_ERROR.NO_ERROR]);
      assert.ok(await a.waitClosed(3000), 'the idle connection is closed');
      assert.equal(peer.server.refusals().connectionsShed, 1);
      call(c, 1, '/t.S/Echo');
      await waitAnswered(c, 1);
      calls.release();
      await waitAnswered(b, 1);
      assert.ok(![b, c].some((x) => x.frames.some((f) => f.type === FT.GOAWAY)), `${b.describe()} | ${c.describe()}`);
    });

    it('past the limit, closes a connection whose only calls are requests stalled for over a second, never one with a running call', async () => {
      peer.closeConnections();
      await sleep(100);
      const a = await peer.open();
      const b = await peer.open();
      // a: a request that never ends (well under the 10 s stall time); b: a call that runs
      writeRequest(a, 1, '/t.S/Echo', 1000, false);
      call(b, 1, '/t.S/Wait');
      await until('b\'s call to run', async () => calls.count === 1);
      // within the first second a's request may still be on its way: no room yet
      const early = await peer.raw();
      assert.equal((await goawayOf(early)).code, H2_ERROR.ENHANCE_YOUR_CALM);
      await sleep(1100);
      const c = await peer.open();
      const { code } = await goawayOf(a);
      assert.equal(code, H2_ERROR.NO_ERROR);
      assert.ok(await a.waitClosed(3000), 'the stalled connection is closed');
      call(c, 1, '/t.S/Echo');
      await waitAnswered(c, 1);
      calls.release();
      await waitAnswered(b, 1);
      assert.ok(!b.frames.some((f) => f.type === FT.GOAWAY), b.describe());
    });
  });
});
