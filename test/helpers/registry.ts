// Test registry, with the image fixtures of image_fixtures.ts pushed into it.
//
// startRegistry() runs Debian's docker-registry 2.8 on a free 127.0.0.1
// port with its storage in a temp dir; pushFixtures() copies the layouts into it with skopeo,
// unchanged (--preserve-digests), and checks that the registry serves the digests the
// catalog promises.
//
//   const reg = await startRegistry();                  // or { auth: 'basic' | 'token' }
//   const fx = await pushFixtures(reg);                 // fx.busybox.reference, .imageId, ...
//   ...
//   await reg.stop();

import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTokenServer, TEST_PASSWORD, TEST_USER, TokenServer, TokenServerOptions } from './token-server';
import { scaled } from './slow';
import { loadFixtures, type Fixture, type FixtureName } from './image_fixtures';

export { TEST_PASSWORD, TEST_USER } from './token-server';
// The catalog's names, for the tests that import them with the registry.
export * from './image_fixtures';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------

export type RegistryAuth = 'none' | 'basic' | 'token';

export interface StartRegistryOptions {
  /** none (default), basic (htpasswd: user TEST_USER, password TEST_PASSWORD) or token
   *  (Bearer, through a token server started alongside; the same user) */
  auth?: RegistryAuth;
  /** options for the token server (auth: 'token') */
  token?: TokenServerOptions;
  /** docker-registry log level, default info (the log is in `logPath`) */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface PushOptions {
  /** copy every instance of an index or list (default: whenever the source is one) */
  all?: boolean;
}

export interface TestRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  /** http://127.0.0.1:PORT */
  url: string;
  auth: RegistryAuth;
  /** for auth 'basic' and 'token' */
  credentials?: { username: string; password: string };
  /** a containers-auth.json with the credentials for this host (auth 'basic' and 'token') */
  authFile?: string;
  tokenServer?: TokenServer;
  pid: number;
  /** temp dir holding config.yml, data/, registry.log */
  dir: string;
  logPath: string;
  /** host/repoTag */
  ref(repoTag: string): string;
  /** where the registry stores a blob's bytes (to corrupt or truncate it in a test) */
  blobPath(digest: string): string;
  /** copies a fixture (by name) or a skopeo source ("oci:/path:ref", "dir:/path") to
   *  repoTag unchanged; returns the manifest digest the registry now serves */
  push(source: FixtureName | string, repoTag: string, opts?: PushOptions): Promise<string>;
  logs(): string;
  /** kills exactly this registry (and its token server) and removes its temp dir */
  stop(): Promise<void>;
}

// bcrypt (cost 5, so each request costs little) of TEST_PASSWORD; docker-registry's htpasswd
// accepts only bcrypt, and a fixed hash needs neither htpasswd nor a bcrypt library here.
const TEST_PASSWORD_BCRYPT = '$2b$05$vFcwWOnzWPfUFGZaQVFpmOgKRIrH/xoq1B9LshtEO4MrCbS7sn7Vi';

