// ContainerStatus, with `verbose` info (pid, OCI spec) under the "info" key as containerd does,
// plus the kernel's view of the container (src/inspect/) under info.kernel.
// `user`: while the container runs, the identity its init process has (read from the kernel);
// otherwise the one its spec gave, as containerd reports in every state.

import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContainerState, ContainerStatus, type ContainerStatusRequest, type ContainerUser } from '../gen/api';
import { encodeStatusAnswer, keepEncoding, type InfoText, type PreEncoded } from './pre_encoded';
import type { ContainerManager } from '../container/manager';
import { readProcUser } from '../container/proc_user';
import { imageRefOf, toStatus } from '../container/views';
import { containerKernelJson, forgetContainer, warmContainerFacts } from '../inspect/verbose';
import { stateOf, type ContainerRow } from '../store/container_store';

/**
 * The init's identity, per row object. Its credentials are final before StartContainer returns
 * (runc init sets them before it waits on the exec fifo), and the row object is replaced when the
 * container exits, so /proc is read once per running container instead of on every poll.
 */
const runningUsers = new WeakMap<ContainerRow, ContainerUser>();

/** The status view with that identity, per row object: one object, so its encoding is kept too. */
const withUsers = new WeakMap<ContainerRow, { base: ContainerStatus; view: ContainerStatus }>();

export const containerStatus = (m: ContainerManager) => {
  // The kernel facts kept for verbose calls hold while the container's init lives.
  m.listeners.push((t, row) => {
    if (t === 'STOPPED' || t === 'DELETED') forgetContainer(row.id);
    if (t === 'DELETED') specTexts.delete(row.id);
  });
  // Found before StartContainer returns (it has the time; critest asks the verbose status right after it).
  m.listeners.push((t, row) => t === 'STARTED' && warmStarted(m, row));
  return (req: ContainerStatusRequest) => answer(m, req);
};

function warmStarted(m: ContainerManager, row: ContainerRow): void {
  warmContainerFacts(row, m.deps.sandboxes.get(row.sandboxId), m.deps.config);
  const status = toStatus(row, imageRefOf(m.deps.images, row));
  keepSpecText(row.id, readSpecText(row.bundle));
  runningUser(m, row).then(
    (user) => keepEncoding(user ? statusWithUser(row, status, user) : status, ContainerStatus),
    () => undefined,
  );
}

/**
 * The spec bytes of the containers started or asked about last, so a verbose ask does not read
 * the file again and its bytes go into the answer as they are. Bounded: kubelet polls without
 * `verbose`, and a node's hundreds of containers need not keep their specs in memory.
 */
const specTexts = new Map<string, Buffer>();
const SPEC_TEXTS_KEPT = 32;

function keepSpecText(id: string, text: Buffer | undefined): void {
  if (!text) return;
  specTexts.delete(id);
  specTexts.set(id, text);
  if (specTexts.size > SPEC_TEXTS_KEPT) specTexts.delete(specTexts.keys().next().value!);
}

function specTextOf(row: ContainerRow): Buffer | undefined {
  const kept = specTexts.get(row.id);
  if (kept) return kept;
  const text = readSpecText(row.bundle);
  keepSpecText(row.id, text);
  return text;
}

/** The running init's identity, read once per row object (undefined: it is gone). */
async function runningUser(m: ContainerManager, row: ContainerRow): Promise<ContainerUser | undefined> {
  let user = runningUsers.get(row);
  if (user) return user;
  const pid = await m.livePid(row);
  const u = pid ? readProcUser(pid) : undefined;
  // Read, then checked again: a pid that died meanwhile may name another process now.
  if (u && (await m.livePid(row)) === pid) {
    user = { linux: { uid: BigInt(u.uid), gid: BigInt(u.gid), supplementalGroups: u.groups.map((g) => BigInt(g)) } };
    runningUsers.set(row, user);
  }
  return user;
}

/** Synchronous when the running init's identity is known (every ask but a first one): no await to wait out. */
function answer(m: ContainerManager, req: ContainerStatusRequest): PreEncoded | Promise<PreEncoded> {
  const row = m.get(req.containerId);
  const info: Record<string, InfoText> = {};
  if (req.verbose) {
    const running = stateOf(row) === ContainerState.CONTAINER_RUNNING;
    const kernel = containerKernelJson(row, running, () => m.deps.sandboxes.get(row.sandboxId), m.deps.config);
    info.info = verboseInfo(row, kernel);
  }
  // shared with the list and event views: never modified here
  const status = toStatus(row, imageRefOf(m.deps.images, row));
  if (status.state !== ContainerState.CONTAINER_RUNNING) return encodeStatusAnswer(status, ContainerStatus, info);
  const known = runningUsers.get(row);
  if (known) return encodeStatusAnswer(statusWithUser(row, status, known), ContainerStatus, info);
  return runningUser(m, row).then((user) => encodeStatusAnswer(user ? statusWithUser(row, status, user) : status, ContainerStatus, info));
}

function statusWithUser(row: ContainerRow, status: ContainerStatus, user: ContainerUser): ContainerStatus {
  const kept = withUsers.get(row);
  if (kept?.base === status && kept.view.user === user) return kept.view;
  const view = { ...status, user };
  withUsers.set(row, { base: status, view });
  return view;
}

/**
 * The info document's text in parts. The spec is the bundle's config.json as nori wrote it at
 * create (never rewritten), spliced in as bytes: parsing and re-serialising tens of kilobytes of
 * seccomp rules was most of the call, and encoding its text again on every ask a good part of the rest.
 */
export function verboseInfo(row: ContainerRow, kernelJson: string | undefined): Array<string | Buffer> {
  const head = JSON.stringify({ sandboxID: row.sandboxId, pid: row.pid, runtimeType: row.handler });
  const tail = kernelJson === undefined ? '' : `,"kernel":${kernelJson}`;
  return [`${head.slice(0, -1)},"runtimeSpec":`, specTextOf(row) ?? 'null', `,"bundle":${JSON.stringify(row.bundle)}${tail}}`];
}

/** The bundle's config.json, its surrounding whitespace left out; undefined when it is missing or not one JSON object. */
function readSpecText(bundle: string): Buffer | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(join(bundle, 'config.json'));
  } catch {
    return undefined; // no bundle (being removed): no spec
  }
  let start = 0;
  let end = bytes.length;
  while (start < end && isSpace(bytes[start]!)) start++;
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  // a torn or foreign file must not make the answer invalid JSON, nor the proto string invalid UTF-8
  const spec = bytes.subarray(start, end);
  return spec[0] === 0x7b && spec[spec.length - 1] === 0x7d && isUtf8(spec) ? spec : undefined;
}

/** JSON's whitespace (RFC 8259 section 2). */
const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
