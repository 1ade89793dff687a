import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { connect, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { GrpcServer, parseTimeout, type AbortReason, type Method } from '../../../src/grpc/h2_server';
import { Status, StatusError, encodeGrpcMessage } from '../../../src/grpc/status';

interface Answer {
  headers: http2.IncomingHttpHeaders;
  trailers?: http2.IncomingHttpHeaders;
  data: Buffer;
  rstCode?: number;
}

/** A length-prefixed gRPC message. */
function frame(msg: Buffer, flag = 0): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** One request on `session`; `body` undefined leaves the request open. */
function request(session: http2.ClientHttp2Session, path: string, body: Buffer | undefined, extra: http2.OutgoingHttpHeaders = {}): { answer: Promise<Answer>; req: http2.ClientHttp2Stream } {
  const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra });
  const answer = new Promise<Answer>((resolve) => {
    const out: Answer = { headers: {}, data: Buffer.alloc(0) };
    req.on('response', (h) => (out.headers = h));
    req.on('trailers', (t) => (out.trailers = t));
    req.on('data', (d: Buffer) => (out.data = Buffer.concat([out.data, d])));
    req.on('error', () => undefined);
    req.on('close', () => {
      if (req.rstCode) out.rstCode = req.rstCode;
      resolve(out);
    });
  });
  if (body) req.end(body);
  return { answer, req };
}

/** grpc-status wherever it came: trailers, or the headers of a trailers-only response. */
const statusOf = (a: Answer) => Number((a.trailers ?? a.headers)['grpc-status']);
const messageOf = (a: Answer) => decodeURIComponent(String((a.trailers ?? a.headers)['grpc-message'] ?? ''));

