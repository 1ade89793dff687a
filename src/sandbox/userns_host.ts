// Whether this node can run a pod in its own user namespace at all. nori idmaps every file it
// makes for such a pod (hosts, resolv.conf, hostname, termination-log on its state dir, a tmpfs
// under /run on most nodes, and the pod's /dev/shm, always a tmpfs), and the kernel idmaps tmpfs
// only from Linux 6.3: Debian 12's 6.1 answers EINVAL, and such pods would fail at
// CreateContainer. So the answer is probed once per state dir, the way the doctor probes it, and
// both Status (user_namespaces) and RunPodSandbox follow it.

import { probeIdmappedMount } from '../sys/host_probe';
import { withMount, withScratchDir } from '../sys/probe_dirs';

const answers = new Map<string, boolean>();

export function hostIdmapsTmpfs(stateDir: string): boolean {
  let ok = answers.get(stateDir);
  if (ok === undefined) {
    try {
      ok = withScratchDir(stateDir, (dir) => withMount('tmpfs', dir, 'tmpfs', 'size=64k', () => probeIdmappedMount(dir).ok));
    } catch {
      ok = false;
    }
    answers.set(stateDir, ok);
  }
  return ok;
}
