// Security settings seen from inside real containers: read-only rootfs, capabilities (the sets
// in /proc/self/status and what they allow), privileged, no_new_privs against a setuid binary,
// masked and read-only paths, seccomp profiles of every kind, and pod sysctls.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_CAPABILITIES } from '../../../src/container/spec/capabilities';
import type { Inside, Pod } from './inside_harness';
import { startInsideForSuite } from './inside_setup';

const STATUS = 'grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status';

function mask(names: string[]): bigint {
  let m = 0n;
  for (const n of names) {
    const bit = ALL_CAPABILITIES.indexOf(n);
    assert.ok(bit >= 0, n);
    m |= 1n << BigInt(bit);
  }
  return m;
}

/** The fields of /proc/self/status that STATUS prints, caps as bigints. */
function status(out: string): Record<string, bigint> {
  const r: Record<string, bigint> = {};
  for (const line of out.split('\n')) {
    const m = /^(\w+):\s*([0-9a-f]+)$/.exec(line.trim());
    if (m) r[m[1]!] = m[1]!.startsWith('Cap') ? BigInt(`0x${m[2]}`) : BigInt(m[2]!);
  }
  return r;
}

const HELPER_C = `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "vmsplice") == 0) {
    long r = syscall(SYS_vmsplice, -1, NULL, 0, 0);
    printf("vmsplice: %s\\n", r == 0 ? "ok" : strerror(errno));
    return 0;
  }
  printf("euid=%d\\n", (int)geteuid());
  return 0;
}
`;

const HOST_BOUNDING = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);

