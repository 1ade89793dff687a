import { strict as assert } from 'node:assert';
import * as http2 from 'node:http2';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { startNori, type NoriProcess } from '../../helpers/daemon';
import { protoRoot } from '../../helpers/raw-grpc';
import { until } from '../../helpers/until';
import { PING, PREFACE, RawH2, SETTINGS, SETTINGS_ACK, T, frame, unaryCall } from '../../helpers/raw-h2';

const VERSION = '/runtime.v1.RuntimeService/Version';

// Go gRPC clients of crictl/critest 1.26's age send the socket path as :authority.
function rawVersionCall(session: http2.ClientHttp2Session, authority: string): Promise<{ status: number; grpcStatus: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': VERSION,
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('trailers', (t) => resolve({ status, grpcStatus: String(t['grpc-status']) }));
    req.on('error', reject);
    req.on('close', () => (req.rstCode ? reject(new Error(`reset with code ${req.rstCode}`)) : undefined));
    req.resume();
    req.end(Buffer.from([0, 0, 0, 0, 0])); // an empty VersionRequest
  });
}

/** nori_cri_connections_total, from the daemon's /metrics. */
async function connectionCount(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nori_cri_connections_total (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('CRI clients of every kind on nori\'s HTTP/2, by their first flight', function () {
  let nori: NoriProcess;
  let count: number;
  before(async () => {
    nori = await startNori();
  });
  after(async () => nori?.cleanup());
  beforeEach(async () => {
    count = await connectionCount(nori.metricsPort);
  });
  /** Asserts how many connections were accepted since the test began. */
  const assertCounted = async (n: number) => {
    assert.equal((await connectionCount(nori.metricsPort)) - count, n);
  };

  it('a socket-path :authority is served, on the first call and on calls that reuse the HPACK entry', async () => {
    const session = http2.connect('http://localhost', { createConnection: () => connect(nori.socket) });
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await rawVersionCall(session, nori.socket), { status: 200, grpcStatus: '0' });
      assert.deepEqual(await rawVersionCall(session, 'localhost'), { status: 200, grpcStatus: '0' });
    } finally {
      session.close();
    }
    await assertCounted(1);
  });

  it('a client that waits for the server preface, as Go clients do, is served either way', async () => {
    for (const authority of [nori.socket, 'localhost']) {
      const session = http2.connect('http://localhost', { createConnection: () => connect(nori.socket) });
      try {
        // Node's client sends preface + SETTINGS at once; holding the request until the server's
        // SETTINGS (and our ACK of it) are through makes its first flight look like Go's.
        await new Promise((r) => session.once('remoteSettings', r));
        await new Promise((r) => setTimeout(r, 20));
        for (let i = 0; i < 3; i++) assert.deepEqual(await rawVersionCall(session, authority), { status: 200, grpcStatus: '0' });
      } finally {
        session.close();
      }
    }
    await assertCounted(2);
  });

  it('a grpc-js client (valid :authority) is answered over several calls on one connection', async () => {
    // a local subchannel pool: a connection of its own, not the one nori.client already holds
    const client = new grpc.Client(`unix://${nori.socket}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const type = protoRoot().lookupType('runtime.v1.VersionResponse');
    try {
      for (let i = 0; i < 3; i++) {
        const answer = await new Promise<Buffer>((resolve, reject) =>
          client.makeUnaryRequest(VERSION, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e, r) => (e ? reject(e) : resolve(r!))),
        );
        assert.equal((type.toObject(type.decode(answer)) as { runtime_name: string }).runtime_name, 'nori');
      }
    } finally {
      client.close();
    }
    await assertCounted(1);
  });

  it('a client that sends its request before the ACK of our SETTINGS, and the ACK later, is served', async () => {
    const c = await RawH2.open(nori.socket);
    try {
      c.write(PREFACE, SETTINGS);
      await c.waitFor((f) => f.type === T.SETTINGS && !(f.flags & 0x1));
      c.write(unaryCall(1, VERSION, 'localhost'));
      // RFC 9113 3.4: a client may send requests before it has ACKed the server's SETTINGS
      assert.equal((await c.versionAnswer(1)).runtime_name, 'nori');
      c.write(SETTINGS_ACK);
      c.write(unaryCall(3, VERSION, 'localhost'));
      assert.equal((await c.versionAnswer(3)).runtime_name, 'nori');
      assert.ok(!c.frames.some((f) => f.type === T.GOAWAY), `no GOAWAY: ${c.describe()}`);
    } finally {
      c.close();
    }
    await assertCounted(1);
  });

  it('a client that pauses between its preface and its request, with a socket-path :authority, is served', async () => {
    const c = await RawH2.open(nori.socket);
    try {
      c.write(PREFACE, SETTINGS);
      await c.waitFor((f) => f.type === T.SETTINGS && !(f.flags & 0x1));
      c.write(SETTINGS_ACK);
      await new Promise((r) => setTimeout(r, 50));
      c.write(unaryCall(1, VERSION, nori.socket));
      assert.equal((await c.versionAnswer(1)).runtime_name, 'nori');
      c.write(unaryCall(3, VERSION, nori.socket));
      assert.equal((await c.versionAnswer(3)).runtime_name, 'nori');
      assert.ok(!c.frames.some((f) => f.type === T.GOAWAY), `no GOAWAY: ${c.describe()}`);
    } finally {
      c.close();
    }
    await assertCounted(1);
  });

  it('a PING before the first request is answered: in the first flight, or after our SETTINGS with the ACK before or after it', async () => {
    for (const how of ['first flight', 'ACK first', 'ACK later'] as const) {
      const c = await RawH2.open(nori.socket);
      try {
        if (how === 'first flight') {
          c.autoAck = true;
          c.write(PREFACE, SETTINGS, PING);
        } else {
          c.autoAck = how === 'ACK first';
          c.write(PREFACE, SETTINGS);
          await c.waitFor((f) => f.type === T.SETTINGS && !(f.flags & 0x1));
          c.write(PING);
          if (how === 'ACK later') {
            // the router has handed the connection to AuthorityFix on the PING; the ACK of its
            // SETTINGS reaches AuthorityFix, which must drop it (nghttp2 never sent that SETTINGS)
            c.write(SETTINGS_ACK);
            c.autoAck = true;
          }
        }
        const pong = await c.waitFor((f) => f.type === T.PING && (f.flags & 0x1) !== 0);
        assert.equal(c.frames[pong]!.payload.toString(), 'nori-png', how);
        c.write(unaryCall(1, VERSION, 'localhost'));
        assert.equal((await c.versionAnswer(1)).runtime_name, 'nori', how);
        c.write(unaryCall(3, VERSION, nori.socket));
        assert.equal((await c.versionAnswer(3)).runtime_name, 'nori', how);
        assert.ok(!c.frames.some((f) => f.type === T.GOAWAY), `${how}: no GOAWAY: ${c.describe()}`);
      } finally {
        c.close();
      }
    }
    await assertCounted(3);
  });

  it('many frames before the first request are read and the request is served', async () => {
    const c = await RawH2.open(nori.socket);
    try {
      const bump = frame(T.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1]));
      c.write(PREFACE, SETTINGS, ...Array.from({ length: 6000 }, () => bump)); // 78 kB and no request yet
      await until('our SETTINGS', async () => c.frames.some((f) => f.type === T.SETTINGS && !(f.flags & 0x1)));
      for (const f of c.frames) if (f.type === T.SETTINGS && !(f.flags & 0x1)) c.write(SETTINGS_ACK);
      c.autoAck = true;
      c.write(unaryCall(1, VERSION, 'localhost'));
      assert.equal((await c.versionAnswer(1)).runtime_name, 'nori');
      assert.ok(!c.frames.some((f) => f.type === T.GOAWAY), `no GOAWAY: ${c.describe()}`);
    } finally {
      c.close();
    }
    await assertCounted(1);
  });

  it('bytes that are not HTTP/2 close the connection, and the daemon keeps serving', async () => {
    const c = await RawH2.open(nori.socket);
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    assert.ok(await c.waitClosed(), 'closed by nori');
    await assertCounted(1);
    assert.equal((await nori.client.call('Version')).runtime_name, 'nori');
  });

  it('a client that connects and sends nothing is closed at shutdown, and the daemon stops cleanly', async () => {
    const silent = await RawH2.open(nori.socket);
    const preface = await RawH2.open(nori.socket);
    preface.write(PREFACE, SETTINGS); // waiting for its request, as Go clients are between calls
    await preface.waitFor((f) => f.type === T.SETTINGS);
    assert.equal(await nori.stop(), 0);
    assert.ok(await silent.waitClosed(), 'the silent connection is closed');
    assert.ok(await preface.waitClosed(), 'the waiting connection is closed');
  });
});
