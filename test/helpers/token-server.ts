// A Docker registry token server (the "realm" of `auth: token`) for tests: it checks the
// client's username and password, grants the requested scopes and signs a JWT that Debian's
// docker-registry 2.8 accepts. The registry verifies the token against `rootcertbundle`; the
// token carries the signing certificate in its `x5c` header, which the registry checks against
// that bundle (docker/distribution registry/auth/token/token.go, VerifySigningKey), so no
// libtrust key id is needed. Plain HTTP on loopback.
//
// Protocols served at /token (both what clients use in the wild):
//   GET  ?service=S&scope=A&scope=B[&account=U][&offline_token=true], Basic credentials
//        (Docker token spec; containers/image, docker)
//   POST form grant_type=password (username, password) or grant_type=refresh_token
//        (refresh_token), service, scope (space separated), [access_type=offline]
//        (OAuth2 variant; containerd tries it first)
// Every request is recorded without secrets, so tests can assert the flow happened.
//
// The server runs in the test's own process: while a client (nori, skopeo) talks to a token
// registry, the test must not block the event loop (execFileSync, spawnSync, Atomics.wait), or
// the token request never gets an answer and the client hangs.

import { execFile } from 'node:child_process';
import { createSign, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listenLoopbackHttp } from './loopback-http';

const execFileAsync = promisify(execFile);

export const TEST_USER = 'nori';
export const TEST_PASSWORD = 'nori-test-password';

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServerOptions {
  /** username → password; default { nori: 'nori-test-password' } */
  users?: Record<string, string>;
  /** grant `pull` to requests without credentials (as Docker Hub does for public repos) */
  anonymousPull?: boolean;
  /** token lifetime; default 300 s (docker/distribution allows 60 s of clock skew) */
  expiresInSeconds?: number;
  service?: string;
  issuer?: string;
  /** decides the granted actions; default: all requested for users, `pull` for anonymous */
  grant?: (user: string | undefined, requested: Access) => string[];
}

export interface TokenRequestRecord {
  method: string;
  grantType?: string;
  service?: string;
  scopes: string[];
  account?: string;
  /** the authenticated user, undefined for anonymous or refused requests */
  user?: string;
  granted: Access[];
  status: number;
  at: number;
}

export interface TokenServer {
  /** http://127.0.0.1:PORT/token */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the signing certificate: the registry's rootcertbundle */
  certPath: string;
  requests: TokenRequestRecord[];
  /** signs a token directly, e.g. to test expired or wrongly scoped tokens */
  sign(claims: { sub?: string; access: Access[]; expiresInSeconds?: number; notBefore?: number }): string;
  stop(): Promise<void>;
}

/** Splits "repository:nori-test/busybox:pull,push" (names may hold no ':', the type and the
 *  actions are the first and last fields). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter((a) => a !== ''),
  };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

async function makeSigningKey(dir: string): Promise<{ keyPem: string; certPath: string; certDer: string }> {
  const keyPath = join(dir, 'token-key.pem');
  const certPath = join(dir, 'token-cert.pem');
  // A P-256 key and its self-signed certificate; the cert is both the trust root and the x5c
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=nori-test-token-issuer',
  ]);
  const certPem = await readFile(certPath, 'utf8');
  const certDer = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return { keyPem: await readFile(keyPath, 'utf8'), certPath, certDer };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function basicCredentials(req: IncomingMessage): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const users = opts.users ?? { [TEST_USER]: TEST_PASSWORD };
  const service = opts.service ?? 'nori-test-registry';
  const issuer = opts.issuer ?? 'nori-test-token-issuer';
  const lifetime = opts.expiresInSeconds ?? 300;
  const grant = opts.grant ?? ((user, requested) => (user !== undefined ? requested.actions : requested.actions.filter((a) => a === 'pull')));
  const dir = await mkdtemp(join(tmpdir(), 'nori-token-'));
  const key = await makeSigningKey(dir);
  const refreshTokens = new Map<string, string>();
  const requests: TokenRequestRecord[] = [];

  const sign: TokenServer['sign'] = (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [key.certDer] };
    const body = {
      iss: issuer,
      sub: claims.sub ?? '',
      aud: service,
      exp: now + (claims.expiresInSeconds ?? lifetime),
      nbf: claims.notBefore ?? now - 1,
      iat: now,
      jti: randomUUID(),
      access: claims.access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(body))}`;
    // JOSE wants r||s, not DER
    const sig = createSign('SHA256').update(input).sign({ key: key.keyPem, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(sig)}`;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: TokenRequestRecord = { method: req.method ?? '', scopes: [], granted: [], status: 0, at: Date.now() };
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      requests.push(record);
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token') return reply(404, { errors: [{ code: 'NOT_FOUND' }] });

    let user: string | undefined;
    let refused = false;
    let offline = false;
    if (req.method === 'GET') {
      record.service = url.searchParams.get('service') ?? undefined;
      record.scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
      record.account = url.searchParams.get('account') ?? undefined;
      offline = url.searchParams.get('offline_token') === 'true';
      const creds = basicCredentials(req);
      if (creds) {
        if (users[creds.user] !== undefined && users[creds.user] === creds.password) user = creds.user;
        else refused = true;
      }
    } else if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      record.grantType = form.get('grant_type') ?? undefined;
      record.service = form.get('service') ?? undefined;
      record.scopes = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
      record.account = form.get('username') ?? undefined;
      offline = form.get('access_type') === 'offline';
      if (record.grantType === 'password') {
        const name = form.get('username') ?? '';
        if (users[name] !== undefined && users[name] === form.get('password')) user = name;
        else refused = true;
      } else if (record.grantType === 'refresh_token') {
        user = refreshTokens.get(form.get('refresh_token') ?? '');
        refused = user === undefined;
      } else {
        return reply(400, { error: 'unsupported_grant_type' });
      }
    } else {
      return reply(405, { error: 'method not allowed' }, { Allow: 'GET, POST' });
    }

    if (record.service !== undefined && record.service !== service) {
      return reply(400, { errors: [{ code: 'INVALID_SERVICE', message: `unknown service ${record.service}` }] });
    }
    if (refused || (user === undefined && !opts.anonymousPull)) {
      return reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, {
        'WWW-Authenticate': `Basic realm="nori-test-token-server"`,
      });
    }
    record.user = user;
    for (const s of record.scopes) {
      const requested = parseScope(s);
      if (!requested) continue;
      const actions = grant(user, requested).filter((a) => requested.actions.includes(a));
      if (actions.length > 0) record.granted.push({ ...requested, actions });
    }
    const token = sign({ sub: user, access: record.granted });
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: lifetime,
      issued_at: new Date().toISOString(),
    };
    if (offline && user !== undefined) {
      const refresh = randomBytes(24).toString('hex');
      refreshTokens.set(refresh, user);
      body.refresh_token = refresh;
    }
    return reply(200, body);
  };

  const server = await listenLoopbackHttp((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });

  return {
    realm: `http://${server.host}/token`,
    service,
    issuer,
    certPath: key.certPath,
    requests,
    sign,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
