// A recording RroMounter for unit tests: no kernel involved.

import type { RroMounter } from './rro_mount';

export class FakeRroMounter implements RroMounter {
  readonly calls: Array<{ source: string; target: string }> = [];
  constructor(public supported = true, public fail?: Error) {}

  available(): boolean {
    return this.supported;
  }

  bindRecursiveReadOnly(source: string, target: string): void {
    this.calls.push({ source, target });
    if (this.fail) throw this.fail;
  }
}
