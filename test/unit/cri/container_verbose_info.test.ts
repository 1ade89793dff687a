// ContainerStatus's verbose info document: the bundle's config.json goes in as its bytes, so
// the document must stay one valid JSON text and the proto string valid UTF-8 (proto3 requires
// it; grpc-go refuses the whole answer otherwise) whatever the file holds.

import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUtf8 } from 'node:buffer';
import { verboseInfo } from '../../../src/cri/container_status';
import type { ContainerRow } from '../../../src/store/container_store';

describe('ContainerStatus verbose info', () => {
  let dir = '';
  let n = 0;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nori-verbose-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A row whose bundle holds `config` as its config.json (each test its own id: specs are kept per id). */
  const rowWith = (config: Buffer | undefined): ContainerRow => {
    if (config) writeFileSync(join(dir, 'config.json'), config);
    return { id: `verbose-info-test-${++n}`, sandboxId: 'p1', pid: 42, handler: 'runc', bundle: dir } as unknown as ContainerRow;
  };
  const text = (parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));

  it('holds the spec as the file has it, with the pid, the pod and the kernel view', () => {
    const spec = { ociVersion: '1.0.2', process: { args: ['sh', '-c', 'échø ✓'] }, annotations: { k: 'v' } };
    const bytes = text(verboseInfo(rowWith(Buffer.from(`\n  ${JSON.stringify(spec, null, 2)}\n`)), '{"pids":{"init":42}}'));
    assert.ok(isUtf8(bytes));
    assert.deepEqual(JSON.parse(bytes.toString('utf8')), { sandboxID: 'p1', pid: 42, runtimeType: 'runc', runtimeSpec: spec, bundle: dir, kernel: { pids: { init: 42 } } });
  });

  for (const [what, file] of [
    ['missing', undefined],
    ['torn (cut in the middle)', Buffer.from('{"ociVersion":"1.0.2","process":{"args":["s')],
    ['not an object', Buffer.from('["a"]')],
    ['not UTF-8 (a lone continuation byte and an overlong form)', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0x80, 0xc0, 0xaf]), Buffer.from('"}')])],
  ] as const) {
    it(`a config.json that is ${what} gives runtimeSpec null and a valid document`, () => {
      const bytes = text(verboseInfo(rowWith(file), undefined));
      assert.ok(isUtf8(bytes), 'valid UTF-8');
      assert.equal(JSON.parse(bytes.toString('utf8')).runtimeSpec, null);
    });
  }
});
