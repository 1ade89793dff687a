import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { AuthorityFix } from '../../../src/grpc/authority_fix';
import { CLIENT_PREFACE, EMPTY_SETTINGS, examineFirstFlight } from '../../../src/grpc/first_flight';
import { firstBlockAuthorities } from '../../../src/grpc/hpack_read';
import { frame } from '../../helpers/h2_frame';

const SETTINGS = (payload?: Buffer) => frame(0x4, 0, 0, payload);
const ACK = frame(0x4, 0x1, 0);
const WINDOW_UPDATE = frame(0x8, 0, 0, Buffer.from([0, 0x0f, 0, 0]));
const PING = frame(0x6, 0, 0, Buffer.alloc(8));
const DATA = frame(0x0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]));
const HEADERS = (block: Buffer, flags = 0x4) => frame(0x1, flags, 1, block);
const CONTINUATION = (block: Buffer, flags = 0x4) => frame(0x9, flags, 1, block);

// HPACK (RFC 7541): :method POST (static 3), :scheme http (static 6), :path as a literal, then
// :authority as a literal with incremental indexing (name: static index 1).
const raw = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
const requestBlock = (authority: string) =>
  Buffer.concat([Buffer.from([0x83, 0x86, 0x04]), raw('/runtime.v1.RuntimeService/Version'), Buffer.from([0x41]), raw(authority)]);

describe('the first flight of a connection', () => {
  it('calls bytes that are not the client preface garbage, and waits on a preface cut short', () => {
    assert.deepEqual(examineFirstFlight(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), false), { kind: 'garbage' });
    assert.deepEqual(examineFirstFlight(Buffer.from('PRI * HT'), false), { kind: 'incomplete', clientPreface: false, ackAt: undefined });
  });

  it('says the client waits once its preface and SETTINGS are in (what crictl sends first)', () => {
    assert.deepEqual(examineFirstFlight(CLIENT_PREFACE, false), { kind: 'incomplete', clientPreface: false, ackAt: undefined });
    const flight = Buffer.concat([CLIENT_PREFACE, SETTINGS(Buffer.from([0, 4, 0, 0x40, 0, 0]))]);
    assert.deepEqual(examineFirstFlight(flight, false), { kind: 'incomplete', clientPreface: true, ackAt: undefined });
    assert.deepEqual(examineFirstFlight(flight.subarray(0, flight.length - 1), false).kind, 'incomplete');
  });

  it('reads the authority of a first flight that carries its request (no SETTINGS of ours, no ACK)', () => {
    const ok = Buffer.concat([CLIENT_PREFACE, SETTINGS(), WINDOW_UPDATE, HEADERS(requestBlock('localhost')), DATA]);
    assert.deepEqual(examineFirstFlight(ok, false), { kind: 'headers', authorityValid: true, ackAt: undefined });
    const socketPath = Buffer.concat([CLIENT_PREFACE, SETTINGS(), HEADERS(requestBlock('/run/nori/nori.sock'))]);
    assert.deepEqual(examineFirstFlight(socketPath, false), { kind: 'headers', authorityValid: false, ackAt: undefined });
  });

  it('finds the ACK of our SETTINGS before the request or after it', () => {
    const before = Buffer.concat([CLIENT_PREFACE, SETTINGS(), ACK, HEADERS(requestBlock('localhost')), DATA]);
    assert.deepEqual(examineFirstFlight(before, true), { kind: 'headers', authorityValid: true, ackAt: 33 });
    const request = Buffer.concat([CLIENT_PREFACE, SETTINGS(), HEADERS(requestBlock('localhost')), DATA]);
    assert.deepEqual(examineFirstFlight(request, true), { kind: 'headers', authorityValid: true, ackAt: undefined });
    assert.deepEqual(examineFirstFlight(Buffer.concat([request, ACK]), true), { kind: 'headers', authorityValid: true, ackAt: request.length });
  });

  it('waits for the CONTINUATION frames of a header block, with no SETTINGS of ours meanwhile', () => {
    const block = requestBlock('%2Frun%2Fnori%2Fnori.sock'); // crictl 1.29's escaped socket path: valid
    const first = Buffer.concat([CLIENT_PREFACE, SETTINGS(), HEADERS(block.subarray(0, 10), 0)]);
    assert.deepEqual(examineFirstFlight(first, false), { kind: 'incomplete', clientPreface: false, ackAt: undefined });
    const all = Buffer.concat([first, CONTINUATION(block.subarray(10, 20), 0), CONTINUATION(block.subarray(20))]);
    assert.deepEqual(examineFirstFlight(all, false), { kind: 'headers', authorityValid: true, ackAt: undefined });
    const interrupted = Buffer.concat([first, PING]);
    assert.deepEqual(examineFirstFlight(interrupted, false), { kind: 'unexpected', frameType: 0x6 });
  });

  it('strips padding and priority from a HEADERS frame before reading it', () => {
    const block = requestBlock('/a/b');
    const payload = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block, Buffer.alloc(3)]);
    const flight = Buffer.concat([CLIENT_PREFACE, SETTINGS(), HEADERS(payload, 0x4 | 0x8 | 0x20)]);
    assert.deepEqual(examineFirstFlight(flight, false), { kind: 'headers', authorityValid: false, ackAt: undefined });
  });

  it('gives up waiting on a frame a client may wait on an answer for, or an ACK it owes nobody', () => {
    assert.deepEqual(examineFirstFlight(Buffer.concat([CLIENT_PREFACE, SETTINGS(), PING]), true), { kind: 'unexpected', frameType: 0x6 });
    assert.deepEqual(examineFirstFlight(Buffer.concat([CLIENT_PREFACE, SETTINGS(), ACK]), false), { kind: 'unexpected', frameType: 0x4 });
    assert.deepEqual(examineFirstFlight(Buffer.concat([CLIENT_PREFACE, SETTINGS(), ACK, ACK]), true), { kind: 'unexpected', frameType: 0x4 });
    const goaway = frame(0x7, 0, 0, Buffer.alloc(8));
    assert.deepEqual(examineFirstFlight(Buffer.concat([CLIENT_PREFACE, SETTINGS(), goaway]), false), { kind: 'unexpected', frameType: 0x7 });
    const malformed = HEADERS(Buffer.from([0xff])); // an integer cut short
    assert.deepEqual(examineFirstFlight(Buffer.concat([CLIENT_PREFACE, SETTINGS(), malformed]), false), { kind: 'unexpected', frameType: 0x1 });
  });
});

