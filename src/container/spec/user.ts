// Process user and groups from run_as_user / run_as_username / run_as_group / the image's User,
// resolved against the image's /etc/passwd and /etc/group the way containerd's oci.WithUser and
// WithAdditionalGIDs do.

import { InvalidArgumentError } from '../../errors';
import { SupplementalGroupsPolicy, type LinuxContainerSecurityContext } from '../../gen/api';
import type { ImageFiles } from './types';

export interface PasswdEntry { name: string; uid: number; gid: number }
export interface GroupEntry { name: string; gid: number; members: string[] }
export interface ResolvedUser { uid: number; gid: number; additionalGids: number[]; username?: string }

export function parsePasswd(text: string | null): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid });
  }
  return out;
}

export function parseGroup(text: string | null): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const gid = parseId(f[2]);
    if (gid === undefined) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean) });
  }
  return out;
}

function parseId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * The user string containerd derives from the CRI fields (username wins over uid); "" when none
 * is given, so the image's User applies.
 */
export function criUserString(sc: LinuxContainerSecurityContext | undefined): string {
  const uid = sc?.runAsUser;
  const gid = sc?.runAsGroup;
  if (uid && uid.value < 0n) throw new InvalidArgumentError(`invalid run_as_user ${uid.value}`);
  if (gid && gid.value < 0n) throw new InvalidArgumentError(`invalid run_as_group ${gid.value}`);
  let user = uid ? String(uid.value) : '';
  if (sc?.runAsUsername) user = sc.runAsUsername;
  const group = gid ? String(gid.value) : '';
  if (user === '') {
    if (group !== '') throw new InvalidArgumentError(`user group "${group}" is specified without user`);
    return '';
  }
  return group === '' ? user : `${user}:${group}`;
}

/** Resolves "user[:group]" (each a number or a name) to uid/gid and supplementary groups. */
export function resolveUser(
  sc: LinuxContainerSecurityContext | undefined,
  imageUser: string | undefined,
  files: ImageFiles,
): ResolvedUser {
  const userString = criUserString(sc) || imageUser || '';
  const passwd = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);

  let uid = 0;
  let gid = 0;
  let username: string | undefined;
  if (userString !== '') {
    const colon = userString.indexOf(':');
    const userPart = colon < 0 ? userString : userString.slice(0, colon);
    const groupPart = colon < 0 ? '' : userString.slice(colon + 1);
    if (userPart === '') throw new InvalidArgumentError(`invalid user "${userString}"`);
    const numericUid = parseId(userPart);
    if (numericUid !== undefined) {
      uid = numericUid;
      const entry = passwd.find((p) => p.uid === uid);
      username = entry?.name;
      gid = entry?.gid ?? 0;
    } else {
      const entry = passwd.find((p) => p.name === userPart);
      if (!entry) throw new InvalidArgumentError(`unable to find user ${userPart}: no matching entries in passwd file`);
      ({ uid, gid } = entry);
      username = entry.name;
    }
    if (groupPart !== '') {
      const numericGid = parseId(groupPart);
      if (numericGid !== undefined) {
        gid = numericGid;
      } else {
        const entry = groups.find((g) => g.name === groupPart);
        if (!entry) throw new InvalidArgumentError(`unable to find group ${groupPart}: no matching entries in group file`);
        gid = entry.gid;
      }
    }
  } else {
    username = passwd.find((p) => p.uid === 0)?.name;
  }

  const supplemental = (sc?.supplementalGroups ?? []).map((g) => {
    if (g < 0n || g > 0xffffffffn) throw new InvalidArgumentError(`invalid supplemental group ${g}`);
    return Number(g);
  });
  const fromFile =
    sc?.supplementalGroupsPolicy === SupplementalGroupsPolicy.Strict || username === undefined
      ? []
      : groups.filter((g) => g.members.includes(username as string)).map((g) => g.gid);
  const additionalGids = [...new Set([gid, ...fromFile, ...supplemental])];
  return { uid, gid, additionalGids, username };
}
