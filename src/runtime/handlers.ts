// The OCI runtime of each configured handler, made on first use and kept.

import { join } from 'node:path';
import type { Config } from '../config';
import { NotFoundError } from '../errors';
import { adaptHandler } from './crun_hybrid';
import { OciRuntime } from './oci_runtime';

export class RuntimeHandlers {
  private readonly runtimes = new Map<string, OciRuntime>();

  constructor(private readonly config: Config) {}

  /** '' is the default handler. */
  get(handlerName: string): OciRuntime {
    const name = handlerName || this.config.defaultRuntime;
    let rt = this.runtimes.get(name);
    if (rt) return rt;
    const h = this.config.runtimes[name];
    if (!h) throw new NotFoundError(`runtime handler "${name}" is not configured`);
    // The systemd driver: runc/crun create each container's scope through systemd.
    const systemd = this.config.cgroupDriver === 'systemd' && !h.options.includes('--systemd-cgroup');
    const handler = { name, path: h.path, options: systemd ? ['--systemd-cgroup', ...h.options] : h.options, root: h.root || join(this.config.state, name) };
    // crun on this kind of hybrid cgroup host only runs through a wrapper (runtime/crun_hybrid.ts).
    rt = new OciRuntime(adaptHandler(handler, join(this.config.state, 'runtime-wrappers')));
    this.runtimes.set(name, rt);
    return rt;
  }
}
