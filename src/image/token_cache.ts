// Bearer tokens keyed by realm, service, scope and who asked; kept until shortly before expiry.

export class TokenCache {
  private readonly tokens = new Map<string, { token: string; expires: number }>();

  get(key: string): string | undefined {
    const t = this.tokens.get(key);
    if (!t) return undefined;
    if (Date.now() >= t.expires) {
      this.tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  set(key: string, token: string, expiresInSeconds: number): void {
    // a margin so a token is not used in its last seconds
    const ms = Math.max(1, expiresInSeconds - 10) * 1000;
    this.tokens.set(key, { token, expires: Date.now() + ms });
  }
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or Basic realm=…). */
export function parseWwwAuthenticate(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return { scheme: '', params: {} };
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2]!))) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return { scheme: m[1]!.toLowerCase(), params };
}
