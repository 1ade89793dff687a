// info.kernel on the built-in network: the pod's netfilter entries come from nori's own nftables
// table (`inet nori_<bridge>`), and each one shown is a line of `nft list table` for it; the pod's
// hostPort is among them; the veth's host side sits on the daemon's bridge.

import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { removeAllPodsAndCleanup, startNori, type NoriProcess } from '../../helpers/daemon';

describe('verbose status: the kernel view on the built-in network', function () {
  this.timeout(120_000);
  const suffix = randomBytes(2).toString('hex');
  const bridge = `ntob${suffix}`;
  const table = `nori_${bridge}`;
  const hostPort = 41000 + (parseInt(suffix, 16) % 9000);
  let nori: NoriProcess;
  let podId: string;
  let info: any;

  before(async () => {
    const used = execFileSync('ip', ['-4', 'addr'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
    let subnet = '';
    do subnet = `10.238.${1 + Math.floor(Math.random() * 254)}.`;
    while (used.includes(subnet));
    nori = await startNori({
      extraArgs: ['--network', 'builtin', '--bridge', bridge, '--pod-cidr', `${subnet}0/24`, '--cgroup-root-prefix', `nori-ob-${suffix}`,
        '--registries-conf', '/nonexistent/registries.conf'],
    });
    const config = {
      metadata: { name: 'builtin', namespace: 'ops', uid: `uid-${suffix}`, attempt: 0 },
      log_directory: join(nori.dir, 'logs'),
      port_mappings: [{ protocol: 'TCP', container_port: 80, host_port: hostPort }],
      linux: {},
    };
    podId = (await nori.client.call('RunPodSandbox', { config })).pod_sandbox_id;
    info = JSON.parse((await nori.client.call('PodSandboxStatus', { pod_sandbox_id: podId, verbose: true })).info.info);
  });

  after(async () => {
    if (nori) await removeAllPodsAndCleanup(nori);
    spawnSync('ip', ['link', 'del', bridge]);
    spawnSync('nft', ['delete', 'table', 'inet', table]);
  });

  it('every nft entry shown is a line of nori\'s table, the hostPort element among them', () => {
    const listed = execFileSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' }).split('\n').map((l) => l.trim());
    const rules = info.kernel.netfilter.rules as Array<{ source: string; table: string; rule: string }>;
    const nft = rules.filter((r) => r.source === 'nft');
    assert.ok(nft.length > 0, 'rules from the built-in table');
    for (const r of nft) {
      assert.equal(r.table, `inet ${table}`);
      assert.ok(listed.includes(r.rule), `in nft list table: ${r.rule}`);
    }
    const ip = info.kernel.netfilter.ips[0] as string;
    // The element nft lists for this pod's hostPort (protocol . port : pod ip . container port).
    const element = listed.find((l) => l.includes(`. ${hostPort} : ${ip} . 80`));
    assert.ok(element, `nft lists the hostPort element: ${listed.join('\n')}`);
    assert.ok(nft.some((r) => r.rule === element), 'and the view shows it');
    assert.equal(rules.filter((r) => r.source === 'iptables').length, 0, 'CNI wrote nothing for this pod');
  });

  it('eth0\'s host side is on the daemon\'s bridge', () => {
    const eth0 = info.kernel.network.interfaces.find((i: any) => i.name === 'eth0');
    assert.equal(eth0.peer.bridge, bridge);
    const hostLine = execFileSync('ip', ['-o', 'link', 'show', eth0.peer.name], { encoding: 'utf8' });
    assert.match(hostLine, new RegExp(` master ${bridge} `));
    assert.equal(Number(/^(\d+):/.exec(hostLine)![1]), eth0.peer.ifindex);
  });
});
