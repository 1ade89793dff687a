// Walks an unpacked layer dir into the TreeEntry form of layers-expected.json.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { getSys } from '../../../src/sys';
import type { TreeEntry } from '../../helpers/registry';

export function walkTree(root: string): TreeEntry[] {
  const sys = getSys();
  const out: TreeEntry[] = [];
  const inodes = new Map<number, string[]>();
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(rel ? join(root, rel) : root).sort()) {
      const p = rel ? `${rel}/${n}` : n;
      const abs = join(root, p);
      const st = fs.lstatSync(abs);
      const e: TreeEntry = { path: p, type: 'file' };
      const xattrs: Record<string, string> = {};
      for (const k of sys.llistxattr(abs)) {
        if (k === 'trusted.overlay.opaque') {
          if (sys.lgetxattr(abs, k)?.toString() === 'y') e.opaque = true;
          continue;
        }
        xattrs[k] = sys.lgetxattr(abs, k)!.toString();
      }
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ path: p, type: 'char', devmajor: 0, devminor: 0, whiteout: true });
        continue;
      }
      Object.assign(e, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) });
      if (st.isDirectory()) e.type = 'dir';
      else if (st.isSymbolicLink()) {
        e.type = 'symlink';
        e.linkname = fs.readlinkSync(abs);
      } else if (st.isFile()) {
        const data = fs.readFileSync(abs);
        e.size = data.length;
        e.sha256 = createHash('sha256').update(data).digest('hex');
        if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), p]);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        e.type = st.isCharacterDevice() ? 'char' : 'block';
        e.devmajor = Math.floor(st.rdev / 256);
        e.devminor = st.rdev % 256;
      } else if (st.isFIFO()) e.type = 'fifo';
      if (Object.keys(xattrs).length) e.xattrs = xattrs;
      out.push(e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk('');
  for (const paths of inodes.values()) {
    const group = [...paths].sort()[0]!;
    for (const e of out) if (paths.includes(e.path)) e.hardlinkGroup = group;
  }
  return out;
}

/** The expected entry without what walkTree cannot or need not see (content: sha256 says it). */
export function comparable(e: TreeEntry): TreeEntry {
  const { content: _c, ...rest } = e;
  return rest;
}
