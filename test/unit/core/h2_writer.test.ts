// The writer's drain rule: a socket paused because the client did not read is resumed when it
// drains, but not while the connection holds its reading to yield a turn to other connections
// (h2_reader's frame bound), and never once the connection is dead; the yield resumes it at its end.

import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { FrameWriter } from '../../../src/grpc/h2_writer';

/** A paused socket under a writer; `drain()` emits 'drain' and says whether it is still paused. */
function pausedSocket(dead: () => boolean, holds: () => boolean): { drain: () => boolean } {
  const socket = new PassThrough();
  new FrameWriter(socket, dead, holds);
  socket.pause();
  return {
    drain: () => {
      socket.emit('drain');
      return socket.isPaused();
    },
  };
}

describe('FrameWriter drain', () => {
  it('resumes a paused socket on drain', () => {
    assert.equal(pausedSocket(() => false, () => false).drain(), false);
  });

  it('leaves it paused while the connection holds its reading', () => {
    let holding = true;
    const s = pausedSocket(() => false, () => holding);
    assert.equal(s.drain(), true, 'a drain during a yielded turn does not resume reading');
    holding = false;
    assert.equal(s.drain(), false);
  });

  it('leaves a dead connection paused', () => {
    assert.equal(pausedSocket(() => true, () => false).drain(), true);
  });
});
