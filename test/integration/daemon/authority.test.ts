import { strict as assert } from 'node:assert';
import * as http2 from 'node:http2';
import { connect } from 'node:net';
import { startNori, type NoriProcess } from '../../helpers/daemon';

// Go gRPC clients of crictl/critest 1.26's age send the socket path as :authority.
function rawVersionCall(session: http2.ClientHttp2Session, authority: string): Promise<{ status: number; grpcStatus: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/runtime.v1.RuntimeService/Version',
      ':authority': authority,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('trailers', (t) => resolve({ status, grpcStatus: String(t['grpc-status']) }));
    req.on('error', reject);
    req.on('close', () => (req.rstCode ? reject(new Error(`reset with code ${req.rstCode}`)) : undefined));
    req.resume();
    req.end(Buffer.from([0, 0, 0, 0, 0])); // an empty VersionRequest
  });
}

describe('clients that send the socket path as :authority', function () {
  let nori: NoriProcess;
  before(async () => {
    nori = await startNori();
  });
  after(async () => nori?.cleanup());

  it('are served, on the first call and on calls that reuse the HPACK entry', async () => {
    const session = http2.connect('http://localhost', { createConnection: () => connect(nori.socket) });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await rawVersionCall(session, nori.socket);
        assert.deepEqual(r, { status: 200, grpcStatus: '0' });
      }
      const plain = await rawVersionCall(session, 'localhost');
      assert.deepEqual(plain, { status: 200, grpcStatus: '0' });
    } finally {
      session.close();
    }
  });
});
