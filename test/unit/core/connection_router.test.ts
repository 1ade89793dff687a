import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { AuthorityFix } from '../../../src/grpc/authority_fix';
import { routeConnection, type ConnectionPath } from '../../../src/grpc/connection_router';
import { CLIENT_PREFACE, EMPTY_SETTINGS } from '../../../src/grpc/first_flight';
import { frame } from '../../helpers/h2_frame';

// HPACK literals by hand (RFC 7541 6.2.1).
const ACK = frame(0x4, 0x1, 0);
const request = (authority: string) =>
  Buffer.concat([
    frame(0x1, 0x4, 1, Buffer.concat([Buffer.from([0x83, 0x86, 0x41, authority.length]), Buffer.from(authority)])),
    frame(0x0, 0x1, 1, Buffer.alloc(5)),
  ]);

describe('the connection router', () => {
  let dir: string;
  let listener: Server;
  let routed: Promise<{ connection: Duplex; path: ConnectionPath }>;
  let client: Socket;
  const fromServer: Buffer[] = [];

  const start = async (waitMs?: number) => {
    routed = new Promise((resolve) => {
      listener = createServer((socket) => {
        let path: ConnectionPath | undefined;
        routeConnection(socket, (connection) => resolve({ connection, path: path! }), (p) => (path = p), waitMs);
      });
    });
    await new Promise<void>((r) => listener.listen(join(dir, 's.sock'), r));
    client = connect(join(dir, 's.sock'));
    client.on('data', (b: Buffer) => fromServer.push(b));
    await new Promise((r) => client.once('connect', r));
  };
  const serverSent = async (n: number) => {
    while (Buffer.concat(fromServer).length < n) await new Promise((r) => setImmediate(r));
    return Buffer.concat(fromServer);
  };
  const readAll = async (connection: Duplex, n: number) => {
    const got: Buffer[] = [];
    connection.on('data', (b: Buffer) => got.push(b));
    connection.resume();
    while (Buffer.concat(got).length < n) await new Promise((r) => setImmediate(r));
    return Buffer.concat(got);
  };

  beforeEach(() => {
    dir = mkdtempSync('/tmp/nori-router-');
    fromServer.length = 0;
  });
  afterEach(() => {
    client?.destroy();
    listener?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a waiting client preface with an empty SETTINGS, then hands the socket over with the ACK cut out', async () => {
    await start();
    client.write(Buffer.concat([CLIENT_PREFACE, frame(0x4, 0, 0)]));
    assert.deepEqual(await serverSent(9), EMPTY_SETTINGS);
    const call = request('localhost');
    client.write(Buffer.concat([ACK, call]));
    const { connection, path } = await routed;
    assert.equal(path, 'native');
    assert.ok(!(connection instanceof AuthorityFix), 'the socket itself');
    const expected = Buffer.concat([CLIENT_PREFACE, frame(0x4, 0, 0), call]);
    assert.deepEqual(await readAll(connection, expected.length), expected, 'everything the client sent but the ACK, in order');
    connection.destroy();
  });

  it('takes the rewrite path for a socket-path authority, and for a client that sends no request in time', async () => {
    await start();
    client.write(Buffer.concat([CLIENT_PREFACE, frame(0x4, 0, 0)]));
    await serverSent(9);
    client.write(Buffer.concat([ACK, request('/run/nori/nori.sock')]));
    const first = await routed;
    assert.equal(first.path, 'rewritten');
    assert.ok(first.connection instanceof AuthorityFix);
    first.connection.destroy();
    client.destroy();
    listener.close();

    fromServer.length = 0;
    await start(20);
    client.write(Buffer.concat([CLIENT_PREFACE, frame(0x4, 0, 0)]));
    const late = await routed; // after 20 ms without a request
    assert.equal(late.path, 'rewritten');
    client.write(ACK); // the ACK of the router's SETTINGS, after the hand-over: AuthorityFix drops it
    const call = request('localhost');
    client.write(call);
    const expected = Buffer.concat([CLIENT_PREFACE, frame(0x4, 0, 0), call]);
    assert.deepEqual(await readAll(late.connection, expected.length), expected);
    late.connection.destroy();
  });
});