describe('the gRPC server on nori\'s HTTP/2', () => {
  let dir: string;
  let listener: NetServer;
  let server: GrpcServer;
  let session: http2.ClientHttp2Session;
  const aborts: AbortReason[] = [];
  let lastRequest: Buffer | undefined;

  const methods: Record<string, Method> = {
    '/t.S/Echo': { responseStream: false, run: async (req) => ((lastRequest = req), Buffer.concat([Buffer.from('echo:'), req])) },
    '/t.S/Fail': {
      responseStream: false,
      run: async () => {
        throw new StatusError(Status.NOT_FOUND, 'pod "ä" not found: 100% gone\r\nreally');
      },
    },
    '/t.S/Throw': {
      responseStream: false,
      run: async () => {
        throw new TypeError('boom');
      },
    },
    '/t.S/Big': { responseStream: false, run: async () => Buffer.alloc(2048) },
    '/t.S/Hang': {
      responseStream: false,
      run: (_req, call) =>
        new Promise((_resolve, reject) => {
          call.onAbort = (why) => {
            aborts.push(why);
            reject(new StatusError(Status.CANCELLED, why));
          };
        }),
    },
    '/t.S/Stream': {
      responseStream: true,
      run: async (req, call, send) => {
        const n = req.length ? req[0]! : 3;
        for (let i = 0; i < n; i++) await send(Buffer.from(`m${i}`));
        if (n === 2) throw new StatusError(Status.FAILED_PRECONDITION, 'stopped after two');
      },
    },
    '/t.S/Forever': {
      responseStream: true,
      run: async (_req, call, send) => {
        call.onAbort = (why) => aborts.push(why);
        try {
          for (;;) await send(Buffer.alloc(1000));
        } catch (e) {
          assert.ok(call.aborted);
          throw e;
        }
      },
    },
  };

  before(async () => {
    dir = mkdtempSync('/tmp/nori-h2-');
    server = new GrpcServer({ maxReceiveMessageBytes: 1024, maxSendMessageBytes: 1024 });
    server.addMethods(methods);
    listener = createNetServer((s) => server.handleConnection(s));
    await new Promise<void>((r) => listener.listen(join(dir, 's.sock'), r));
    session = http2.connect('http://localhost', { createConnection: () => connect(join(dir, 's.sock')) });
  });
  after(() => {
    session.destroy();
    server.forceShutdown();
    listener.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a unary call with headers, one length-prefixed message and grpc-status 0 in trailers', async () => {
    const a = await request(session, '/t.S/Echo', frame(Buffer.from('hi'))).answer;
    assert.equal(a.headers[':status'], 200);
    assert.equal(a.headers['content-type'], 'application/grpc');
    assert.equal(a.headers.date, undefined);
    assert.equal(a.trailers?.['grpc-status'], '0');
    assert.deepEqual(a.data, frame(Buffer.from('echo:hi')));
  });

  it('takes a request split over many DATA frames', async () => {
    const { req, answer } = request(session, '/t.S/Echo', undefined);
    const whole = frame(Buffer.alloc(1000, 7));
    for (let i = 0; i < whole.length; i += 3) req.write(whole.subarray(i, i + 3));
    req.end();
    const a = await answer;
    assert.equal(statusOf(a), 0);
    assert.equal(a.data.length, 5 + 5 + 1000);
  });

  it('answers errors trailers-only, grpc-message percent-encoded', async () => {
    const a = await request(session, '/t.S/Fail', frame(Buffer.alloc(0))).answer;
    assert.equal(a.trailers, undefined);
    assert.equal(a.headers[':status'], 200);
    assert.equal(statusOf(a), Status.NOT_FOUND);
    assert.equal(a.headers['grpc-message'], 'pod "%C3%A4" not found: 100%25 gone%0D%0Areally');
    assert.equal(messageOf(a), 'pod "ä" not found: 100% gone\r\nreally');
    const t = await request(session, '/t.S/Throw', frame(Buffer.alloc(0))).answer;
    assert.equal(statusOf(t), Status.INTERNAL);
    assert.equal(messageOf(t), 'boom');
  });

  it('refuses what is not a gRPC call: unknown method, content-type, method, encoding, timeout', async () => {
    const unknown = await request(session, '/t.S/Nope', frame(Buffer.alloc(0))).answer;
    assert.equal(statusOf(unknown), Status.UNIMPLEMENTED);
    assert.match(messageOf(unknown), /unknown method \/t\.S\/Nope/);
    const text = await request(session, '/t.S/Echo', frame(Buffer.alloc(0)), { 'content-type': 'text/plain' }).answer;
    assert.equal(text.headers[':status'], 415);
    const json = await request(session, '/t.S/Echo', frame(Buffer.alloc(0)), { 'content-type': 'application/grpc+json' }).answer;
    assert.equal(statusOf(json), Status.UNIMPLEMENTED);
    const proto = await request(session, '/t.S/Echo', frame(Buffer.from('x')), { 'content-type': 'application/grpc+proto; charset=x' }).answer;
    assert.equal(statusOf(proto), Status.OK);
    const get = await request(session, '/t.S/Echo', frame(Buffer.alloc(0)), { ':method': 'PUT' }).answer;
    assert.equal(get.headers[':status'], 405);
    const snappy = await request(session, '/t.S/Echo', frame(Buffer.alloc(0)), { 'grpc-encoding': 'snappy' }).answer;
    assert.equal(statusOf(snappy), Status.UNIMPLEMENTED);
    assert.equal(snappy.headers['grpc-accept-encoding'], 'identity,deflate,gzip');
    const badTimeout = await request(session, '/t.S/Echo', frame(Buffer.alloc(0)), { 'grpc-timeout': '123456789S' }).answer;
    assert.equal(statusOf(badTimeout), Status.INTERNAL);
  });

  it('checks the message framing: size limit as soon as the prefix is in, truncation, a second message, none', async () => {
    const { req, answer } = request(session, '/t.S/Echo', undefined);
    req.write(Buffer.from([0, 0, 0, 4, 1])); // declares 1025 bytes, sends none of them, never ends
    const big = await answer; // the server resets the stream (NO_ERROR) after its answer
    assert.equal(big.rstCode, undefined);
    assert.equal(statusOf(big), Status.RESOURCE_EXHAUSTED);
    assert.match(messageOf(big), /1025 vs\. 1024/);
    const short = await request(session, '/t.S/Echo', frame(Buffer.from('abc')).subarray(0, 6)).answer;
    assert.equal(statusOf(short), Status.INTERNAL);
    assert.match(messageOf(short), /truncated/);
    const two = await request(session, '/t.S/Echo', Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))])).answer;
    assert.equal(statusOf(two), Status.INTERNAL);
    const { req: empty, answer: none } = request(session, '/t.S/Echo', undefined);
    empty.end();
    assert.equal(statusOf(await none), Status.INTERNAL);
    const bigAnswer = await request(session, '/t.S/Big', frame(Buffer.alloc(0))).answer;
    assert.equal(statusOf(bigAnswer), Status.RESOURCE_EXHAUSTED);
  });

  it('decompresses gzip and deflate messages, bounded by the receive limit; a compressed flag without an encoding is INTERNAL', async () => {
    for (const [enc, pack] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const a = await request(session, '/t.S/Echo', frame(pack(Buffer.from('packed')), 1), { 'grpc-encoding': enc }).answer;
      assert.equal(statusOf(a), Status.OK, enc);
      assert.equal(lastRequest?.toString(), 'packed');
      const bomb = await request(session, '/t.S/Echo', frame(pack(Buffer.alloc(4096)), 1), { 'grpc-encoding': enc }).answer;
      assert.equal(statusOf(bomb), Status.RESOURCE_EXHAUSTED, enc);
      const junk = await request(session, '/t.S/Echo', frame(Buffer.from('not packed'), 1), { 'grpc-encoding': enc }).answer;
      assert.equal(statusOf(junk), Status.INTERNAL, enc);
    }
    const bare = await request(session, '/t.S/Echo', frame(gzipSync(Buffer.from('x')), 1)).answer;
    assert.equal(statusOf(bare), Status.INTERNAL);
    const flag2 = await request(session, '/t.S/Echo', frame(Buffer.from('x'), 2)).answer;
    assert.equal(statusOf(flag2), Status.INTERNAL);
  });

  it('answers DEADLINE_EXCEEDED at the grpc-timeout and aborts the call with "deadline"', async () => {
    aborts.length = 0;
    const started = Date.now();
    const a = await request(session, '/t.S/Hang', frame(Buffer.alloc(0)), { 'grpc-timeout': '80m' }).answer;
    assert.equal(statusOf(a), Status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started >= 75, `${Date.now() - started} ms`);
    assert.deepEqual(aborts, ['deadline']);
  });

  it('a client RST_STREAM aborts a unary call and a server stream with "cancelled"; the session keeps serving', async () => {
    aborts.length = 0;
    const hang = request(session, '/t.S/Hang', frame(Buffer.alloc(0)));
    await new Promise((r) => setTimeout(r, 30));
    hang.req.close(http2.constants.NGHTTP2_CANCEL);
    await hang.answer;
    const forever = request(session, '/t.S/Forever', frame(Buffer.alloc(0)));
    forever.req.pause(); // a reader that stops: the server's sends wait on 'drain'
    await new Promise((r) => setTimeout(r, 50));
    forever.req.close(http2.constants.NGHTTP2_CANCEL);
    await forever.answer;
    for (let i = 0; i < 50 && aborts.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(aborts, ['cancelled', 'cancelled'], JSON.stringify({ hang: await hang.answer, forever: { ...(await forever.answer), data: undefined } }));
    assert.equal(statusOf(await request(session, '/t.S/Echo', frame(Buffer.alloc(0))).answer), Status.OK);
  });

  it('streams messages, then the status in trailers', async () => {
    const ok = await request(session, '/t.S/Stream', frame(Buffer.from([3]))).answer;
    assert.equal(ok.trailers?.['grpc-status'], '0');
    assert.deepEqual(ok.data, Buffer.concat(['m0', 'm1', 'm2'].map((m) => frame(Buffer.from(m)))));
    const failed = await request(session, '/t.S/Stream', frame(Buffer.from([2]))).answer;
    assert.equal(failed.trailers?.['grpc-status'], String(Status.FAILED_PRECONDITION));
    assert.equal(failed.trailers?.['grpc-message'], 'stopped after two');
    assert.equal(failed.data.length, 2 * 7);
  });

  it('serves a grpc-js client, which decodes the percent-encoded message', async () => {
    const c = new grpc.Client(`unix://${join(dir, 's.sock')}`, grpc.credentials.createInsecure());
    try {
      const id = (b: Buffer) => b;
      const unary = (path: string) =>
        new Promise<{ err: grpc.ServiceError | null; v?: Buffer }>((resolve) => c.makeUnaryRequest(path, id, id, Buffer.from('q'), (err, v) => resolve({ err, v })));
      assert.equal((await unary('/t.S/Echo')).v?.toString(), 'echo:q');
      const { err } = await unary('/t.S/Fail');
      assert.equal(err?.code, grpc.status.NOT_FOUND);
      assert.equal(err?.details, 'pod "ä" not found: 100% gone\r\nreally');
    } finally {
      c.close();
    }
  });

  it('parses grpc-timeout and percent-encodes only what needs it', () => {
    assert.equal(parseTimeout('2S'), 2000);
    assert.equal(parseTimeout('1H'), 3_600_000);
    assert.equal(parseTimeout('500u'), 0.5);
    assert.equal(parseTimeout('99999999n'), 99.999999);
    assert.equal(parseTimeout('1s'), undefined);
    assert.equal(parseTimeout('-1S'), undefined);
    assert.equal(encodeGrpcMessage('plain text: "ok" ~'), 'plain text: "ok" ~');
    assert.equal(encodeGrpcMessage('a%b\tc'), 'a%25b%09c');
  });

  it('shutdown waits for calls in flight, then cuts them after the grace', async () => {
    const s2 = new GrpcServer({ maxReceiveMessageBytes: 1024, maxSendMessageBytes: 1024 });
    s2.addMethods({ '/t.S/Slow': { responseStream: false, run: () => new Promise((r) => setTimeout(() => r(Buffer.from('done')), 100)) }, '/t.S/Hang': methods['/t.S/Hang']! });
    const path = join(dir, 's2.sock');
    const l2 = createNetServer((s) => s2.handleConnection(s));
    await new Promise<void>((r) => l2.listen(path, r));
    try {
      const c = http2.connect('http://localhost', { createConnection: () => connect(path) });
      const slow = request(c, '/t.S/Slow', frame(Buffer.alloc(0))).answer;
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await s2.shutdown(1000), 'graceful');
      assert.equal(statusOf(await slow), Status.OK);
      c.destroy();
      const s3 = new GrpcServer({ maxReceiveMessageBytes: 1024, maxSendMessageBytes: 1024 });
      s3.addMethods({ '/t.S/Hang': methods['/t.S/Hang']! });
      const l3 = createNetServer((s) => s3.handleConnection(s));
      const path3 = join(dir, 's3.sock');
      await new Promise<void>((r) => l3.listen(path3, r));
      const c3 = http2.connect('http://localhost', { createConnection: () => connect(path3) });
      c3.on('error', () => undefined);
      aborts.length = 0;
      const hung = request(c3, '/t.S/Hang', frame(Buffer.alloc(0))).answer;
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(await s3.shutdown(50), 'forced');
      await hung;
      assert.deepEqual(aborts, ['cancelled']);
      c3.destroy();
      l3.close();
    } finally {
      l2.close();
    }
  });
});
