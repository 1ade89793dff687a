// The plugin chain of one network list, as libcni's CNIConfig runs it: ADD in list order with
// each result passed to the next plugin as prevResult; DEL in reverse order with the cached
// ADD result as prevResult (spec 0.4.0+); CHECK in order with it (0.4.0+ only); STATUS per
// plugin for 1.1.0+. Every plugin gets its own config with the list's name and cniVersion
// injected, and a runtimeConfig holding only the capability args it declares.

import { errorMessage } from '../errors';
import { validateContainerId, validateInterfaceName, validateNetworkName, findPluginSync } from './cni-config';
import { CniConfigError, CniPluginError, CniPluginNotFoundError } from './cni-errors';
import { execPlugin } from './cni-exec';
import { parseCniResult } from './cni-result';
import type { CniCommand, CniResult, NetworkConfigList, PluginConfig, RuntimeConf } from './cni-types';
import { cniVersionAtLeast } from './cni-version';

export interface InvokeOptions {
  readonly binDirs: readonly string[];
  /** Per plugin exec. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
  readonly onStderr?: (info: { network: string; plugin: string; command: CniCommand; text: string }) => void;
}

/**
 * libcni buildOneConfig: the plugin's own JSON with name, cniVersion, prevResult (when there is
 * one) and runtimeConfig (only for declared capabilities the runtime has args for) set on top.
 */
export function buildPluginConfig(
  list: NetworkConfigList,
  plugin: PluginConfig,
  prevResult: Readonly<Record<string, unknown>> | null,
  rt: RuntimeConf | null,
): Buffer {
  const conf: Record<string, unknown> = { ...plugin.conf, name: list.name, cniVersion: list.cniVersion };
  if (prevResult) conf['prevResult'] = prevResult;
  if (rt) {
    const runtimeConfig: Record<string, unknown> = {};
    for (const cap of plugin.capabilities) {
      const value = (rt.capabilityArgs as Record<string, unknown>)[cap];
      if (value !== undefined && value !== null) runtimeConfig[cap] = value;
    }
    if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  }
  return Buffer.from(JSON.stringify(conf));
}

/** Runs ADD through the chain; the last plugin's result is the network's result. */
export async function addNetworkList(list: NetworkConfigList, rt: RuntimeConf, opts: InvokeOptions): Promise<CniResult> {
  validateContainerId(rt.containerId);
  validateNetworkName(list.name);
  validateInterfaceName(rt.ifName);
  let result: CniResult | null = null;
  for (const plugin of list.plugins) {
    const stdin = buildPluginConfig(list, plugin, result ? result.raw : null, rt);
    const stdout = await run(list, plugin, 'ADD', rt, stdin, opts);
    try {
      result = parseCniResult(stdout, list.cniVersion);
    } catch (e) {
      throw new CniPluginError(list.name, plugin.type, 'ADD', undefined, `invalid result: ${errorMessage(e)}`, '', '');
    }
  }
  if (!result) throw new CniConfigError(`network "${list.name}" has no plugins`);
  return result;
}

/**
 * Runs DEL through the chain in reverse. `prevResult` (the cached ADD result, already in the
 * list's version) is only passed for 0.4.0+ configs, as libcni does.
 */
export async function delNetworkList(list: NetworkConfigList, rt: RuntimeConf, prevResult: CniResult | null, opts: InvokeOptions): Promise<void> {
  const prev = prevResult && cniVersionAtLeast(list.cniVersion, '0.4.0') ? prevResult.raw : null;
  for (let i = list.plugins.length - 1; i >= 0; i--) {
    const plugin = list.plugins[i]!;
    await run(list, plugin, 'DEL', rt, buildPluginConfig(list, plugin, prev, rt), opts);
  }
}

/** CHECK needs a 0.4.0+ config; `disableCheck` makes it a no-op. */
export async function checkNetworkList(list: NetworkConfigList, rt: RuntimeConf, prevResult: CniResult | null, opts: InvokeOptions): Promise<void> {
  if (!cniVersionAtLeast(list.cniVersion, '0.4.0')) {
    throw new CniConfigError(`configuration version "${list.cniVersion}" does not support the CHECK command`);
  }
  if (list.disableCheck) return;
  for (const plugin of list.plugins) {
    await run(list, plugin, 'CHECK', rt, buildPluginConfig(list, plugin, prevResult ? prevResult.raw : null, rt), opts);
  }
}

/** STATUS exists from spec 1.1.0; older networks are ready once their config loads. */
export async function statusNetworkList(list: NetworkConfigList, opts: InvokeOptions): Promise<void> {
  if (!cniVersionAtLeast(list.cniVersion, '1.1.0')) return;
  const none: RuntimeConf = { containerId: '', netns: '', ifName: '', args: [], capabilityArgs: {} };
  for (const plugin of list.plugins) {
    await run(list, plugin, 'STATUS', none, buildPluginConfig(list, plugin, null, null), opts);
  }
}

async function run(list: NetworkConfigList, plugin: PluginConfig, command: CniCommand, rt: RuntimeConf, stdin: Buffer, opts: InvokeOptions): Promise<Buffer> {
  const pluginPath = findPluginSync(plugin.type, opts.binDirs);
  if (!pluginPath) throw new CniPluginNotFoundError(plugin.type, opts.binDirs);
  const onStderr = opts.onStderr;
  return execPlugin({
    network: list.name,
    pluginType: plugin.type,
    pluginPath,
    command,
    containerId: rt.containerId,
    netns: rt.netns,
    ifName: rt.ifName,
    args: rt.args,
    binDirs: opts.binDirs,
    stdin,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    env: opts.env,
    onStderr: onStderr ? (text) => onStderr({ network: list.name, plugin: plugin.type, command, text }) : undefined,
  });
}
