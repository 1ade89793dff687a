// The packet filter rules that belong to a pod, from either backend a pod network uses:
//  - CNI plugins (bridge ipMasq, portmap, firewall) write iptables rules that carry the pod's IP
//    and a comment with the CNI container id (nori's sandbox id): `iptables-save` and
//    `ip6tables-save` lines that name either, plus every rule of the per-pod chains they jump to;
//  - nori's built-in network keeps its own nftables table (`inet nori_<bridge>`): the lines of
//    tables named "nori…" that name the pod's IP or sandbox id (its hostPort map elements) or a
//    subnet holding the pod's IP (the masquerade rule its traffic leaves through).
// The nft ruleset is read in-process (libnftables). `iptables-save` is a process, so it runs only
// for pods CNI served: a pod whose veth sits on a bridge that has nori's table was served by the
// built-in network, which writes no iptables rules. Concurrent callers share one running save.

import { nftGeneration } from '../sys/inspect_reads';
import { NativeNetSys } from '../sys/net';
import { tableName } from '../network/bridge/nft-rules';
import { runText } from './exec';

export interface NetfilterRule {
  source: 'iptables' | 'ip6tables' | 'nft';
  table: string;
  chain: string;
  rule: string;
}

export interface NetfilterView {
  /** What the rules were matched by. */
  ips: string[];
  id: string;
  rules: NetfilterRule[];
}

/** Tables of nori's own in `nft list ruleset` are named with this prefix. */
export const NORI_NFT_TABLE_PREFIX = 'nori';

const BUILTIN_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'MASQUERADE', 'DNAT', 'SNAT', 'MARK', 'LOG', 'QUEUE', 'CONNMARK', 'NOTRACK', 'CT', 'TCPMSS']);

function v4ToInt(ip: string): number | undefined {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** A test for an IPv4 CIDR in a line (other than /0 and multicast) that holds one of the pod's addresses; built once per listing. */
function coversPodTest(ips: readonly string[]): (line: string) => boolean {
  const addrs = ips.map(v4ToInt).filter((a): a is number => a !== undefined);
  return (line) => {
    if (addrs.length === 0 || !line.includes('/')) return false;
    for (const m of line.matchAll(/(\d+\.\d+\.\d+\.\d+)\/(\d+)/g)) {
      const net = v4ToInt(m[1]!);
      const bits = Number(m[2]);
      if (net === undefined || bits === 0 || bits > 32 || m[1]!.startsWith('224.') || m[1]!.startsWith('127.')) continue;
      const mask = bits === 32 ? 0xffffffff : (~(0xffffffff >>> bits)) >>> 0;
      if (addrs.some((a) => ((a & mask) >>> 0) === ((net & mask) >>> 0))) return true;
    }
    return false;
  };
}

/** A test for a line naming the sandbox id or one of the pod's addresses; its pattern is compiled once per listing, not per line. */
function mentionsTest(ips: readonly string[], id: string): (line: string) => boolean {
  const esc = ips.filter(Boolean).map((ip) => ip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = esc.length ? new RegExp(`(^|[\\s/:"=,{])(?:${esc.join('|')})(/32|/128)?([\\s:,}"]|$)`) : undefined;
  return (line) => (id !== '' && line.includes(id)) || (re !== undefined && re.test(line));
}

/** Pure: the pod's rules in iptables-save output (one family). */
export function iptablesRules(text: string, source: 'iptables' | 'ip6tables', ips: readonly string[], id: string): NetfilterRule[] {
  const rules: Array<{ table: string; chain: string; rule: string }> = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith('-A ')) rules.push({ table, chain: line.split(' ')[1]!, rule: line });
  }
  const picked = new Set<number>();
  const mentions = mentionsTest(ips, id);
  rules.forEach((r, i) => mentions(r.rule) && picked.add(i));
  // Follow jumps into per-pod chains (CNI-xxxx, CNI-DN-xxxx): their rules belong to the pod too.
  const followed = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const i of [...picked]) {
      const m = / -[jg] (\S+)/.exec(rules[i]!.rule);
      const target = m?.[1];
      const key = `${rules[i]!.table}/${target}`;
      if (!target || BUILTIN_TARGETS.has(target) || followed.has(key) || !/^CNI-(?!HOSTPORT)/.test(target)) continue;
      followed.add(key);
      rules.forEach((r, j) => {
        if (r.table === rules[i]!.table && r.chain === target && !picked.has(j)) {
          picked.add(j);
          changed = true;
        }
      });
    }
  }
  return [...picked].sort((a, b) => a - b).map((i) => ({ source, ...rules[i]! }));
}

