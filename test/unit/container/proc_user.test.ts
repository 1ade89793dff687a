import { strict as assert } from 'node:assert';
import { insideId, parseIdMap, parseProcStatusUser, readProcUser } from '../../../src/container/proc_user';

// Lines as Linux 6.x prints them (fs/proc/array.c: task_state), tab-separated.
const STATUS = [
  'Name:\tsleep', 'Umask:\t0022', 'State:\tS (sleeping)', 'Tgid:\t4242',
  'Uid:\t1000\t1001\t1002\t1003', 'Gid:\t2000\t2001\t2002\t2003', 'FDSize:\t64', 'Groups:\t1000 1234 50000 ', 'NStgid:\t4242\t1',
].join('\n');

describe('container: the identity a process has (/proc/<pid>/status)', () => {
  it('takes the effective uid and gid (second column) and every supplementary group', () => {
    assert.deepEqual(parseProcStatusUser(STATUS), { uid: 1001, gid: 2001, groups: [1000, 1234, 50000] });
  });

  it('an empty Groups line is no groups', () => {
    assert.deepEqual(parseProcStatusUser(STATUS.replace('Groups:\t1000 1234 50000 ', 'Groups:\t')), { uid: 1001, gid: 2001, groups: [] });
  });

  it('no Uid line: unreadable', () => {
    assert.equal(parseProcStatusUser('Name:\tx\nGid:\t0\t0\t0\t0\nGroups:\t\n'), undefined);
  });

  it('maps host ids back through a user namespace map; unmapped ids are the overflow id', () => {
    const map = parseIdMap('         0     100000      65536\n');
    assert.deepEqual(map, [{ inside: 0, outside: 100000, count: 65536 }]);
    assert.equal(insideId(100000, map), 0);
    assert.equal(insideId(101000, map), 1000);
    assert.equal(insideId(165536, map), 65534);
    assert.equal(insideId(5, parseIdMap('0 0 4294967295')), 5);
  });

  it('readProcUser reads status, uid_map and gid_map of the pid', () => {
    const files: Record<string, string> = {
      '/proc/7/status': STATUS.replace('Uid:\t1000\t1001', 'Uid:\t101000\t101000').replace('Gid:\t2000\t2001', 'Gid:\t101000\t101000'),
      '/proc/7/uid_map': '0 100000 65536',
      '/proc/7/gid_map': '0 100000 65536',
    };
    const read = (f: string): string => {
      if (!(f in files)) throw new Error(`ENOENT ${f}`);
      return files[f]!;
    };
    assert.deepEqual(readProcUser(7, read), { uid: 1000, gid: 1000, groups: [65534, 65534, 65534] });
    assert.equal(readProcUser(8, read), undefined);
  });
});
