// Single-use, short-lived tokens naming one pending streaming request (as kubelet's request
// cache does): the URL is handed to the API server, which connects within the minute or never.

import { randomBytes } from 'node:crypto';
import type { AnyPayload } from './types';

export const TOKEN_TTL_MS = 60_000;
/** Bounds memory if URLs are requested and never used. */
const MAX_PENDING = 10_000;

interface Entry {
  request: AnyPayload;
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = TOKEN_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** 16 random bytes, base64url: unguessable and safe in a URL path. */
  insert(request: AnyPayload): string {
    this.sweep();
    if (this.entries.size >= MAX_PENDING) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { request, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** The request for token, removed so it cannot be used again; undefined if unknown or expired. */
  consume(token: string): AnyPayload | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    this.entries.delete(token);
    return e.expiresAt > this.now() ? e.request : undefined;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(): void {
    const t = this.now();
    // Insertion order is expiry order (constant TTL), so stop at the first live entry.
    for (const [k, e] of this.entries) {
      if (e.expiresAt > t) break;
      this.entries.delete(k);
    }
  }
}
