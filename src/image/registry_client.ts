// Docker Registry HTTP API v2 / OCI distribution over Node's fetch: manifests and blobs, with
// the Bearer token flow (WWW-Authenticate → token server, cached until expiry) and Basic auth.
// Plain HTTP only for endpoints registries.conf marks insecure (after HTTPS fails).

import { createHash } from 'node:crypto';
import { DeadlineExceededError, InvalidArgumentError, NotFoundError, FailedPreconditionError } from '../errors';
import { discardBody, MAX_CONFIG_BYTES, MAX_MANIFEST_BYTES, type ExpectedBlob, MAX_TOKEN_BYTES, readCapped, readErrorBody, readVerified, registryErrorMessage, TransientError } from './bounded_body';
import type { Logger } from '../log';
import type { Credentials } from './credentials';
import type { Endpoint } from './registries_conf';
import { parseWwwAuthenticate, TokenCache } from './token_cache';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export { TransientError };

export interface FetchedManifest {
  body: Buffer;
  mediaType: string;
  digest: string;
}

export type CredentialsFor = (host: string, repository: string) => Credentials | undefined;

export class RegistryClient {
  /** host → scheme that answered, for insecure endpoints */
  private readonly schemes = new Map<string, 'https' | 'http'>();

  constructor(
    private readonly tokens: TokenCache,
    private readonly log: Logger,
    /** a manifest, config or token request that receives nothing for this long fails */
    private readonly idleMs = 60_000,
  ) {}

