// hack/systemd/nori.service: systemd-analyze accepts it, and nori started from its ExecStart line
// with its Environment (and nothing else, as systemd would) sends READY=1 over $NOTIFY_SOCKET
// only once the CRI socket answers, and STOPPING=1 on SIGTERM. The notify socket is a real
// AF_UNIX datagram socket held by a python3 receiver (Node has no datagram unix sockets).

import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { criClient } from '../../helpers/cri-client';
import { NORI_BIN, REPO } from '../../helpers/daemon';

const UNIT = join(REPO, 'hack', 'systemd', 'nori.service');

/** [Section] → key → values, in file order (a key may repeat, as Environment= does). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let cur: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1]!, cur);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(cur && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq).trim();
    cur.set(key, [...(cur.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** Environment=A=1 B=2 (no quoting used in our unit) → pairs. */
function environmentOf(values: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of values) {
    for (const word of v.split(/\s+/)) {
      const i = word.indexOf('=');
      env[word.slice(0, i)] = word.slice(i + 1);
    }
  }
  return env;
}

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\\n", "|"), flush=True)
`;

describe('nori.service (systemd unit)', function () {
  this.timeout(60_000);
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const service = unit.get('Service')!;

  it('has the settings a node service needs', () => {
    assert.equal(service.get('Type')?.[0], 'notify');
    assert.equal(service.get('KillMode')?.[0], 'process', 'containers survive a restart');
    assert.equal(service.get('Delegate')?.[0], 'yes');
    for (const k of ['LimitNOFILE', 'LimitNPROC', 'TasksMax']) assert.ok(service.get(k), `${k} set`);
    assert.match(unit.get('Unit')!.get('After')![0]!, /network\.target/);
  });

  it('systemd-analyze verify accepts it (with /usr/local/bin/nori linked as setup links it)', () => {
    // A private mount namespace holds the link setup.sh makes, so the host is left as it was.
    const r = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c',
        `mount -t tmpfs tmpfs /usr/local/bin && ln -s ${NORI_BIN} /usr/local/bin/nori && systemd-analyze verify ${UNIT}`],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  });

  describe('started from ExecStart with the unit Environment', () => {
    let dir: string;
    let receiver: ChildProcess;
    let nori: ChildProcess;
    const messages: string[] = [];
    let stderr = '';
    let onMessage: (() => void) | undefined;

    before(async () => {
      dir = mkdtempSync('/tmp/nt-unit-');
      mkdirSync(join(dir, 'net.d'));
      const notifySocket = join(dir, 'notify.sock');
      receiver = spawn('python3', ['-c', RECEIVER, notifySocket], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => {
        let buf = '';
        receiver.stdout!.on('data', (d: Buffer) => {
          buf += d.toString();
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line === 'bound') resolve();
            else {
              messages.push(line);
              onMessage?.();
            }
          }
        });
      });
      const execStart = service.get('ExecStart')![0]!.split(/\s+/);
      assert.equal(execStart[0], '/usr/local/bin/nori', 'the unit runs the link setup.sh installs');
      // The link points at this clone's bin/nori; run that file itself, so its #! line finds node
      // through the unit's PATH exactly as under systemd.
      const argv = [...execStart.slice(1),
        '--config', join(dir, 'nori.toml'),
        '--listen', `unix://${join(dir, 'nori.sock')}`, '--root', join(dir, 'root'), '--state', join(dir, 'state'),
        '--cni-conf-dir', join(dir, 'net.d'), '--metrics-listen', '127.0.0.1:0', '--streaming-listen', '127.0.0.1:0'];
      writeFileSync(join(dir, 'nori.toml'), '# flags carry the private dirs\n');
      const env = { ...environmentOf(service.get('Environment') ?? []), NOTIFY_SOCKET: notifySocket };
      nori = spawn(NORI_BIN, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      nori.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    });

    after(async () => {
      if (nori && nori.exitCode === null && nori.signalCode === null) {
        nori.kill('SIGKILL');
        await new Promise((r) => nori.once('close', r));
      }
      receiver?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    function nextMessage(pred: (m: string) => boolean, failOnExit = true): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (m) {
            onMessage = undefined;
            resolve(m);
          } else if (failOnExit && nori.exitCode !== null) reject(new Error(`nori exited with ${nori.exitCode} before the message: ${stderr.slice(-2000)}`));
        };
        onMessage = check;
        nori.once('exit', check);
        check();
      });
    }

    it('sends READY=1 with its own pid once the socket answers calls', async () => {
      const ready = await nextMessage((m) => m.split('|').includes('READY=1'));
      assert.ok(ready.split('|').includes(`MAINPID=${nori.pid}`), ready);
      const client = criClient(join(dir, 'nori.sock'));
      try {
        // Past the init gate at the moment READY=1 arrives: a call is served, not UNAVAILABLE.
        const v = await client.call('Version', {}, { deadlineMs: 5000 });
        assert.equal(v.runtime_name, 'nori');
      } finally {
        client.close();
      }
    });

    it('sends STOPPING=1 on SIGTERM and exits 0', async () => {
      const exited = new Promise<number | null>((r) => nori.once('close', (code) => r(code)));
      nori.kill('SIGTERM');
      assert.equal(await exited, 0);
      // Sent before exit; the receiver may print it a moment after.
      await nextMessage((m) => m === 'STOPPING=1', false);
    });
  });
});
