// Process environment: PATH default, HOSTNAME, image Env, then CRI envs, each overriding by key.

import type { KeyValue } from '../../gen/api';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Later entries replace earlier ones with the same key in place (so PATH stays first), as
 * containerd's oci.WithEnv does. Entries without "=" are kept as they are (a bare key).
 */
export function buildEnv(imageEnv: string[] | undefined, criEnvs: KeyValue[], hostname: string): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  const set = (entry: string): void => {
    const eq = entry.indexOf('=');
    const key = eq < 0 ? entry : entry.slice(0, eq);
    const at = index.get(key);
    if (at === undefined) {
      index.set(key, out.length);
      out.push(entry);
    } else {
      out[at] = entry;
    }
  };
  set(`PATH=${DEFAULT_PATH}`);
  set(`HOSTNAME=${hostname}`);
  for (const e of imageEnv ?? []) set(e);
  for (const kv of criEnvs) set(`${kv.key}=${decodeValue(kv.value)}`);
  return out;
}

function decodeValue(value: Buffer | string | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.toString('utf8');
}
