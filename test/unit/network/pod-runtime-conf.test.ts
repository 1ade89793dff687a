import { strict as assert } from 'node:assert';
import { bandwidthFromAnnotations, parseQuantity } from '../../../src/network/bandwidth';
import { podRuntimeConf, toCniDns } from '../../../src/network/pod-runtime-conf';

describe('network/pod-runtime-conf', () => {
  it('builds CNI_ARGS and capability args for a pod', () => {
    const rt = podRuntimeConf({
      sandboxId: 'sb1',
      netns: '/run/nori/ns/net/sb1',
      podName: 'p',
      podNamespace: 'ns',
      podUid: 'u',
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 0, hostIp: '127.0.0.1' },
        { hostPort: 0, containerPort: 81, protocol: 0 },
        { hostPort: 5353, containerPort: 53, protocol: 1 },
        { hostPort: 9000, containerPort: 9000, protocol: 'SCTP' },
      ],
      dns: toCniDns({ servers: ['10.0.0.10'], searches: ['svc'], options: ['ndots:5'] }),
    });
    assert.equal(rt.ifName, 'eth0');
    assert.deepEqual(rt.args, [
      ['IgnoreUnknown', '1'],
      ['K8S_POD_NAMESPACE', 'ns'],
      ['K8S_POD_NAME', 'p'],
      ['K8S_POD_INFRA_CONTAINER_ID', 'sb1'],
      ['K8S_POD_UID', 'u'],
    ]);
    assert.deepEqual(rt.capabilityArgs.portMappings, [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '' },
      { hostPort: 9000, containerPort: 9000, protocol: 'sctp', hostIP: '' },
    ]);
    assert.deepEqual(rt.capabilityArgs.dns, { servers: ['10.0.0.10'], searches: ['svc'], options: ['ndots:5'] });
    assert.equal('bandwidth' in rt.capabilityArgs, false);
  });

  it('leaves portMappings out when no mapping has a host port', () => {
    const rt = podRuntimeConf({ sandboxId: 's', netns: '', podName: 'p', podNamespace: 'n', podUid: 'u', portMappings: [{ hostPort: 0, containerPort: 80 }] });
    assert.deepEqual(rt.capabilityArgs, {});
  });
});

describe('network/bandwidth', () => {
  it('parses quantities as Kubernetes does (rounded up)', () => {
    assert.equal(parseQuantity('10M'), 10_000_000);
    assert.equal(parseQuantity('1Mi'), 1_048_576);
    assert.equal(parseQuantity('1.5k'), 1500);
    assert.equal(parseQuantity('2e3'), 2000);
    assert.equal(parseQuantity('100m'), 1);
    assert.equal(parseQuantity('ten'), null);
  });

  it('reads the pod annotations with containerd bursts, null when absent', () => {
    assert.equal(bandwidthFromAnnotations({}), null);
    assert.deepEqual(bandwidthFromAnnotations({ 'kubernetes.io/ingress-bandwidth': '10M' }), { ingressRate: 10_000_000, ingressBurst: 4294967295 });
    assert.deepEqual(bandwidthFromAnnotations({ 'kubernetes.io/egress-bandwidth': '1G' }), { egressRate: 1_000_000_000, egressBurst: 4294967295 });
  });

  it('rejects unreasonable or invalid values', () => {
    assert.throws(() => bandwidthFromAnnotations({ 'kubernetes.io/ingress-bandwidth': '10' }), /unreasonably small/);
    assert.throws(() => bandwidthFromAnnotations({ 'kubernetes.io/egress-bandwidth': '2P' }), /unreasonably large/);
    assert.throws(() => bandwidthFromAnnotations({ 'kubernetes.io/egress-bandwidth': 'fast' }), /invalid quantity/);
  });
});
