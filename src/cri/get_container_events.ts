// GetContainerEvents: a server stream of container lifecycle events until the client cancels.
// A subscriber that stops reading is ended with ResourceExhausted once its buffer is full;
// it never holds up the runtime or the other subscribers.

import type { ContainerEventResponse, GetEventsRequest } from '../gen/api';
import type { ContainerEvents } from '../events/container_events';
import type { StreamHandler } from './context';

export function getContainerEvents(events: ContainerEvents): StreamHandler<GetEventsRequest, ContainerEventResponse> {
  return async (_req, ctx, send) => {
    const sub = events.bus.subscribe();
    try {
      for (;;) {
        const ev = await sub.next(ctx.signal);
        // While a send waits for the client to drain, events keep queueing: an overflow then
        // ends the call even though the send itself never returns.
        await Promise.race([send(ev), sub.failed]);
      }
    } finally {
      sub.close(ctx.signal.aborted ? ctx.signal.reason : undefined);
    }
  };
}
