// The cgroup numbers src/container/cgroup_stats.ts does not read: the memory limit (for
// available_bytes), swap usage and the task count, on v1 (hybrid) and v2 layouts.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HeldFileReader } from '../cgroups/held_files';

/** v1 reports "no limit" as a page-rounded 2^63-1. */
const V1_UNLIMITED = 1n << 62n;

export interface CgroupExtra {
  memoryLimit?: bigint;
  swapUsage?: bigint;
  swapLimit?: bigint;
  pids?: bigint;
}

export class CgroupExtraReader {
  /** v1 counts swap only with swap accounting on (memory.memsw.* present): checked once. */
  private readonly swapAccounting: boolean;

  constructor(
    readonly mountRoot: string,
    readonly v2: boolean,
    private readonly files = new HeldFileReader(),
  ) {
    this.swapAccounting = !v2 && existsSync(join(mountRoot, 'memory', 'memory.memsw.usage_in_bytes'));
  }

  private read(controller: string, cgroupPath: string, name: string): string | undefined {
    const file = this.v2 ? join(this.mountRoot, cgroupPath, name) : join(this.mountRoot, controller, cgroupPath, name);
    return this.files.read(file)?.trim();
  }

  /** `pids`: also count tasks (pods; kubelet takes container task counts from elsewhere). */
  sample(cgroupPath: string, memoryUsage: bigint | undefined, pids = true): CgroupExtra {
    const out: CgroupExtra = {};
    const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? BigInt(s) : undefined);
    if (this.v2) {
      out.memoryLimit = num(this.read('', cgroupPath, 'memory.max'));
      out.swapUsage = num(this.read('', cgroupPath, 'memory.swap.current'));
      out.swapLimit = num(this.read('', cgroupPath, 'memory.swap.max'));
      if (pids) out.pids = num(this.read('', cgroupPath, 'pids.current'));
      return out;
    }
    const limit = num(this.read('memory', cgroupPath, 'memory.limit_in_bytes'));
    if (limit !== undefined && limit < V1_UNLIMITED) out.memoryLimit = limit;
    if (this.swapAccounting) {
      // memsw counts memory + swap.
      const memsw = num(this.read('memory', cgroupPath, 'memory.memsw.usage_in_bytes'));
      if (memsw !== undefined && memoryUsage !== undefined) out.swapUsage = memsw > memoryUsage ? memsw - memoryUsage : 0n;
      const memswLimit = num(this.read('memory', cgroupPath, 'memory.memsw.limit_in_bytes'));
      if (memswLimit !== undefined && memswLimit < V1_UNLIMITED && limit !== undefined) out.swapLimit = memswLimit > limit ? memswLimit - limit : 0n;
    }
    if (pids) out.pids = num(this.read('pids', cgroupPath, 'pids.current'));
    return out;
  }
}
