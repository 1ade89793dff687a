// Watches conmon's exit directory: conmon writes <dir>/<container id> holding the exit code once
// the container's init has been reaped. inotify (fs.watch) reports new files; sweep() catches
// files written while nori was down or before the watch started.

import { watch, readdirSync, readFileSync, statSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export interface ExitRecord {
  code: number;
  /** File mtime, nanoseconds since the epoch: when conmon saw the exit. */
  at: bigint;
}

export function readExitFile(dir: string, id: string): ExitRecord | undefined {
  try {
    const path = join(dir, id);
    const text = readFileSync(path, 'utf8').trim();
    if (text === '') return undefined; // conmon writes then renames; a partial file is not final
    const code = Number.parseInt(text, 10);
    const st = statSync(path, { bigint: true });
    return { code: Number.isFinite(code) ? code : 255, at: st.mtimeNs };
  } catch {
    return undefined;
  }
}

export class ExitWatcher {
  private watcher?: FSWatcher;
  constructor(private readonly dir: string, private readonly onExit: (id: string) => void) {}

  start(): void {
    this.watcher = watch(this.dir, (_event, name) => {
      if (name) this.onExit(name.toString());
    });
    this.watcher.on('error', () => undefined);
  }

  sweep(): void {
    for (const name of readdirSync(this.dir)) if (!name.includes('.')) this.onExit(name);
  }

  close(): void {
    this.watcher?.close();
  }
}