describe('containers from inside: security', function () {
  this.timeout(120_000);
  let t: Inside;
  let pod: Pod;
  let privPod: Pod;
  let dir: string;

  startInsideForSuite({
    teardown: () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  }, async (inside) => {
    t = inside;
    pod = await t.pod({ sysctls: { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ip_unprivileged_port_start': '0' } });
    privPod = await t.pod({ privileged: true });
    dir = mkdtempSync('/tmp/nori-inside-sec-');
    // A static setuid-root helper on a host path (readable by the test's non-root users):
    // `euid` prints the effective uid; `vmsplice` calls vmsplice(2) on a bad fd, which the
    // RuntimeDefault profile refuses (EPERM) before the kernel sees it (EBADF).
    chmodSync(dir, 0o755);
    const src = join(dir, 'helper.c');
    writeFileSync(src, HELPER_C);
    execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'helper'), src]);
    chmodSync(join(dir, 'helper'), 0o4755);
  });

  const sc = (securityContext: object, extra: object = {}) => ({ linux: { security_context: securityContext }, ...extra });
  const tools = () => ({ host_path: dir, container_path: '/tools', readonly: true });

  it('readonly_rootfs: the root filesystem cannot be written, the pod\'s files can', async () => {
    const r = await t.run(pod, 'rorootfs', 'touch /x; echo ok > /dev/shm/y && echo shm-ok; echo -n msg > /dev/termination-log', sc({ readonly_rootfs: true }));
    assert.match(r.out, /touch: \/x: Read-only file system/);
    assert.match(r.out, /^shm-ok$/m);
    assert.equal(r.status.message, 'msg');
  });

  describe('capabilities', () => {
    it('default set: containerd\'s, with NET_RAW: ping works', async () => {
      const r = await t.run(pod, 'caps-default', `${STATUS}; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-ok`);
      const s = status(r.out);
      // containerd's and Docker's default set, as the kernel shows it: CHOWN DAC_OVERRIDE FOWNER
      // FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
      assert.equal(s.CapEff, 0xa80425fbn);
      assert.equal(s.CapBnd, 0xa80425fbn);
      assert.match(r.out, /^ping-ok$/m);
    });

    it('drop NET_RAW: ping fails', async () => {
      const r = await t.run(pod, 'caps-noraw', `${STATUS}; ping -c1 -W2 127.0.0.1`, sc({ capabilities: { drop_capabilities: ['NET_RAW'] } }));
      const s = status(r.out);
      assert.equal(s.CapEff, 0xa80405fbn); // the default set less NET_RAW (bit 13)
      assert.notEqual(r.exitCode, 0);
      assert.match(r.out, /ping: .*(permission denied|Operation not permitted)/i);
    });

    it('drop ALL: no capabilities; add ALL: the runtime\'s whole bounding set', async () => {
      const none = await t.run(pod, 'caps-none', `${STATUS}; chown 1:1 /tmp && echo chown-ok`, sc({ capabilities: { drop_capabilities: ['ALL'] } }));
      assert.equal(status(none.out).CapEff, 0n);
      assert.equal(status(none.out).CapBnd, 0n);
      assert.match(none.out, /Operation not permitted/);
      const all = await t.run(pod, 'caps-all', STATUS, sc({ capabilities: { add_capabilities: ['ALL'] } }));
      assert.equal(status(all.out).CapEff, HOST_BOUNDING);
      const dropAllAddOne = await t.run(pod, 'caps-one', STATUS, sc({ capabilities: { drop_capabilities: ['ALL'], add_capabilities: ['CHOWN'] } }));
      assert.equal(status(dropAllAddOne.out).CapEff, mask(['CAP_CHOWN']));
    });

    it('ambient capabilities reach a non-root process', async () => {
      const plain = await t.run(pod, 'amb-none', STATUS, sc({ run_as_user: { value: 1002 } }));
      assert.equal(status(plain.out).CapEff, 0n);
      const r = await t.run(pod, 'amb', STATUS, sc({
        run_as_user: { value: 1002 }, capabilities: { add_ambient_capabilities: ['NET_BIND_SERVICE'] },
      }));
      const s = status(r.out);
      assert.equal(s.CapAmb, mask(['CAP_NET_BIND_SERVICE']));
      assert.equal(s.CapEff, mask(['CAP_NET_BIND_SERVICE']));
    });
  });

  it('privileged: all capabilities, host devices, rw /sys, nothing masked, no seccomp', async () => {
    const r = await t.run(privPod, 'priv', [
      STATUS,
      'test -c /dev/kmsg && echo has-kmsg',
      'grep " /sys " /proc/self/mountinfo | grep -q " rw," && echo sys-rw',
      'echo masked=$(grep -cE " /proc/(acpi|kcore|keys|timer_list) " /proc/self/mountinfo)',
      'echo ro=$(grep -cE " /proc/(sys|bus|fs|irq) " /proc/self/mountinfo)',
    ].join('; '), sc({ privileged: true }));
    const s = status(r.out);
    assert.equal(s.CapEff, HOST_BOUNDING);
    assert.equal(s.Seccomp, 0n);
    assert.match(r.out, /^has-kmsg$/m);
    assert.match(r.out, /^sys-rw$/m);
    assert.match(r.out, /^masked=0$/m);
    assert.match(r.out, /^ro=0$/m);
    const plain = await t.run(pod, 'unpriv', 'test -e /dev/kmsg && echo has-kmsg; touch /sys/x 2>&1');
    assert.doesNotMatch(plain.out, /has-kmsg/);
    assert.match(plain.out, /Read-only file system/);
  });

  it('a privileged container needs a privileged pod', async () => {
    await assert.rejects(t.create(pod, 'priv-in-plain', 'true', sc({ privileged: true })), /privileged/);
  });

  it('no_new_privs stops a setuid binary from raising privileges', async () => {
    const cfg = (nnp: boolean) => sc({ run_as_user: { value: 1002 }, no_new_privs: nnp }, { mounts: [tools()] });
    const without = await t.run(pod, 'nnp-off', `/tools/helper euid; ${STATUS}`, cfg(false));
    assert.match(without.out, /^euid=0$/m);
    assert.equal(status(without.out).NoNewPrivs, 0n);
    const withNnp = await t.run(pod, 'nnp-on', `/tools/helper euid; ${STATUS}`, cfg(true));
    assert.match(withNnp.out, /^euid=1002$/m);
    assert.equal(status(withNnp.out).NoNewPrivs, 1n);
  });

  describe('masked and read-only paths', () => {
    it('defaults: /proc/timer_list and /proc/keys read empty, /proc/acpi is an empty tmpfs, /proc/sys is read-only', async () => {
      const r = await t.run(pod, 'masked', [
        'echo timer_list=$(wc -c < /proc/timer_list)',
        'echo keys=$(wc -c < /proc/keys)',
        'grep " /proc/acpi " /proc/self/mountinfo | grep -q " - tmpfs " && echo acpi-tmpfs',
        'echo 1 > /proc/sys/vm/drop_caches',
      ].join('; '));
      assert.match(r.out, /^timer_list=0$/m);
      assert.match(r.out, /^keys=0$/m);
      assert.match(r.out, /^acpi-tmpfs$/m);
      assert.match(r.out, /Read-only file system/);
    });

    it('CRI lists replace the defaults', async () => {
      const r = await t.run(pod, 'masked-cri', [
        'echo timer_list=$(wc -c < /proc/timer_list)',
        'echo keys=$(wc -c < /proc/keys)',
        'echo sys-ro=$(grep -c " /proc/sys " /proc/self/mountinfo)',
        'echo bus-ro=$(grep " /proc/bus " /proc/self/mountinfo | grep -c " ro,")',
      ].join('; '), sc({ masked_paths: ['/proc/keys'], readonly_paths: ['/proc/bus'] }));
      assert.doesNotMatch(r.out, /^timer_list=0$/m);
      assert.match(r.out, /^keys=0$/m);
      assert.match(r.out, /^sys-ro=0$/m);
      assert.match(r.out, /^bus-ro=1$/m);
    });
  });

  describe('seccomp', () => {
    let profile: string;
    before(() => {
      profile = join(dir, 'no-mkdir.json');
      writeFileSync(profile, JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }));
    });
    const MKDIR = `mkdir /tmp/made && echo mkdir-ok; ${STATUS}`;
    // containers/common's profile (RuntimeDefault here, as in CRI-O and podman) allows unshare
    // and mount, unlike moby's; vmsplice is one it refuses that needs no capability.
    const VMSPLICE = `/tools/helper vmsplice; ${STATUS}`;

    it('Localhost profile blocks the syscall it names', async () => {
      const r = await t.run(pod, 'sc-local', MKDIR, sc({ seccomp: { profile_type: 'Localhost', localhost_ref: profile } }));
      assert.match(r.out, /mkdir: can't create directory '\/tmp\/made': Operation not permitted/);
      assert.equal(status(r.out).Seccomp, 2n);
    });

    it('RuntimeDefault blocks vmsplice; Unconfined lets the kernel answer', async () => {
      const def = await t.run(pod, 'sc-default', VMSPLICE, sc({ seccomp: { profile_type: 'RuntimeDefault' } }, { mounts: [tools()] }));
      assert.match(def.out, /^vmsplice: Operation not permitted$/m);
      assert.equal(status(def.out).Seccomp, 2n);
      const unconfined = await t.run(pod, 'sc-unconfined', VMSPLICE, sc({ seccomp: { profile_type: 'Unconfined' } }, { mounts: [tools()] }));
      assert.match(unconfined.out, /^vmsplice: Bad file descriptor$/m);
      assert.equal(status(unconfined.out).Seccomp, 0n);
    });

    for (const [path, blocked] of [['runtime/default', true], ['docker/default', true], ['unconfined', false]] as const) {
      it(`deprecated seccomp_profile_path "${path}"`, async () => {
        const r = await t.run(pod, `sc-path-${path.replace('/', '-')}`, VMSPLICE, sc({ seccomp_profile_path: path }, { mounts: [tools()] }));
        assert.match(r.out, blocked ? /^vmsplice: Operation not permitted$/m : /^vmsplice: Bad file descriptor$/m);
        assert.equal(status(r.out).Seccomp, blocked ? 2n : 0n);
      });
    }

    it('deprecated seccomp_profile_path "localhost/<path>"; anything else is an error', async () => {
      const r = await t.run(pod, 'sc-path-local', MKDIR, sc({ seccomp_profile_path: `localhost/${profile}` }));
      assert.match(r.out, /Operation not permitted/);
      await assert.rejects(t.create(pod, 'sc-bad', 'true', sc({ seccomp_profile_path: 'bogus' })), /invalid seccomp profile/);
    });
  });

  it('pod sysctls are set inside', async () => {
    const r = await t.run(pod, 'sysctl', 'cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start');
    assert.equal(r.out, '1\n0');
    const other = await t.pod();
    const d = await t.run(other, 'sysctl-default', 'cat /proc/sys/kernel/shm_rmid_forced /proc/sys/net/ipv4/ip_unprivileged_port_start');
    assert.equal(d.out, '0\n1024');
  });
});
