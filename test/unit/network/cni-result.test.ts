import { strict as assert } from 'node:assert';
import { convertCniResult, parseCniResult } from '../../../src/network/cni-result';
import { podIPsFromResult } from '../../../src/network/pod-ips';
import { podResult } from './fake-plugins';

describe('network/cni-result', () => {
  it('parses a 1.0.0 result', () => {
    const r = parseCniResult(Buffer.from(JSON.stringify(podResult(['10.1.0.5/24']))), '1.0.0');
    assert.equal(r.cniVersion, '1.0.0');
    assert.equal(r.interfaces[2]!.name, 'eth0');
    assert.equal(r.interfaces[2]!.sandbox, '/run/netns/x');
    assert.deepEqual(r.ips, [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 2 }]);
    assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }]);
  });

  it('parses a 0.4.0 result with per-IP versions and dns', () => {
    const raw = {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', sandbox: '/proc/1/ns/net' }],
      ips: [{ version: '4', address: '10.2.0.3/16', interface: 0 }, { version: '6', address: 'fd00::3/64', interface: 0 }],
      dns: { nameservers: ['10.2.0.10'], search: ['svc.local'] },
    };
    const r = parseCniResult(JSON.stringify(raw), '0.4.0');
    assert.deepEqual(r.ips.map((i) => i.address), ['10.2.0.3/16', 'fd00::3/64']);
    assert.deepEqual(r.dns, { nameservers: ['10.2.0.10'], search: ['svc.local'] });
  });

  it('parses a 0.2.0 result (ip4/ip6)', () => {
    const r = parseCniResult(JSON.stringify({ cniVersion: '0.2.0', ip4: { ip: '10.3.0.2/24', gateway: '10.3.0.1', routes: [{ dst: '0.0.0.0/0' }] }, ip6: { ip: 'fd01::2/64' } }), '0.2.0');
    assert.deepEqual(r.ips, [{ address: '10.3.0.2/24', gateway: '10.3.0.1' }, { address: 'fd01::2/64' }]);
    assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }]);
  });

  it('takes the config version when the result has none (libcni fixupResultVersion)', () => {
    const r = parseCniResult('{"ips":[{"address":"10.0.0.2/8"}]}', '0.3.1');
    assert.equal(r.cniVersion, '0.3.1');
    assert.equal(r.raw['cniVersion'], '0.3.1');
    assert.equal(parseCniResult('null', '1.0.0').ips.length, 0);
  });

  it('rejects unknown versions, non-CIDR addresses and non-JSON', () => {
    assert.throws(() => parseCniResult('{"cniVersion":"0.5.0"}', '1.0.0'), /unsupported CNI result version "0.5.0"/);
    assert.throws(() => parseCniResult('{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]}', '1.0.0'), /not a CIDR/);
    assert.throws(() => parseCniResult('{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/33"}]}', '1.0.0'), /not a CIDR/);
    assert.throws(() => parseCniResult('garbage', '1.0.0'), /failed to unmarshal raw result/);
  });

  it('converts 1.0.0 down to 0.4.0 (adds IP versions, drops 1.x interface fields)', () => {
    const raw = podResult(['10.1.0.5/24', 'fd00::5/64']);
    (raw['interfaces'] as Array<Record<string, unknown>>)[2]!['mtu'] = 1400;
    const r = convertCniResult(parseCniResult(raw, '1.0.0'), '0.4.0');
    assert.equal(r.raw['cniVersion'], '0.4.0');
    const ips = r.raw['ips'] as Array<Record<string, unknown>>;
    assert.deepEqual(ips.map((i) => i['version']), ['4', '6']);
    assert.equal((r.raw['interfaces'] as Array<Record<string, unknown>>)[2]!['mtu'], undefined);
  });

  it('converts 0.4.0 up to 1.0.0 (drops IP versions) and 0.2.0 up to 1.0.0', () => {
    const r = convertCniResult(parseCniResult({ cniVersion: '0.4.0', ips: [{ version: '4', address: '10.2.0.3/16' }] }, '0.4.0'), '1.0.0');
    assert.deepEqual(r.raw['ips'], [{ address: '10.2.0.3/16' }]);
    assert.equal(r.raw['cniVersion'], '1.0.0');
    const up = convertCniResult(parseCniResult({ cniVersion: '0.2.0', ip4: { ip: '10.3.0.2/24', routes: [{ dst: '0.0.0.0/0' }] } }, '0.2.0'), '1.0.0');
    assert.deepEqual(up.raw['ips'], [{ address: '10.3.0.2/24' }]);
    assert.deepEqual(up.raw['routes'], [{ dst: '0.0.0.0/0' }]);
  });

  it('keeps unknown keys when converting within a family (1.0.0 -> 1.1.0)', () => {
    const r = convertCniResult(parseCniResult({ ...podResult(['10.1.0.5/24']), vendorKey: 'x' }, '1.0.0'), '1.1.0');
    assert.equal(r.raw['vendorKey'], 'x');
    assert.equal(r.raw['cniVersion'], '1.1.0');
  });
});

describe('network/pod-ips', () => {
  it('one IPv4 address', () => {
    assert.deepEqual(podIPsFromResult(parseCniResult(podResult(['10.1.0.5/24']), '1.0.0')), { ip: '10.1.0.5', additionalIps: [] });
  });

  it('dual stack: IPv4 first as ip even when IPv6 comes first, the rest in order', () => {
    const r = parseCniResult(podResult(['fd00::5/64', '10.1.0.5/24', 'fd00::6/64']), '1.0.0');
    assert.deepEqual(podIPsFromResult(r), { ip: '10.1.0.5', additionalIps: ['fd00::5', 'fd00::6'] });
  });

  it('IPv6 only: the first address', () => {
    const r = parseCniResult(podResult(['fd00::5/64', 'fd00::6/64']), '1.0.0');
    assert.deepEqual(podIPsFromResult(r), { ip: 'fd00::5', additionalIps: ['fd00::6'] });
  });

  it('only IPs of the sandbox eth0 count when the result ties IPs to interfaces', () => {
    const raw = podResult(['10.1.0.5/24']);
    (raw['ips'] as unknown[]).push({ address: '10.1.0.1/24', interface: 0 }); // the bridge's own address
    assert.deepEqual(podIPsFromResult(parseCniResult(raw, '1.0.0')), { ip: '10.1.0.5', additionalIps: [] });
  });

  it('IPs without an interface index all count; no IPs gives ""', () => {
    const r = parseCniResult({ cniVersion: '1.0.0', ips: [{ address: 'fd00::1/64' }, { address: '10.9.0.2/16' }] }, '1.0.0');
    assert.deepEqual(podIPsFromResult(r), { ip: '10.9.0.2', additionalIps: ['fd00::1'] });
    assert.deepEqual(podIPsFromResult(parseCniResult({ cniVersion: '1.0.0' }, '1.0.0')), { ip: '', additionalIps: [] });
  });
});
