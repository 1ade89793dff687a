// Network configs from a CNI conf dir, read the way libcni (conf.go) and its callers do:
// files ending .conflist, .conf or .json, sorted by name; a .conflist goes through
// ConfListFromFile, a .conf/.json is a single plugin config wrapped into a list
// (ConfListFromConf). The first file that loads is the default network. Unlike containerd,
// which fails the whole dir on one bad file, invalid files are skipped with a reason (as CRI-O
// does) so a half-written file from a network provider does not hide a good one.

import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../errors';
import { CniConfigError } from './cni-errors';
import type { NetworkConfigList, PluginConfig } from './cni-types';
import { IMPLEMENTED_SPEC_VERSION, compareCniVersions, parseCniVersion } from './cni-version';

export const DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';
/** Debian's plugins are in /usr/lib/cni; upstream installs to /opt/cni/bin. Searched in order. */
export const DEFAULT_CNI_BIN_DIRS: readonly string[] = ['/usr/lib/cni', '/opt/cni/bin'];

const CONF_EXTENSIONS = ['.conflist', '.conf', '.json'];
/** libcni utils.cniValidNameChars: network names and container ids. */
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface SkippedConfFile {
  readonly file: string;
  readonly reason: string;
}

export interface NetworkLoadResult {
  /** The default network, or null when no file in the dir is valid. */
  readonly network: NetworkConfigList | null;
  /** Why `network` is null ("" when it is not). */
  readonly reason: string;
  /** Files before the chosen one (or all files) that were not valid, with why. */
  readonly skipped: readonly SkippedConfFile[];
}

export interface LoadOptions {
  /** When given, a network whose plugin binaries are not all present is skipped too. */
  readonly binDirs?: readonly string[];
}

/**
 * The first valid network config in `confDir`, sorted by file name.
 */
export async function loadDefaultNetwork(confDir: string, opts: LoadOptions = {}): Promise<NetworkLoadResult> {
  const files = await confFiles(confDir, CONF_EXTENSIONS);
  const skipped: SkippedConfFile[] = [];
  for (const file of files) {
    try {
      const network = await loadNetworkFile(file);
      if (opts.binDirs) {
        const missing = network.plugins.find((p) => findPluginSync(p.type, opts.binDirs!) === null);
        if (missing) {
          throw new CniConfigError(`plugin "${missing.type}" not found in [${opts.binDirs.join(' ')}]`);
        }
      }
      return { network, reason: '', skipped };
    } catch (e) {
      skipped.push({ file, reason: errorMessage(e) });
    }
  }
  const reason =
    files.length === 0
      ? `no network config found in ${confDir}`
      : `no valid network config in ${confDir}: ${skipped.map((s) => `${path.basename(s.file)}: ${s.reason}`).join('; ')}`;
  return { network: null, reason, skipped };
}

/** Loads one file by its extension: a list for .conflist, a wrapped single config otherwise. */
export async function loadNetworkFile(file: string): Promise<NetworkConfigList> {
  const bytes = await readConf(file);
  if (file.endsWith('.conflist')) {
    const list = parseNetworkConfList(bytes, file);
    return list.loadOnlyInlinedPlugins ? requirePlugins(list) : requirePlugins(await withPluginDir(list));
  }
  return wrapPluginConf(parsePluginConf(bytes), file);
}

/**
 * libcni NetworkConfFromBytes: a conflist's top-level keys. Also accepts the cached bytes of a
 * previous ADD, which is how DEL finds the config the attachment was made with.
 */
