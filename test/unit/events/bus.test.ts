// The event bus and the GetContainerEvents handler without a daemon: fan-out, the bounded
// buffer of a subscriber that stops reading, cancellation.

import { strict as assert } from 'node:assert';
import { getContainerEvents } from '../../../src/cri/get_container_events';
import type { CallContext } from '../../../src/cri/context';
import { ResourceExhaustedError, CancelledError } from '../../../src/errors';
import { EventBus } from '../../../src/events/bus';
import { ContainerEvents } from '../../../src/events/container_events';
import { ContainerEventType, type ContainerEventResponse } from '../../../src/gen/api';
import { silentLogger } from '../../../src/log';

function ctx(signal: AbortSignal): CallContext {
  return { requestId: 't', rpc: 'GetContainerEvents', log: silentLogger(), signal };
}

describe('event bus', () => {
  it('fans out to every subscriber in order and builds nothing without subscribers', async () => {
    const bus = new EventBus<number>(10);
    let built = 0;
    bus.publish(() => ++built);
    assert.equal(built, 0);
    const a = bus.subscribe();
    const b = bus.subscribe();
    for (let i = 1; i <= 3; i++) bus.publish(() => (built++, i));
    assert.equal(built, 3);
    assert.deepEqual([await a.next(), await a.next(), await a.next()], [1, 2, 3]);
    assert.deepEqual([await b.next(), await b.next(), await b.next()], [1, 2, 3]);
    a.close();
    assert.equal(bus.subscribers, 1);
  });

  it('ends a subscriber that falls behind with ResourceExhausted, without touching the others', async () => {
    const bus = new EventBus<number>(3);
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    for (let i = 0; i < 5; i++) {
      bus.publish(() => i);
      assert.equal(await fast.next(), i);
    }
    assert.equal(slow.closed, true);
    assert.equal(bus.subscribers, 1);
    await assert.rejects(slow.next(), ResourceExhaustedError);
    await assert.rejects(slow.failed, ResourceExhaustedError);
  });

  it('next() rejects when the signal aborts', async () => {
    const bus = new EventBus<number>(3);
    const s = bus.subscribe();
    const ac = new AbortController();
    const p = s.next(ac.signal);
    ac.abort(new CancelledError('bye'));
    await assert.rejects(p, CancelledError);
  });
});

describe('GetContainerEvents handler', () => {
  const source = {
    sandboxStatus: () => undefined,
    containerStatuses: () => [],
    now: () => 42n,
  };

  it('streams events and unsubscribes on cancellation', async () => {
    const events = new ContainerEvents(source, 16);
    const got: ContainerEventResponse[] = [];
    const ac = new AbortController();
    const done = getContainerEvents(events)({}, ctx(ac.signal), async (m) => void got.push(m));
    await new Promise((r) => setImmediate(r));
    assert.equal(events.bus.subscribers, 1);
    events.publish('CREATED', { id: 'c1', sandboxId: 'p' });
    events.publish('STARTED', { id: 'c1', sandboxId: 'p' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got.map((e) => [e.containerId, e.containerEventType, e.createdAt]), [
      ['c1', ContainerEventType.CONTAINER_CREATED_EVENT, 42n],
      ['c1', ContainerEventType.CONTAINER_STARTED_EVENT, 42n],
    ]);
    ac.abort(new CancelledError('client went away'));
    await assert.rejects(done, CancelledError);
    assert.equal(events.bus.subscribers, 0);
  });

  it('ends a client that stopped reading (send never completes) once its buffer overflows', async () => {
    const events = new ContainerEvents(source, 4);
    const ac = new AbortController();
    let sends = 0;
    const stuck = getContainerEvents(events)({}, ctx(ac.signal), () => (sends++, new Promise<void>(() => undefined)));
    const stuckEnd = stuck.then(() => undefined, (e: unknown) => e);
    const reader: ContainerEventResponse[] = [];
    const ok = getContainerEvents(events)({}, ctx(new AbortController().signal), async (m) => void reader.push(m));
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) {
      events.publish('CREATED', { id: `c${i}`, sandboxId: 'p' });
      await new Promise((r) => setImmediate(r));
    }
    assert.ok((await stuckEnd) instanceof ResourceExhaustedError);
    assert.equal(sends, 1, 'the stuck send was the only one attempted');
    assert.equal(reader.length, 10, 'the reading subscriber got every event');
    assert.equal(events.bus.subscribers, 1);
    void ok;
  });
});
