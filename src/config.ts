// Effective configuration: built-in defaults, overridden by the TOML file, overridden by flags.
// The defaults and flag names are the ones CONVENTIONS.md and the README promise.

import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseToml } from 'smol-toml';
import { InvalidArgumentError } from './errors';

export interface RuntimeHandlerConfig {
  /** Path of the OCI runtime binary (runc or crun compatible CLI). */
  path: string;
  /** Extra global options passed before the subcommand, e.g. ["--systemd-cgroup"]. */
  options: string[];
  /** State root of this handler; defaults to <state>/<handler name>. */
  root: string;
}

export type CgroupDriver = 'cgroupfs' | 'systemd';
export type LogFormat = 'json' | 'pretty';
/** auto: CNI when the CNI conf dir holds a valid network configuration, else the built-in bridge. */
export type NetworkMode = 'auto' | 'builtin' | 'cni';

/** The built-in network's subnet when neither --pod-cidr nor UpdateRuntimeConfig names one. */
export const DEFAULT_POD_CIDR = '10.89.0.0/16';

export interface Config {
  configFile: string;
  listen: string;
  root: string;
  state: string;
  logLevel: string;
  logFormat: LogFormat;
  metricsListen: string;
  streamingListen: string;
  defaultRuntime: string;
  runtimes: Record<string, RuntimeHandlerConfig>;
  conmon: string;
  cniConfDir: string;
  cniBinDirs: string[];
  network: NetworkMode;
  /** The built-in network's Linux bridge (one per daemon: it also names the nft table). */
  bridge: string;
  /** "CIDR[,CIDR6]" of the built-in network; "" = UpdateRuntimeConfig's pod CIDR, else DEFAULT_POD_CIDR. */
  podCidr: string;
  registriesConf: string;
  authFile: string;
  cgroupDriver: CgroupDriver;
  cgroupRootPrefix: string;
  seccompProfile: string;
  shmSize: number;
  maxConcurrentDownloads: number;
  pullProgressTimeoutSeconds: number;
  /** images reported pinned (never garbage-collected by kubelet): exact, "prefix*" or "*word*" */
  pinnedImages: string[];
  shutdownGraceSeconds: number;
}

export const DEFAULT_CONFIG_FILE = '/etc/nori/nori.toml';

export function defaultConfig(): Config {
  return {
    configFile: DEFAULT_CONFIG_FILE,
    listen: 'unix:///run/nori/nori.sock',
    root: '/var/lib/nori',
    state: '/run/nori',
    logLevel: 'info',
    logFormat: 'json',
    metricsListen: '127.0.0.1:9090',
    streamingListen: '127.0.0.1:0',
    defaultRuntime: 'runc',
    runtimes: {
      runc: { path: '/usr/sbin/runc', options: [], root: '' },
      crun: { path: '/usr/bin/crun', options: [], root: '' },
    },
    conmon: '/usr/bin/conmon',
    cniConfDir: '/etc/cni/net.d',
    cniBinDirs: ['/usr/lib/cni', '/opt/cni/bin'],
    network: 'auto',
    bridge: 'nori0',
    podCidr: '',
    registriesConf: '/etc/containers/registries.conf',
    authFile: '/etc/containers/auth.json',
    cgroupDriver: 'cgroupfs',
    cgroupRootPrefix: 'nori',
    seccompProfile: '/usr/share/containers/seccomp.json',
    shmSize: 64 * 1024 * 1024,
    maxConcurrentDownloads: 4,
    pullProgressTimeoutSeconds: 60,
    pinnedImages: [],
    shutdownGraceSeconds: 10,
  };
}

/** One flag: its TOML key is the flag name with dashes; `apply` parses and stores the text. */
interface FlagSpec {
  flag: string;
  help: string;
  apply(c: Config, v: string): void;
}

const str = (key: keyof Config) => (c: Config, v: string) => {
  (c as unknown as Record<string, unknown>)[key] = v;
};
const num = (key: keyof Config, flag: string) => (c: Config, v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`--${flag}: "${v}" is not a non-negative number`);
  (c as unknown as Record<string, unknown>)[key] = n;
};
const oneOf = <T extends string>(key: keyof Config, flag: string, allowed: readonly T[]) => (c: Config, v: string) => {
  if (!allowed.includes(v as T)) throw new InvalidArgumentError(`--${flag}: "${v}" is not one of ${allowed.join(', ')}`);
  (c as unknown as Record<string, unknown>)[key] = v;
};

