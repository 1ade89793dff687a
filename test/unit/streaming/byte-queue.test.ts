import { strict as assert } from 'node:assert';
import { ByteQueue } from '../../../src/streaming/byte-queue';

describe('streaming: ByteQueue', () => {
  it('peeks and takes across chunk boundaries, byte for byte', () => {
    const all = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const q = new ByteQueue();
    // uneven chunks, an empty one among them
    for (const [a, b] of [[0, 1], [1, 1], [1, 7], [7, 300], [300, 301], [301, 1000]]) q.push(all.subarray(a, b));
    assert.equal(q.length, 1000);
    assert.deepEqual(q.peek(10), all.subarray(0, 10));
    assert.equal(q.length, 1000, 'peek consumes nothing');
    assert.deepEqual(q.take(3), all.subarray(0, 3));
    assert.deepEqual(q.take(500), all.subarray(3, 503));
    q.skip(2);
    assert.deepEqual(q.peek(0), Buffer.alloc(0));
    assert.deepEqual(q.take(495), all.subarray(505, 1000));
    assert.equal(q.length, 0);
    assert.throws(() => q.take(1), RangeError);
  });

  it('hands out a view (no copy) when the bytes lie in one chunk', () => {
    const q = new ByteQueue();
    const a = Buffer.from('abcdef');
    q.push(a);
    const v = q.peek(4);
    assert.equal(v.buffer, a.buffer);
    q.clear();
    assert.equal(q.length, 0);
  });
});
