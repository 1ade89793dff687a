// The writer's drain rule: a socket paused because the client did not read is resumed when it
// drains, but not while the connection holds its reading to yield a turn to other connections
// (h2_reader's frame bound); the yield resumes it at its end.

import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { FrameWriter } from '../../../src/grpc/h2_writer';

describe('FrameWriter drain', () => {
  it('resumes a paused socket on drain', () => {
    const socket = new PassThrough();
    new FrameWriter(socket, () => false, () => false);
    socket.pause();
    socket.emit('drain');
    assert.equal(socket.isPaused(), false);
  });

  it('leaves it paused while the connection holds its reading', () => {
    const socket = new PassThrough();
    let holding = true;
    new FrameWriter(socket, () => false, () => holding);
    socket.pause();
    socket.emit('drain');
    assert.equal(socket.isPaused(), true, 'a drain during a yielded turn does not resume reading');
    holding = false;
    socket.emit('drain');
    assert.equal(socket.isPaused(), false);
  });

  it('leaves a dead connection paused', () => {
    const socket = new PassThrough();
    new FrameWriter(socket, () => true, () => false);
    socket.pause();
    socket.emit('drain');
    assert.equal(socket.isPaused(), true);
  });
});
