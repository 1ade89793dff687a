// Adds the kernel's view (model.ts) to the verbose "info" JSON document of PodSandboxStatus and
// ContainerStatus, under "kernel", beside what containerd-like clients already read there.

import { join } from 'node:path';
import type { Config } from '../config';
import type { SandboxRecord } from '../sandbox/api';
import type { SandboxEntry } from '../sandbox/service';
import { verboseInfo } from '../sandbox/status';
import { containerKernelView, podKernelView } from './model';

export async function podVerboseInfo(e: SandboxEntry): Promise<Record<string, string>> {
  const base = JSON.parse(verboseInfo(e).info!) as Record<string, unknown>;
  const pod = e.row.networkTornDown ? { ...e.rec, nsPaths: { ...e.rec.nsPaths, net: undefined }, network: 'NODE' as const } : e.rec;
  const kernel = await podKernelView(pod, e.rec.internals.podInitPid);
  return { info: JSON.stringify({ ...base, kernel }) };
}

export function containerKernelInfo(
  row: { pid: number; cgroupPath: string; bundle: string },
  running: boolean,
  pod: SandboxRecord | undefined,
  config: Pick<Config, 'root'>,
): ReturnType<typeof containerKernelView> {
  return containerKernelView({ ...row, running }, pod, join(config.root, 'overlay2'));
}
