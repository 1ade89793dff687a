// The gRPC server's limits across connections: a client that opens many connections must not
// hold more than one server's worth of calls, request bytes or sockets. Frames by hand
// (raw-h2.ts); error codes from RFC 9113 section 7, REFUSED_STREAM's meaning from 8.7.

import { strict as assert } from 'node:assert';
import type { Method } from '../../../src/grpc/h2_server';
import { FLAG, FT, H2_ERROR, PeerFixture, type RawH2, errorName, frame, grpcMessage, grpcRequestBlock } from '../../helpers/raw-h2';
import { DATA_CHUNK, rstCode, streamGrants, totalOf, waitAnswered, writeRequest } from '../../helpers/raw-h2-calls';
import { until } from '../../helpers/until';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** All stream window the server granted on `c`. */
const granted = (c: RawH2) => totalOf(streamGrants(c));

describe('the gRPC server shares one budget across connections', function () {
  this.timeout(5000);

  describe('calls in progress', () => {
    const held: (() => void)[] = [];
    const methods: Record<string, Method> = {
      '/t.S/Wait': { responseStream: false, run: () => new Promise((resolve) => held.push(() => resolve(Buffer.from('ok')))) },
    };
    const peer = new PeerFixture(methods, { maxServerCalls: 3 });
    before(() => peer.start());
    after(() => {
      held.splice(0).forEach((r) => r());
      peer.stop();
    });

    it('refuses a call past the server-wide count on any connection (REFUSED_STREAM), and takes calls again once some end', async () => {
      const a = await peer.open();
      const b = await peer.open();
      const call = (c: RawH2, id: number) => c.write(frame(FT.HEADERS, FLAG.END_HEADERS, id, grpcRequestBlock('/t.S/Wait')), frame(FT.DATA, FLAG.END_STREAM, id, grpcMessage(Buffer.alloc(0))));
      call(a, 1);
      call(a, 3);
      call(b, 1);
      await until('three calls to run', async () => held.length === 3);
      // each connection is far below its own 1000 calls: only the shared count refuses this one
      call(b, 3);
      await b.waitFor((f) => f.type === FT.RST_STREAM && f.stream === 3, 0, 2000);
      // RFC 9113 8.7: REFUSED_STREAM says the call was not processed and may be retried
      assert.equal(errorName(rstCode(b, 3)), 'REFUSED_STREAM');
      assert.equal(held.length, 3);
      held.splice(0).forEach((r) => r());
      await waitAnswered(a, 1);
      await waitAnswered(b, 1);
      call(b, 5);
      await until('the retried call to run', async () => held.length === 1);
      held.splice(0).forEach((r) => r());
      await waitAnswered(b, 5);
      assert.ok(![a, b].some((c) => c.frames.some((f) => f.type === FT.GOAWAY)), `${a.describe()} | ${b.describe()}`);
    });
  });

  describe('request bytes held by unfinished requests', () => {
    const LIMIT = 256 * 1024;
    // answers the request's length; per-connection limit far above the shared one
    const peer = new PeerFixture({ '/t.S/Size': { responseStream: false, run: async (req) => Buffer.from(String(req.length)) } }, { maxServerHeldBytes: LIMIT, maxHeldRequestBytes: 64 << 20 });
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
    const held: (() => void)[] = [];
    const methods: Record<string, Method> = {
      // holds its request until released, like a slow pull or exec holding what it was sent
      '/t.S/Hold': { responseStream: false, run: (req) => new Promise((resolve) => held.push(() => resolve(Buffer.from(String(req.length))))) },
    };
    const peer = new PeerFixture(methods, { maxServerHeldBytes: LIMIT, maxHeldRequestBytes: 64 << 20 });
    before(() => peer.start());
    after(() => {
      held.splice(0).forEach((r) => r());
      peer.stop();
    });

    it('counts a whole request until its method settles: no window for new requests while running methods hold the limit', async () => {
      const body = 60 * 1024;
      const send = (c: RawH2, id: number, end: boolean) => writeRequest(c, id, '/t.S/Hold', body, end);
      const a = await peer.open();
      // five whole requests (300 KiB) to a method that keeps them: all five run
      for (const id of [1, 3, 5, 7, 9]) send(a, id, true);
      await until('five methods to run', async () => held.length === 5);
      // a sixth request, not ended: what it sends is not granted back while the five hold 300 KiB
      const b = await peer.open();
      send(b, 1, false);
      await sleep(300);
      assert.equal(granted(b), 0, `granted ${granted(b)} while running methods hold more than ${LIMIT} bytes`);
      // the five settle: their requests no longer count, and the sixth gets its window
      held.splice(0).forEach((r) => r());
      for (const id of [1, 3, 5, 7, 9]) await waitAnswered(a, id);
      await until('the sixth request to be granted window', async () => granted(b) >= body - DATA_CHUNK);
      b.write(frame(FT.DATA, FLAG.END_STREAM, 1));
      await until('the sixth method to run', async () => held.length === 1);
      held.splice(0).forEach((r) => r());
      await waitAnswered(b, 1);
    });
  });

  describe('open connections', () => {
    const peer = new PeerFixture({ '/t.S/Echo': { responseStream: false, run: async (req) => req } }, { maxConnections: 2 });
    before(() => peer.start());
    after(() => peer.stop());

    it('tells a connection past the limit GOAWAY (ENHANCE_YOUR_CALM) and closes it; one is served again once another closes', async () => {
      const a = await peer.open();
      const b = await peer.open();
      await a.waitFor((f) => f.type === FT.SETTINGS);
      await b.waitFor((f) => f.type === FT.SETTINGS);
      const c = await peer.raw();
      await c.waitFor((f) => f.type === FT.GOAWAY, 0, 2000);
      const goaway = c.frames.find((f) => f.type === FT.GOAWAY)!;
      // RFC 9113 6.8: last stream id, error code, debug data
      assert.equal(goaway.payload.readUInt32BE(0) & 0x7fffffff, 0);
      assert.equal(goaway.payload.readUInt32BE(4), H2_ERROR.ENHANCE_YOUR_CALM);
      assert.match(goaway.payload.subarray(8).toString(), /too many connections/);
      assert.ok(await c.waitClosed(3000), 'the refused connection is closed');
      a.close();
      await sleep(100);
      const d = await peer.open();
      d.write(frame(FT.HEADERS, FLAG.END_HEADERS, 1, grpcRequestBlock('/t.S/Echo')), frame(FT.DATA, FLAG.END_STREAM, 1, grpcMessage(Buffer.from('hi'))));
      await waitAnswered(d, 1);
      assert.ok(!d.frames.some((f) => f.type === FT.GOAWAY), d.describe());
    });
  });
});
