import { strict as assert } from 'node:assert';
import { parseListen } from '../../../src/streaming/server';
import { ResizeDecoder } from '../../../src/streaming/resize';
import { decodeHeaderBlock, encodeHeaderBlock, readFrame, settingsFrame, parseSettings, dataFrame } from '../../../src/streaming/spdy/frames';
import { encodeStatus, statusFor } from '../../../src/streaming/status';
import { TokenCache } from '../../../src/streaming/tokens';
import { encodeFrame, parseFrame } from '../../../src/streaming/websocket/frames';

describe('streaming: building blocks', () => {
  it('tokens are single-use, expire, and are long random base64url strings', () => {
    let now = 1000;
    const c = new TokenCache(60_000, () => now);
    const t = c.insert({ kind: 'portforward', payload: { sandboxId: 's', ports: [] } });
    assert.match(t, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(c.consume(t)?.kind, 'portforward');
    assert.equal(c.consume(t), undefined);
    const t2 = c.insert({ kind: 'portforward', payload: { sandboxId: 's', ports: [] } });
    now += 60_001;
    assert.equal(c.consume(t2), undefined);
    assert.notEqual(t, t2);
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:10010'), { host: '::1', port: 10010 });
    assert.deepEqual(parseListen(':8080'), { host: '0.0.0.0', port: 8080 });
    assert.throws(() => parseListen('localhost'));
  });

  it('decodes concatenated and split resize objects', () => {
    const d = new ResizeDecoder();
    assert.deepEqual(d.push('{"Width":80,"Height":24}{"Wid'), [{ Width: 80, Height: 24 }]);
    assert.deepEqual(d.push('th":1,"Height":2}\n{"Width":-1,"Height":2}'), [{ Width: 1, Height: 2 }]);
  });

  it('round-trips SPDY header blocks and frames', () => {
    const block = encodeHeaderBlock({ streamType: 'data', port: '80', multi: ['a', 'b'] });
    const h = decodeHeaderBlock(block);
    assert.deepEqual(h.get('streamtype'), ['data']);
    assert.deepEqual(h.get('multi'), ['a', 'b']);
    assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)));
    const s = readFrame(Buffer.concat([settingsFrame([{ id: 7, value: 1234 }]), dataFrame(5, 1, Buffer.from('x'))]))!;
    assert.ok(s.frame.control);
    assert.deepEqual(parseSettings(s.frame.data), [{ id: 7, value: 1234, flags: 0 }]);
    const d = readFrame(s.rest)!;
    assert.deepEqual(d.frame, { control: false, streamId: 5, flags: 1, data: Buffer.from('x') });
    assert.equal(readFrame(s.rest.subarray(0, 8)), null);
  });

  it('round-trips WebSocket frames of every length class', () => {
    for (const n of [0, 125, 126, 65535, 65536]) {
      const f = parseFrame(encodeFrame(2, Buffer.alloc(n, 7)))!;
      assert.equal(f.frame.payload.length, n);
      assert.equal(f.frame.masked, false);
      assert.equal(f.rest.length, 0);
    }
  });

  it('encodes statuses as kubelet does', () => {
    assert.equal(encodeStatus(statusFor({ exitCode: 0 }), true)!.toString(), '{"metadata":{},"status":"Success"}');
    assert.equal(encodeStatus(statusFor({ exitCode: 0 }), false), null);
    const fail = statusFor({ exitCode: 7 }, ['sh', '-c', 'exit 7']);
    assert.equal(fail.message, 'command terminated with non-zero exit code: error executing command [sh -c exit 7], exit code 7');
    assert.equal(statusFor({ error: new Error('boom') }).code, 500);
  });
});
