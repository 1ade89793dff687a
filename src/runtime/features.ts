// What an OCI runtime says it supports (`<runtime> features`, runtime-spec features.md), asked
// once per binary and kept for the life of the daemon: the answer only changes with the binary.
// runc ≥ 1.1 answers; crun 1.8 has no such subcommand ("unknown command features"), and then
// nothing is assumed supported.

import { execFile } from 'node:child_process';

export interface RuntimeFeatures {
  /** Mount options the runtime understands (e.g. "rro", "rbind"). */
  mountOptions: ReadonlySet<string>;
}

export const NO_FEATURES: RuntimeFeatures = { mountOptions: new Set() };

/** Parses the JSON of `runc features`; anything unexpected yields no features. */
export function parseFeatures(text: string): RuntimeFeatures {
  try {
    const j = JSON.parse(text) as { mountOptions?: unknown };
    const opts = Array.isArray(j.mountOptions) ? j.mountOptions.filter((o): o is string => typeof o === 'string') : [];
    return { mountOptions: new Set(opts) };
  } catch {
    return NO_FEATURES;
  }
}

const cache = new Map<string, Promise<RuntimeFeatures>>();

/**
 * The features of the runtime binary at `path` (the configured binary, not a wrapper around it),
 * probed on first use. A runtime that fails, hangs (10 s) or prints no JSON has none.
 */
export function runtimeFeatures(path: string, options: readonly string[] = []): Promise<RuntimeFeatures> {
  const key = JSON.stringify([path, options]);
  let p = cache.get(key);
  if (!p) {
    p = new Promise<RuntimeFeatures>((resolve) => {
      execFile(path, [...options, 'features'], { timeout: 10_000, maxBuffer: 1 << 20, killSignal: 'SIGKILL' }, (err, stdout) => {
        resolve(err ? NO_FEATURES : parseFeatures(stdout));
      });
    });
    cache.set(key, p);
  }
  return p;
}

/**
 * Whether a handler can have recursive read-only mounts: through its runtime's own `rro` mount
 * option, or through nori staging them (needs mount_setattr: `kernel`).
 */
export async function recursiveReadOnlySupport(
  h: { path: string; options: readonly string[]; wraps?: string },
  kernel: () => boolean,
): Promise<{ supported: boolean; option: boolean }> {
  const option = (await runtimeFeatures(h.wraps ?? h.path, h.options)).mountOptions.has('rro');
  return { supported: option || kernel(), option };
}

/** recursiveReadOnlySupport of every configured handler, by name ("" = the default handler). */
export async function recursiveReadOnlyByHandler(
  c: { runtimes: Record<string, { path: string; options: string[] }>; defaultRuntime: string },
  kernel: () => boolean,
): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  await Promise.all(Object.entries(c.runtimes).map(async ([name, h]) => {
    out[name] = (await recursiveReadOnlySupport(h, kernel)).supported;
  }));
  out[''] = out[c.defaultRuntime] ?? false;
  return out;
}
