// The background usage cache: samples carry the walk's time, the oldest layer is measured first,
// a removed layer's late result is dropped, and a capped walk says so.

import { strict as assert } from 'node:assert';
import { LayerUsageCache } from '../../../src/image/layer_usage';
import { silentLogger } from '../../../src/log';
import type { DirUsage } from '../../../src/sys/dir_usage';

interface Pending {
  dir: string;
  resolve: (u: DirUsage) => void;
  reject: (e: Error) => void;
}

function harness(ids: string[]) {
  const calls: Pending[] = [];
  const waiters: Array<() => void> = [];
  const cache = new LayerUsageCache({
    ids: () => ids,
    dirOf: (id) => `/layers/${id}`,
    measure: (dir) =>
      new Promise<DirUsage>((resolve, reject) => {
        calls.push({ dir, resolve, reject });
        waiters.splice(0).forEach((w) => w());
      }),
    log: silentLogger(),
    refreshMs: 60_000,
    idleFactor: 0,
  });
  const nextCall = async (): Promise<Pending> => {
    while (!calls.length) await new Promise<void>((r) => waiters.push(r));
    return calls.shift()!;
  };
  const usage = (bytes: number, inodes: number, complete = true): DirUsage => ({ bytes, inodes, entries: inodes, unreadable: 0, complete });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  return { cache, nextCall, usage, settle };
}

describe('layer usage cache', () => {
  it('serves nothing before a walk, then the walk with the time it started', async () => {
    const h = harness(['a']);
    assert.equal(h.cache.get('a'), undefined);
    const before = BigInt(Date.now()) * 1_000_000n;
    h.cache.start();
    const c = await h.nextCall();
    assert.equal(c.dir, '/layers/a');
    c.resolve(h.usage(100, 7));
    await h.settle();
    const s = h.cache.get('a')!;
    assert.equal(s.bytes, 100);
    assert.equal(s.inodes, 7);
    assert.ok(s.atNs >= before && s.atNs <= BigInt(Date.now()) * 1_000_000n);
    await h.cache.stop();
  });

  it('seeds a new layer as empty and measures it next; sums every layer', async () => {
    const ids = ['a'];
    const h = harness(ids);
    h.cache.start();
    (await h.nextCall()).resolve(h.usage(10, 1));
    await h.settle();
    ids.push('b');
    h.cache.seed('b');
    assert.deepEqual({ ...h.cache.get('b'), atNs: 0n }, { bytes: 0, inodes: 0, atNs: 0n, complete: true });
    const c = await h.nextCall();
    assert.equal(c.dir, '/layers/b');
    c.resolve(h.usage(5, 2));
    await h.settle();
    const t = h.cache.total();
    assert.equal(t.bytes, 15);
    assert.equal(t.inodes, 3);
    assert.equal(t.complete, true);
    await h.cache.stop();
  });

  it('drops the result of a walk whose layer was removed meanwhile', async () => {
    const ids = ['a'];
    const h = harness(ids);
    h.cache.start();
    const c = await h.nextCall();
    h.cache.forget('a');
    ids.pop();
    c.resolve(h.usage(1, 1));
    await h.settle();
    assert.equal(h.cache.get('a'), undefined);
    await h.cache.stop();
  });

  it('marks a capped walk incomplete; seeding a known layer keeps its sample', async () => {
    const ids = ['a'];
    const h = harness(ids);
    h.cache.start();
    (await h.nextCall()).resolve(h.usage(3, 3, false));
    await h.settle();
    assert.equal(h.cache.get('a')!.complete, false);
    assert.equal(h.cache.total().complete, false);
    h.cache.seed('a'); // already known: no reset
    assert.equal(h.cache.get('a')!.bytes, 3);
    await h.cache.stop();
  });
});
