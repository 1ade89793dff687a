// The process spec an exec runs with: the container's own process (user, env, cwd, capabilities,
// seccomp profile) from its bundle's config.json, with only args and the terminal replaced.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function execProcessSpec(bundle: string, cmd: string[], tty: boolean, size?: { cols: number; rows: number }): Record<string, unknown> {
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> };
  const p: Record<string, unknown> = { ...spec.process, args: cmd, terminal: tty };
  if (tty) {
    p.consoleSize = { width: size?.cols ?? 80, height: size?.rows ?? 24 };
    // A terminal needs TERM for most interactive tools; keep the container's if it sets one.
    const env = Array.isArray(p.env) ? (p.env as string[]) : [];
    if (!env.some((e) => e.startsWith('TERM='))) p.env = [...env, 'TERM=xterm'];
  } else {
    delete p.consoleSize;
  }
  return p;
}
