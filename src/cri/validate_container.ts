// CreateContainer's request, checked before anything is built: names and paths must be text,
// log_path must stay inside the pod's log directory, mount destinations must be clean absolute
// paths, and labels/annotations are bounded (they come back in every ListContainers reply, so one
// huge container could push the list past kubelet's 16 MiB message limit).

import * as path from 'node:path';
import { InvalidArgumentError } from '../errors';
import type { ContainerConfig } from '../gen/api';
import { isCleanText } from './validate_ids';

/** Kubernetes' own bound on a pod's annotations (TotalAnnotationSizeLimitB), used for both maps. */
export const MAX_METADATA_MAP_BYTES = 256 * 1024;

export function mapBytes(m: Record<string, string | Buffer>): number {
  let n = 0;
  for (const [k, v] of Object.entries(m)) n += Buffer.byteLength(k) + (Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v));
  return n;
}

export function checkMetadataMaps(where: string, labels: Record<string, string>, annotations: Record<string, string>): void {
  for (const [name, m] of [['labels', labels], ['annotations', annotations]] as const) {
    const n = mapBytes(m ?? {});
    if (n > MAX_METADATA_MAP_BYTES) {
      throw new InvalidArgumentError(`${where}.${name} total ${n} bytes, more than the ${MAX_METADATA_MAP_BYTES} allowed`);
    }
  }
}

function text(field: string, v: string): void {
  if (!isCleanText(v)) throw new InvalidArgumentError(`${field} is not valid UTF-8 text`);
}

/** A path with a `..` component could leave its base directory (or confuse a reader of the spec). */
export function hasDotDot(p: string): boolean {
  return p.split('/').includes('..');
}

export function checkContainerRequest(podSandboxId: string, config: ContainerConfig | undefined): void {
  if (!podSandboxId) throw new InvalidArgumentError('pod_sandbox_id is required');
  if (!config) throw new InvalidArgumentError('config is required');
  const name = config.metadata?.name ?? '';
  if (!name) throw new InvalidArgumentError('config.metadata.name is required');
  text('config.metadata.name', name);
  if (name.includes('/')) throw new InvalidArgumentError(`config.metadata.name "${name}" must not contain '/'`);
  const image = config.image?.image ?? '';
  if (!image) throw new InvalidArgumentError('config.image.image is required');
  text('config.image.image', image);
  if (config.logPath) {
    text('config.log_path', config.logPath);
    if (path.posix.isAbsolute(config.logPath)) {
      throw new InvalidArgumentError(`config.log_path "${config.logPath}" must be relative to the pod's log_directory`);
    }
    if (hasDotDot(config.logPath)) throw new InvalidArgumentError(`config.log_path "${config.logPath}" must not contain '..'`);
  }
  text('config.working_dir', config.workingDir);
  // execve takes NUL-terminated strings: a NUL inside one cannot reach the process.
  for (const [field, list] of [['command', config.command], ['args', config.args]] as const) {
    const i = list.findIndex((a) => a.includes('\0'));
    if (i >= 0) throw new InvalidArgumentError(`config.${field}[${i}] contains a NUL byte`);
  }
  for (const m of config.mounts) {
    text('mount container_path', m.containerPath);
    text('mount host_path', m.hostPath);
    text('mount image', m.image?.image ?? '');
    text('mount image_sub_path', m.imageSubPath);
    if (hasDotDot(m.containerPath)) throw new InvalidArgumentError(`mount container_path "${m.containerPath}" must not contain '..'`);
  }
  checkMetadataMaps('config', config.labels, config.annotations);
}
