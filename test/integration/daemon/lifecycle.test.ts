import * as grpc from '@grpc/grpc-js';
import { strict as assert } from 'node:assert';
import { existsSync, statSync } from 'node:fs';
import { startNori, type NoriProcess } from '../../helpers/daemon';

async function metricsText(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

function exitOf(n: NoriProcess): Promise<number | null> {
  if (n.proc.exitCode !== null) return Promise.resolve(n.proc.exitCode);
  return new Promise((resolve) => n.proc.once('close', (code) => resolve(code)));
}

function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('daemon lifecycle (real daemon)', function () {
  let nori: NoriProcess;
  before(async () => {
    nori = await startNori();
  });
  after(async () => nori?.cleanup());

  it('the socket is 0660 and its directory is not world-accessible', () => {
    assert.equal(statSync(nori.socket).mode & 0o777, 0o660);
    assert.equal(statSync(nori.dir).mode & 0o007, 0);
  });

  it('serves Prometheus metrics whose counters move with calls', async () => {
    assert.ok(nori.metricsPort > 0, 'metrics port logged');
    const before = await metricsText(nori.metricsPort);
    assert.match(before, /^process_resident_memory_bytes /m);
    assert.match(before, /^# TYPE nori_cri_request_duration_seconds histogram/m);
    const n0 = sample(before, 'nori_cri_requests_total', 'rpc="Version",code="OK"');
    for (let i = 0; i < 3; i++) await nori.client.call('Version', {});
    await nori.client.call('ListPodSandbox', {}).catch(() => undefined);
    const after = await metricsText(nori.metricsPort);
    assert.equal(sample(after, 'nori_cri_requests_total', 'rpc="Version",code="OK"'), n0 + 3);
    assert.ok(sample(after, 'nori_cri_request_duration_seconds_count', 'rpc="Version",code="OK"') >= 3);
    const notFound = await fetch(`http://127.0.0.1:${nori.metricsPort}/other`);
    assert.equal(notFound.status, 404);
  });

  it('a malformed protobuf frame gets an error and the daemon keeps serving', async () => {
    const raw = new grpc.Client(`unix://${nori.socket}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        raw.makeUnaryRequest(
          '/runtime.v1.RuntimeService/Status',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), // field 1, length far past the end
          (e, v) => (e ? resolve(e) : reject(new Error(`unexpected success: ${v?.toString('hex')}`))),
        );
      });
      assert.notEqual(err.code, grpc.status.OK);
      assert.notEqual(err.code, grpc.status.UNAVAILABLE);
    } finally {
      raw.close();
    }
    const v = await nori.client.call('Version', {});
    assert.equal(v.runtime_name, 'nori');
  });

  it('a second daemon on its own socket and dirs runs at the same time', async () => {
    const other = await startNori();
    try {
      const [a, b] = await Promise.all([nori.client.call('Version', {}), other.client.call('Version', {})]);
      assert.equal(a.runtime_name, 'nori');
      assert.equal(b.runtime_name, 'nori');
      assert.notEqual(other.socket, nori.socket);
    } finally {
      await other.cleanup();
    }
  });

  it('refuses a socket that a live process answers on', async () => {
    const second = await startNori({ dir: nori.dir, waitReady: false });
    second.client.close();
    assert.equal(await exitOf(second), 1);
    assert.match(second.logs.find((l) => l.msg === 'nori failed to start')?.err ?? '', /in use by another process/);
    const v = await nori.client.call('Version', {});
    assert.equal(v.runtime_name, 'nori', 'the first daemon still serves');
  });
});

describe('daemon restart and shutdown', function () {
  it('replaces a stale socket left by a killed daemon', async () => {
    const a = await startNori();
    try {
      await a.stop('SIGKILL');
      assert.ok(existsSync(a.socket), 'kill -9 leaves the socket file');
      a.client.close();
      const b = await startNori({ dir: a.dir });
      try {
        assert.ok(b.logs.some((l) => /stale socket/.test(l.msg ?? '')), 'logged the replacement');
        assert.equal((await b.client.call('Version', {})).runtime_name, 'nori');
      } finally {
        b.client.close();
        await b.stop();
      }
    } finally {
      await a.cleanup();
    }
  });

  it('SIGTERM shuts down cleanly: exit 0, socket removed, store closed', async () => {
    const n = await startNori();
    try {
      await n.client.call('Version', {});
      const code = await n.stop('SIGTERM');
      assert.equal(code, 0);
      assert.ok(!existsSync(n.socket), 'socket removed');
      assert.ok(n.logs.some((l) => l.msg === 'nori stopped'));
      assert.ok(!existsSync(`${n.root}/nori.db-wal`) || statSync(`${n.root}/nori.db-wal`).size === 0, 'WAL checkpointed on close');
    } finally {
      await n.cleanup();
    }
  });

  it('an unwritable root gives a clear error and exit code 1', async () => {
    const n = await startNori({ extraArgs: ['--root', '/etc/hostname/root'], waitReady: false });
    try {
      assert.equal(await exitOf(n), 1);
      const fatal = n.logs.find((l) => l.msg === 'nori failed to start');
      assert.match(fatal?.err ?? '', /root directory \/etc\/hostname\/root is not writable/);
    } finally {
      await n.cleanup();
    }
  });
});
