// A leak checker for one test daemon: everything a nori can leave behind on the host, found
// only through what belongs to that daemon (its dirs, its conflists' bridge and IPAM dataDir,
// its cgroup prefix, its store), never by a name pattern host-wide.
//
//   const base = await snapshot(nori);        // e.g. with a long-lived pod running
//   ...crash, restart, kubelet's retries...
//   await assertNoLeaks(nori, { baseline: base });   // nothing new since `base`
//   await assertNoLeaks(nori);                       // nothing at all (after removing every pod/image)
//
// A snapshot is { category: sorted items }; diff(a, b) lists what b has that a has not.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { NoriProcess } from './daemon';

const run = promisify(execFile);

export type Snapshot = Record<string, string[]>;

export interface LeakScope {
  /** The daemon's dirs (a NoriProcess has them all). */
  dir: string;
  root: string;
  state: string;
  cniConfDir: string;
  /** cgroup parent prefix (--cgroup-root-prefix); cgroups and their processes are checked only when set. */
  cgroupPrefix?: string;
  /** The daemon's own pid (its command line names the dirs too). */
  daemonPid?: number;
  /** The built-in network's bridge (--bridge) when it runs that network: its ports and nft table are checked. */
  builtinBridge?: string;
}

export interface LeakOptions {
  /** Only what is new since this snapshot counts. */
  baseline?: Snapshot;
  /** Categories not to check. */
  ignore?: string[];
  /** Extra cgroup prefix when the NoriProcess was started without --cgroup-root-prefix. */
  cgroupPrefix?: string;
}

/** The leak scope of a test daemon started with startNori. */
export function scopeOf(nori: NoriProcess, cgroupPrefix?: string): LeakScope {
  const i = nori.args.indexOf('--cgroup-root-prefix');
  const prefix = cgroupPrefix ?? (i >= 0 ? nori.args[i + 1] : undefined);
  const network = nori.args[nori.args.indexOf('--network') + 1];
  const b = nori.args.indexOf('--bridge');
  const builtinBridge = network === 'cni' ? undefined : b >= 0 ? nori.args[b + 1] : undefined;
  return { dir: nori.dir, root: nori.root, state: nori.state, cniConfDir: nori.cniConfDir, cgroupPrefix: prefix, daemonPid: nori.proc.pid, builtinBridge };
}

function ls(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

interface Network {
  name: string;
  bridges: string[];
  leaseDir: string;
}

/** The networks of every conflist in the daemon's conf dir: bridge names and host-local lease dirs. */
export function networksOf(confDir: string): Network[] {
  const out: Network[] = [];
  for (const f of ls(confDir).filter((n) => /\.(conflist|conf|json)$/.test(n))) {
    try {
      const c = JSON.parse(readFileSync(join(confDir, f), 'utf8')) as { name: string; plugins?: any[] } & Record<string, any>;
      const plugins: any[] = c.plugins ?? [c];
      const bridges = plugins.filter((p) => p.type === 'bridge').map((p) => (p.bridge as string) || 'cni0');
      const ipam = plugins.find((p) => p.ipam?.type === 'host-local')?.ipam;
      out.push({ name: c.name, bridges, leaseDir: join(ipam?.dataDir || '/var/lib/cni/networks', c.name) });
    } catch {
      // not ours to judge here
    }
  }
  return out;
}

function mountPoints(): { point: string; fstype: string }[] {
  const out: { point: string; fstype: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const dash = f.indexOf('-');
    out.push({ point: f[4]!.replace(/\\040/g, ' '), fstype: f[dash + 1]! });
  }
  return out;
}

function cgroupDirs(prefix: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of ls(d)) {
      const p = join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (!st.isDirectory()) continue;
      out.push(`${rel}/${n}`);
      walk(p, `${rel}/${n}`);
    }
  };
  for (const h of ls('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', h, prefix);
    if (!existsSync(top)) continue;
    out.push(`${h}:/${prefix}`);
    walk(top, `${h}:/${prefix}`);
  }
  return out;
}

/** pid@starttime: a pid reused by an unrelated process is a different item. */
function identity(pid: number): { key: string; comm: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { key: `${pid}@${rest[19]}`, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), zombie: rest[0] === 'Z' };
  } catch {
    return undefined;
  }
}

const keyOf = (item: string) => item.slice(0, item.indexOf(' '));

/**
 * The daemon's processes: command line naming its dir (conmon, runc), living in its cgroups,
 * in the PID namespace of one of its pins (a pod's init and what runs in it), or recorded as a
 * pod init in its store.
 */
