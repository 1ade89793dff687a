// Test-only fault injection: `NORI_FAULT_POINTS=name[,name]` makes the daemon die exactly as
// kill -9 would (SIGKILL to itself: no finally blocks, no exit handlers, no flush) the first
// time execution reaches one of the named points. The crash-safety tests (docs/reliability.md)
// use it to prove that a restart recovers from every interesting half-done state.
//
// Read once at start-up; when the variable is unset every faultPoint() is a check of one
// undefined field. Names are "<rpc>.<where>"; FAULT_POINTS lists them all so a typo in a test
// fails loudly instead of never firing.

export const FAULT_POINTS = [
  'run-pod.after-ns-pinned',
  'run-pod.after-net-lease',
  'run-pod.after-net-veth',
  'run-pod.after-cni-add',
  'run-pod.after-ready-write',
  'create.after-overlay-mount',
  'create.after-prepared-mounts',
  'create.after-runtime-create',
  'start.after-runtime-start',
  'stop-pod.after-containers-stopped',
  'stop-pod.after-net-veth-deleted',
  'stop-pod.after-cni-del',
  'remove-pod.after-containers-removed',
  'remove-pod.after-unpin',
  'container-exit.after-runtime-delete',
  'remove-container.after-unmount',
  'remove-container.after-row-deleted',
  'pull.mid-layer',
  'pull.after-layer-commit',
  'pull.after-layers',
] as const;

export type FaultPointName = (typeof FAULT_POINTS)[number];

export const FAULT_ENV = 'NORI_FAULT_POINTS';

let armed: ReadonlySet<string> | undefined = parseFaultPoints(process.env[FAULT_ENV]);

/** The armed set from the variable's value; throws on a name that is not a point. */
export function parseFaultPoints(value: string | undefined): ReadonlySet<string> | undefined {
  if (!value) return undefined;
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!(FAULT_POINTS as readonly string[]).includes(n)) throw new Error(`${FAULT_ENV}: unknown fault point "${n}" (known: ${FAULT_POINTS.join(', ')})`);
  }
  return names.length ? new Set(names) : undefined;
}

/** The points armed in this process (for the start-up warning). */
export function armedFaultPoints(): string[] {
  return armed ? [...armed] : [];
}

/** Replaces the armed set (unit tests). */
export function setFaultPoints(names: readonly FaultPointName[] | undefined): void {
  armed = names && names.length ? new Set(names) : undefined;
}

/** Dies like kill -9 when `name` is armed; otherwise does nothing. */
export function faultPoint(name: FaultPointName): void {
  if (armed === undefined || !armed.has(name)) return;
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to oneself is delivered before kill(2) returns; never run on regardless.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}

/** Passes `items` through, hitting `name` just before the item at `index` (0-based). */
export function faultPointAt<T>(items: AsyncIterable<T>, index: number, name: FaultPointName): AsyncIterable<T> {
  return armed?.has(name) ? countItems(items, index, name) : items;
}

async function* countItems<T>(items: AsyncIterable<T>, index: number, name: FaultPointName): AsyncIterable<T> {
  let i = 0;
  for await (const item of items) {
    if (i++ === index) faultPoint(name);
    yield item;
  }
}