export function parseNetworkConfList(bytes: Buffer, file = ''): NetworkConfigList {
  const raw = parseObject(bytes, 'configuration list');
  if (!('name' in raw)) throw new CniConfigError('error parsing configuration list: no name');
  const name = raw['name'];
  if (typeof name !== 'string') throw new CniConfigError(`error parsing configuration list: invalid name type ${jsonType(name)}`);
  validateNetworkName(name);

  let cniVersion = '';
  if ('cniVersion' in raw) {
    const v = raw['cniVersion'];
    if (typeof v !== 'string') throw new CniConfigError(`error parsing configuration list: invalid cniVersion type ${jsonType(v)}`);
    cniVersion = v;
  }
  checkVersion(cniVersion);
  if ('cniVersions' in raw) cniVersion = pickCniVersion(raw['cniVersions'], cniVersion);

  const loadOnlyInlinedPlugins = readBool(raw, 'loadOnlyInlinedPlugins');
  const base = {
    name,
    cniVersion,
    disableCheck: readBool(raw, 'disableCheck'),
    disableGC: readBool(raw, 'disableGC'),
    loadOnlyInlinedPlugins,
    bytes,
    file,
  };
  if (!('plugins' in raw)) {
    if (loadOnlyInlinedPlugins) {
      throw new CniConfigError("error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key");
    }
    return { ...base, plugins: [] };
  }
  const plugins = raw['plugins'];
  if (!Array.isArray(plugins)) throw new CniConfigError(`error parsing configuration list: invalid 'plugins' type ${jsonType(plugins)}`);
  if (plugins.length === 0) throw new CniConfigError('error parsing configuration list: no plugins in list');
  return {
    ...base,
    plugins: plugins.map((p, i) => {
      try {
        return pluginFromObject(p);
      } catch (e) {
        throw new CniConfigError(`failed to parse plugin config ${i}: ${errorMessage(e)}`);
      }
    }),
  };
}

/** libcni NetworkPluginConfFromBytes: one plugin's config; `type` is required. */
export function parsePluginConf(bytes: Buffer): PluginConfig {
  return pluginFromObject(parseObject(bytes, 'configuration'));
}

/** libcni ConfListFromConf: a single config becomes a one-plugin list named after it. */
export function wrapPluginConf(plugin: PluginConfig, file = ''): NetworkConfigList {
  const name = typeof plugin.conf['name'] === 'string' ? (plugin.conf['name'] as string) : '';
  const cniVersion = typeof plugin.conf['cniVersion'] === 'string' ? (plugin.conf['cniVersion'] as string) : '';
  const bytes = Buffer.from(JSON.stringify({ cniVersion, name, plugins: [plugin.conf] }));
  return { ...parseNetworkConfList(bytes), file };
}

/** libcni ConfFiles + sort.Strings: regular entries with one of the extensions, byte-order sorted. */
export async function confFiles(dir: string, extensions: readonly string[]): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    // A missing dir is "no configs yet", not an error: the provider may not have started.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries
    .filter((e) => !e.isDirectory() && extensions.includes(path.extname(e.name)))
    .map((e) => path.join(dir, e.name))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** libcni FindInPath: the first regular file named `plugin` in the dirs, in order. */
export function findPluginSync(plugin: string, binDirs: readonly string[]): string | null {
  if (plugin === '' || plugin.includes('/')) return null;
  for (const dir of binDirs) {
    const full = path.join(dir, plugin);
    try {
      if (statSync(full).isFile()) return full;
    } catch {
      // not in this dir
    }
  }
  return null;
}

export function validateNetworkName(name: string): void {
  if (name === '') throw new CniConfigError('missing network name');
  if (!VALID_NAME.test(name)) throw new CniConfigError(`invalid characters found in network name "${name}"`);
}

export function validateContainerId(id: string): void {
  if (id === '') throw new CniConfigError('missing containerID');
  if (!VALID_NAME.test(id)) throw new CniConfigError(`invalid characters in containerID "${id}"`);
}

/** libcni ValidateInterfaceName (the kernel's dev_valid_name rules). */
export function validateInterfaceName(ifName: string): void {
  if (ifName.length === 0) throw new CniConfigError('interface name is empty');
  if (Buffer.byteLength(ifName) > 15) throw new CniConfigError(`interface name "${ifName}" is too long (at most 15 bytes)`);
  if (ifName === '.' || ifName === '..') throw new CniConfigError('interface name is . or ..');
  if (/[/:\s]/u.test(ifName)) throw new CniConfigError(`interface name "${ifName}" contains / or : or whitespace`);
}

