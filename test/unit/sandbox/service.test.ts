// SandboxService with the FakeSys, a temp store and a temp v2 cgroup root: bookkeeping, hooks,
// rollback and recovery. The real kernel and CNI are in test/integration/sandbox.

import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CgroupManager } from '../../../src/cgroups/manager';
import { defaultConfig, finishConfig, type Config } from '../../../src/config';
import { NamespaceMode, PodSandboxState, RunPodSandboxRequest } from '../../../src/gen/api';
import { silentLogger } from '../../../src/log';
import { SandboxService } from '../../../src/sandbox/service';
import { filterSandboxes } from '../../../src/sandbox/status';
import { openDb, type Db } from '../../../src/store/db';
import { FakeSys } from '../../../src/sys/fake';

const HOST_NET = { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } } };

function req(name: string, linux: object = HOST_NET, labels: Record<string, string> = {}): RunPodSandboxRequest {
  return RunPodSandboxRequest.fromPartial({ config: { metadata: { name, namespace: 'ns', uid: `u-${name}`, attempt: 0 }, labels, linux } as any });
}

describe('sandbox/service (FakeSys)', () => {
  let dir: string;
  let config: Config;
  let db: Db;
  let sys: FakeSys;
  let cgroups: CgroupManager;
  const mk = (d = db) => new SandboxService({ config, db: d, log: silentLogger(), sys, cgroups });
  const sig = () => AbortSignal.timeout(10_000);

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'nori-sb-unit-'));
    config = defaultConfig();
    config.root = path.join(dir, 'root');
    config.state = path.join(dir, 'state');
    config.cniConfDir = path.join(dir, 'net.d'); // empty: CNI not ready
    config.network = 'cni'; // these tests are about CNI; the built-in network has its own
    finishConfig(config);
    db = openDb(config.root);
    sys = new FakeSys();
    const cgRoot = path.join(dir, 'cg');
    require('node:fs').mkdirSync(cgRoot);
    writeFileSync(path.join(cgRoot, 'cgroup.controllers'), '');
    cgroups = new CgroupManager({ root: cgRoot, layout: 'v2' });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('host-network pod: only ipc pinned, shm mounted, cgroup made; stop/remove call the container hooks and undo everything', async () => {
    const s = mk();
    const calls: string[] = [];
    s.setContainerHooks({ stopPodContainers: async (id) => void calls.push(`stop ${id}`), removePodContainers: async (id) => void calls.push(`remove ${id}`) });
    const id = await s.run(req('a'));
    const r = s.get(id)!;
    assert.equal(r.state, 'READY');
    assert.deepEqual(Object.keys(r.nsPaths), ['ipc']);
    assert.ok(sys.namespaceAt(r.nsPaths.ipc!), 'ipc pinned');
    assert.equal(sys.mountAt(r.shmPath)?.fstype, 'tmpfs');
    assert.match(sys.mountAt(r.shmPath)!.data!, new RegExp(`size=${config.shmSize}`));
    assert.ok(existsSync(path.join(cgroups.root, 'nori', `pod${id}`)));
    await s.stop(id, sig());
    assert.equal(s.get(id)!.state, 'NOTREADY');
    assert.equal(sys.isMounted(r.shmPath), false);
    await s.remove(id, sig());
    await s.remove(id, sig());
    assert.deepEqual(calls, [`stop ${id}`, `stop ${id}`, `remove ${id}`]);
    assert.equal(sys.mounts.size, 0, 'no mount left');
    assert.equal(existsSync(path.join(cgroups.root, 'nori')), false);
    assert.equal(s.get(id), undefined);
  });

  it('CNI not ready: RunPodSandbox fails and rolls back pins, init, shm, cgroup and the row', async () => {
    const s = mk();
    await assert.rejects(s.run(req('b', { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } })), /cni config|network/i);
    assert.equal(sys.mounts.size, 0, `mounts left: ${[...sys.mounts.keys()].join(', ')}`);
    assert.equal(sys.callsOf('startPodInit').length, 1);
    assert.deepEqual(sys.callsOf('kill').map((a) => a[0]), sys.callsOf('startPodInit').map(() => 900000));
    assert.equal(existsSync(path.join(cgroups.root, 'nori')), false);
    assert.deepEqual(s.store.all(), []);
    assert.equal(s.list().length, 0);
  });

  it('a pinNamespaces failure rolls back what came before it', async () => {
    sys.failOn('pinNamespaces', 'EPERM');
    await assert.rejects(mk().run(req('c', { cgroupParent: '/x/y' })), /EPERM/);
    assert.equal(existsSync(path.join(cgroups.root, 'x')), false);
    assert.deepEqual(mk().store.all(), []);
  });

  it('list filters: id prefix (unique only), state, labels; restart keeps states; CREATING rows are rolled back', async () => {
    const s = mk();
    const a = await s.run(req('a', HOST_NET, { app: 'x', tier: 'web' }));
    const b = await s.run(req('b', HOST_NET, { app: 'x' }));
    await s.stop(b, sig());
    const all = s.list();
    assert.deepEqual(filterSandboxes(all, { id: a, labelSelector: {} }).map((e) => e.row.id), [a]);
    assert.deepEqual(filterSandboxes(all, { id: a.slice(0, 20), labelSelector: {} }).map((e) => e.row.id), [a]);
    const twins = all.map((e, i) => ({ ...e, rec: { ...e.rec, id: `abc${i}` } }));
    assert.deepEqual(filterSandboxes(twins, { id: 'abc', labelSelector: {} }), [], 'ambiguous prefix matches nothing');
    assert.equal(filterSandboxes(twins, { id: 'abc1', labelSelector: {} }).length, 1);
    assert.deepEqual(filterSandboxes(all, { id: '', labelSelector: {} }).length, 2);
    assert.deepEqual(filterSandboxes(all, { id: '', state: { state: PodSandboxState.SANDBOX_NOTREADY }, labelSelector: {} }).map((e) => e.row.id), [b]);
    assert.deepEqual(filterSandboxes(all, { id: '', labelSelector: { app: 'x', tier: 'web' } }).map((e) => e.row.id), [a]);
    assert.deepEqual(filterSandboxes(all, { id: 'zz', labelSelector: {} }), []);

    // a row a crash left half-made
    const crashed = { ...JSON.parse(s.store.get(a)!.record), id: 'f'.repeat(64) };
    crashed.internals.cgroupCreated = [];
    s.store.insert({ ...s.store.get(a)!, id: 'f'.repeat(64), nameKey: 'crashed', state: 'CREATING', record: JSON.stringify(crashed) });
    const s2 = mk();
    await s2.recover();
    assert.equal(s2.get(b)!.state, 'NOTREADY');
    // the fake's ipc pin is not a real nsfs mount, so recovery sees it lost: READY → NOTREADY
    assert.equal(s2.get(a)!.state, 'NOTREADY');
    assert.equal(s2.store.get('f'.repeat(64)), undefined, 'CREATING row rolled back');
    assert.deepEqual(s2.get(a)!.labels, { app: 'x', tier: 'web' });
  });

  it('int64 fields of the security context survive the store (proto JSON mapping)', async () => {
    const s = mk();
    const linux = { securityContext: { ...HOST_NET.securityContext, runAsUser: { value: 1000n }, supplementalGroups: [5n, 6n] } };
    const id = await s.run(req('sc', linux));
    const s2 = mk();
    await s2.recover();
    const sc = s2.get(id)!.securityContext as { runAsUser: { value: bigint }; supplementalGroups: bigint[] };
    assert.equal(sc.runAsUser.value, 1000n);
    assert.deepEqual(sc.supplementalGroups, [5n, 6n]);
    await s2.remove(id, sig());
  });
});
