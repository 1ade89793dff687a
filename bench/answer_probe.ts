// How long a restarted daemon takes to answer. The CRI client of the tests is a poor stopwatch
// here: while the socket is gone its channel fails and grpc-js then waits out its reconnect
// backoff (1 s, growing) before it tries again, so a daemon that is back after 300 ms looks back
// after ≈ 1 s. This probe has its own channel (a local subchannel pool, so no backoff state is
// shared with other clients of the same socket) with a 10 ms reconnect backoff, and sends the
// raw (empty) request bytes, so nothing but the daemon's answer is timed.

import * as grpc from '@grpc/grpc-js';

export interface AnswerTimes {
  /** from t0 until Version first succeeded */
  versionMs: number;
  /** from t0 until ListContainers first succeeded (after Version) */
  listMs: number;
}

const identity = (b: Buffer) => b;
const POLL_MS = 5;

function unary(c: grpc.Client, method: string): Promise<void> {
  return new Promise((resolve, reject) => {
    c.makeUnaryRequest(`/runtime.v1.RuntimeService/${method}`, identity, identity, Buffer.alloc(0), { deadline: Date.now() + 2000 }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Polls `socket` (a path) every 5 ms: Version until it answers, then ListContainers. */
export async function timeToAnswer(socket: string, t0: bigint, timeoutMs = 120_000): Promise<AnswerTimes> {
  const since = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const c = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': 10,
    'grpc.max_reconnect_backoff_ms': 10,
    'grpc.max_receive_message_length': -1,
  });
  const until = async (method: string) => {
    for (;;) {
      try {
        await unary(c, method);
        return since();
      } catch (e) {
        if (since() > timeoutMs) throw new Error(`${method} did not answer within ${timeoutMs} ms: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
  };
  try {
    const versionMs = await until('Version');
    const listMs = await until('ListContainers');
    return { versionMs, listMs };
  } finally {
    c.close();
  }
}
