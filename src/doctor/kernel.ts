// Kernel facts: namespaces (user namespaces included), overlayfs where the writable layers
// live, idmapped mounts, the capabilities nori needs, and the sysctls pods rely on.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config';
import { errorMessage } from '../errors';
import { probeIdmappedMount } from '../sys/host_probe';
import { fail, pass, warn, type Check } from './check';
import { withMount, withScratchDir } from '../sys/probe_dirs';

const NAMESPACES = ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'user'] as const;

export function readSysctl(name: string, procSys = '/proc/sys'): string | undefined {
  try {
    return readFileSync(join(procSys, ...name.split('.')), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function namespacesCheck(): Check {
  const missing = NAMESPACES.filter((n) => !existsSync(`/proc/self/ns/${n}`));
  if (missing.length) {
    return fail('kernel', 'namespaces', `kernel lacks namespaces: ${missing.join(' ')}`, 'boot a kernel built with CONFIG_NAMESPACES and the missing CONFIG_*_NS options');
  }
  // max_*_namespaces = 0 disables creating that kind even for root.
  const disabled = ['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup'].filter((n) => readSysctl(`user.max_${n}_namespaces`) === '0');
  if (disabled.length) {
    return fail('kernel', 'namespaces', `creating ${disabled.join(' ')} namespaces is disabled`, disabled.map((n) => `sysctl -w user.max_${n}_namespaces=10000`).join('; '));
  }
  return pass('kernel', 'namespaces', `${NAMESPACES.join(' ')} available`);
}

export function userNamespacesCheck(isRoot: boolean): Check {
  const max = readSysctl('user.max_user_namespaces');
  if (max === '0') {
    return warn('kernel', 'user namespaces', 'user.max_user_namespaces is 0: pods with hostUsers: false fail', 'sysctl -w user.max_user_namespaces=65536 (and persist it in /etc/sysctl.d/)');
  }
  if (!isRoot) return warn('kernel', 'user namespaces', `max_user_namespaces ${max}; creation not probed (not root)`, 'run nori doctor as root');
  return pass('kernel', 'user namespaces', `available (max ${max})`, { maxUserNamespaces: Number(max) });
}

/**
 * Mounts an overlay exactly as nori does for a container: lower, upper and work dirs beside the
 * writable layers under <root>/overlay2, the merged view under <state>.
 */
export function overlayCheck(config: Config, isRoot: boolean): Check {
  const filesystems = readFileSync('/proc/filesystems', 'utf8');
  const layers = join(config.root, 'overlay2');
  if (!isRoot) {
    return /\boverlay\b/.test(filesystems)
      ? warn('kernel', 'overlayfs', 'overlay is registered; mount not probed (not root)', 'run nori doctor as root')
      : fail('kernel', 'overlayfs', 'overlay is not in /proc/filesystems', 'modprobe overlay (and add it to /etc/modules-load.d/)');
  }
  try {
    withScratchDir(layers, (dir) => {
      for (const d of ['lower', 'upper', 'work']) mkdirSync(join(dir, d));
      writeFileSync(join(dir, 'lower', 'f'), 'x');
      withScratchDir(config.state, (merged) => {
        withMount('overlay', merged, 'overlay', `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, () => {
          // A copy-up proves the upper dir takes writes through overlay, not only the mount.
          writeFileSync(join(merged, 'f'), 'y');
        });
      });
    });
  } catch (e) {
    return fail(
      'kernel', 'overlayfs',
      `overlay mount with its upper dir under ${layers} refused: ${errorMessage(e)}`,
      `put --root on a filesystem overlay accepts as upper (ext4, xfs with ftype=1, btrfs, tmpfs), not on overlayfs, vfat or NFS; check dmesg; modprobe overlay`,
      { layers },
    );
  }
  return pass('kernel', 'overlayfs', `mounts with its upper dir under ${layers}`);
}

/** Idmapped mounts (user-namespaced pods' volumes and layers): mount_setattr on a tmpfs. */
export function idmappedMountCheck(config: Config, isRoot: boolean): Check {
  if (!isRoot) return warn('kernel', 'idmapped mounts', 'not probed (not root)', 'run nori doctor as root');
  try {
    const r = withScratchDir(config.state, (dir) => withMount('tmpfs', dir, 'tmpfs', 'size=64k', () => probeIdmappedMount(dir)));
    if (r.ok) return pass('kernel', 'idmapped mounts', 'mount_setattr(MOUNT_ATTR_IDMAP) works on tmpfs');
    return warn(
      'kernel', 'idmapped mounts',
      `${r.syscall} failed with errno ${r.errno}: pods with hostUsers: false cannot get idmapped volumes`,
      'use a kernel >= 6.3 (idmapped tmpfs) with user namespaces enabled',
      { syscall: r.syscall, errno: r.errno },
    );
  } catch (e) {
    return warn('kernel', 'idmapped mounts', `probe failed: ${errorMessage(e)}`, 'use a kernel >= 6.3 with user namespaces enabled');
  }
}

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;
const CAP_SYS_RESOURCE = 24;

export function capabilityChecks(status = readFileSync('/proc/self/status', 'utf8')): Check[] {
  const field = (name: string) => BigInt('0x' + (new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'));
  const eff = field('CapEff');
  const bnd = field('CapBnd');
  const has = (set: bigint, cap: number) => (set >> BigInt(cap)) & 1n;
  const out: Check[] = [];
  const essential = [[CAP_SYS_ADMIN, 'CAP_SYS_ADMIN'], [CAP_NET_ADMIN, 'CAP_NET_ADMIN']] as const;
  const lacking = essential.filter(([c]) => !has(eff, c)).map(([, n]) => n);
  out.push(
    lacking.length
      ? fail('kernel', 'capabilities', `nori lacks ${lacking.join(', ')}`, 'run nori as root with full capabilities (a privileged VM or container)')
      : pass('kernel', 'capabilities', 'CAP_SYS_ADMIN and CAP_NET_ADMIN effective'),
  );
  out.push(
    has(bnd, CAP_SYS_RESOURCE)
      ? pass('kernel', 'CAP_SYS_RESOURCE', 'in the bounding set')
      : warn(
          'kernel', 'CAP_SYS_RESOURCE',
          'missing from the bounding set: negative oom_score_adj is refused and container rlimits are clamped to nori\'s own hard limits',
          'give nori\'s host or container CAP_SYS_RESOURCE (the hypervisor/container runtime drops it); nothing to do in nori',
        ),
  );
  return out;
}

/** Sysctls that pod networking and Kubernetes rely on, and the namespaced ones pods may set. */
export function sysctlChecks(procSys = '/proc/sys'): Check[] {
  const out: Check[] = [];
  const fwd = readSysctl('net.ipv4.ip_forward', procSys);
  out.push(
    fwd === '1'
      ? pass('kernel', 'net.ipv4.ip_forward', '1: pods reach beyond the node')
      : warn('kernel', 'net.ipv4.ip_forward', `${fwd ?? 'absent'}: pod traffic is not routed off the node until a gateway network sets it`, 'sysctl -w net.ipv4.ip_forward=1 (persist in /etc/sysctl.d/)'),
  );
  const brnf = readSysctl('net.bridge.bridge-nf-call-iptables', procSys);
  out.push(
    brnf === '1'
      ? pass('kernel', 'bridge-nf-call-iptables', '1: Service rules see bridged pod traffic')
      : warn(
          'kernel', 'bridge-nf-call-iptables',
          brnf === undefined ? 'br_netfilter not loaded: kube-proxy rules miss pod-to-pod traffic on one bridge' : `${brnf}: kube-proxy rules miss pod-to-pod traffic on one bridge`,
          'modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1',
        ),
  );
  // Kubernetes' "safe" sysctls: a pod may set them, so the kernel must have them per netns/ipc.
  const safe = ['kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
    'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time',
    'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'];
  const absent = safe.filter((s) => readSysctl(s, procSys) === undefined);
  out.push(
    absent.length
      ? warn('kernel', 'pod sysctls', `absent: ${absent.join(' ')}: pods that set them fail to start`, 'use a newer kernel (these are namespaced since 5.x)')
      : pass('kernel', 'pod sysctls', `all ${safe.length} Kubernetes safe sysctls present`),
  );
  return out;
}
