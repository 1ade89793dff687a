// A NetSys that records calls and keeps just enough state (links, nft scripts) for unit tests.

import type { AttachPodSpec, NetSys } from './net';

export class FakeNetSys implements NetSys {
  readonly calls: Array<{ op: string; args: unknown[] }> = [];
  readonly links = new Set<string>();
  readonly sysctls = new Map<string, string>();
  readonly scripts: string[] = [];
  /** Thrown by the next call of that op (then cleared). */
  readonly failNext = new Map<string, Error>();

  private take(op: string, args: unknown[]): void {
    this.calls.push({ op, args });
    const e = this.failNext.get(op);
    if (e) {
      this.failNext.delete(op);
      throw e;
    }
  }

  async ensureBridge(name: string, addresses: readonly string[]): Promise<void> {
    this.take('ensureBridge', [name, [...addresses]]);
    this.links.add(name);
  }

  async attachPod(spec: AttachPodSpec): Promise<void> {
    this.take('attachPod', [spec]);
    this.links.add(spec.hostIf);
  }

  async deleteLink(name: string): Promise<boolean> {
    this.take('deleteLink', [name]);
    return this.links.delete(name);
  }

  async nft(script: string): Promise<string> {
    this.take('nft', [script]);
    this.scripts.push(script);
    return '';
  }

  async writeSysctl(path: string, value: string): Promise<void> {
    this.take('writeSysctl', [path, value]);
    this.sysctls.set(path, value);
  }
}
