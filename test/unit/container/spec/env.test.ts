import { strict as assert } from 'node:assert';
import { buildEnv, DEFAULT_PATH } from '../../../../src/container/spec/env';

const kv = (key: string, value: string | Buffer) => ({ key, value: Buffer.isBuffer(value) ? value : Buffer.from(value) });

describe('container spec: env', () => {
  const cases: { name: string; image: string[] | undefined; cri: ReturnType<typeof kv>[]; want: string[] }[] = [
    { name: 'defaults only', image: undefined, cri: [], want: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h'] },
    { name: 'image PATH replaces default in place', image: ['PATH=/bin', 'A=1'], cri: [], want: ['PATH=/bin', 'HOSTNAME=h', 'A=1'] },
    { name: 'CRI overrides image by key', image: ['A=1', 'B=2'], cri: [kv('A', 'x')], want: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'A=x', 'B=2'] },
    { name: 'CRI may override HOSTNAME', image: [], cri: [kv('HOSTNAME', 'other')], want: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=other'] },
    { name: 'values with = and utf8 bytes', image: [], cri: [kv('K', 'a=b'), kv('U', Buffer.from('héllo', 'utf8'))], want: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'K=a=b', 'U=héllo'] },
    { name: 'empty value', image: [], cri: [kv('E', '')], want: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'E='] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(buildEnv(c.image, c.cri, 'h'), c.want));
  }
});
