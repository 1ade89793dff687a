// The files of removed containers, deleted off RemoveContainer's call: the writable layer, the
// exit file, conmon's socket dir and the bundle. A crash before they are gone is cleaned up at
// start-up: no row owns them any more (recovery/orphan_containers.ts, the image service's sweep
// of layer dirs).

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors';
import type { Logger } from '../log';

export interface RemovedFilesDeps {
  exitDir: string;
  socketDir: string;
  removeLayer(id: string): Promise<void>;
  log: Logger;
}

export class RemovedFiles {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly d: RemovedFilesDeps) {}

  /** Starts deleting a removed container's files. */
  remove(row: { id: string; bundle: string }): void {
    const p = this.removeNow(row).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves when the files of every container removed so far are gone. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private async removeNow(row: { id: string; bundle: string }): Promise<void> {
    try {
      await this.d.removeLayer(row.id);
      rmSync(join(this.d.exitDir, row.id), { force: true });
      rmSync(join(this.d.socketDir, row.id), { recursive: true, force: true });
      // last: while the bundle is there, start-up recovery finds the rest by it
      rmSync(row.bundle, { recursive: true, force: true });
    } catch (e) {
      this.d.log.warn({ container: row.id, err: errorMessage(e) }, 'removing a removed container\'s files failed; start-up recovery retries');
    }
  }
}
