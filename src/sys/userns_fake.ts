// FakeUsernsSys: UsernsSys for unit tests, on top of a FakeSys whose mount table it shares, so
// pins it makes can be joined (startPodInit) and unpinned (umount2) through the FakeSys.

import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { MS } from './constants';
import type { FakeNamespace, FakeSys } from './fake';
import type { NamespaceType } from './types';
import { validatePinUserns, type IdRange, type PinUserNamespaceOptions, type UsernsSys } from './userns';

let nextInode = 4026560000;

export interface FakeUserNamespace extends FakeNamespace {
  uidMappings: IdRange[];
  gidMappings: IdRange[];
}

export class FakeUsernsSys implements UsernsSys {
  readonly calls: Array<{ op: keyof UsernsSys; args: unknown[] }> = [];
  /** Namespace inode → the user namespace inode that owns it. */
  readonly owners = new Map<number, number>();
  private failNext: Error | undefined;

  constructor(private readonly sys: FakeSys) {}

  /** The next pinUserNamespace or idmapMount throws this. */
  failOnce(e: Error): void {
    this.failNext = e;
  }

  async pinUserNamespace(opts: PinUserNamespaceOptions): Promise<void> {
    this.calls.push({ op: 'pinUserNamespace', args: [opts] });
    validatePinUserns(opts);
    this.throwInjected();
    const user: FakeUserNamespace = {
      type: 'user', inode: nextInode++, loopbackUp: false, sysctls: new Map(), files: new Map(),
      uidMappings: opts.uidMappings.map((r) => ({ ...r })), gidMappings: opts.gidMappings.map((r) => ({ ...r })),
    };
    this.pin(opts.user, user);
    for (const [type, file] of Object.entries(opts.targets) as Array<[NamespaceType, string]>) {
      const ns: FakeNamespace = { type, inode: nextInode++, loopbackUp: type === 'net' && (opts.loopbackUp ?? true), sysctls: new Map(), files: new Map() };
      if (type === 'uts' && opts.hostname !== undefined) ns.hostname = opts.hostname;
      for (const [p, v] of opts.sysctls ?? []) if ((p.startsWith('net/') ? 'net' : 'ipc') === type) ns.sysctls.set(p, v);
      this.owners.set(ns.inode, user.inode);
      this.pin(file, ns);
    }
  }

  idmapMount(source: string, target: string, usernsPath: string, recursive: boolean): void {
    this.calls.push({ op: 'idmapMount', args: [source, target, usernsPath, recursive] });
    this.throwInjected();
    const ns = this.sys.namespaceAt(usernsPath);
    if (!ns || ns.type !== 'user') throw Object.assign(new Error(`EINVAL: not a user namespace, mount_setattr '${usernsPath}'`), { code: 'EINVAL' });
    // As the native one: the mount point is made, a directory or a file like the source.
    if (!existsSync(target)) {
      if (statSync(source).isDirectory()) mkdirSync(target);
      else writeFileSync(target, '');
    }
    const stack = this.sys.mounts.get(target) ?? [];
    stack.push({ source, fstype: 'idmap', flags: MS.MS_BIND, data: `userns=${ns.inode}` });
    this.sys.mounts.set(target, stack);
  }

  private pin(file: string, ns: FakeNamespace): void {
    const stack = this.sys.mounts.get(file) ?? [];
    stack.push({ source: `/proc/self/ns/${ns.type}`, fstype: 'nsfs', flags: MS.MS_BIND, data: null, ns });
    this.sys.mounts.set(file, stack);
  }

  private throwInjected(): void {
    const e = this.failNext;
    this.failNext = undefined;
    if (e) throw e;
  }
}
