import { strict as assert } from 'node:assert';
import { silentLogger } from '../../../src/log';
import { startIdleTrim } from '../../../src/memory_trim';
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
});
