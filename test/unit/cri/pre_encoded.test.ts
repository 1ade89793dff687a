import { strict as assert } from 'node:assert';
import { Container, ContainerState, ListContainersResponse, ListPodSandboxResponse, PodSandbox } from '../../../src/gen/api';
import { encodeRepeated, PreEncoded, preEncodedList } from '../../../src/cri/pre_encoded';

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