const live = new Map<number, { child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies without stop(): kill what we started, nothing else
  process.once('exit', () => {
    for (const [pid, { dir }] of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitReady(child: ChildProcess, url: string, logPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${tail(logPath)}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`docker-registry did not answer on ${url}/v2/ within ${timeoutMs} ms:\n${tail(logPath)}`);
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = opts.auth ?? 'none';
  const dir = await mkdtemp(join(tmpdir(), 'nori-registry-'));
  const logPath = join(dir, 'registry.log');
  const configPath = join(dir, 'config.yml');
  let tokenServer: TokenServer | undefined;
  let authConfig: object | undefined;
  try {
    if (auth === 'basic') {
      await writeFile(join(dir, 'htpasswd'), `${TEST_USER}:${TEST_PASSWORD_BCRYPT}\n`);
      authConfig = { htpasswd: { realm: 'nori-test-registry', path: join(dir, 'htpasswd') } };
    } else if (auth === 'token') {
      tokenServer = await startTokenServer(opts.token);
      authConfig = {
        token: { realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootcertbundle: tokenServer.certPath },
      };
    }
    // The port is picked before docker-registry binds it; another process may take it in
    // between, so a start that fails is retried on a fresh port.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const host = `127.0.0.1:${port}`;
      // YAML is a superset of JSON: no YAML writer needed
      const config = {
        version: '0.1',
        log: { level: opts.logLevel ?? 'info', fields: { service: 'nori-test-registry' } },
        storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
        http: { addr: host, secret: randomBytes(16).toString('hex') },
        ...(authConfig ? { auth: authConfig } : {}),
      };
      await writeFile(configPath, JSON.stringify(config, null, 1));
      const logFd = openSync(logPath, 'a');
      const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', logFd, logFd] });
      closeSync(logFd);
      const pid = child.pid;
      if (pid === undefined) {
        const err = await new Promise<Error>((r) => child.once('error', r));
        throw new Error(`cannot run docker-registry: ${err.message}`);
      }
      installExitHook();
      live.set(pid, { child, dir });
      try {
        await waitReady(child, `http://${host}`, logPath, scaled(15_000));
      } catch (err) {
        await killAndWait(child);
        live.delete(pid);
        if (attempt < 3 && /address already in use/.test(tail(logPath))) continue;
        throw err;
      }
      return makeRegistry({ auth, dir, host, child, pid, logPath, tokenServer });
    }
  } catch (err) {
    await tokenServer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function makeRegistry(p: {
  auth: RegistryAuth; dir: string; host: string; child: ChildProcess; pid: number; logPath: string; tokenServer?: TokenServer;
}): Promise<TestRegistry> {
  let authFile: string | undefined;
  let credentials: TestRegistry['credentials'];
  if (p.auth !== 'none') {
    credentials = { username: TEST_USER, password: TEST_PASSWORD };
    authFile = join(p.dir, 'auth.json');
    const auth = Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64');
    await writeFile(authFile, JSON.stringify({ auths: { [p.host]: { auth } } }), { mode: 0o600 });
  }
  let stopped: Promise<void> | undefined;

  const reg: TestRegistry = {
    host: p.host,
    url: `http://${p.host}`,
    auth: p.auth,
    credentials,
    authFile,
    tokenServer: p.tokenServer,
    pid: p.pid,
    dir: p.dir,
    logPath: p.logPath,
    ref: (repoTag) => `${p.host}/${repoTag}`,
    blobPath(digest) {
      const hex = digest.replace(/^sha256:/, '');
      return join(p.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    },
    async push(source, repoTag, opts = {}) {
      let src = source;
      let all = opts.all;
      if (!/^(oci|dir):/.test(source)) {
        const f = loadFixtures({ big: source === 'big' }).get(source as FixtureName);
        src = f.transport === 'oci' ? `oci:${f.layout}:${f.tag}` : `dir:${f.layout}`;
        all ??= f.platforms !== undefined;
      }
      const digestFile = join(p.dir, `digest.${randomBytes(6).toString('hex')}`);
      const args = [
        '--insecure-policy', 'copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false',
        '--digestfile', digestFile,
        ...(all ? ['--all'] : []),
        ...(authFile ? ['--dest-authfile', authFile] : []),
        src, `docker://${p.host}/${repoTag}`,
      ];
      try {
        await execFileAsync('skopeo', args, { timeout: 5 * 60_000, maxBuffer: 16 << 20 });
        return readFileSync(digestFile, 'utf8').trim();
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`skopeo copy ${src} → ${p.host}/${repoTag} failed: ${e.stderr || e.message}`);
      } finally {
        rmSync(digestFile, { force: true });
      }
    },
    logs: () => tail(p.logPath, 100_000),
    stop() {
      stopped ??= (async () => {
        await killAndWait(p.child);
        live.delete(p.pid);
        await p.tokenServer?.stop();
        await rm(p.dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  return reg;
}

// ---------------------------------------------------------------------------------------------
// Pushing the standard fixtures
// ---------------------------------------------------------------------------------------------

export interface PushedFixture extends Fixture {
  /** host/repository:tag */
  reference: string;
  /** host/repository@digest */
  digestReference: string;
  /** every tag pushed for it (busybox also gets :latest) */
  references: string[];
}

export interface PushedFixtures {
  all: PushedFixture[];
  /** throws for a fixture that was not pushed */
  get(name: FixtureName): PushedFixture;
}

/** Pushes the standard fixtures (all small ones unless `names` says; `big` adds the benchmark
 *  image) and checks that the registry serves the catalog's digests. */
export async function pushFixtures(
  reg: TestRegistry,
  opts: { names?: FixtureName[]; big?: boolean; concurrency?: number } = {},
): Promise<PushedFixtures> {
  const catalog = loadFixtures({ big: opts.big || opts.names?.includes('big') });
  const names = opts.names ?? (Object.keys(catalog.fixtures) as FixtureName[]);
  // A fixture's tags are pushed one after another by one worker: two uploads of the same blobs
  // into one repository at once can get a 500 from docker-registry 2.8.
  const jobs: Array<{ f: Fixture; tags: string[] }> = [];
  for (const name of names) {
    const f = catalog.get(name);
    jobs.push({ f, tags: name === 'busybox' ? [f.tag, 'latest'] : [f.tag] });
  }
  const byName = new Map<FixtureName, PushedFixture>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const { f, tags } = jobs[next++];
      for (const tag of tags) await pushOne(f, tag);
    }
  };
  const pushOne = async (f: Fixture, tag: string): Promise<void> => {
    const repoTag = `${f.repository}:${tag}`;
    const digest = await reg.push(f.transport === 'oci' ? `oci:${f.layout}:${f.tag}` : `dir:${f.layout}`, repoTag, {
      all: f.platforms !== undefined,
    });
    if (digest !== f.digest) throw new Error(`${reg.ref(repoTag)}: registry serves ${digest}, the catalog says ${f.digest}`);
    let pushed = byName.get(f.name);
    if (!pushed) {
      pushed = { ...f, reference: reg.ref(`${f.repository}:${f.tag}`), digestReference: reg.ref(`${f.repository}@${f.digest}`), references: [] };
      byName.set(f.name, pushed);
    }
    pushed.references.push(reg.ref(repoTag));
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 4, jobs.length) }, worker));
  return {
    all: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)),
    get(name) {
      const f = byName.get(name);
      if (!f) throw new Error(`fixture ${name} was not pushed`);
      return f;
    },
  };
}
