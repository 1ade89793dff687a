import { strict as assert } from 'node:assert';
import { Container, ContainerState, ContainerStatus, ContainerStatusResponse, ListContainersResponse, ListPodSandboxResponse, PodSandbox } from '../../../src/gen/api';
import { encodeRepeated, encodeStatusAnswer, PreEncoded, preEncodedList } from '../../../src/cri/pre_encoded';

function container(id: string, labelBytes: number): Container {
  return Container.fromPartial({
    id,
    podSandboxId: `pod-${id}`,
    metadata: { name: id, attempt: 1 },
    state: ContainerState.CONTAINER_RUNNING,
    createdAt: 1700000000000000000n,
    labels: { big: 'x'.repeat(labelBytes) },
  });
}

describe('pre-encoded list answers', () => {
  // The reference is the generated encoder of the whole response: the bytes must be the same.
  for (const sizes of [[], [0], [10, 200, 20000], Array.from({ length: 300 }, (_, i) => i * 7)]) {
    it(`ListContainersResponse with ${sizes.length} items (lengths up to ${Math.max(0, ...sizes)} bytes) is byte-for-byte the generated encoding`, () => {
      const containers = sizes.map((n, i) => container(`c${i}`, n));
      const got = encodeRepeated(1, containers, Container).bytes;
      assert.ok(got.equals(Buffer.from(ListContainersResponse.encode({ containers }).finish())));
      assert.deepEqual(ListContainersResponse.decode(got).containers.map((c) => c.id), containers.map((c) => c.id));
    });
  }

  it('ListPodSandboxResponse too, and a second answer with the same items is the same', async () => {
    const items = [PodSandbox.fromPartial({ id: 'a', metadata: { name: 'a', uid: 'u', namespace: 'n', attempt: 0 }, labels: { k: 'v' } })];
    const handler = preEncodedList(async () => ({ items }), (r) => r.items, 1, PodSandbox);
    const first = await handler({}, {} as never);
    const second = await handler({}, {} as never);
    assert.ok(first instanceof PreEncoded && second instanceof PreEncoded);
    const want = Buffer.from(ListPodSandboxResponse.encode({ items }).finish());
    assert.ok(first.bytes.equals(want));
    assert.ok(second.bytes.equals(want));
  });
});

describe('pre-encoded status answers', () => {
  const status = ContainerStatus.fromPartial({
    id: 'c1',
    metadata: { name: 'c', attempt: 2 },
    state: ContainerState.CONTAINER_RUNNING,
    startedAt: 1700000000000000000n,
    labels: { a: 'b', long: 'é'.repeat(300) },
    user: { linux: { uid: 1000n, gid: 1000n, supplementalGroups: [1n, 2n] } },
  });
  // The reference is the generated encoder of the whole response; a map's entries may come in
  // any order on the wire, so a many-entry map is checked by decoding it.
  for (const info of [{} as Record<string, string>, { info: '{"pid":1}' }, { info: `{"spec":"${'x'.repeat(20000)}","ü":"ß"}` }]) {
    it(`ContainerStatusResponse with ${Object.keys(info).length} info entries (${JSON.stringify(info).length} bytes) is byte-for-byte the generated encoding`, () => {
      const got = encodeStatusAnswer(status, ContainerStatus, info).bytes;
      assert.ok(got.equals(Buffer.from(ContainerStatusResponse.encode({ status, info }).finish())));
    });
  }

  it('an info value given in parts (text and bytes, multi-byte characters among them) is byte-for-byte the generated encoding of the joined text', () => {
    const parts = ['{"head":"é",', Buffer.from('"spec":{"ü":"ß","n":' + '1'.repeat(300) + '}', 'utf8'), ',"tail":"✓"}'];
    const joined = parts.map((p) => p.toString()).join('');
    const got = encodeStatusAnswer(status, ContainerStatus, { info: parts, k: 'v' }).bytes;
    const back = ContainerStatusResponse.decode(got);
    assert.deepEqual(back.info, { info: joined, k: 'v' });
    assert.ok(encodeStatusAnswer(status, ContainerStatus, { info: parts }).bytes.equals(Buffer.from(ContainerStatusResponse.encode({ status, info: { info: joined } }).finish())));
  });

  it('decodes to the same status and info with several entries; a second answer reuses the status bytes', () => {
    const info = { info: 'x'.repeat(200), other: 'y', '': '' };
    const first = encodeStatusAnswer(status, ContainerStatus, info).bytes;
    const back = ContainerStatusResponse.decode(first);
    assert.deepEqual(back.status, status);
    assert.deepEqual(back.info, info);
    assert.ok(encodeStatusAnswer(status, ContainerStatus, info).bytes.equals(first));
  });
});
