// The overlay2 directory layout, as Docker's overlay2 driver has it:
//   <root>/overlay2/<chain id hex>/diff    the unpacked layer
//   <root>/overlay2/<chain id hex>/link    its short name
//   <root>/overlay2/<chain id hex>/lower   "l/<short>:l/<short>…" of the layers below, top first
//   <root>/overlay2/l/<short> → ../<chain id hex>/diff
//   <root>/overlay2/tmp/…                  layers being unpacked (removed at start-up)
//   <root>/overlay2/containers/<id>/{upper,work}   writable layers
// Short names are derived from the chain id, so a layer's `lower` file can be written before
// the layers below it have finished downloading.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { mkdirp } from '../util/fs';

export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/**
 * Marks dir with ext4's "top of directory hierarchy" flag (chattr +T), so the allocator places
 * each new layer dir made in it in a fresh block group instead of its parent's. Without a
 * journal, ext4 skips inodes freed in the last few seconds one by one when allocating (its
 * recently_deleted check); unpacking right after a removal in the same group then costs
 * ~0.3 ms per file instead of ~0.03 ms. Harmless elsewhere; other filesystems refuse it.
 */
function spreadSubdirs(dir: string): void {
  try {
    execFileSync('chattr', ['+T', dir], { stdio: 'ignore', timeout: 5000 });
  } catch {
    // not ext2/3/4, or no chattr: only a placement hint
  }
}

const hex = (digest: string) => digest.replace(/^sha256:/, '');

export class LayerDirs {
  readonly root: string;
  readonly tmp: string;
  readonly links: string;
  readonly containers: string;

  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'overlay2');
    this.tmp = join(this.root, 'tmp');
    this.links = join(this.root, 'l');
    this.containers = join(this.root, 'containers');
    // The flag stays on the dir, so it is set when the dir is made, not at every start: chattr
    // is a process (10-25 ms here) that would delay the first answer after each restart.
    const fresh = !fs.existsSync(this.tmp);
    for (const d of [this.root, this.tmp, this.links, this.containers]) mkdirp(d, 0o700);
    if (fresh) spreadSubdirs(this.tmp);
  }

  dir(chainId: string): string {
    return join(this.root, hex(chainId));
  }

  diff(chainId: string): string {
    return join(this.dir(chainId), 'diff');
  }

  link(chainId: string): string {
    return hex(chainId).slice(0, 26).toUpperCase();
  }

  /** A fresh temp layer dir with an empty diff/. */
  newTemp(): string {
    const t = fs.mkdtempSync(join(this.tmp, 'layer-'));
    fs.mkdirSync(join(t, 'diff'), 0o755);
    return t;
  }

  exists(chainId: string): boolean {
    return fs.existsSync(this.diff(chainId));
  }

  /** Moves a finished temp dir into place with its link and lower files. */
  commit(temp: string, chainId: string, below: string[]): void {
    const link = this.link(chainId);
    fs.writeFileSync(join(temp, 'link'), link);
    if (below.length) fs.writeFileSync(join(temp, 'lower'), below.map((c) => `l/${this.link(c)}`).reverse().join(':'));
    const dest = this.dir(chainId);
    if (fs.existsSync(dest)) fs.rmSync(dest, { recursive: true, force: true });
    fs.renameSync(temp, dest);
    const l = join(this.links, link);
    fs.rmSync(l, { force: true });
    fs.symlinkSync(join('..', hex(chainId), 'diff'), l);
  }

  /** Removes a layer: first out of sight (rename), then its content. */
  remove(chainId: string): void {
    fs.rmSync(join(this.links, this.link(chainId)), { force: true });
    const dest = this.dir(chainId);
    if (!fs.existsSync(dest)) return;
    const gone = join(this.tmp, `gone-${hex(chainId)}-${process.pid}-${Date.now()}`);
    fs.renameSync(dest, gone);
    fs.rmSync(gone, { recursive: true, force: true });
  }

  /** Chain ids (as sha256:…) of every committed layer dir on disk. */
  onDisk(): string[] {
    return fs
      .readdirSync(this.root)
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => `sha256:${n}`);
  }

  /** Empties tmp/ and drops l/ links that lead nowhere. */
  sweepTemp(): void {
    for (const n of fs.readdirSync(this.tmp)) fs.rmSync(join(this.tmp, n), { recursive: true, force: true });
    for (const n of fs.readdirSync(this.links)) {
      if (!fs.existsSync(join(this.links, n))) fs.rmSync(join(this.links, n), { force: true });
    }
  }
}
