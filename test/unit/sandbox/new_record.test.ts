import { strict as assert } from 'node:assert';
import { defaultConfig, finishConfig } from '../../../src/config';
import { NamespaceMode, PodSandboxConfig, RunPodSandboxRequest } from '../../../src/gen/api';
import { newSandboxRecord, newSandboxRow } from '../../../src/sandbox/new_record';
import { sandboxPaths } from '../../../src/sandbox/paths';
import { decodeRecord } from '../../../src/sandbox/record';
import { planSandbox } from '../../../src/sandbox/validate';

const config = (() => {
  const c = defaultConfig();
  finishConfig(c);
  return c;
})();

function plan(linux: object = {}) {
  const req = RunPodSandboxRequest.fromPartial({ config: { metadata: { name: 'p', namespace: 'ns', uid: 'u', attempt: 2 }, linux } as any });
  return planSandbox(req, config, '/nori/podX');
}

describe('sandbox/new_record', () => {
  const p = sandboxPaths('/run/x', 'abc');

  it('all modes POD (the zero value of the CRI enum): net, ipc, uts and pid are pinned', () => {
    const rec = newSandboxRecord('abc', plan(), p);
    assert.deepEqual(rec.nsPaths, { net: p.ns.net, ipc: p.ns.ipc, uts: p.ns.uts, pid: p.ns.pid });
    assert.equal(rec.network, 'POD');
    assert.equal(rec.pid, 'POD');
    assert.equal(rec.shmPath, p.shm);
    assert.equal(rec.internals.shmOwned, true);
    assert.equal(rec.hostname, 'p');
  });

  it('host network and IPC pin nothing of theirs and use the node /dev/shm; a CONTAINER pid namespace is not pinned', () => {
    const ns = { network: NamespaceMode.NODE, ipc: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER };
    const rec = newSandboxRecord('abc', plan({ securityContext: { namespaceOptions: ns } }), p);
    assert.deepEqual(rec.nsPaths, {});
    assert.equal(rec.pid, 'CONTAINER');
    assert.equal(rec.network, 'NODE');
    assert.equal(rec.shmPath, '/dev/shm');
    assert.equal(rec.internals.shmOwned, false);
  });

  it('the CREATING row holds the config as sent and a record that decodes back', () => {
    const pl = plan();
    const rec = newSandboxRecord('abc', pl, p);
    const row = newSandboxRow(rec, 'key', pl.config, 5n);
    assert.equal(row.state, 'CREATING');
    assert.deepEqual(PodSandboxConfig.decode(row.config), pl.config);
    assert.deepEqual(decodeRecord(row.record).nsPaths, rec.nsPaths);
  });
});
