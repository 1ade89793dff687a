// The gRPC server's HTTP/2 against a hostile or unusual peer: frames written by hand (raw-h2.ts),
// expectations from RFC 9113 (sections cited per test) and grpc doc/PROTOCOL-HTTP2.md, not from
// whichever HTTP/2 implementation GrpcServer sits on. A connection error must be a GOAWAY with
// its code, then the close of the connection (RFC 9113 5.4.1).

import { strict as assert } from 'node:assert';
import type { Method } from '../../../src/grpc/h2_server';
import { FLAG, FT, H2_ERROR, PeerFixture, RawH2, errorName, frame, grpcMessage, grpcRequestBlock, headerBlocks, hpackLiteral, parseSettings, settingsPayload } from '../../helpers/raw-h2';

const E = H2_ERROR;

describe('the gRPC server against a hostile HTTP/2 peer: framing and stream states', function () {
  this.timeout(3000);
  const methods: Record<string, Method> = {
    '/t.S/Echo': { responseStream: false, run: async (req) => req },
    '/t.S/Stream': {
      responseStream: true,
      run: async (_req, _call, send) => {
        for (let i = 0; i < 3; i++) await send(Buffer.from(`m${i}`));
      },
    },
  };

  const peer = new PeerFixture(methods);
  before(() => peer.start());
  afterEach(() => peer.closeConnections());
  after(() => peer.stop());
  const open = (settings?: Buffer) => peer.open(settings);

  /** The server ends the connection with GOAWAY `code`, then closes it. */
  async function expectGoaway(c: RawH2, code: number, what: string): Promise<void> {
    const i = await c.waitFor((f) => f.type === FT.GOAWAY, 0, 1000).catch((e: Error) => assert.fail(`${what}: expected GOAWAY ${errorName(code)}: ${e.message}`));
    const got = c.frames[i]!.payload.readUInt32BE(4);
    assert.equal(errorName(got), errorName(code), what);
    assert.ok(await c.waitClosed(1000), `${what}: the connection is closed after the GOAWAY`);
  }

  /** HEADERS (END_HEADERS) and DATA (END_STREAM) of a call of `path` with `msg`. */
  function call(c: RawH2, stream: number, path: string, msg: Buffer = Buffer.from('hi'), authority = 'localhost'): void {
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS, stream, grpcRequestBlock(path, authority)), frame(FT.DATA, FLAG.END_STREAM, stream, grpcMessage(msg)));
  }

  /** The answer on `stream` once it ended (HEADERS with END_STREAM) or was reset. */
  async function answer(c: RawH2, stream: number, ms = 1500) {
    await c.waitFor((f) => f.stream === stream && ((f.type === FT.HEADERS && (f.flags & FLAG.END_STREAM) !== 0) || f.type === FT.RST_STREAM), 0, ms);
    const blocks = headerBlocks(c.frames);
    const mine = c.frames.map((f, i) => ({ f, i })).filter(({ f }) => f.stream === stream);
    const headers = mine.filter(({ f }) => f.type === FT.HEADERS).map(({ f, i }) => ({ flags: f.flags, fields: new Map(blocks.get(i)) }));
    const rst = mine.find(({ f }) => f.type === FT.RST_STREAM)?.f.payload.readUInt32BE(0);
    const data = Buffer.concat(mine.filter(({ f }) => f.type === FT.DATA).map(({ f }) => f.payload));
    const dataFrames = mine.filter(({ f }) => f.type === FT.DATA).length;
    return { headers, rst, data, dataFrames, status: headers.at(-1)?.fields.get('grpc-status') };
  }

  /** A call of '/t.S/Echo' on `stream` is served: grpc-status 0 and the echoed message. */
  async function served(c: RawH2, stream: number, msg: Buffer = Buffer.from(`ok${stream}`)): Promise<void> {
    call(c, stream, '/t.S/Echo', msg);
    const a = await answer(c, stream);
    assert.equal(a.status, '0', JSON.stringify({ rst: a.rst, headers: a.headers.map((h) => [...h.fields]) }));
    assert.deepEqual(a.data, grpcMessage(msg));
  }

  it('sends a non-ACK SETTINGS as its first frame and ACKs the client SETTINGS (RFC 9113 3.4, 6.5.3)', async () => {
    const c = await open(settingsPayload([0x3, 100]));
    await c.waitFor((f) => f.type === FT.SETTINGS && (f.flags & FLAG.ACK) !== 0, 0, 1000);
    const first = c.frames[0]!;
    assert.deepEqual([first.type, first.flags & FLAG.ACK, first.stream], [FT.SETTINGS, 0, 0]);
    assert.equal(first.payload.length % 6, 0);
  });

  it('closes a connection whose preface is not HTTP/2 within 1 s, a GOAWAY (PROTOCOL_ERROR) allowed first (RFC 9113 3.4)', async () => {
    const c = await peer.raw();
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.ok(await c.waitClosed(1000), `still open; frames: ${c.describe()}`);
    for (const f of c.frames.filter((g) => g.type === FT.GOAWAY)) assert.equal(errorName(f.payload.readUInt32BE(4)), 'PROTOCOL_ERROR');
    assert.equal(c.frames.filter((f) => f.type === FT.HEADERS || f.type === FT.DATA).length, 0, c.describe());
  });

  it('ACKs a PING with its 8 bytes; a PING of 7 bytes is FRAME_SIZE_ERROR (RFC 9113 6.7)', async () => {
    const c = await open();
    const opaque = Buffer.from('8 bytes!');
    c.write(frame(FT.PING, 0, 0, opaque));
    const i = await c.waitFor((f) => f.type === FT.PING && (f.flags & FLAG.ACK) !== 0, 0, 1000);
    assert.deepEqual([c.frames[i]!.stream, c.frames[i]!.payload], [0, opaque]);
    c.write(frame(FT.PING, 0, 0, Buffer.alloc(7)));
    await expectGoaway(c, E.FRAME_SIZE_ERROR, 'PING of 7 bytes');
  });

  it('refuses bad SETTINGS: a length not a multiple of 6, INITIAL_WINDOW_SIZE 2^31, ENABLE_PUSH 2 (RFC 9113 6.5, 6.5.2)', async () => {
    const cases: [string, Buffer, number][] = [
      ['SETTINGS of 7 bytes', Buffer.alloc(7), E.FRAME_SIZE_ERROR],
      ['SETTINGS_INITIAL_WINDOW_SIZE 2^31', settingsPayload([0x4, 2 ** 31]), E.FLOW_CONTROL_ERROR],
      ['SETTINGS_ENABLE_PUSH 2', settingsPayload([0x2, 2]), E.PROTOCOL_ERROR],
    ];
    for (const [what, payload, code] of cases) {
      const c = await open();
      await c.waitFor((f) => f.type === FT.SETTINGS && (f.flags & FLAG.ACK) !== 0, 0, 1000);
      c.write(frame(FT.SETTINGS, 0, 0, payload));
      await expectGoaway(c, code, what);
    }
  });

  it('refuses a HEADERS frame longer than its SETTINGS_MAX_FRAME_SIZE with FRAME_SIZE_ERROR (RFC 9113 4.2)', async () => {
    const c = await open();
    await c.waitFor((f) => f.type === FT.SETTINGS && !(f.flags & FLAG.ACK), 0, 1000);
    const max = parseSettings(c.frames.find((f) => f.type === FT.SETTINGS)!.payload).get(0x5) ?? 16384;
    // A valid request block, one byte over the limit: a frame carrying a field block must be a connection error.
    let fill = max;
    let block = grpcRequestBlock('/t.S/Echo');
    for (let k = 0; k < 3; k++) {
      block = grpcRequestBlock('/t.S/Echo', 'localhost', hpackLiteral('x-fill', 'f'.repeat(fill)));
      fill += max + 1 - block.length;
    }
    assert.equal(block.length, max + 1);
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block));
    await expectGoaway(c, E.FRAME_SIZE_ERROR, `HEADERS of ${max + 1} bytes`);
  });

  it('refuses HEADERS on stream 0, on an even stream, and on a stream id lower than one used (RFC 9113 5.1.1, 6.2)', async () => {
    const block = grpcRequestBlock('/t.S/Echo');
    for (const [what, stream] of [['stream 0', 0], ['stream 2', 2]] as const) {
      const c = await open();
      c.write(frame(FT.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, stream, block));
      await expectGoaway(c, E.PROTOCOL_ERROR, `HEADERS on ${what}`);
    }
    const c = await open();
    await served(c, 3);
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block));
    await expectGoaway(c, E.PROTOCOL_ERROR, 'HEADERS opening stream 1 after stream 3');
  });

  it('refuses a CONTINUATION without a header block, and a frame inside a header block (RFC 9113 4.3, 6.10)', async () => {
    const block = grpcRequestBlock('/t.S/Echo');
    const lone = await open();
    lone.write(frame(FT.CONTINUATION, FLAG.END_HEADERS, 1, block));
    await expectGoaway(lone, E.PROTOCOL_ERROR, 'CONTINUATION with no header block open');
    const split = await open();
    split.write(frame(FT.HEADERS, 0, 1, block.subarray(0, 10)), frame(FT.PING, 0, 0, Buffer.alloc(8)), frame(FT.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(10)));
    await expectGoaway(split, E.PROTOCOL_ERROR, 'PING between HEADERS and its CONTINUATION');
  });

  it('answers a malformed HPACK block (index 0) with COMPRESSION_ERROR (RFC 9113 4.3, RFC 7541 6.1)', async () => {
    const c = await open();
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, Buffer.from([0x80])));
    await expectGoaway(c, E.COMPRESSION_ERROR, 'header block 0x80');
  });

  it('refuses DATA on an idle stream (RFC 9113 5.1)', async () => {
    const c = await open();
    c.write(frame(FT.DATA, FLAG.END_STREAM, 5, grpcMessage(Buffer.from('x'))));
    await expectGoaway(c, E.PROTOCOL_ERROR, 'DATA on stream 5, never opened');
  });

  it('refuses WINDOW_UPDATE of 0 (connection error on stream 0, stream error on a stream) and a window past 2^31-1 (RFC 9113 6.9, 6.9.1)', async () => {
    const inc = (n: number) => Buffer.from([(n >>> 24) & 0x7f, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const zero = await open();
    zero.write(frame(FT.WINDOW_UPDATE, 0, 0, inc(0)));
    await expectGoaway(zero, E.PROTOCOL_ERROR, 'WINDOW_UPDATE 0 on stream 0');

    const open1 = await open();
    open1.write(frame(FT.HEADERS, FLAG.END_HEADERS, 1, grpcRequestBlock('/t.S/Echo')), frame(FT.WINDOW_UPDATE, 0, 1, inc(0)));
    const i = await open1.waitFor((f) => (f.type === FT.RST_STREAM && f.stream === 1) || f.type === FT.GOAWAY, 0, 1000);
    const f = open1.frames[i]!;
    assert.equal(errorName(f.payload.readUInt32BE(f.type === FT.GOAWAY ? 4 : 0)), 'PROTOCOL_ERROR', `WINDOW_UPDATE 0 on an open stream: ${open1.describe()}`);

    const over = await open();
    over.write(frame(FT.WINDOW_UPDATE, 0, 0, inc(2 ** 31 - 1)));
    await expectGoaway(over, E.FLOW_CONTROL_ERROR, 'connection window 65535 + 2^31-1');
  });

  it('ignores a frame of an unknown type and accepts PRIORITY on an idle stream; calls then work (RFC 9113 4.1, 5.1, 6.3)', async () => {
    const c = await open();
    c.write(frame(0xfa, 0xff, 0, Buffer.from('unknown frame, ignored')), frame(0xfa, 0, 1, Buffer.alloc(40, 1)));
    c.write(frame(FT.PRIORITY, 0, 9, Buffer.from([0, 0, 0, 0, 16]))); // stream 9: depends on 0, weight 17
    await served(c, 11);
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS, 13, grpcRequestBlock('/t.S/Stream')), frame(FT.DATA, FLAG.END_STREAM, 13, grpcMessage(Buffer.alloc(0))));
    const s = await answer(c, 13);
    assert.equal(s.status, '0');
    assert.deepEqual(s.data, Buffer.concat(['m0', 'm1', 'm2'].map((m) => grpcMessage(Buffer.from(m)))));
    assert.equal(c.frames.filter((f) => f.type === FT.GOAWAY || f.type === FT.RST_STREAM).length, 0, c.describe());
  });

  it('answers an error before any message trailers-only: one HEADERS with END_STREAM, :status 200 and grpc-status 12 (PROTOCOL-HTTP2.md)', async () => {
    const c = await open();
    call(c, 1, '/t.S/Nope');
    const a = await answer(c, 1);
    assert.ok(a.rst === undefined || a.rst === E.NO_ERROR, `reset ${errorName(a.rst)}`); // NO_ERROR: 8.1, stop sending the request
    assert.equal(a.dataFrames, 0);
    assert.equal(a.headers.length, 1);
    assert.equal(a.headers[0]!.flags & FLAG.END_STREAM, FLAG.END_STREAM);
    const fields = a.headers[0]!.fields;
    assert.equal(fields.get(':status'), '200');
    assert.match(fields.get('content-type') ?? '', /^application\/grpc/);
    assert.equal(fields.get('grpc-status'), '12');
  });

  it('serves a request whose :authority is a unix socket path, as Go gRPC clients of 2023 send (RFC 9113 8.2.1, 8.3.1)', async () => {
    // The value is no valid authority, but RFC 9113 8.2.1: a field value invalid by its field's own
    // definition does not make the request malformed (no NUL, CR, LF, or edge whitespace here).
    const c = await open();
    call(c, 1, '/t.S/Echo', Buffer.from('via socket'), '/run/nori/nori.sock');
    const a = await answer(c, 1);
    assert.equal(a.status, '0', JSON.stringify({ rst: a.rst && errorName(a.rst), headers: a.headers.map((h) => [...h.fields]) }));
    assert.deepEqual(a.data, grpcMessage(Buffer.from('via socket')));
  });

  it('strips the padding of HEADERS and DATA; a DATA pad length not below its payload length is PROTOCOL_ERROR (RFC 9113 6.1, 6.2)', async () => {
    const c = await open();
    const msg = grpcMessage(Buffer.from('padded message'));
    const block = grpcRequestBlock('/t.S/Echo');
    c.write(frame(FT.HEADERS, FLAG.END_HEADERS | FLAG.PADDED, 1, Buffer.concat([Buffer.from([7]), block, Buffer.alloc(7)])));
    c.write(frame(FT.DATA, FLAG.PADDED, 1, Buffer.concat([Buffer.from([3]), msg.subarray(0, 4), Buffer.alloc(3)])));
    c.write(frame(FT.DATA, FLAG.PADDED, 1, Buffer.from([0]))); // no data, no padding
    c.write(frame(FT.DATA, FLAG.END_STREAM | FLAG.PADDED, 1, Buffer.concat([Buffer.from([200]), msg.subarray(4), Buffer.alloc(200, 0)])));
    const a = await answer(c, 1);
    assert.equal(a.status, '0');
    assert.deepEqual(a.data, msg);

    const bad = await open();
    bad.write(frame(FT.HEADERS, FLAG.END_HEADERS, 1, block));
    bad.write(frame(FT.DATA, FLAG.END_STREAM | FLAG.PADDED, 1, Buffer.from([5, 0, 0, 0, 0]))); // pad length 5 = payload length
    await expectGoaway(bad, E.PROTOCOL_ERROR, 'DATA whose pad length equals its payload length');
  });
});
