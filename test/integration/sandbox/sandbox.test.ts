// Pod sandboxes against the real kernel and the Debian CNI plugins, as root. Everything checked
// from inside the pinned namespaces with nsenter; everything host-wide is unique to this run.

import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { NamespaceMode, PodSandboxState } from '../../../src/gen/api';
import { filterSandboxes, toStatus, verboseInfo } from '../../../src/sandbox/status';
import { podRequest, removeMasqRules, sandboxEnv, sh, succeeds, type SandboxEnv } from './env';
import { cniPluginsPresent } from '../../helpers/cni_plugins';

function connectAndRead(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let data = '';
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`timeout connecting to ${host}:${port}`))), timeoutMs);
    sock.on('data', (b) => (data += b.toString()));
    sock.on('end', () => (clearTimeout(timer), resolve(data)));
    sock.on('error', (e) => (clearTimeout(timer), reject(e)));
  });
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function mounted(p: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);
}

describe('sandbox (root, real kernel and CNI)', function () {
  this.timeout(60_000);
  let env: SandboxEnv;
  const listeners: ChildProcess[] = [];

  before(async function () {
    if (process.getuid?.() !== 0 || !cniPluginsPresent()) this.skip();
    env = await sandboxEnv();
  });

  after(async () => {
    for (const l of listeners) if (l.exitCode === null) l.kill('SIGKILL');
    if (!env) return;
    const nat = (await sh('iptables', ['-t', 'nat', '-S']).catch(() => '')).split('\n').filter((l) => l.includes(env.netName));
    await env.cleanup();
    assert.deepEqual(nat, [], 'no iptables rule of this network left behind');
  });

  it('runs a pod with its own net/ipc/uts/pid namespaces, files, sysctls, shm, IP and hostPort', async () => {
    const s = env.service;
    const hostPort = 20000 + Math.floor(Math.random() * 20000);
    const id = await s.run(
      podRequest('full', {
        hostname: 'full-host',
        dnsConfig: { servers: ['10.96.0.10'], searches: ['sbtest.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
        portMappings: [{ protocol: 0, containerPort: 8080, hostPort, hostIp: '127.0.0.1' }],
        labels: { app: 'full', 'é': 'ü' },
        annotations: { 'a/b': 'x y' },
        linux: {
          sysctls: { 'net.ipv4.ip_unprivileged_port_start': '53', 'kernel.shmmni': '2048' },
          securityContext: { namespaceOptions: { network: NamespaceMode.POD, ipc: NamespaceMode.POD, pid: NamespaceMode.POD } },
        },
      }),
    );
    assert.match(id, /^[0-9a-f]{64}$/);
    const r = s.get(id)!;
    assert.equal(r.state, 'READY');
    assert.ok(s.get(id.slice(0, 12)), 'found by prefix');
    const ns = r.nsPaths;
    assert.ok(ns.net && ns.ipc && ns.uts && ns.pid, JSON.stringify(ns));

    assert.equal((await sh('nsenter', [`--uts=${ns.uts}`, 'hostname'])).trim(), 'full-host');
    assert.equal(readFileSync(r.hostnamePath, 'utf8'), 'full-host\n');
    assert.equal(
      readFileSync(r.resolvConfPath, 'utf8'),
      'search sbtest.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    );
    const hosts = readFileSync(r.hostsPath, 'utf8');
    assert.match(hosts, /^127\.0\.0\.1\tlocalhost$/m);
    assert.ok(hosts.includes(`${r.ip}\tfull-host\n`), hosts);

    // sysctls inside the namespaces, host untouched
    assert.equal((await sh('nsenter', [`--net=${ns.net}`, 'cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).trim(), '53');
    assert.equal((await sh('nsenter', [`--ipc=${ns.ipc}`, 'cat', '/proc/sys/kernel/shmmni'])).trim(), '2048');
    assert.notEqual(readFileSync('/proc/sys/kernel/shmmni', 'utf8').trim(), '2048');

    // /dev/shm: tmpfs of the configured size, nosuid,nodev,noexec, 1777
    const shm = JSON.parse(await sh('findmnt', ['-J', '-b', '-o', 'FSTYPE,OPTIONS,SIZE', r.shmPath])).filesystems[0];
    assert.equal(shm.fstype, 'tmpfs');
    assert.equal(Number(shm.size), env.config.shmSize);
    for (const o of ['nosuid', 'nodev', 'noexec']) assert.ok(shm.options.split(',').includes(o), shm.options);
    assert.equal(statSync(r.shmPath).mode & 0o7777, 0o1777);

    // the pod init is PID 1 of the pinned PID namespace
    const info = JSON.parse(verboseInfo(s.entry(id)!).info!);
    assert.ok(info.pid > 0);
    assert.equal(statSync(`/proc/${info.pid}/ns/pid`).ino, statSync(ns.pid).ino);
    assert.match(readFileSync(`/proc/${info.pid}/status`, 'utf8'), /^NSpid:\s+\d+\s+1$/m);
    assert.equal(info.netnsPath, ns.net);
    assert.ok(info.cniResult.ips.length > 0);

    // cgroup parent in every v1 hierarchy
    for (const h of ['cpu', 'memory', 'pids']) assert.ok(existsSync(path.join('/sys/fs/cgroup', h, r.cgroupParent)), `${h}${r.cgroupParent}`);
    // the pod init sits in the pod's own leaf in every hierarchy, as the kernel lists them
    // (v1 lines "N:controllers:path", the cgroup2 line "0::path")
    const initCgroups = readFileSync(`/proc/${info.pid}/cgroup`, 'utf8').trim().split('\n');
    assert.ok(initCgroups.length >= 2, initCgroups.join('\n'));
    for (const line of initCgroups) assert.ok(line.endsWith(`:${r.cgroupParent}/nori-podinit`), line);
    // v1 cpuset: the levels nori made hand cpus/mems down at mkdir (cgroup.clone_children), so the
    // init's leaf has the root's cpus without nori writing them
    const cpuset = '/sys/fs/cgroup/cpuset';
    if (existsSync(path.join(cpuset, 'cpuset.cpus'))) {
      const leaf = path.join(cpuset, r.cgroupParent, 'nori-podinit');
      assert.equal(readFileSync(path.join(cpuset, r.cgroupParent, 'cgroup.clone_children'), 'utf8').trim(), '1');
      assert.equal(readFileSync(path.join(leaf, 'cgroup.clone_children'), 'utf8').trim(), '1', 'inherited at mkdir');
      assert.equal(readFileSync(path.join(leaf, 'cpuset.cpus'), 'utf8').trim(), readFileSync(path.join(cpuset, 'cpuset.cpus'), 'utf8').trim());
    }

    // IP on eth0, reachable from the host, and the hostPort forwards to it
    assert.ok(r.ip.startsWith(env.subnetPrefix), r.ip);
    assert.match(await sh('nsenter', [`--net=${ns.net}`, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']), new RegExp(`inet ${r.ip.replace(/\./g, '\\.')}/`));
    assert.match(await sh('nsenter', [`--net=${ns.net}`, 'ip', '-o', 'link', 'show', 'lo']), /UP/);
    const child = spawn('nsenter', [`--net=${ns.net}`, process.execPath, '-e', "require('net').createServer(s => s.end('hi\\n')).listen(8080, () => console.log('ready'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    listeners.push(child);
    await new Promise<void>((res, rej) => {
      child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && res());
      child.on('exit', (c) => rej(new Error(`listener exited ${c}`)));
    });
    assert.equal(await connectAndRead(r.ip, 8080), 'hi\n');
    assert.equal(await connectAndRead('127.0.0.1', hostPort), 'hi\n');
    child.kill('SIGKILL');

    // status: labels/annotations as sent, namespace options, handler as requested
    const st = toStatus(s.entry(id)!);
    assert.deepEqual(st.labels, { app: 'full', 'é': 'ü' });
    assert.deepEqual(st.annotations, { 'a/b': 'x y' });
    assert.equal(st.state, PodSandboxState.SANDBOX_READY);
    assert.equal(st.network!.ip, r.ip);
    assert.equal(st.linux!.namespaces!.options!.pid, NamespaceMode.POD);
    assert.equal(st.runtimeHandler, '');
    assert.ok(st.createdAt > BigInt(Date.now() - 60_000) * 1_000_000n);

    // stop twice, then remove twice
    const lease = path.join(env.dataDir, env.netName, r.ip);
    assert.ok(existsSync(lease));
    await s.stop(id, AbortSignal.timeout(30_000));
    await s.stop(id, AbortSignal.timeout(30_000));
    assert.equal(s.get(id)!.state, 'NOTREADY');
    assert.equal(existsSync(lease), false, 'IP released at stop');
    assert.equal(mounted(r.shmPath), false, 'shm unmounted at stop');
    assert.equal(running(info.pid), false, 'pod init gone (exited; reaping is up to its parent, init)');
    assert.ok(mounted(ns.net), 'netns still pinned until remove');
    await s.remove(id, AbortSignal.timeout(30_000));
    await s.remove(id, AbortSignal.timeout(30_000));
    await s.stop(id, AbortSignal.timeout(30_000));
    assert.equal(s.get(id), undefined);
    for (const f of Object.values(ns)) assert.equal(existsSync(f!), false, f);
    assert.equal(existsSync(path.dirname(r.hostsPath)), false);
    for (const h of ['cpu', 'memory']) assert.equal(existsSync(path.join('/sys/fs/cgroup', h, r.cgroupParent)), false);
    assert.equal(env.service.store.get(id), undefined);
  });

  it('host network and host IPC: no pins for them, host files, /dev/shm, host interfaces', async () => {
    const s = env.service;
    const id = await s.run(
      podRequest('hostnet', {
        hostname: 'ignored',
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, ipc: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } } },
      }),
    );
    const r = s.get(id)!;
    assert.deepEqual(r.nsPaths, {});
    assert.equal(r.shmPath, '/dev/shm');
    assert.equal(r.ip, '');
    assert.deepEqual(readFileSync(r.hostsPath), readFileSync('/etc/hosts'));
    assert.deepEqual(readFileSync(r.resolvConfPath), readFileSync('/etc/resolv.conf'));
    assert.equal(readFileSync(r.hostnamePath, 'utf8').trim(), readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
    assert.equal(existsSync(path.join(env.dataDir, env.netName)) && (await fs.readdir(path.join(env.dataDir, env.netName))).some((f) => f.startsWith(env.subnetPrefix)), false, 'no lease');
    // a host-network pod sees the host's interfaces: it is the host netns, nothing of ours
    assert.equal(existsSync(path.join(env.config.state, 'ns', 'net', id)), false);
    await s.remove(id, AbortSignal.timeout(30_000));
    assert.equal(s.get(id), undefined);
  });

  it('pod network with host IPC and per-container PID: net/uts pinned, no ipc pin, no pod init', async () => {
    const s = env.service;
    const id = await s.run(podRequest('mixed', { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.POD, ipc: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } } } }));
    const r = s.get(id)!;
    assert.ok(r.nsPaths.net && r.nsPaths.uts);
    assert.equal(r.nsPaths.ipc, undefined);
    assert.equal(r.nsPaths.pid, undefined);
    assert.equal((await sh('nsenter', [`--uts=${r.nsPaths.uts}`, 'hostname'])).trim(), 'mixed', 'hostname defaults to the pod name');
    assert.equal(JSON.parse(verboseInfo(s.entry(id)!).info!).pid, 0);
    // resolv.conf is the host's when DNSConfig is absent
    assert.deepEqual(readFileSync(r.resolvConfPath), readFileSync('/etc/resolv.conf'));
    await s.remove(id, AbortSignal.timeout(30_000));
  });

  it('refuses bad requests: unknown handler, non-namespaced sysctl, missing metadata', async () => {
    const s = env.service;
    await assert.rejects(s.run(podRequest('bad1', {}, 'kata')), (e: Error) => e.name === 'InvalidArgumentError' && /"runc"/.test(e.message) && /"crun"/.test(e.message));
    await assert.rejects(s.run(podRequest('bad2', { linux: { sysctls: { 'vm.swappiness': '1' } } })), /not namespaced/);
    await assert.rejects(s.run(podRequest('bad3', { metadata: { name: 'x', namespace: '', uid: 'u', attempt: 0 } })), /namespace is required/);
    assert.equal(filterSandboxes(s.list(), undefined).length, 0);
  });

  it('a retry while the first attempt runs gets its id; a live duplicate gets AlreadyExists naming it', async () => {
    const s = env.service;
    const [a, b] = await Promise.all([s.run(podRequest('dup')), s.run(podRequest('dup'))]);
    assert.equal(a, b);
    await assert.rejects(s.run(podRequest('dup')), (e: Error) => e.name === 'AlreadyExistsError' && e.message.includes(a));
    assert.equal(s.list().length, 1);
    await s.remove(a, AbortSignal.timeout(30_000));
    const c = await s.run(podRequest('dup'));
    assert.notEqual(c, a, 'name free again after remove');
    await s.remove(c, AbortSignal.timeout(30_000));
  });

  it('a failing CNI plugin rolls everything back: no pin, mount, cgroup dir, lease or row; the name is free', async () => {
    const s = env.service;
    const bin = path.join(env.dir, 'bin', 'nori-fail');
    await fs.writeFile(bin, '#!/bin/sh\nif [ "$CNI_COMMAND" = ADD ]; then echo \'{"cniVersion":"1.0.0","code":11,"msg":"nori-fail says no"}\'; exit 1; fi\nexit 0\n', { mode: 0o755 });
    await env.writeConflist([{ type: 'nori-fail' }]);
    // only mounts under this run's dirs: other processes on the host mount and unmount too
    const ours = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(env.dir));
    const before = ours();
    try {
      await assert.rejects(s.run(podRequest('rollback', { linux: { cgroupParent: `/${env.cgroupPrefix}/rb` } })), /nori-fail says no/);
    } finally {
      await env.writeConflist();
    }
    assert.deepEqual(ours(), before, 'no mount left');
    for (const t of ['net', 'ipc', 'uts', 'pid']) {
      const d = path.join(env.config.state, 'ns', t);
      assert.deepEqual(existsSync(d) ? await fs.readdir(d) : [], [], `no ${t} pin`);
    }
    assert.deepEqual(await fs.readdir(path.join(env.config.state, 'sandboxes')), []);
    const leases = existsSync(path.join(env.dataDir, env.netName)) ? await fs.readdir(path.join(env.dataDir, env.netName)) : [];
    assert.deepEqual(leases.filter((f) => f.startsWith(env.subnetPrefix)), [], 'no IP lease');
    assert.equal(existsSync(`/sys/fs/cgroup/cpu/${env.cgroupPrefix}/rb`), false, 'no cgroup dir');
    assert.equal(existsSync(`/sys/fs/cgroup/cpu/${env.cgroupPrefix}`), false, 'no cgroup parent');
    const veths = await sh('ip', ['-o', 'link', 'show', 'master', env.bridge]).catch(() => '');
    assert.equal(veths.trim(), '', 'no veth left on the bridge');
    assert.equal(env.service.store.all().length, 0);
    const id = await s.run(podRequest('rollback'));
    assert.equal(s.get(id)!.state, 'READY', 'name usable again');
    await s.remove(id, AbortSignal.timeout(30_000));
  });

  it('a restart keeps sandboxes and states; a lost netns pin (reboot) makes it NOTREADY and stop still frees the IP', async () => {
    const s = env.service;
    const ready = await s.run(podRequest('keep', { labels: { keep: 'yes' } }));
    const stopped = await s.run(podRequest('stopped'));
    await s.stop(stopped, AbortSignal.timeout(30_000));
    const s2 = await env.restart();
    assert.equal(s2.get(ready)!.state, 'READY');
    assert.equal(s2.get(stopped)!.state, 'NOTREADY');
    assert.deepEqual(s2.get(ready)!.labels, { keep: 'yes' });
    assert.equal(s2.get(ready)!.createdAt, s.get(ready)!.createdAt);
    assert.ok(await succeeds('nsenter', [`--net=${s2.get(ready)!.nsPaths.net}`, 'true']), 'netns still pinned');

    // what a reboot does to /run: the pins are gone
    const r = s2.get(ready)!;
    const initPid = JSON.parse(verboseInfo(s2.entry(ready)!).info!).pid as number;
    const initNs = statSync(r.nsPaths.pid!).ino;
    for (const f of Object.values(r.nsPaths)) await sh('umount', ['-l', f!]);
    const s3 = await env.restart();
    assert.equal(s3.get(ready)!.state, 'NOTREADY');
    const lease = path.join(env.dataDir, env.netName, r.ip);
    assert.ok(existsSync(lease));
    await s3.stop(ready, AbortSignal.timeout(30_000));
    assert.equal(existsSync(lease), false, 'IP released without the netns');
    await s3.remove(ready, AbortSignal.timeout(30_000));
    await s3.remove(stopped, AbortSignal.timeout(30_000));
    assert.equal(s3.list().length, 0);
    // A real reboot empties iptables as well; the simulated one leaves the ipMasq rules that a
    // DEL without a netns cannot find.
    await removeMasqRules(env.netName);
    // Without its pin nori cannot prove the pid is still its pod init, so it leaves it alone; a
    // real reboot ended it already. End the test's own one, identified by its pid namespace.
    if (running(initPid) && statSync(`/proc/${initPid}/ns/pid`).ino === initNs) process.kill(initPid, 'SIGKILL');
  });
});
