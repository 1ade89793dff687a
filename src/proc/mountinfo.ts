// The one parser of /proc/<pid>/mountinfo (proc(5)): every reader of the mount table (the cgroup
// layout, a container's overlay, propagation checks) takes its entries from here.
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//   (1)(2)(3)   (4)   (5)      (6)       (7)  (8) (9)    (10)       (11)
// Fields 4, 5 and 10 escape space, tab, newline and backslash as \ooo; the super options (11)
// are kept as the kernel prints them (a filesystem's own escapes inside option values, such as
// overlay's, are the caller's to undo).

import { readFileSync } from 'node:fs';

export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  /** "major:minor" of the filesystem's device. */
  device: string;
  /** The directory of the filesystem mounted here (unescaped). */
  root: string;
  /** Where it is mounted (unescaped). */
  mountPoint: string;
  /** Per-mount options (field 6). */
  mountOptions: string;
  /** Optional fields: shared:N, master:N, propagate_from:N, unbindable. */
  optional: string[];
  fstype: string;
  /** Mount source (unescaped). */
  source: string;
  /** Per-superblock options (field 11), as printed. */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
export function unescapeMountinfo(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) : s;
}

/** One line; undefined when it is not a mountinfo line. */
export function parseMountinfoLine(line: string): MountinfoEntry | undefined {
  const f = line.split(' ');
  if (f.length < 10) return undefined;
  const sep = f.indexOf('-', 6);
  if (sep < 0 || f.length < sep + 3) return undefined;
  return {
    mountId: Number(f[0]),
    parentId: Number(f[1]),
    device: f[2]!,
    root: unescapeMountinfo(f[3]!),
    mountPoint: unescapeMountinfo(f[4]!),
    mountOptions: f[5]!,
    optional: f.slice(6, sep),
    fstype: f[sep + 1]!,
    source: unescapeMountinfo(f[sep + 2]!),
    superOptions: f[sep + 3] ?? '',
  };
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const e = parseMountinfoLine(line);
    if (e) out.push(e);
  }
  return out;
}

/** The mounts on `mountPoint`, in table order (the last one is on top). Only lines naming it are parsed. */
export function mountsAt(text: string, mountPoint: string): MountinfoEntry[] {
  const needle = ` ${mountPoint.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)} `;
  const out: MountinfoEntry[] = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    const start = text.lastIndexOf('\n', at) + 1;
    const end = text.indexOf('\n', at);
    const e = parseMountinfoLine(text.slice(start, end < 0 ? text.length : end));
    if (e?.mountPoint === mountPoint) out.push(e);
  }
  return out;
}

export function readMountinfo(pid: number | 'self' = 'self'): string {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
}
