// Namespace modes seen from inside real containers: which processes `ps` lists for each PID
// mode, and whose IPC/network/UTS namespaces a container is in (readlink /proc/self/ns/*,
// hostname, the interfaces in /proc/net/dev) for POD and NODE.

import { strict as assert } from 'node:assert';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Inside } from './inside_harness';
import { startInsideForSuite } from './inside_setup';

const PS = 'ps -o pid,args';

function interfaces(procNetDev: string): string[] {
  return procNetDev.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort();
}

describe('containers from inside: namespaces', function () {
  this.timeout(120_000);
  let t: Inside;

  startInsideForSuite({}, (inside) => {
    t = inside;
  });

  it('PID CONTAINER: ps lists only the container\'s own processes, its command as pid 1', async () => {
    const pod = await t.pod({ pid: 'CONTAINER' });
    await t.runLong(pod, 'other', {}, 'echo ready; exec sleep 4241');
    const r = await t.run(pod, 'ps', `${PS}; echo "me $$"`);
    assert.ok(!r.out.includes('sleep 4241'), r.out);
    assert.match(r.out, /^\s*1 sh -c ps -o pid,args/m);
    assert.match(r.out, /^me 1$/m);
    assert.ok(!r.out.includes(String(process.pid)), r.out);
  });

  it('PID POD: sees the other containers of the pod', async () => {
    const pod = await t.pod({ pid: 'POD' });
    await t.runLong(pod, 'other', {}, 'echo ready; exec sleep 4242');
    const r = await t.run(pod, 'ps', PS);
    assert.match(r.out, /sleep 4242/);
    // pid 1 is the pod's init, not this container's command
    assert.doesNotMatch(r.out, /^\s*1 sh -c/m);
  });

  it('PID NODE: sees host processes', async () => {
    const pod = await t.pod({ pid: 'NODE' });
    // This test process, by its pid, with the command line the host sees.
    const r = await t.run(pod, 'ps', `cat /proc/${process.pid}/cmdline | tr '\\0' ' '; echo; echo "me $$"`);
    const ours = readFileSync('/proc/self/cmdline', 'utf8').split('\0').join(' ');
    assert.equal(r.out.split('\n')[0], ours, r.out);
    assert.doesNotMatch(r.out, /^me 1$/m);
  });

  it('PID TARGET: sees the target container\'s processes', async () => {
    const pod = await t.pod({ pid: 'CONTAINER' });
    const target = await t.runLong(pod, 'target', {}, 'echo ready; exec sleep 4243');
    await t.runLong(pod, 'bystander', {}, 'echo ready; exec sleep 4244');
    const r = await t.run(pod, 'dbg', PS, { linux: { security_context: { namespace_options: { pid: 'TARGET', target_id: target } } } });
    assert.match(r.out, /^\s*1 sleep 4243/m);
    assert.ok(!r.out.includes('sleep 4244'), r.out);
  });

  it('IPC/network/UTS POD: shared by the pod\'s containers, not the host\'s', async () => {
    const pod = await t.pod({ hostname: 'inside-pod' });
    const script = 'for n in ipc net uts; do readlink /proc/self/ns/$n; done; hostname; cat /proc/net/dev';
    const a = await t.run(pod, 'a', script);
    const b = await t.run(pod, 'b', script);
    const [ipc, net, uts, host, ...dev] = a.out.split('\n');
    assert.deepEqual(b.out.split('\n').slice(0, 4), [ipc, net, uts, host]);
    assert.notEqual(ipc, readlinkSync('/proc/self/ns/ipc'));
    assert.notEqual(net, readlinkSync('/proc/self/ns/net'));
    assert.notEqual(uts, readlinkSync('/proc/self/ns/uts'));
    assert.equal(host, 'inside-pod');
    assert.deepEqual(interfaces(dev.join('\n')), ['lo']);
  });

  it('IPC/network/UTS NODE: the host\'s namespaces, hostname and interfaces', async () => {
    const pod = await t.pod({ network: 'NODE', ipc: 'NODE' });
    const r = await t.run(pod, 'h', 'for n in ipc net uts; do readlink /proc/self/ns/$n; done; hostname; cat /proc/net/dev');
    const [ipc, net, uts, host, ...dev] = r.out.split('\n');
    assert.equal(ipc, readlinkSync('/proc/self/ns/ipc'));
    assert.equal(net, readlinkSync('/proc/self/ns/net'));
    assert.equal(uts, readlinkSync('/proc/self/ns/uts'));
    assert.equal(host, hostname());
    const hostIfs = interfaces(readFileSync('/proc/net/dev', 'utf8'));
    assert.ok(hostIfs.length > 1);
    // Links may come and go on a shared host: the host's other interfaces are visible, not only lo.
    assert.ok(interfaces(dev.join('\n')).some((i) => i !== 'lo' && hostIfs.includes(i)), dev.join('\n'));
  });

  it('IPC POD with the host network: the pod\'s own IPC namespace', async () => {
    const pod = await t.pod({ network: 'NODE', ipc: 'POD' });
    const r = await t.run(pod, 'i', 'for n in ipc net; do readlink /proc/self/ns/$n; done');
    const [ipc, net] = r.out.split('\n');
    assert.notEqual(ipc, readlinkSync('/proc/self/ns/ipc'));
    assert.equal(net, readlinkSync('/proc/self/ns/net'));
  });
});
