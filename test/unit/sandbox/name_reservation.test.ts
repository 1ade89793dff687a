import { strict as assert } from 'node:assert';
import { InFlight, sandboxNameKey } from '../../../src/sandbox/name_reservation';

describe('sandbox/name_reservation', () => {
  it('name key is name_namespace_uid_attempt', () => {
    assert.equal(sandboxNameKey({ name: 'n', namespace: 'ns', uid: 'u', attempt: 2 }), 'n_ns_u_2');
  });

  it('a joiner gets the running attempt\'s result; the entry is gone once it settles', async () => {
    const f = new InFlight<string>();
    let release!: (v: string) => void;
    const first = f.start('k', () => new Promise((r) => (release = r)));
    const joined = f.get('k');
    assert.ok(joined);
    release('id1');
    assert.equal(await first, 'id1');
    assert.equal(await joined, 'id1');
    assert.equal(f.get('k'), undefined);
  });

  it('after a failure the key is free', async () => {
    const f = new InFlight<string>();
    await assert.rejects(f.start('k', async () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(f.size, 0);
  });
});