export const FLAGS: FlagSpec[] = [
  { flag: 'config', help: `TOML configuration file (default ${DEFAULT_CONFIG_FILE})`, apply: str('configFile') },
  { flag: 'listen', help: 'CRI endpoint: a unix socket path or unix:// URL', apply: str('listen') },
  { flag: 'root', help: 'persistent state directory', apply: str('root') },
  { flag: 'state', help: 'runtime state directory (tmpfs)', apply: str('state') },
  { flag: 'log-level', help: 'trace|debug|info|warn|error', apply: oneOf('logLevel', 'log-level', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) },
  { flag: 'log-format', help: 'json|pretty', apply: oneOf('logFormat', 'log-format', ['json', 'pretty']) },
  { flag: 'metrics-listen', help: 'host:port of the Prometheus endpoint; empty disables it', apply: str('metricsListen') },
  { flag: 'streaming-listen', help: 'host:port of the exec/attach/port-forward server', apply: str('streamingListen') },
  { flag: 'default-runtime', help: 'runtime handler used when a pod names none', apply: str('defaultRuntime') },
  { flag: 'conmon', help: 'path of the conmon binary', apply: str('conmon') },
  { flag: 'cni-conf-dir', help: 'directory holding CNI network configurations', apply: str('cniConfDir') },
  {
    flag: 'cni-bin-dir',
    help: 'colon-separated directories searched for CNI plugins',
    apply: (c, v) => {
      c.cniBinDirs = v.split(':').filter((d) => d !== '');
    },
  },
  { flag: 'network', help: 'auto|builtin|cni: pod network (auto: CNI when the conf dir holds a valid config, else built-in)', apply: oneOf('network', 'network', ['auto', 'builtin', 'cni']) },
  { flag: 'bridge', help: `Linux bridge of the built-in network (default nori0)`, apply: (c, v) => void (c.bridge = checkBridgeName(v)) },
  { flag: 'pod-cidr', help: `CIDR[,CIDR6] of the built-in network (default: UpdateRuntimeConfig's, else ${DEFAULT_POD_CIDR})`, apply: (c, v) => void (c.podCidr = checkPodCidr(v, 'pod-cidr')) },
  { flag: 'registries-conf', help: 'containers-registries.conf v2 file', apply: str('registriesConf') },
  { flag: 'auth-file', help: 'containers-auth.json file with node-wide registry credentials', apply: str('authFile') },
  { flag: 'cgroup-driver', help: 'cgroupfs|systemd', apply: oneOf('cgroupDriver', 'cgroup-driver', ['cgroupfs', 'systemd']) },
  { flag: 'cgroup-root-prefix', help: 'cgroup parent of pods that name none', apply: str('cgroupRootPrefix') },
  { flag: 'seccomp-profile', help: 'JSON profile used for seccomp RuntimeDefault', apply: str('seccompProfile') },
  { flag: 'shm-size', help: 'bytes of each pod /dev/shm tmpfs', apply: num('shmSize', 'shm-size') },
  { flag: 'max-concurrent-downloads', help: 'layers downloaded in parallel per pull', apply: num('maxConcurrentDownloads', 'max-concurrent-downloads') },
  { flag: 'pull-progress-timeout', help: 'seconds a pull may make no progress before it fails', apply: num('pullProgressTimeoutSeconds', 'pull-progress-timeout') },
  {
    flag: 'pinned-images',
    help: 'comma-separated images reported pinned: exact names, "prefix*" or "*keyword*"',
    apply: (c, v) => {
      c.pinnedImages = v.split(',').map((p) => p.trim()).filter((p) => p !== '');
    },
  },
  { flag: 'shutdown-grace', help: 'seconds in-flight calls get on SIGTERM', apply: num('shutdownGraceSeconds', 'shutdown-grace') },
];

