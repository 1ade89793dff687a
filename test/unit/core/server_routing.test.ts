import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Metrics } from '../../../src/metrics';
import { bindUnix, createServer, shutdownServer } from '../../../src/server';

const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('the unix listener', () => {
  it('closes a connection that is not HTTP/2, counts connections, and closes a silent one at shutdown', async () => {
    const dir = mkdtempSync('/tmp/nori-listen-');
    try {
      const server = createServer();
      const metrics = new Metrics({ processMetrics: false });
      const path = join(dir, 's.sock');
      const listener = await bindUnix(server, path, metrics);
      const silent = connect(path);
      silent.on('error', () => undefined);
      await new Promise((r) => silent.once('connect', r));
      const garbage = connect(path);
      garbage.on('error', () => undefined);
      garbage.resume();
      garbage.end('GET / HTTP/1.1\r\n\r\n');
      await closed(garbage);
      const scraped = await metrics.registry.metrics();
      assert.match(scraped, /^nori_cri_connections_total 2$/m);
      // the limits' counters, kept by the server and read at the scrape: nothing was turned away here
      for (const name of ['nori_cri_streams_refused_total', 'nori_cri_connections_shed_total', 'nori_cri_requests_stalled_total']) assert.match(scraped, new RegExp(`^${name} 0$`, 'm'));
      assert.equal(await shutdownServer(server, listener, 1000), 'graceful');
      silent.resume(); // it reads our SETTINGS and GOAWAY, then the end
      await closed(silent);
      assert.ok(silent.destroyed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
