// Bounds on what one SPDY client can make the server hold: open streams per connection.

import { strict as assert } from 'node:assert';
import { silentLogger } from '../../../src/log';
import { StreamingServer } from '../../../src/streaming/server';
import { SpdyClient } from '../../helpers/spdy-client';
import { LocalExecTarget } from './fake-target';
import { waitFor } from './wait';

describe('streaming: SPDY stream bound', () => {
  let server: StreamingServer;
  beforeEach(async () => {
    server = new StreamingServer({ listen: '127.0.0.1:0', log: silentLogger(), target: new LocalExecTarget() });
    await server.start();
  });
  afterEach(async () => {
    await server.close();
  });

  it('refuses the 1001st open stream of a connection with RST_STREAM REFUSED_STREAM, and accepts one again once others close', async () => {
    const c = await SpdyClient.connect(server.getPortForwardUrl({ podSandboxId: 's', port: [80] }), ['portforward.k8s.io']);
    // error streams whose data stream never comes: port-forward keeps each for 30 s
    const replies: Array<Promise<unknown>> = [];
    for (let i = 0; i < 1000; i++) replies.push(c.open({ streamType: 'error', port: '80', requestID: String(i) }));
    await Promise.all(replies);
    void c.open({ streamType: 'error', port: '80', requestID: 'one-too-many' });
    const last = 2 * 1000 + 1; // client stream ids are odd: 1, 3, …
    await waitFor(() => c.streams.get(last)?.reset === true);
    assert.equal(c.streams.get(1)?.reset, false, 'the first streams are untouched');
    // closing one from the client side (RST) makes room
    c.socket.write(rst(1));
    await new Promise((r) => setTimeout(r, 100));
    const again = c.open({ streamType: 'error', port: '80', requestID: 'after-room' });
    await again;
    c.socket.destroy();
  });
});

function rst(id: number): Buffer {
  const f = Buffer.alloc(16);
  f.writeUInt32BE(0x80030003, 0); // control, version 3, RST_STREAM
  f.writeUIntBE(8, 5, 3);
  f.writeUInt32BE(id, 8);
  f.writeUInt32BE(5, 12); // CANCEL
  return f;
}
