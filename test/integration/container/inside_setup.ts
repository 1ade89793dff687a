// Set-up that several inside*.test.ts files share beyond the daemon itself (inside_harness.ts):
// the runtime handlers each case runs with and a pod per handler, a host tree with a submount
// for the recursive read-only mount tests, and the host's mount points under a directory.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Inside, Pod } from './inside_harness';

const CRUN = '/usr/bin/crun';

/** The handlers a per-handler case runs with: runc, and crun when it is installed. */
export function runtimeHandlers(): string[] {
  return existsSync(CRUN) ? ['runc', 'crun'] : ['runc'];
}

/** One pod for each handler, named `<prefix>-<handler>`, keyed by handler. */
export async function podPerHandler(t: Inside, handlers: readonly string[], prefix: string): Promise<Map<string, Pod>> {
  const pods = new Map<string, Pod>();
  for (const h of handlers) pods.set(h, await t.pod({ handler: h, name: `${prefix}-${h}` }));
  return pods;
}

/** Mount points of this (the host's) mount namespace strictly under dir. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(`${dir}/`));
}

/** A host dir (`host`) whose subdir `tmpfs` (`sub`) is a tmpfs mount: what critest's rro spec uses. */
export interface SubmountTree {
  readonly host: string;
  readonly sub: string;
  /** Lazily unmounts the tmpfs and removes the dir. */
  remove(): void;
}

/** Makes the tree under a new temp dir named `<prefix>XXXXXX`, chmod'ed to `mode` when given. */
export function makeSubmountTree(prefix: string, mode?: number): SubmountTree {
  const host = mkdtempSync(prefix);
  const sub = join(host, 'tmpfs');
  let mounted = false;
  const remove = () => {
    if (mounted) execFileSync('umount', ['-l', sub], { stdio: 'ignore' });
    mounted = false;
    rmSync(host, { recursive: true, force: true });
  };
  try {
    if (mode !== undefined) chmodSync(host, mode);
    mkdirSync(sub);
    execFileSync('mount', ['-t', 'tmpfs', 'none', sub]);
    mounted = true;
  } catch (e) {
    remove();
    throw e;
  }
  return { host, sub, remove };
}
