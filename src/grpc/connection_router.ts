// Chooses, per accepted connection, how its bytes reach the gRPC server's HTTP/2 (node:http2).
//
// Native: the net.Socket itself, so nghttp2 reads and writes the file descriptor in C++. Rewritten:
// through AuthorityFix, a JS stream that fixes the socket-path :authority of older Go clients but
// puts every byte of the connection through JS (measured: 0.36 ms of server CPU per trivial call
// against 0.28 ms native). Only the first header block tells which one a connection needs, and Go
// clients send it only after the server's connection preface (a SETTINGS frame). So the router
// reads the client preface, answers with an empty SETTINGS of its own, holds what follows until
// the first complete header block, and decides from its :authority:
// - valid: the held bytes are put back into the socket (Node's HTTP/2 reads what is already
//   buffered in the socket before reading the descriptor) and the socket goes to the server as is.
//   The client's ACK of our SETTINGS is cut out first: nghttp2 treats an ACK for a SETTINGS it
//   never sent as a protocol error. If the ACK has not come yet, the router waits for it. nghttp2
//   then sends its own SETTINGS, a second server SETTINGS, which HTTP/2 allows.
// - invalid: AuthorityFix, given the held bytes, drops that ACK itself.
// A client that sends its first header block at once (grpc-js) gets no SETTINGS from the router.
// Anything else before the first header block (PING, RST_STREAM, GOAWAY, a block too big to hold,
// a client silent for too long) takes the AuthorityFix path, which serves any HTTP/2 client as
// before; bytes that are not HTTP/2 close the connection.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AuthorityFix } from './authority_fix';
import { EMPTY_SETTINGS, examineFirstFlight } from './first_flight';

export type ConnectionPath = 'native' | 'rewritten' | 'rejected';

/** More than any first header block of a CRI client; what a connection may hold before a decision. */
const MAX_HELD_BYTES = 64 * 1024;
/**
 * How long a connection may stay undecided. No HTTP/2 client needs more than our SETTINGS to go on;
 * this is for one that waits on something else, which the AuthorityFix path then gives it.
 */
const FIRST_HEADERS_WAIT_MS = 10_000;

export function routeConnection(
  socket: Socket,
  deliver: (connection: Duplex) => void,
  counted: (path: ConnectionPath) => void,
  waitMs = FIRST_HEADERS_WAIT_MS,
): void {
  let held: Buffer = Buffer.alloc(0);
  let settingsSent = false;

  const stop = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', stop);
  };
  const native = (ackAt: number | undefined) => {
    stop();
    const bytes = ackAt === undefined ? held : Buffer.concat([held.subarray(0, ackAt), held.subarray(ackAt + 9)]);
    socket.pause();
    socket.unshift(bytes);
    counted('native');
    deliver(socket);
  };
  const rewritten = () => {
    stop();
    counted('rewritten');
    deliver(new AuthorityFix(socket, { head: held, dropSettingsAck: settingsSent }));
  };
  const onData = (chunk: Buffer) => {
    held = held.length ? Buffer.concat([held, chunk]) : chunk;
    const seen = examineFirstFlight(held, settingsSent);
    switch (seen.kind) {
      case 'garbage':
        stop();
        counted('rejected');
        socket.destroy();
        return;
      case 'unexpected':
        return rewritten();
      case 'headers':
        if (!seen.authorityValid) return rewritten();
        if (!settingsSent || seen.ackAt !== undefined) return native(seen.ackAt);
        break; // the ACK of our SETTINGS follows
      case 'incomplete':
        if (seen.clientPreface && !settingsSent) {
          settingsSent = true;
          socket.write(EMPTY_SETTINGS);
        }
        break;
    }
    if (held.length > MAX_HELD_BYTES) rewritten();
  };
  // A client that half-closes before its first request has nothing left to ask.
  const onEnd = () => {
    stop();
    socket.destroy();
  };
  const onError = () => undefined; // 'close' follows
  const timer = setTimeout(rewritten, waitMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', stop);
}