/** A Linux interface name: 1-15 bytes, no '/', ':' or whitespace. */
export function checkBridgeName(v: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(v) || v === '.' || v === '..') throw new InvalidArgumentError(`--bridge: "${v}" is not a Linux interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  return v;
}

/** "CIDR[,CIDR6]": at most one IPv4 and one IPv6 subnet, each with room for pods. */
export function checkPodCidr(v: string, what: string): string {
  const parts = v.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const families = new Set<number>();
  for (const p of parts) {
    const m = /^(.+)\/(\d{1,3})$/.exec(p);
    const family = m ? isIP(m[1]!) : 0;
    const bits = m ? Number(m[2]) : -1;
    if (family === 0 || bits < 8 || bits > (family === 4 ? 30 : 126)) {
      throw new InvalidArgumentError(`--${what}: "${p}" is not an IPv4 (/8../30) or IPv6 (/8../126) CIDR`);
    }
    if (families.has(family)) throw new InvalidArgumentError(`--${what}: "${v}" names two IPv${family} subnets`);
    families.add(family);
  }
  return parts.join(',');
}

/** Parses argv (without node and script) into flag values; `--flag=value` and `--flag value`. */
export function parseFlags(argv: string[]): { flags: Map<string, string>; positional: string[] } {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq === -1 ? a.slice(2) : a.slice(2, eq);
    if (name === 'help' || name === 'version') {
      flags.set(name, '');
      continue;
    }
    if (!FLAGS.some((f) => f.flag === name)) throw new InvalidArgumentError(`unknown flag --${name} (see nori --help)`);
    let value: string;
    if (eq !== -1) value = a.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new InvalidArgumentError(`flag --${name} needs a value`);
      value = argv[++i]!;
    }
    flags.set(name, value);
  }
  return { flags, positional };
}

/** Applies the TOML document's settings; keys are the flag names, plus [runtimes.<name>] tables. */
export function applyToml(c: Config, text: string, source: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidArgumentError(`${source}: ${(e as Error).message}`);
  }
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'runtimes') {
      applyRuntimes(c, value, source);
      continue;
    }
    const spec = FLAGS.find((f) => f.flag === key && f.flag !== 'config');
    if (!spec) throw new InvalidArgumentError(`${source}: unknown setting "${key}"`);
    const text = Array.isArray(value) && key === 'cni-bin-dir' ? value.join(':') : String(value);
    spec.apply(c, text);
  }
}

function applyRuntimes(c: Config, value: unknown, source: string): void {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`${source}: [runtimes] must be a table`);
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(`${source}: [runtimes.${name}] must be a table`);
    const r = raw as Record<string, unknown>;
    if (typeof r.path !== 'string' || r.path === '') throw new InvalidArgumentError(`${source}: [runtimes.${name}] needs path`);
    const options = r.options ?? [];
    if (!Array.isArray(options) || !options.every((o) => typeof o === 'string')) {
      throw new InvalidArgumentError(`${source}: [runtimes.${name}].options must be a list of strings`);
    }
    c.runtimes[name] = { path: r.path, options: options as string[], root: typeof r.root === 'string' ? r.root : '' };
  }
}

/** Defaults → file (when present, or named explicitly) → flags, then derived values and checks. */
export function loadConfig(argv: string[]): { config: Config; positional: string[]; flags: Map<string, string> } {
  const { flags, positional } = parseFlags(argv);
  const c = defaultConfig();
  const file = flags.get('config');
  if (file !== undefined) c.configFile = file;
  if (existsSync(c.configFile)) applyToml(c, readFileSync(c.configFile, 'utf8'), c.configFile);
  else if (file !== undefined) throw new InvalidArgumentError(`config file ${file} does not exist`);
  for (const [name, value] of flags) {
    if (name === 'help' || name === 'version' || name === 'config') continue;
    FLAGS.find((f) => f.flag === name)!.apply(c, value);
  }
  finishConfig(c);
  return { config: c, positional, flags };
}

export function finishConfig(c: Config): void {
  c.listen = socketPath(c.listen);
  for (const [name, r] of Object.entries(c.runtimes)) {
    if (r.root === '') r.root = `${c.state}/${name}`;
  }
  if (!c.runtimes[c.defaultRuntime]) {
    throw new InvalidArgumentError(
      `default runtime "${c.defaultRuntime}" is not a configured handler (have: ${Object.keys(c.runtimes).join(', ')})`,
    );
  }
}

/** `unix:///run/x.sock` or `/run/x.sock` → `/run/x.sock`. */
export function socketPath(listen: string): string {
  if (listen.startsWith('unix://')) return listen.slice('unix://'.length);
  if (listen.startsWith('/')) return listen;
  throw new InvalidArgumentError(`--listen: "${listen}" is neither a unix:// URL nor an absolute socket path`);
}

/** host:port → parts; "" means disabled. */
export function parseHostPort(value: string, flag: string): { host: string; port: number } | null {
  if (value === '') return null;
  const i = value.lastIndexOf(':');
  const host = value.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`--${flag}: "${value}" is not host:port`);
  }
  return { host, port };
}

export function usage(): string {
  const lines = [
    'usage: nori [flags]        serve CRI',
    '       nori config [flags] print the effective configuration',
    '       nori doctor [--json] [--online] [flags]  check the host: PASS/WARN/FAIL with fixes',
    '       nori inspect POD|CONTAINER [--json]     the kernel view of a pod or container (via --listen)',
    '',
    'flags:',
  ];
  for (const f of FLAGS) lines.push(`  --${f.flag.padEnd(26)} ${f.help}`);
  return lines.join('\n');
}
