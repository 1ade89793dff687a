// Fairness between connections: one client pipelining thousands of calls must not hold another's
// call until all of them are handled (src/grpc/h2_reader.ts). The order the methods run in is the
// order the server handled the calls' frames.

import { strict as assert } from 'node:assert';
import type { Method } from '../../../src/grpc/h2_server';
import { FLAG, FT, PeerFixture, frame, grpcMessage, grpcRequestBlock } from '../../helpers/raw-h2';
import { waitAnswered } from '../../helpers/raw-h2-calls';

describe('the gRPC server between connections', function () {
  this.timeout(20_000);
  const ran: string[] = [];
  /** Set by the test: sends b's call, from within a's first call, so a's calls are being read when it comes. */
  let sendB: (() => void) | undefined;
  const methods: Record<string, Method> = {
    '/t.S/A': {
      responseStream: false,
      run: () => {
        if (ran.push('a') === 1) sendB?.();
        return Buffer.alloc(0);
      },
    },
    '/t.S/B': { responseStream: false, run: () => (ran.push('b'), Buffer.alloc(0)) },
  };
  const peer = new PeerFixture(methods);
  before(() => peer.start());
  after(() => peer.stop());

  it("runs another connection's call while one connection's pipelined calls are still being read", async () => {
    const a = await peer.open();
    const b = await peer.open();
    await a.waitFor((f) => f.type === FT.SETTINGS);
    await b.waitFor((f) => f.type === FT.SETTINGS);
    // 4000 calls in one write: about 400 KB, more than one read of the socket
    const N = 4000;
    const msg = grpcMessage(Buffer.alloc(0));
    const blockA = grpcRequestBlock('/t.S/A');
    const parts: Buffer[] = [];
    for (let i = 0; i < N; i++) parts.push(frame(FT.HEADERS, FLAG.END_HEADERS, 1 + 2 * i, blockA), frame(FT.DATA, FLAG.END_STREAM, 1 + 2 * i, msg));
    sendB = () => b.write(frame(FT.HEADERS, FLAG.END_HEADERS, 1, grpcRequestBlock('/t.S/B')), frame(FT.DATA, FLAG.END_STREAM, 1, msg));
    a.write(...parts);
    await waitAnswered(b, 1, 10_000);
    await waitAnswered(a, 1 + 2 * (N - 1), 10_000);
    assert.equal(ran.length, N + 1);
    const at = ran.indexOf('b');
    // a turn handles at most 256 frames (128 of a's calls); without the bound, everything of a's
    // already in the socket (some 2,000 calls) is handled before b's read
    assert.ok(at < 1000, `b's call ran after ${at} of a's ${N}`);
  });
});