  /**
   * Runs fn with a signal that also aborts after idleMs without progress (arm() restarts the
   * clock: each chunk of the body calls it), so a registry that answers a byte now and then
   * cannot hold a pull forever; the failure is DEADLINE_EXCEEDED naming what stalled.
   */
  private async withIdle<T>(what: string, signal: AbortSignal, fn: (signal: AbortSignal, arm: () => void) => Promise<T>): Promise<T> {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(new DeadlineExceededError(`${what}: no bytes from the registry for ${this.idleMs / 1000} s`)), this.idleMs);
    };
    const both = AbortSignal.any([signal, ctl.signal]);
    arm();
    try {
      return await fn(both, arm);
    } catch (e) {
      if (ctl.signal.aborted && !signal.aborted) throw ctl.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async schemeFor(ep: Endpoint, signal: AbortSignal): Promise<'https' | 'http'> {
    if (!ep.insecure) return 'https';
    const known = this.schemes.get(ep.host);
    if (known) return known;
    let scheme: 'https' | 'http' = 'http';
    try {
      const res = await fetch(`https://${ep.host}/v2/`, { signal: AbortSignal.any([signal, AbortSignal.timeout(3000)]) });
      await discardBody(res);
      scheme = 'https';
    } catch {
      if (signal.aborted) throw signal.reason;
    }
    this.schemes.set(ep.host, scheme);
    return scheme;
  }

  /** GET with auth: retries once after a 401 with the credentials the challenge asks for. */
  async get(ep: Endpoint, path: string, headers: Record<string, string>, creds: Credentials | undefined, signal: AbortSignal): Promise<Response> {
    const scheme = await this.schemeFor(ep, signal);
    const url = `${scheme}://${ep.host}/v2/${ep.repository}/${path}`;
    const scope = `repository:${ep.repository}:pull`;
    const cacheKeyBase = `${ep.host}|${scope}|${creds?.username ?? ''}`;
    let auth = this.cachedAuth.get(cacheKeyBase);
    if (auth?.startsWith('Bearer ')) {
      const t = this.tokens.get(auth.slice(7));
      auth = t ? `Bearer ${t}` : undefined;
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { headers: { ...headers, ...(auth ? { Authorization: auth } : {}) }, signal, redirect: 'follow' });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        throw new TransientError(`GET ${url}: ${(e as Error).cause ? String((e as Error & { cause: Error }).cause.message) : (e as Error).message}`);
      }
      if (res.status !== 401 || attempt === 1) return res;
      const challenge = res.headers.get('www-authenticate') ?? '';
      await discardBody(res);
      const { scheme: authScheme, params } = parseWwwAuthenticate(challenge);
      if (authScheme === 'basic') {
        if (!creds?.username) return res;
        auth = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
        this.cachedAuth.set(cacheKeyBase, auth);
      } else if (authScheme === 'bearer') {
        const tokenKey = `${params.realm}|${params.service ?? ''}|${params.scope ?? scope}|${creds?.username ?? ''}`;
        const token = creds?.registryToken ?? this.tokens.get(tokenKey) ?? (await this.fetchToken(params, scope, creds, tokenKey, signal));
        auth = `Bearer ${token}`;
        this.cachedAuth.set(cacheKeyBase, `Bearer ${tokenKey}`);
      } else {
        return res;
      }
    }
    throw new Error('unreachable');
  }

  /** auth header memo: Basic value, or "Bearer <token cache key>" */
  private readonly cachedAuth = new Map<string, string>();

  private async fetchToken(
    params: Record<string, string>,
    defaultScope: string,
    creds: Credentials | undefined,
    key: string,
    signal: AbortSignal,
  ): Promise<string> {
    const realm = params.realm;
    if (!realm) throw new FailedPreconditionError('registry asked for a bearer token without a realm');
    const scope = params.scope ?? defaultScope;
    let res: Response;
    try {
      if (creds?.identityToken) {
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, service: params.service ?? '', scope, client_id: 'nori' });
        res = await fetch(realm, { method: 'POST', body, signal });
      } else {
        const u = new URL(realm);
        if (params.service) u.searchParams.set('service', params.service);
        u.searchParams.set('scope', scope);
        const headers: Record<string, string> = {};
        if (creds?.username) headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}`;
        res = await fetch(u, { headers, signal });
      }
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      throw new TransientError(`token request to ${realm}: ${(e as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      await discardBody(res);
      throw new FailedPreconditionError(`token server ${realm} refused the credentials (HTTP ${res.status})`);
    }
    if (!res.ok) {
      await discardBody(res);
      const E = res.status >= 500 ? TransientError : FailedPreconditionError;
      throw new E(`token server ${realm}: HTTP ${res.status}`);
    }
    const raw = await readCapped(res, MAX_TOKEN_BYTES, `token response from ${realm}`, FailedPreconditionError);
    let j: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      j = JSON.parse(raw.toString('utf8')) as typeof j;
    } catch {
      throw new FailedPreconditionError(`token server ${realm} sent a response that is not JSON`);
    }
    const token = typeof j.token === 'string' && j.token ? j.token : typeof j.access_token === 'string' && j.access_token ? j.access_token : undefined;
    if (!token) throw new FailedPreconditionError(`token server ${realm} sent no token`);
    const expiresIn = typeof j.expires_in === 'number' && Number.isFinite(j.expires_in) && j.expires_in > 0 ? j.expires_in : 60;
    this.tokens.set(key, token, expiresIn);
    this.log.debug({ realm, scope }, 'obtained registry token');
    return token;
  }

  /** A manifest or index, read with the 4 MiB bound; `size`, when an index gave one, must match. */
  async manifest(ep: Endpoint, ref: string, creds: Credentials | undefined, signal: AbortSignal, size?: number): Promise<FetchedManifest> {
    const what = `manifest ${ep.host}/${ep.repository}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
    const { res, body } = await this.withIdle(what, signal, async (sig, arm) => {
      const res = await this.get(ep, `manifests/${ref}`, { Accept: MANIFEST_ACCEPT }, creds, sig);
      await this.check(res, what);
      const body =
        size !== undefined && ref.startsWith('sha256:')
          ? await readVerified(res, { digest: ref, size }, MAX_MANIFEST_BYTES, 'manifest', arm)
          : await readCapped(res, MAX_MANIFEST_BYTES, what, InvalidArgumentError, arm);
      return { res, body };
    });
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (ref.startsWith('sha256:') && digest !== ref) {
      throw new InvalidArgumentError(`manifest from ${ep.host} has digest ${digest}, expected ${ref}`);
    }
    let mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { mediaType?: string };
      if (parsed.mediaType) mediaType = parsed.mediaType;
    } catch {
      throw new InvalidArgumentError(`manifest ${ref} from ${ep.host} is not JSON`);
    }
    return { body, mediaType, digest };
  }

  /** An image config: size and digest checked as it streams in, at most MAX_CONFIG_BYTES. */
  async config(ep: Endpoint, desc: ExpectedBlob, creds: Credentials | undefined, signal: AbortSignal): Promise<Buffer> {
    return this.withIdle(`image config ${desc.digest}`, signal, async (sig, arm) =>
      readVerified(await this.blob(ep, desc.digest, creds, sig), desc, MAX_CONFIG_BYTES, 'image config', arm),
    );
  }

  /** The blob's response (status checked); the caller streams and verifies it. */
  async blob(ep: Endpoint, digest: string, creds: Credentials | undefined, signal: AbortSignal): Promise<Response> {
    const res = await this.get(ep, `blobs/${digest}`, {}, creds, signal);
    await this.check(res, `blob ${digest} from ${ep.host}/${ep.repository}`);
    return res;
  }

  private async check(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    // an error answer is read only up to a small cap: an endless one must not fill the daemon
    const said = registryErrorMessage(await readErrorBody(res));
    const tail = said ? ` (${said})` : '';
    if (res.status === 404) throw new NotFoundError(`${what}: not found${tail}`);
    if (res.status === 401 || res.status === 403) throw new FailedPreconditionError(`${what}: access denied (HTTP ${res.status})${tail}`);
    if (res.status === 429 || res.status >= 500) throw new TransientError(`${what}: HTTP ${res.status}${tail}`);
    throw new FailedPreconditionError(`${what}: HTTP ${res.status}${tail}`);
  }
}