// libcni NetworkPluginConfsFromFiles: a conflist may also pull plugins from
// <dir>/<network name>/*.conf unless it sets loadOnlyInlinedPlugins.
async function withPluginDir(list: NetworkConfigList): Promise<NetworkConfigList> {
  const pluginDir = path.join(path.dirname(list.file), list.name);
  const files = await confFiles(pluginDir, ['.conf']);
  if (files.length === 0) return list;
  const extra: PluginConfig[] = [];
  for (const f of files) extra.push(parsePluginConf(await readConf(f)));
  const plugins = [...list.plugins, ...extra];
  // libcni caches only the file's bytes, so a DEL from the cache would miss these plugins; the
  // cached bytes here are a self-contained list instead.
  const raw = JSON.parse(list.bytes.toString('utf8')) as Record<string, unknown>;
  const bytes = Buffer.from(JSON.stringify({ ...raw, loadOnlyInlinedPlugins: true, plugins: plugins.map((p) => p.conf) }));
  return { ...list, plugins, bytes };
}

function requirePlugins(list: NetworkConfigList): NetworkConfigList {
  if (list.plugins.length === 0) throw new CniConfigError('no plugin configs found');
  return list;
}

async function readConf(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new CniConfigError(`error reading ${file}: ${errorMessage(e)}`);
  }
}

function pluginFromObject(value: unknown): PluginConfig {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CniConfigError(`error parsing configuration: expected an object, got ${jsonType(value)}`);
  }
  const conf = value as Record<string, unknown>;
  const type = conf['type'];
  if (type !== undefined && typeof type !== 'string') throw new CniConfigError(`error parsing configuration: invalid type ${jsonType(type)} for 'type'`);
  if (!type) throw new CniConfigError("error parsing configuration: missing 'type'");
  return { type, capabilities: readCapabilities(conf['capabilities']), conf };
}

function readCapabilities(value: unknown): ReadonlySet<string> {
  if (value === undefined || value === null) return new Set();
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new CniConfigError(`error parsing configuration: invalid 'capabilities' type ${jsonType(value)}`);
  }
  const caps = new Set<string>();
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'boolean') throw new CniConfigError(`error parsing configuration: capability "${k}" is not a boolean`);
    if (v) caps.add(k);
  }
  return caps;
}

function parseObject(bytes: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new CniConfigError(`error parsing ${what}: ${errorMessage(e)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CniConfigError(`error parsing ${what}: expected a JSON object, got ${jsonType(value)}`);
  }
  return value as Record<string, unknown>;
}

// libcni reads these as JSON booleans or the strings "true"/"false" (any case).
function readBool(raw: Record<string, unknown>, key: string): boolean {
  if (!(key in raw)) return false;
  const v = raw[key];
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') throw new CniConfigError(`error parsing configuration list: invalid type ${jsonType(v)} for ${key}`);
  const s = v.toLowerCase();
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new CniConfigError(`error parsing configuration list: invalid value "${s}" for ${key}`);
}

// libcni: the highest of `cniVersions` (plus `cniVersion`) not newer than what it implements.
function pickCniVersion(value: unknown, cniVersion: string): string {
  if (!Array.isArray(value)) throw new CniConfigError(`error parsing configuration list: invalid type for cniVersions: ${jsonType(value)}`);
  const usable: string[] = [];
  value.forEach((v, i) => {
    if (typeof v !== 'string') throw new CniConfigError(`error parsing configuration list: invalid type for cniVersions index ${i}: ${jsonType(v)}`);
    checkVersion(v);
    if (compareCniVersions(v, IMPLEMENTED_SPEC_VERSION) <= 0) usable.push(v);
  });
  if (cniVersion !== '' && compareCniVersions(cniVersion, IMPLEMENTED_SPEC_VERSION) <= 0) usable.push(cniVersion);
  usable.sort(compareCniVersions);
  return usable.length > 0 ? usable[usable.length - 1]! : cniVersion;
}

function checkVersion(v: string): void {
  try {
    parseCniVersion(v);
  } catch (e) {
    throw new CniConfigError(`error parsing configuration list: ${errorMessage(e)}`);
  }
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
