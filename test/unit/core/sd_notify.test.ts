import { strict as assert } from 'node:assert';
import { SystemdNotifier } from '../../../src/sd_notify';

describe('SystemdNotifier', () => {
  it('takes NOTIFY_SOCKET out of the environment, so runc and conmon never inherit it', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' };
    const n = SystemdNotifier.fromEnv(env);
    assert.equal(n.enabled, true);
    assert.deepEqual(env, { PATH: '/usr/bin' });
  });

  it('is a no-op without NOTIFY_SOCKET (started by hand)', () => {
    const n = SystemdNotifier.fromEnv({});
    assert.equal(n.enabled, false);
    n.ready('x');
    n.stopping();
  });
});
