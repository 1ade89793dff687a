import { strict as assert } from 'node:assert';
import { hostsFile, resolvConfFrom } from '../../../src/sandbox/files';

describe('sandbox/files', () => {
  it('hosts: localhost lines then every pod IP with the hostname', () => {
    const h = hostsFile('web-0', ['10.1.0.5', 'fd00::5']);
    assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(h, /^::1\tlocalhost ip6-localhost ip6-loopback$/m);
    assert.ok(h.endsWith('10.1.0.5\tweb-0\nfd00::5\tweb-0\n'));
    assert.equal(hostsFile('x', ['']).includes('\tx'), false);
  });

  it('resolv.conf from DNSConfig; null (use the host one) when it is empty or absent', () => {
    assert.equal(
      resolvConfFrom({ servers: ['10.96.0.10', '1.1.1.1'], searches: ['a.svc', 'svc'], options: ['ndots:5', 'edns0'] }),
      'search a.svc svc\nnameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:5 edns0\n',
    );
    assert.equal(resolvConfFrom({ servers: [], searches: [], options: [] }), null);
    assert.equal(resolvConfFrom(undefined), null);
  });
});
