// Fake CNI plugins: shell scripts in a temp bin dir that record each call (environment and
// stdin) and answer with canned stdout/stderr/exit status per command, so tests see exactly
// what a plugin would see.

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Behaviour {
  stdout?: string | object;
  stderr?: string;
  exit?: number;
  /** Seconds to sleep (in a child process) before answering. */
  sleep?: number;
}

export interface RecordedCall {
  seq: number;
  plugin: string;
  command: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
  stdinText: string;
  /** Pids of the script and of its sleep child, when it slept. */
  pid: number;
  sleepPid?: number;
}

export class FakePlugins {
  private constructor(
    readonly root: string,
    readonly binDir: string,
    readonly confDir: string,
    readonly cacheDir: string,
    private readonly recDir: string,
    private readonly outDir: string,
  ) {}

  static async create(): Promise<FakePlugins> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'nori-cni-unit-'));
    const dirs = ['bin', 'conf', 'cache', 'rec', 'out'].map((d) => path.join(root, d));
    for (const d of dirs) await fs.mkdir(d);
    return new FakePlugins(root, dirs[0]!, dirs[1]!, dirs[2]!, dirs[3]!, dirs[4]!);
  }

  /** Installs plugin `name`; commands without a behaviour print nothing and exit 0. */
  async plugin(name: string, behaviours: Partial<Record<'ADD' | 'DEL' | 'CHECK' | 'STATUS', Behaviour>> = {}): Promise<void> {
    const out = path.join(this.outDir, name);
    for (const [cmd, b] of Object.entries(behaviours)) await this.behave(name, cmd, b);
    const script = `#!/bin/sh
REC='${this.recDir}'
OUT='${out}'
n=$(ls "$REC" | grep -c '\\.stdin$')
id="$(printf '%04d' $((n+1)))-${name}"
cat > "$REC/$id.stdin.part" && mv "$REC/$id.stdin.part" "$REC/$id.stdin"
env > "$REC/$id.env"
echo $$ > "$REC/$id.pid"
B="$OUT.$CNI_COMMAND"
if [ -f "$B.sleep" ]; then sleep "$(cat "$B.sleep")" & echo $! > "$REC/$id.sleeppid"; wait; fi
if [ -f "$B.stderr" ]; then cat "$B.stderr" >&2; fi
if [ -f "$B.stdout" ]; then cat "$B.stdout"; fi
if [ -f "$B.exit" ]; then exit "$(cat "$B.exit")"; fi
exit 0
`;
    const file = path.join(this.binDir, name);
    await fs.writeFile(file, script, { mode: 0o755 });
  }

  /** Changes what an installed plugin answers to one command. */
  async behave(name: string, command: string, b: Behaviour): Promise<void> {
    const base = path.join(this.outDir, `${name}.${command}`);
    for (const ext of ['stdout', 'stderr', 'exit', 'sleep']) await fs.rm(`${base}.${ext}`, { force: true });
    if (b.stdout !== undefined) await fs.writeFile(`${base}.stdout`, typeof b.stdout === 'string' ? b.stdout : JSON.stringify(b.stdout));
    if (b.stderr !== undefined) await fs.writeFile(`${base}.stderr`, b.stderr);
    if (b.exit !== undefined) await fs.writeFile(`${base}.exit`, String(b.exit));
    if (b.sleep !== undefined) await fs.writeFile(`${base}.sleep`, String(b.sleep));
  }

  async writeConf(file: string, content: string | object): Promise<string> {
    const full = path.join(this.confDir, file);
    await fs.writeFile(full, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return full;
  }

  async calls(): Promise<RecordedCall[]> {
    const names = (await fs.readdir(this.recDir)).filter((n) => n.endsWith('.stdin')).sort();
    const out: RecordedCall[] = [];
    for (const n of names) {
      const id = n.slice(0, -'.stdin'.length);
      const dash = id.indexOf('-');
      const stdinText = await fs.readFile(path.join(this.recDir, n), 'utf8');
      const env: Record<string, string> = {};
      for (const line of (await fs.readFile(path.join(this.recDir, `${id}.env`), 'utf8')).split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
      }
      const sleepPid = await fs.readFile(path.join(this.recDir, `${id}.sleeppid`), 'utf8').then(Number, () => undefined);
      out.push({
        seq: Number(id.slice(0, dash)),
        plugin: id.slice(dash + 1),
        command: env['CNI_COMMAND'] ?? '',
        env,
        stdin: stdinText ? (JSON.parse(stdinText) as Record<string, unknown>) : {},
        stdinText,
        pid: Number(await fs.readFile(path.join(this.recDir, `${id}.pid`), 'utf8')),
        sleepPid,
      });
    }
    return out;
  }

  async clearCalls(): Promise<void> {
    for (const n of await fs.readdir(this.recDir)) await fs.rm(path.join(this.recDir, n), { force: true });
  }

  async cleanup(): Promise<void> {
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

/** A 1.0.0 result for a pod on eth0 with the given addresses. */
export function podResult(addresses: string[], version = '1.0.0'): Record<string, unknown> {
  return {
    cniVersion: version,
    interfaces: [
      { name: 'cni0', mac: '02:00:00:00:00:01' },
      { name: 'veth1', mac: '02:00:00:00:00:02' },
      { name: 'eth0', mac: '02:00:00:00:00:03', sandbox: '/run/netns/x' },
    ],
    ips: addresses.map((a) => ({ address: a, gateway: a.includes(':') ? 'fd00::1' : '10.1.0.1', interface: 2 })),
    routes: [{ dst: '0.0.0.0/0' }],
    dns: {},
  };
}
