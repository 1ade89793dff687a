// Set-up that the inside*.test.ts files share beyond the daemon itself (inside_harness.ts): the
// suite hooks that start and clean up that daemon, the runtime handlers each case runs with and a
// pod per handler, a host tree with a submount for the recursive read-only mount tests, and the
// host's mount points under a directory.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startInside, type Inside, type Pod } from './inside_harness';
import type { FixtureName } from '../../helpers/registry';

const CRUN = '/usr/bin/crun';

export interface InsideSuiteOptions {
  /** the fixture images the daemon's registry gets (startInside's default: busybox) */
  images?: FixtureName[];
  /** more daemon arguments */
  args?: string[];
  /** skips the suite (ctx.skip()) where it cannot run; called before the daemon starts */
  skipUnless?: (ctx: Mocha.Context) => void;
  /** the suite's own clean-up, after the daemon's (its containers may hold the suite's mounts) */
  teardown?: () => void | Promise<void>;
}

/**
 * Registers a suite's before and after hooks: as root only (otherwise the suite skips), starts
 * a daemon with the fixtures and hands it to `ready` for the suite's own set-up; after the
 * cases, cleans the daemon up and then runs `teardown`.
 */
export function startInsideForSuite(opts: InsideSuiteOptions, ready: (t: Inside) => void | Promise<void>): void {
  let t: Inside | undefined;
  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    opts.skipUnless?.(this);
    this.timeout(180_000);
    t = await startInside(opts.images, opts.args);
    await ready(t);
  });
  after(async () => {
    await t?.cleanup();
    await opts.teardown?.();
  });
}

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
