// The identity a container's process really has, as the kernel reports it: effective uid and
// gid and the supplementary groups from /proc/<pid>/status. ContainerStatus.user reports this
// while the container runs (what the spec asked for may differ: an image's /etc/group, a
// runtime's own rules). The kernel shows ids as seen from the reader's user namespace; for a
// process in a user namespace of its own they are mapped back through its uid_map/gid_map, so
// the status shows the ids the container sees.

import { readFileSync } from 'node:fs';

export interface ProcUser {
  uid: number;
  gid: number;
  groups: number[];
}

export interface IdMapRange {
  inside: number;
  outside: number;
  count: number;
}

/** The effective uid/gid (second column) and the Groups line of /proc/<pid>/status. */
export function parseProcStatusUser(text: string): ProcUser | undefined {
  const field = (name: string): string[] | undefined => {
    const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : undefined;
  };
  const uid = field('Uid')?.[1];
  const gid = field('Gid')?.[1];
  const groups = field('Groups');
  if (uid === undefined || gid === undefined || groups === undefined) return undefined;
  const nums = [uid, gid, ...groups].map(Number);
  if (nums.some((n) => !Number.isInteger(n) || n < 0)) return undefined;
  return { uid: nums[0]!, gid: nums[1]!, groups: nums.slice(2) };
}

/** /proc/<pid>/uid_map or gid_map: "inside outside count" per line. */
export function parseIdMap(text: string): IdMapRange[] {
  const out: IdMapRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length === 3 && f.every((n) => Number.isInteger(n) && n >= 0)) out.push({ inside: f[0]!, outside: f[1]!, count: f[2]! });
  }
  return out;
}

/** An id as the reader sees it → the id inside the namespace; 65534 (overflow id) if unmapped. */
export function insideId(id: number, map: IdMapRange[]): number {
  for (const r of map) if (id >= r.outside && id - r.outside < r.count) return r.inside + (id - r.outside);
  return 65534;
}

/** The process's identity as its own user namespace sees it; undefined if it cannot be read. */
export function readProcUser(pid: number, read: (file: string) => string = (f) => readFileSync(f, 'utf8')): ProcUser | undefined {
  try {
    const u = parseProcStatusUser(read(`/proc/${pid}/status`));
    if (!u) return undefined;
    const uidMap = parseIdMap(read(`/proc/${pid}/uid_map`));
    const gidMap = parseIdMap(read(`/proc/${pid}/gid_map`));
    return { uid: insideId(u.uid, uidMap), gid: insideId(u.gid, gidMap), groups: u.groups.map((g) => insideId(g, gidMap)) };
  } catch {
    return undefined;
  }
}