/** Pure: the pod's lines in nori's own nftables tables (`nft list ruleset` text). */
export function nftRules(text: string, ips: readonly string[], id: string, prefix = NORI_NFT_TABLE_PREFIX): NetfilterRule[] {
  const out: NetfilterRule[] = [];
  const mentions = mentionsTest(ips, id);
  const coversPod = coversPodTest(ips);
  let table = '';
  let ours = false;
  let chain = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const t = /^table (\S+) (\S+) \{$/.exec(line);
    if (t) {
      table = `${t[1]} ${t[2]}`;
      ours = t[2]!.startsWith(prefix);
      chain = '';
      continue;
    }
    const c = /^(?:chain|set|map) (\S+) \{$/.exec(line);
    if (c) {
      chain = c[1]!;
      continue;
    }
    if (!ours) continue;
    if (line !== '' && line !== '}' && (mentions(line) || coversPod(line))) out.push({ source: 'nft', table, chain, rule: line });
  }
  return out;
}

/** Pure: whether nori's built-in network owns this bridge (its table is in the ruleset). */
export function builtinBridge(ruleset: string | null, bridge: string | undefined): boolean {
  return !!ruleset && !!bridge && ruleset.includes(`table inet ${tableName(bridge)} {`);
}

/**
 * On the built-in network (the pod's veth is on a bridge that has nori's table): the pod's lines
 * of that one table, listed alone (listing the whole ruleset costs several times more, and grows
 * with every other table on the node). Null when the bridge has no table of nori's, or nft
 * cannot be asked in-process.
 */
export async function builtinNetfilter(ips: readonly string[], id: string, bridge: string | undefined): Promise<NetfilterView | null> {
  if (!bridge) return null;
  const text = await listTable(`inet ${tableName(bridge)}`);
  return text === null ? null : { ips: [...ips], id, rules: nftRules(text, ips, id) };
}

/** The last listing of each of nori's tables, with the ruleset generation it was listed at. */
const listings = new Map<string, { gen: number; text: string }>();

/**
 * `nft list table` text, reused while the netns's ruleset generation stays the same (any change
 * to any table bumps it), so pods made one after another on a quiet node list the table once.
 */
async function listTable(table: string): Promise<string | null> {
  const gen = nftGeneration();
  const have = listings.get(table);
  if (gen !== undefined && have?.gen === gen) return have.text;
  let text: string;
  try {
    text = await new NativeNetSys().nft(`list table ${table}`);
  } catch {
    listings.delete(table);
    return null;
  }
  // Kept only when nothing changed while it was listed.
  if (gen !== undefined && nftGeneration() === gen) listings.set(table, { gen, text });
  else listings.delete(table);
  return text;
}

/**
 * The pod's rules. `bridge` is the bridge its veth's host side is enslaved to (from the network
 * view); unknown (undefined) means iptables is read too.
 */
export async function podNetfilter(ips: readonly string[], id: string, bridge?: string): Promise<NetfilterView> {
  const builtin = await builtinNetfilter(ips, id, bridge);
  if (builtin) return builtin;
  const v4 = ips.some((ip) => !ip.includes(':'));
  const v6 = ips.some((ip) => ip.includes(':'));
  const nft = await byGeneration('nft list ruleset', nftRuleset);
  const cni = !builtinBridge(nft, bridge);
  const [ipt, ip6t] = await Promise.all([
    cni && (v4 || ips.length === 0) ? savedRules('iptables-save') : Promise.resolve(null),
    cni && v6 ? savedRules('ip6tables-save') : Promise.resolve(null),
  ]);
  return {
    ips: [...ips],
    id,
    rules: [
      ...(ipt ? iptablesRules(ipt, 'iptables', ips, id) : []),
      ...(ip6t ? iptablesRules(ip6t, 'ip6tables', ips, id) : []),
      ...(nft ? nftRules(nft, ips, id) : []),
    ],
  };
}

/** Outputs kept with the netns's nftables ruleset generation they were read at. */
const byGen = new Map<string, { gen: number; text: string | null }>();

/**
 * `read()`, reused while the ruleset generation stays the same: any committed change to any
 * nftables table bumps it, so an answer kept this way is what a read now would say. Kept only
 * when nothing changed while it was read.
 */
async function byGeneration(key: string, read: () => Promise<string | null>): Promise<string | null> {
  const gen = nftGeneration();
  if (gen === undefined) return read();
  const have = byGen.get(key);
  if (have?.gen === gen) return have.text;
  const text = await read();
  if (nftGeneration() === gen) byGen.set(key, { gen, text });
  else byGen.delete(key);
  return text;
}

const nftBacked = new Map<string, Promise<boolean>>();

/**
 * The CNI plugins' rules. A save by iptables-nft (Debian's default) prints nftables tables, so
 * it is kept by generation like the ruleset: at steady state a verbose status of a CNI pod
 * runs no process. The legacy variant's tables are outside nftables: saved on every call.
 */
async function savedRules(tool: 'iptables-save' | 'ip6tables-save'): Promise<string | null> {
  let nft = nftBacked.get(tool);
  if (!nft) {
    nft = runText(tool, ['--version']).then((v) => v !== null && v.includes('nf_tables'));
    nftBacked.set(tool, nft);
  }
  return (await nft) ? byGeneration(tool, () => sharedRun(tool)) : sharedRun(tool);
}

const running = new Map<string, Promise<string | null>>();

/**
 * One save per tool at a time: callers arriving while it runs (a burst of verbose status calls)
 * share its output. Nothing is kept after the run ends, so an answer is never older than the
 * save in flight when its call began.
 */
function sharedRun(tool: 'iptables-save' | 'ip6tables-save'): Promise<string | null> {
  let p = running.get(tool);
  if (!p) {
    p = runText(tool, []).finally(() => running.delete(tool));
    running.set(tool, p);
  }
  return p;
}

/** The ruleset through libnftables in-process (as the built-in network writes it), else `nft`. */
async function nftRuleset(): Promise<string | null> {
  try {
    return await new NativeNetSys().nft('list ruleset');
  } catch {
    // no libnftables (ENFTUNAVAILABLE) or an older addon: the nft binary, when installed
    return runText('nft', ['list', 'ruleset']);
  }
}
