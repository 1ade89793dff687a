// Reads a container's CPU, memory and OOM counters straight from cgroupfs (v1 hybrid or v2
// unified): cheaper than `runc events --stats` and still readable after the container exited,
// until `runc delete` removes the cgroup.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HeldFileReader } from '../cgroups/held_files';

export interface CgroupSample {
  cpuUsageNs?: bigint;
  memoryUsage?: bigint;
  workingSet?: bigint;
  rss?: bigint;
  pageFaults?: bigint;
  majorPageFaults?: bigint;
}

export interface IoDevice {
  /** "major:minor" of the block device. */
  majorMinor: string;
  readBytes: bigint;
  writeBytes: bigint;
  reads: bigint;
  writes: bigint;
}

export class CgroupReader {
  readonly v2: boolean;
  /** Descriptors of the files polled stats read, shared with the other cgroup readers. */
  readonly files = new HeldFileReader();
  constructor(readonly mountRoot = '/sys/fs/cgroup') {
    this.v2 = existsSync(join(mountRoot, 'cgroup.controllers'));
  }

  private file(controller: string, cgroupPath: string, name: string): string {
    return this.v2 ? join(this.mountRoot, cgroupPath, name) : join(this.mountRoot, controller, cgroupPath, name);
  }

  private read(controller: string, cgroupPath: string, name: string): string | undefined {
    return this.files.read(this.file(controller, cgroupPath, name));
  }

  sample(cgroupPath: string): CgroupSample {
    const out: CgroupSample = {};
    if (this.v2) {
      const cpu = parseKeyed(this.read('', cgroupPath, 'cpu.stat'), V2_CPU_KEYS);
      if (cpu.usage_usec !== undefined) out.cpuUsageNs = cpu.usage_usec * 1000n;
      const cur = this.read('', cgroupPath, 'memory.current');
      const ms = parseKeyed(this.read('', cgroupPath, 'memory.stat'), V2_MEMORY_KEYS);
      if (cur !== undefined) {
        out.memoryUsage = BigInt(cur.trim());
        out.workingSet = clampSub(out.memoryUsage, ms.inactive_file ?? 0n);
      }
      if (ms.anon !== undefined) out.rss = ms.anon;
      if (ms.pgfault !== undefined) out.pageFaults = ms.pgfault;
      if (ms.pgmajfault !== undefined) out.majorPageFaults = ms.pgmajfault;
      return out;
    }
    const cpu = this.read('cpuacct', cgroupPath, 'cpuacct.usage');
    if (cpu !== undefined) out.cpuUsageNs = BigInt(cpu.trim());
    const usage = this.read('memory', cgroupPath, 'memory.usage_in_bytes');
    const ms = parseKeyed(this.read('memory', cgroupPath, 'memory.stat'), V1_MEMORY_KEYS);
    if (usage !== undefined) {
      out.memoryUsage = BigInt(usage.trim());
      out.workingSet = clampSub(out.memoryUsage, ms.total_inactive_file ?? 0n);
    }
    if (ms.total_rss !== undefined) out.rss = ms.total_rss;
    if (ms.total_pgfault !== undefined) out.pageFaults = ms.total_pgfault;
    if (ms.total_pgmajfault !== undefined) out.majorPageFaults = ms.total_pgmajfault;
    return out;
  }

