// Unpacks one layer tar into an empty directory exactly: files, dirs, symlinks, hard links,
// devices, fifos, ownership, modes (setuid/setgid/sticky kept by chmod after chown), mtimes
// (dirs last) and the xattrs appliedXattr allows (never trusted.*); OCI whiteouts become overlay whiteouts (0/0 char devices) and opaque
// markers the trusted.overlay.opaque xattr.
//
// Hostile archives: `..` components are rejected, absolute paths are made relative to the
// layer, nothing is ever written through a symlink or a non-directory (parents are checked with
// lstat and new files are opened O_NOFOLLOW|O_EXCL), and hard links must point at an existing
// non-directory inside the layer. Symlinks themselves may point anywhere: they are only data
// here and are resolved inside the container's root later.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors';
import type { Sys } from '../sys/types';
import type { TarEntry } from './tar_reader';

export interface ExtractStats {
  bytes: number;
  inodes: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Splits an entry path into components, refusing `..`. */
export function cleanComponents(path: string): string[] {
  const comps = path.split('/').filter((c) => c !== '' && c !== '.');
  if (comps.includes('..')) throw new InvalidArgumentError(`layer entry "${path}" has a ".." component`);
  if (comps.some((c) => c.includes('\0'))) throw new InvalidArgumentError(`layer entry "${path}" has a NUL byte`);
  return comps;
}

/** An id a file can have: 0 … 2^32-2 (chown takes -1 as "leave unchanged"). Go reads any int64. */
function fileId(v: number, what: string, path: string): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xfffffffe) throw new InvalidArgumentError(`layer entry "${path}" has ${what} ${v}, which no file can have`);
  return v;
}

/** Seconds utimes can set; Go reads any int64, containerd bounds the time the same way. */
function fileTime(t: number): number {
  return Number.isFinite(t) && Math.abs(t) < 2 ** 40 ? t : 0;
}

/**
 * Which image xattrs are applied: user.* (except user.overlay.*, which overlayfs mounted with
 * userxattr reads as its own), security.capability (file capabilities), and the two POSIX ACLs.
 * trusted.* (trusted.overlay.* included: opaque, redirect, metacopy would steer overlayfs),
 * security.selinux/ima/evm and anything else are dropped.
 */
export function appliedXattr(name: string): boolean {
  if (name.startsWith('user.')) return !name.startsWith('user.overlay.');
  return name === 'security.capability' || name === 'system.posix_acl_access' || name === 'system.posix_acl_default';
}

export class LayerExtractor {
  /** relative paths known to be real directories we made */
  private readonly dirs = new Set<string>(['']);
  private readonly dirTimes = new Map<string, number>();
  /** relative paths of the non-directories this extraction made (the root starts empty, so
   *  nothing else can be in the way) */
  private readonly made = new Set<string>();
  readonly stats: ExtractStats = { bytes: 0, inodes: 0 };

  constructor(
    private readonly root: string,
    private readonly sys: Sys,
  ) {}

  private abs(rel: string): string {
    return rel ? join(this.root, rel) : this.root;
  }