describe('reading the authorities of a first header block', () => {
  it('decodes the Huffman-coded socket path of crictl 1.26.1 (block captured from the socket)', () => {
    const block = Buffer.from(
      '8386459962cb6a49a92afdc2bedb6a49a92ee2d9dcc42b1c4b620c7abf' +
        '419562cb6a62a3d865925a8752483ad8a8f619741c9d7f' +
        '5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602bb615c140027465864d833505b11f408e9acac8b0c842d6958b510f21aa9b839bd9ab40899acac8b24d494f6a7f860bee3ed32edb',
      'hex',
    );
    assert.deepEqual(firstBlockAuthorities(block), ['/run/nori-tenantcap/nori.sock']);
  });

  it('follows entries the block itself added to the dynamic table; a host header does not count', () => {
    // literal with indexing ":authority: a/b" (becomes index 62), then indexed 62, then host
    // (static 38) as a literal without indexing: nghttp2 ignores an invalid host, it refuses an invalid :authority
    const block = Buffer.concat([Buffer.from([0x41]), raw('a/b'), Buffer.from([0x80 | 62]), Buffer.from([0x0f, 38 - 15]), raw('/h')]);
    assert.deepEqual(firstBlockAuthorities(block), ['a/b', 'a/b']);
    // a table size update to 0 evicts the entry: index 62 no longer exists
    const evicted = Buffer.concat([Buffer.from([0x41]), raw('a/b'), Buffer.from([0x20, 0x80 | 62])]);
    assert.throws(() => firstBlockAuthorities(evicted), /no table entry 62/);
  });
});

describe('AuthorityFix after the router sent SETTINGS of its own', () => {
  it('drops the first SETTINGS ACK, in the bytes the router held or later, and only that one', async () => {
    const socket = Object.assign(new EventEmitter(), { pause() {}, resume() {}, write() {}, destroy() {} }) as unknown as Socket;
    const fix = new AuthorityFix(socket, { head: Buffer.concat([CLIENT_PREFACE, SETTINGS()]), dropSettingsAck: true });
    const seen: Buffer[] = [];
    fix.on('data', (b: Buffer) => seen.push(b));
    socket.emit('data', Buffer.concat([ACK, WINDOW_UPDATE]));
    socket.emit('data', ACK);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(Buffer.concat(seen), Buffer.concat([CLIENT_PREFACE, SETTINGS(), WINDOW_UPDATE, ACK]));
  });

  it('answers the client preface with exactly an empty SETTINGS frame', () => {
    assert.deepEqual(EMPTY_SETTINGS, SETTINGS());
  });
});
