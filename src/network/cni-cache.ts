// libcni's result cache, same layout and JSON so `cnitool`-style tools and libcni itself can
// read it: <cacheDir>/results/<network>-<containerId>-<ifName> holding kind "cniCacheV1", the
// network config bytes (base64, as Go marshals []byte), the CNI_ARGS and capability args of the
// ADD, and its result. DEL reads it back so it runs with the config and args of the ADD even
// after a restart or a config change. Where cacheDir lives is the caller's choice: libcni uses
// /var/lib/cni, which survives reboots; a dir under /run would not.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InternalError, errorMessage } from '../errors';
import type { CniCapabilityArgs } from './cni-types';

export const CNI_CACHE_KIND = 'cniCacheV1';

export interface CachedAttachment {
  readonly containerId: string;
  readonly ifName: string;
  readonly networkName: string;
  /** The network config the ADD ran with (conflist bytes). */
  readonly config: Buffer;
  readonly netns: string;
  /** Undefined when the ADD had none (libcni then keeps the caller's). */
  readonly cniArgs: ReadonlyArray<readonly [string, string]> | undefined;
  readonly capabilityArgs: Readonly<CniCapabilityArgs> | undefined;
  /** The final result of the ADD, as the plugin printed it. */
  readonly result: Readonly<Record<string, unknown>> | undefined;
}

export class CniResultCache {
  constructor(readonly cacheDir: string) {}

  get resultsDir(): string {
    return path.join(this.cacheDir, 'results');
  }

  filePath(networkName: string, containerId: string, ifName: string): string {
    if (networkName === '' || containerId === '' || ifName === '') {
      throw new InternalError(
        `cache file path requires network name ("${networkName}"), container ID ("${containerId}"), and interface name ("${ifName}")`,
      );
    }
    return path.join(this.resultsDir, `${networkName}-${containerId}-${ifName}`);
  }

  /** Written atomically (temp file + rename): a crash leaves the old entry or the new one. */
  async write(entry: CachedAttachment): Promise<void> {
    const file = this.filePath(entry.networkName, entry.containerId, entry.ifName);
    const json: Record<string, unknown> = {
      kind: CNI_CACHE_KIND,
      containerId: entry.containerId,
      config: entry.config.toString('base64'),
      ifName: entry.ifName,
      networkName: entry.networkName,
    };
    if (entry.netns) json['netns'] = entry.netns;
    if (entry.cniArgs && entry.cniArgs.length > 0) json['cniArgs'] = entry.cniArgs;
    if (entry.capabilityArgs && Object.keys(entry.capabilityArgs).length > 0) json['capabilityArgs'] = entry.capabilityArgs;
    if (entry.result) json['result'] = entry.result;
    await fs.mkdir(this.resultsDir, { recursive: true, mode: 0o700 });
    const tmp = path.join(this.resultsDir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      await fs.writeFile(tmp, JSON.stringify(json), { mode: 0o600 });
      await fs.rename(tmp, file);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }

  /** The entry, or null when there is none. A corrupt entry throws (InternalError). */
  async read(networkName: string, containerId: string, ifName: string): Promise<CachedAttachment | null> {
    const file = this.filePath(networkName, containerId, ifName);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return decodeEntry(text, file);
  }

  async remove(networkName: string, containerId: string, ifName: string): Promise<void> {
    await fs.rm(this.filePath(networkName, containerId, ifName), { force: true });
  }

  /**
   * libcni GetCachedAttachments: every readable entry, optionally only one container's,
   * sorted by file name. Unreadable or foreign files are left out.
   */
  async list(containerId?: string): Promise<CachedAttachment[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.resultsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const out: CachedAttachment[] = [];
    for (const name of names) {
      if (containerId !== undefined) {
        const pos = name.indexOf(`-${containerId}-`);
        if (pos <= 0 || pos + containerId.length + 2 >= name.length) continue;
      }
      try {
        const file = path.join(this.resultsDir, name);
        const entry = decodeEntry(await fs.readFile(file, 'utf8'), file);
        if (containerId !== undefined && entry.containerId !== containerId) continue;
        out.push(entry);
      } catch {
        // not ours to judge: a half-written or foreign file
      }
    }
    return out;
  }
}

function decodeEntry(text: string, file: string): CachedAttachment {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new InternalError(`failed to unmarshal cached network config ${file}: ${errorMessage(e)}`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new InternalError(`cached network config ${file} is not an object`);
  if (o['kind'] !== CNI_CACHE_KIND) throw new InternalError(`cached network config ${file} has wrong kind: ${String(o['kind'])}`);
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : '');
  if (!str('ifName') || !str('networkName') || !str('containerId')) throw new InternalError(`cached network config ${file} lacks its identity`);
  const cniArgs = Array.isArray(o['cniArgs'])
    ? (o['cniArgs'] as unknown[]).filter(
        (kv): kv is [string, string] => Array.isArray(kv) && kv.length === 2 && typeof kv[0] === 'string' && typeof kv[1] === 'string',
      )
    : undefined;
  const obj = (k: string) => (o[k] !== null && typeof o[k] === 'object' && !Array.isArray(o[k]) ? (o[k] as Record<string, unknown>) : undefined);
  return {
    containerId: str('containerId'),
    ifName: str('ifName'),
    networkName: str('networkName'),
    config: Buffer.from(str('config'), 'base64'),
    netns: str('netns'),
    cniArgs,
    capabilityArgs: obj('capabilityArgs') as CniCapabilityArgs | undefined,
    result: obj('result'),
  };
}