  /** Makes sure every parent of comps is a real directory, creating missing ones. */
  private ensureParents(comps: string[], create: boolean): void {
    let rel = '';
    for (let i = 0; i < comps.length - 1; i++) {
      rel = rel ? `${rel}/${comps[i]}` : comps[i]!;
      if (this.dirs.has(rel)) continue;
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(this.abs(rel));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (!st) {
        if (!create) throw new InvalidArgumentError(`layer entry refers to missing "${rel}"`);
        fs.mkdirSync(this.abs(rel), 0o755);
        this.stats.inodes++;
      } else if (!st.isDirectory()) {
        throw new InvalidArgumentError(`layer entry "${comps.join('/')}" goes through "${rel}", which is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  /** Removes whatever is at rel (so a new entry never follows an old symlink). */
  private clear(rel: string, keepDir: boolean): boolean {
    if (!this.made.has(rel) && !this.dirs.has(rel)) return false;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(this.abs(rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    if (st.isDirectory()) {
      if (keepDir) return true;
      fs.rmSync(this.abs(rel), { recursive: true, force: true });
      for (const d of [...this.dirs]) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
      for (const d of [...this.dirTimes.keys()]) if (d === rel || d.startsWith(`${rel}/`)) this.dirTimes.delete(d);
      return false;
    }
    fs.unlinkSync(this.abs(rel));
    return false;
  }

  private meta(rel: string, e: TarEntry, chmod: boolean): void {
    const p = this.abs(rel);
    fs.lchownSync(p, e.uid, e.gid);
    if (chmod) fs.chmodSync(p, e.mode);
    this.xattrs(p, e);
  }

  private xattrs(p: string, e: TarEntry): void {
    for (const [k, v] of e.xattrs) if (appliedXattr(k)) this.sys.lsetxattr(p, k, v);
  }

  async apply(entry: TarEntry): Promise<void> {
    const e: TarEntry = { ...entry, uid: fileId(entry.uid, 'uid', entry.path), gid: fileId(entry.gid, 'gid', entry.path), mtime: fileTime(entry.mtime) };
    const comps = cleanComponents(e.path);
    const base = comps[comps.length - 1] ?? '';
    if (base.startsWith(WH)) {
      this.ensureParents(comps, true);
      const parent = comps.slice(0, -1).join('/');
      if (base === OPAQUE) {
        this.sys.lsetxattr(this.abs(parent), 'trusted.overlay.opaque', Buffer.from('y'));
        return;
      }
      const name = base.slice(WH.length);
      if (!name || name === '.' || name === '..') throw new InvalidArgumentError(`bad whiteout "${e.path}"`);
      const rel = parent ? `${parent}/${name}` : name;
      this.clear(rel, false);
      this.sys.mknod(this.abs(rel), fs.constants.S_IFCHR, 0, 0);
      this.made.add(rel);
      this.stats.inodes++;
      return;
    }
    const rel = comps.join('/');
    if (e.type === 'dir') {
      if (rel) {
        this.ensureParents(comps, true);
        if (!this.clear(rel, true)) {
          fs.mkdirSync(this.abs(rel), 0o700);
          this.stats.inodes++;
        }
        this.dirs.add(rel);
      }
      this.meta(rel, e, true);
      this.dirTimes.set(rel, e.mtime);
      return;
    }
    if (!rel) throw new InvalidArgumentError(`layer entry "${e.path}" of type ${e.type} names the layer root`);
    this.ensureParents(comps, true);
    this.clear(rel, false);
    const p = this.abs(rel);
    this.made.add(rel);
    this.stats.inodes++;
    switch (e.type) {
      case 'file': {
        const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of e.body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off);
          }
          // through the descriptor: no path walks; chmod after chown, which clears setuid
          fs.fchownSync(fd, e.uid, e.gid);
          fs.fchmodSync(fd, e.mode);
          fs.futimesSync(fd, e.mtime, e.mtime);
        } finally {
          fs.closeSync(fd);
        }
        this.stats.bytes += e.size;
        this.xattrs(p, e);
        return;
      }
      case 'symlink':
        fs.symlinkSync(e.linkname, p);
        this.meta(rel, e, false);
        break;
      case 'hardlink': {
        const target = cleanComponents(e.linkname);
        if (!target.length) throw new InvalidArgumentError(`hard link "${e.path}" to the layer root`);
        this.ensureParents(target, false);
        const tp = this.abs(target.join('/'));
        const st = fs.lstatSync(tp, { throwIfNoEntry: false });
        if (!st) throw new InvalidArgumentError(`hard link "${e.path}" to missing "${e.linkname}"`);
        if (st.isDirectory()) throw new InvalidArgumentError(`hard link "${e.path}" to a directory`);
        fs.linkSync(tp, p);
        this.stats.inodes--;
        return; // shares the target's inode and metadata
      }
      case 'char':
      case 'block':
      case 'fifo': {
        for (const [what, v] of [['devmajor', e.devmajor], ['devminor', e.devminor]] as const) {
          if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentError(`layer entry "${e.path}" has ${what} ${v}`);
        }
        const kind = e.type === 'char' ? fs.constants.S_IFCHR : e.type === 'block' ? fs.constants.S_IFBLK : fs.constants.S_IFIFO;
        this.sys.mknod(p, kind | (e.mode & 0o777), e.devmajor, e.devminor);
        this.meta(rel, e, true);
        break;
      }
    }
    fs.lutimesSync(p, e.mtime, e.mtime);
  }

  /** Directory times last: creating their content changed them. */
  finish(): void {
    for (const [rel, t] of this.dirTimes) {
      if (this.dirs.has(rel)) fs.lutimesSync(this.abs(rel), t, t);
    }
  }
}

export async function extractLayer(entries: AsyncIterable<TarEntry>, root: string, sys: Sys): Promise<ExtractStats> {
  const x = new LayerExtractor(root, sys);
  for await (const e of entries) await x.apply(e);
  x.finish();
  return x.stats;
}