  /**
   * Block I/O per device: v2 io.stat ("8:0 rbytes=… wbytes=… rios=… wios=…"), v1 the blkio
   * throttle counters (every I/O, unlike the CFQ-only blkio.io_service_bytes).
   */
  io(cgroupPath: string): IoDevice[] {
    const byDev = new Map<string, IoDevice>();
    const dev = (mm: string) => {
      let d = byDev.get(mm);
      if (!d) byDev.set(mm, (d = { majorMinor: mm, readBytes: 0n, writeBytes: 0n, reads: 0n, writes: 0n }));
      return d;
    };
    if (this.v2) {
      for (const line of (this.read('', cgroupPath, 'io.stat') ?? '').split('\n')) {
        const [mm, ...kvs] = line.trim().split(/\s+/);
        if (!mm || !/^\d+:\d+$/.test(mm)) continue;
        const d = dev(mm);
        for (const kv of kvs) {
          const [k, v] = kv.split('=');
          if (!v || !/^\d+$/.test(v)) continue;
          if (k === 'rbytes') d.readBytes = BigInt(v);
          else if (k === 'wbytes') d.writeBytes = BigInt(v);
          else if (k === 'rios') d.reads = BigInt(v);
          else if (k === 'wios') d.writes = BigInt(v);
        }
      }
    } else {
      for (const [file, rd, wr] of [['blkio.throttle.io_service_bytes', 'readBytes', 'writeBytes'], ['blkio.throttle.io_serviced', 'reads', 'writes']] as const) {
        for (const line of (this.read('blkio', cgroupPath, file) ?? '').split('\n')) {
          const [mm, op, v] = line.trim().split(/\s+/);
          if (!mm || !/^\d+:\d+$/.test(mm) || !v || !/^\d+$/.test(v)) continue;
          if (op === 'Read') dev(mm)[rd] = BigInt(v);
          else if (op === 'Write') dev(mm)[wr] = BigInt(v);
        }
      }
    }
    return [...byDev.values()];
  }

  /** The cgroup's OOM-kill count (v1 memory.oom_control, v2 memory.events); 0 if unreadable. */
  oomKills(cgroupPath: string): number {
    return this.oomKillCount(cgroupPath) ?? 0;
  }

  /** The same, undefined when the cgroup (or its memory controller) is not there to read. */
  oomKillCount(cgroupPath: string): number | undefined {
    const text = this.v2 ? this.read('', cgroupPath, 'memory.events') : this.read('memory', cgroupPath, 'memory.oom_control');
    return text === undefined ? undefined : Number(parseKeyed(text, OOM_KEYS).oom_kill ?? 0n);
  }
}

/**
 * "key value" lines (cpu.stat, memory.stat, memory.events, memory.oom_control) as numbers; only
 * the keys in `wanted` when it is given. memory.stat has some forty lines and the stats calls
 * read it for every container and pod: wanted keys are looked up in the text, not every line
 * cut into strings that become garbage right away.
 */
export function parseKeyed(text: string | undefined, wanted?: ReadonlySet<string>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  if (!text) return out;
  if (wanted) {
    for (const k of wanted) {
      const v = keyedValue(text, k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v && DIGITS.test(v)) out[k] = BigInt(v);
  }
  return out;
}

const isBlank = (c: number) => c === 0x20 || c === 0x09;

/** The number on the line that starts with `key` and a blank; undefined without one. */
function keyedValue(text: string, key: string): bigint | undefined {
  for (let i = text.indexOf(key); i >= 0; i = text.indexOf(key, i + 1)) {
    if ((i > 0 && text.charCodeAt(i - 1) !== 0x0a) || !isBlank(text.charCodeAt(i + key.length))) continue;
    let from = i + key.length;
    while (isBlank(text.charCodeAt(from))) from++;
    let to = from;
    for (let c = text.charCodeAt(to); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++to));
    const after = text.charCodeAt(to);
    if (to === from || !(to === text.length || after === 0x0a || isBlank(after))) return undefined;
    return BigInt(text.slice(from, to));
  }
  return undefined;
}

const DIGITS = /^\d+$/;
const V2_CPU_KEYS = new Set(['usage_usec']);
const V2_MEMORY_KEYS = new Set(['inactive_file', 'anon', 'pgfault', 'pgmajfault']);
const V1_MEMORY_KEYS = new Set(['total_inactive_file', 'total_rss', 'total_pgfault', 'total_pgmajfault']);
const OOM_KEYS = new Set(['oom_kill']);

function clampSub(a: bigint, b: bigint): bigint {
  return a > b ? a - b : 0n;
}
