// libnftables in a process that holds over a thousand descriptors. libnftables waits on its
// netlink socket with select(), and glibc aborts a process whose select() names a descriptor of
// 1024 or more ("bit out of range 0 - FD_SETSIZE on fd_set"), so the addon opens that socket when
// it loads, while descriptors are few. Opened at the first pod instead, it took the daemon down
// once kept stats descriptors or client connections had used the first thousand.
// A child process, so that the context is certainly made in it for the first time.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const NATIVE = join(__dirname, '..', '..', '..', 'src', 'sys', 'native.js');

const CHILD = `
const { openSync } = require('node:fs');
const addon = require(process.argv[1]).loadAddon();
const fds = [];
for (let i = 0; i < 1100; i++) fds.push(openSync('/dev/null', 'r'));
const table = 'nori_fds_' + process.argv[2];
addon.nftRun('add table inet ' + table + '\\ndelete table inet ' + table)
  .then(() => console.log('ok highest=' + Math.max(...fds)), (e) => { console.log('nft error ' + e.message); process.exit(3); });
`;

describe('libnftables with over 1024 descriptors open', () => {
  it('runs a transaction instead of aborting the process', function () {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/nft')) this.skip();
    const r = spawnSync(process.execPath, ['-e', CHILD, NATIVE, randomBytes(4).toString('hex')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.stderr.trim()}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const highest = Number(/highest=(\d+)/.exec(r.stdout)?.[1]);
    assert.ok(highest >= 1024, `the last descriptor opened was ${highest}: the case needs 1024 or more`);
  });
});