function processes(scope: LeakScope, recordedPids: Set<number>): string[] {
  const out: string[] = [];
  const needle = `${scope.dir}/`;
  const pinnedPidNs = new Set<number>();
  for (const f of ls(join(scope.state, 'ns', 'pid'))) {
    try {
      pinnedPidNs.add(statSync(join(scope.state, 'ns', 'pid', f)).ino);
    } catch {
      // unpinned meanwhile
    }
  }
  for (const p of ls('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const pid = Number(p);
    if (pid === process.pid || pid === scope.daemonPid) continue;
    let why = recordedPids.has(pid) ? 'store' : '';
    try {
      if (!why && pinnedPidNs.size && pinnedPidNs.has(statSync(`/proc/${p}/ns/pid`).ino)) why = 'pinned pid ns';
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (!why && cmd.includes(needle)) why = 'cmdline';
      if (!why && scope.cgroupPrefix) {
        const cg = readFileSync(`/proc/${p}/cgroup`, 'utf8');
        if (cg.split('\n').some((l) => under(l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1), `/${scope.cgroupPrefix}`))) why = 'cgroup';
      }
      if (!why) continue;
      const id = identity(pid);
      if (id) out.push(`${id.key} ${id.comm} (${why}${id.zombie ? ',zombie' : ''})`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function storeRows(root: string, podInits: Set<number>): string[] {
  const file = join(root, 'nori.db');
  if (!existsSync(file)) return [];
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch {
    db = new Database(file, { fileMustExist: true });
  }
  try {
    const out: string[] = [];
    const q = (table: string, col: string) => {
      try {
        for (const r of db.prepare(`SELECT ${col} AS k FROM ${table}`).all() as { k: string }[]) out.push(`${table}:${r.k}`);
      } catch {
        // table not there (older schema)
      }
    };
    q('sandboxes', 'id');
    q('containers', 'id');
    q('container_layers', 'container_id');
    q('images', 'id');
    q('layers', 'chain_id');
    q('net_leases', 'ip');
    q('net_hostports', "protocol || '/' || host_ip || '/' || host_port || '/' || family");
    try {
      for (const r of db.prepare('SELECT pod_init_pid AS p FROM sandboxes WHERE pod_init_pid > 0').all() as { p: number }[]) podInits.add(r.p);
    } catch {
      // no such column
    }
    return out;
  } finally {
    db.close();
  }
}

async function natRules(networks: Network[]): Promise<string[]> {
  if (networks.length === 0) return [];
  const text = await run('iptables', ['-t', 'nat', '-S'], { timeout: 20_000 }).then((r) => r.stdout, () => '');
  return text.split('\n').filter((l) => networks.some((n) => l.includes(`name: \\"${n.name}\\"`)));
}

/** hostPort map elements in the built-in network's table (inet nori_<bridge>). */
async function nftElements(bridge: string): Promise<string[]> {
  const table = `nori_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const text = await run('nft', ['-j', 'list', 'table', 'inet', table], { timeout: 20_000 }).then((r) => r.stdout, () => '');
  if (!text) return [];
  const out: string[] = [];
  for (const o of (JSON.parse(text) as { nftables: Array<Record<string, any>> }).nftables) {
    if (o.map?.elem) for (const e of o.map.elem) out.push(`${o.map.name}:${JSON.stringify(e)}`);
  }
  return out;
}

/** Everything of the daemon's that could leak, right now. */
export async function snapshot(noriOrScope: NoriProcess | LeakScope, opts: { cgroupPrefix?: string } = {}): Promise<Snapshot> {
  const scope = 'proc' in noriOrScope ? scopeOf(noriOrScope, opts.cgroupPrefix) : noriOrScope;
  const { state, root } = scope;
  const nets = networksOf(scope.cniConfDir);
  const mounts = mountPoints().filter((m) => under(m.point, scope.dir) || under(m.point, state) || under(m.point, root));
  const podInits = new Set<number>();
  const rows = storeRows(root, podInits);
  const procs = processes(scope, podInits);
  const seen = everSeen.get(scope.dir) ?? new Map<string, string>();
  everSeen.set(scope.dir, seen);
  for (const p of procs) seen.set(keyOf(p), p);
  const s: Snapshot = {
    nsPins: ls(join(state, 'ns')).flatMap((t) => ls(join(state, 'ns', t)).map((id) => `${t}/${id}`)),
    nsMounts: mounts.filter((m) => m.fstype === 'nsfs').map((m) => m.point),
    mounts: mounts.filter((m) => m.fstype !== 'nsfs').map((m) => `${m.fstype} ${m.point}`),
    veths: [...nets.flatMap((n) => n.bridges), ...(scope.builtinBridge ? [scope.builtinBridge] : [])].flatMap((b) => ls(`/sys/class/net/${b}/brif`).map((i) => `${b}/${i}`)),
    leases: nets.flatMap((n) => ls(n.leaseDir).filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip')).map((f) => `${n.name}/${f}`)),
    cniCache: ls(join(root, 'cni', 'results')),
    cgroups: scope.cgroupPrefix ? cgroupDirs(scope.cgroupPrefix) : [],
    processes: procs,
    sandboxDirs: ls(join(state, 'sandboxes')),
    containerDirs: ls(join(state, 'containers')),
    exitFiles: ls(join(state, 'exits')),
    conmonSockets: ls(join(state, 'conmon-sockets')),
    // the OCI runtimes' state roots (<state>/<handler>), one dir per container they know
    runtimeState: ['runc', 'crun'].flatMap((h) => ls(join(state, h)).map((id) => `${h}/${id}`)),
    layerDirs: ls(join(root, 'overlay2')).filter((n) => /^[a-f0-9]{64}$/.test(n)),
    layerLinks: ls(join(root, 'overlay2', 'l')),
    layerTemp: ls(join(root, 'overlay2', 'tmp')),
    containerLayers: ls(join(root, 'overlay2', 'containers')),
    rows,
    natRules: await natRules(nets),
    nftElements: scope.builtinBridge ? await nftElements(scope.builtinBridge) : [],
  };
  for (const k of Object.keys(s)) s[k]!.sort();
  return s;
}

/**
 * Every process any snapshot of a daemon (by dir) has seen: one that is gone from every listing
 * (its pin and row removed) but still runs is a leak all the same.
 */
const everSeen = new Map<string, Map<string, string>>();

/** What `now` has that `base` has not, by category (categories with nothing new are left out). */
export function diff(base: Snapshot, now: Snapshot): Snapshot {
  const out: Snapshot = {};
  for (const [k, items] of Object.entries(now)) {
    const key = k === 'processes' ? keyOf : (i: string) => i;
    const had = new Set((base[k] ?? []).map(key));
    const extra = items.filter((i) => !had.has(key(i)));
    if (extra.length) out[k] = extra;
  }
  return out;
}

/**
 * The leaks found (empty object: none). Zombies are always leaks, even in the baseline, and so
 * is any process an earlier snapshot of this daemon saw that is not in the baseline and still runs.
 */
export async function findLeaks(nori: NoriProcess | LeakScope, opts: LeakOptions = {}): Promise<Snapshot> {
  const now = await snapshot(nori, { cgroupPrefix: opts.cgroupPrefix });
  const found = opts.baseline ? diff(opts.baseline, now) : diff({}, now);
  const zombies = now.processes!.filter((p) => p.endsWith(',zombie)') && !(found.processes ?? []).includes(p));
  if (zombies.length) found.processes = [...(found.processes ?? []), ...zombies];
  // Seen earlier, not in the baseline, not listed now, yet alive with the same start time.
  const scopeDir = nori.dir;
  const allowed = new Set((opts.baseline?.processes ?? []).map(keyOf));
  const listed = new Set(now.processes!.map(keyOf));
  for (const [key, item] of everSeen.get(scopeDir) ?? []) {
    if (allowed.has(key) || listed.has(key)) continue;
    const id = identity(Number(key.slice(0, key.indexOf('@'))));
    if (id && id.key === key && !id.zombie) found.processes = [...(found.processes ?? []), `${item} (seen earlier, still running)`];
  }
  for (const k of opts.ignore ?? []) delete found[k];
  return found;
}

/**
 * Fails with the list of leaks. Processes and mounts can take a moment to go (a conmon writing
 * its exit file, a lazy unmount): retried for up to `settleMs`.
 */
export async function assertNoLeaks(nori: NoriProcess | LeakScope, opts: LeakOptions & { settleMs?: number } = {}): Promise<void> {
  const end = Date.now() + (opts.settleMs ?? 10_000);
  for (;;) {
    const leaks = await findLeaks(nori, opts);
    if (Object.keys(leaks).length === 0) return;
    if (Date.now() > end) throw new Error(`leaks: ${JSON.stringify(leaks, null, 2)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
