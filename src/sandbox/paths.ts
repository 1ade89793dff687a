// Where a sandbox's pieces live. All derived from the id, so a CREATING row left by a crash is
// enough to find everything to undo.

import * as path from 'node:path';

export interface SandboxPaths {
  dir: string;
  hosts: string;
  resolvConf: string;
  hostname: string;
  shm: string;
  ns: { user: string; net: string; ipc: string; uts: string; pid: string };
}

export function sandboxPaths(state: string, id: string): SandboxPaths {
  const dir = path.join(state, 'sandboxes', id);
  return {
    dir,
    hosts: path.join(dir, 'hosts'),
    resolvConf: path.join(dir, 'resolv.conf'),
    hostname: path.join(dir, 'hostname'),
    shm: path.join(dir, 'shm'),
    ns: {
      user: path.join(state, 'ns', 'user', id),
      net: path.join(state, 'ns', 'net', id),
      ipc: path.join(state, 'ns', 'ipc', id),
      uts: path.join(state, 'ns', 'uts', id),
      pid: path.join(state, 'ns', 'pid', id),
    },
  };
}
