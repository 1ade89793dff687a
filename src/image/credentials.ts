// Registry credentials: the CRI AuthConfig of the call, else the node-wide containers-auth.json
// (`auths` keyed by host or host/repo path, most specific wins). Never logged.

import { readFileSync } from 'node:fs';

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (CRI identity_token) */
  identityToken?: string;
  /** a ready bearer token (CRI registry_token) */
  registryToken?: string;
}

export interface CriAuth {
  username?: string;
  password?: string;
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

function decodeAuth(auth: string): { username: string; password: string } | undefined {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i <= 0) return undefined;
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

export function fromCriAuth(a: CriAuth | undefined): Credentials | undefined {
  if (!a) return undefined;
  const c: Credentials = {};
  if (a.username) c.username = a.username;
  if (a.password) c.password = a.password;
  if (a.auth && !c.username) Object.assign(c, decodeAuth(a.auth));
  if (a.identityToken) c.identityToken = a.identityToken;
  if (a.registryToken) c.registryToken = a.registryToken;
  return Object.keys(c).length ? c : undefined;
}

function normalizeKey(key: string): string {
  let k = key.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  // Docker's legacy key for Docker Hub
  if (k === 'index.docker.io/v1' || k === 'index.docker.io' || k === 'registry-1.docker.io') k = 'docker.io';
  return k;
}

/** Looks `host/repository` up in an auth file; undefined when absent or unreadable. */
export function fromAuthFile(path: string, host: string, repository: string): Credentials | undefined {
  let doc: { auths?: Record<string, { auth?: string; identitytoken?: string }> };
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  const auths = new Map<string, { auth?: string; identitytoken?: string }>();
  for (const [k, v] of Object.entries(doc.auths ?? {})) auths.set(normalizeKey(k), v);
  const h = host === 'registry-1.docker.io' ? 'docker.io' : host;
  const parts = repository.split('/');
  for (let n = parts.length; n >= 0; n--) {
    const key = n ? `${h}/${parts.slice(0, n).join('/')}` : h;
    const e = auths.get(key);
    if (!e) continue;
    const c: Credentials = {};
    if (e.auth) Object.assign(c, decodeAuth(e.auth));
    if (e.identitytoken) c.identityToken = e.identitytoken;
    return c;
  }
  return undefined;
}
