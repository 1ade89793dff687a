import { strict as assert } from 'node:assert';
import { silentLogger } from '../../../src/log';
import { reclaimAfterBurst, reclaimMemory, startIdleTrim } from '../../../src/memory_trim';
import { FakeSys } from '../../../src/sys/fake';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle memory trim', () => {
  it('trims once per quiet spell and never while calls keep arriving', async () => {
    const sys = new FakeSys();
    let calls = 0;
    const stop = startIdleTrim(sys, silentLogger(), { activity: () => calls, quietMs: 20 });
    try {
      for (let i = 0; i < 8; i++) {
        calls++;
        await sleep(10);
      }
      assert.equal(sys.mallocTrims, 0, 'busy: no trim');
      await sleep(120);
      assert.equal(sys.mallocTrims, 1, 'quiet: exactly one trim');
      calls++;
      await sleep(120);
      assert.equal(sys.mallocTrims, 2, 'a new quiet spell after activity: one more');
    } finally {
      stop();
    }
  });

  it('collects dead buffers before trimming when they hold much, so their memory can go back', async () => {
    const sys = new FakeSys();
    let bufs: Buffer[] = [];
    for (let i = 0; i < 1024; i++) bufs.push(Buffer.alloc(64 * 1024, 1));
    // survive some young-generation collections, so they are promoted: only a full collection frees
    // them then (a young one could free them on its own, and the test would prove nothing)
    let churn: unknown;
    for (let i = 0; i < 300_000; i++) churn = { i, a: [i] };
    await sleep(10);
    const before = process.memoryUsage().arrayBuffers;
    // reading `bufs` here keeps them alive until now: V8 may collect what a variable holds once
    // the code never reads it again
    assert.ok(before >= 64 << 20, `${bufs.length} buffers of 64 KiB counted in ${before} bytes (${typeof churn})`);
    bufs = [];
    await reclaimMemory(sys, silentLogger(), 'test');
    // the 1024 × 64 KiB are dead: V8 counts an ArrayBuffer until it collects it (and frees them on a
    // background thread afterwards, which a loaded machine may take a while to run)
    let after = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 40 && after > before - (60 << 20); i++) {
      await sleep(50);
      after = process.memoryUsage().arrayBuffers;
    }
    assert.ok(after <= before - (60 << 20), `arrayBuffers ${before} -> ${after}`);
    assert.equal(sys.mallocTrims, 1);
  });

  it('after a burst, trims once a moment later however often it is told', async () => {
    const sys = new FakeSys();
    const burstOver = reclaimAfterBurst(sys, silentLogger(), 30);
    burstOver();
    burstOver();
    assert.equal(sys.mallocTrims, 0, 'not at once: the last answers are still being written');
    await sleep(10);
    burstOver();
    await sleep(100);
    assert.equal(sys.mallocTrims, 1);
    burstOver();
    await sleep(100);
    assert.equal(sys.mallocTrims, 2, 'a later burst trims again');
  });
});

