import { strict as assert } from 'node:assert';
import { observeNetworkOp, type NetworkObserver, type NetworkOp } from '../../../src/network/observe';

type Seen = { op: NetworkOp; seconds: number; err: unknown };

function recorder(): { holder: { observer?: NetworkObserver }; seen: Seen[] } {
  const seen: Seen[] = [];
  return { holder: { observer: (op, seconds, err) => seen.push({ op, seconds, err }) }, seen };
}

describe('network/observe', () => {
  it('returns the result and tells the observer the op, a duration and no error', async () => {
    const { holder, seen } = recorder();
    assert.equal(await observeNetworkOp(holder, 'ADD', async () => 42), 42);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.op, 'ADD');
    assert.ok(Number.isFinite(seen[0]!.seconds) && seen[0]!.seconds >= 0);
    assert.equal(seen[0]!.err, undefined);
  });

  it('rethrows the error after telling the observer that same error', async () => {
    const { holder, seen } = recorder();
    const boom = new Error('plugin failed');
    await assert.rejects(observeNetworkOp(holder, 'DEL', async () => { throw boom; }), (e) => e === boom);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.op, 'DEL');
    assert.equal(seen[0]!.err, boom);
  });

  it('tells an observer set while the op runs, and runs fine with none', async () => {
    const { holder: later, seen } = recorder();
    const holder: { observer?: NetworkObserver } = {};
    await observeNetworkOp(holder, 'ADD', async () => {
      holder.observer = later.observer;
    });
    assert.equal(seen.length, 1);
    assert.equal(await observeNetworkOp({}, 'DEL', async () => 'done'), 'done');
  });
});
