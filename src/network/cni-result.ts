// Plugin results: parsed from any spec version into one shape, and converted between versions
// the way libcni's types/{020,040,100} converters do, because DEL and CHECK hand the cached
// result back to plugins as prevResult in the config's version.
//
// Formats: 0.1.0/0.2.0 have ip4/ip6 objects; 0.3.x/0.4.0 have interfaces/ips/routes/dns with a
// per-IP "version"; 1.0.0/1.1.0 drop that "version" (and 1.1.0 adds interface fields).

import { isIP } from 'node:net';
import { errorMessage } from '../errors';
import { CniConfigError } from './cni-errors';
import type { CniDns, CniIPConfig, CniInterface, CniResult, CniRoute } from './cni-types';
import { KNOWN_RESULT_VERSIONS, compareCniVersions, isValidCniVersion } from './cni-version';

type Json = Record<string, unknown>;
type Family = '02' | '04' | '1x';

/**
 * Parses a plugin's stdout. A result without cniVersion takes the config's version (libcni's
 * fixupResultVersion, for plugins that predate the field); an unknown version is an error.
 */
export function parseCniResult(stdout: Buffer | string | Json, configVersion: string): CniResult {
  let raw: Json;
  if (Buffer.isBuffer(stdout) || typeof stdout === 'string') {
    let value: unknown;
    try {
      value = JSON.parse(stdout.toString());
    } catch (e) {
      throw new CniConfigError(`failed to unmarshal raw result: ${errorMessage(e)}`);
    }
    // libcni: a plugin printing "null" is an empty result, not a crash.
    if (value === null) value = {};
    if (typeof value !== 'object' || Array.isArray(value)) throw new CniConfigError('failed to unmarshal raw result: not a JSON object');
    raw = value as Json;
  } else {
    raw = stdout;
  }
  let version = raw['cniVersion'];
  if (typeof version !== 'string' || version === '') {
    version = configVersion === '' ? '0.1.0' : configVersion;
    raw = { ...raw, cniVersion: version };
  }
  const v = version as string;
  if (!KNOWN_RESULT_VERSIONS.includes(v) && !(isValidCniVersion(v) && compareCniVersions(v, '1.0.0') >= 0)) {
    throw new CniConfigError(`unsupported CNI result version "${v}"`);
  }
  return familyOf(v) === '02' ? parse02(raw, v) : parse04or1x(raw, v);
}

/**
 * The result as the given spec version would print it (libcni Result.GetAsVersion). Within one
 * family the plugin's JSON is kept, unknown keys included; across families it is rebuilt.
 */
export function convertCniResult(result: CniResult, toVersion: string): CniResult {
  const from = familyOf(result.cniVersion);
  const to = familyOf(toVersion);
  if (from === to) return { ...result, cniVersion: toVersion, raw: { ...result.raw, cniVersion: toVersion } };
  const raw = to === '02' ? to02(result, toVersion) : to === '04' ? to04(result, toVersion) : to1x(result, toVersion);
  return parseCniResult(raw, toVersion);
}

export function ipOfCidr(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

function familyOf(version: string): Family {
  if (version === '' || compareCniVersions(version, '0.3.0') < 0) return '02';
  if (compareCniVersions(version, '1.0.0') < 0) return '04';
  return '1x';
}

function parse02(raw: Json, version: string): CniResult {
  const ips: CniIPConfig[] = [];
  const routes: CniRoute[] = [];
  for (const key of ['ip4', 'ip6']) {
    const block = raw[key];
    if (block === undefined || block === null) continue;
    const b = asObject(block, key);
    ips.push(ipConfig({ address: b['ip'], gateway: b['gateway'] }, `${key}.ip`));
    for (const r of asArray(b['routes'], `${key}.routes`)) routes.push(route(r));
  }
  return { cniVersion: version, interfaces: [], ips, routes, dns: dns(raw['dns']), raw };
}

function parse04or1x(raw: Json, version: string): CniResult {
  const interfaces = asArray(raw['interfaces'], 'interfaces').map((i, n) => iface(i, n));
  const ips = asArray(raw['ips'], 'ips').map((ip, n) => ipConfig(asObject(ip, `ips[${n}]`), `ips[${n}].address`));
  const routes = asArray(raw['routes'], 'routes').map(route);
  return { cniVersion: version, interfaces, ips, routes, dns: dns(raw['dns']), raw };
}

function iface(value: unknown, n: number): CniInterface {
  const o = asObject(value, `interfaces[${n}]`);
  const out: CniInterface = { name: typeof o['name'] === 'string' ? o['name'] : '' };
  for (const k of ['mac', 'sandbox', 'socketPath', 'pciID'] as const) {
    if (typeof o[k] === 'string' && o[k] !== '') out[k] = o[k] as string;
  }
  if (typeof o['mtu'] === 'number' && o['mtu'] !== 0) out.mtu = o['mtu'];
  return out;
}

function ipConfig(o: Json, what: string): CniIPConfig {
  const address = o['address'];
  if (typeof address !== 'string' || !isCidr(address)) throw new CniConfigError(`invalid result: ${what} is not a CIDR: ${JSON.stringify(address)}`);
  const out: CniIPConfig = { address };
  if (typeof o['gateway'] === 'string' && o['gateway'] !== '') out.gateway = o['gateway'];
  if (typeof o['interface'] === 'number') out.interface = o['interface'];
  return out;
}

function route(value: unknown): CniRoute {
  const o = asObject(value, 'route');
  if (typeof o['dst'] !== 'string') throw new CniConfigError('invalid result: route without dst');
  return { ...o, dst: o['dst'] } as CniRoute;
}

function dns(value: unknown): CniDns {
  if (value === undefined || value === null || typeof value !== 'object') return {};
  const o = value as Json;
  const out: CniDns = {};
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : undefined);
  const ns = strings(o['nameservers']);
  const search = strings(o['search']);
  const options = strings(o['options']);
  if (ns && ns.length) out.nameservers = ns;
  if (typeof o['domain'] === 'string' && o['domain'] !== '') out.domain = o['domain'];
  if (search && search.length) out.search = search;
  if (options && options.length) out.options = options;
  return out;
}

function dnsJson(d: CniDns): Json | undefined {
  return Object.keys(d).length === 0 ? undefined : { ...d };
}

function to1x(r: CniResult, version: string): Json {
  return dropUndefined({
    cniVersion: version,
    interfaces: r.interfaces.map((i) => ({ ...i })),
    ips: r.ips.map((ip) => ({ ...ip })),
    routes: r.routes.map((x) => ({ ...x })),
    dns: dnsJson(r.dns),
  });
}

function to04(r: CniResult, version: string): Json {
  return dropUndefined({
    cniVersion: version,
    interfaces: r.interfaces.map((i) => dropUndefined({ name: i.name, mac: i.mac, sandbox: i.sandbox })),
    ips: r.ips.map((ip) => dropUndefined({ version: isIP(ipOfCidr(ip.address)) === 6 ? '6' : '4', ...ip })),
    routes: r.routes.map((x) => ({ ...x })),
    dns: dnsJson(r.dns) ?? {},
  });
}

// libcni 040 -> 020: the first IPv4 and first IPv6 become ip4/ip6, routes go by address family.
function to02(r: CniResult, version: string): Json {
  const out: Json = { cniVersion: version, dns: dnsJson(r.dns) ?? {} };
  for (const [key, fam] of [['ip4', 4], ['ip6', 6]] as const) {
    const ip = r.ips.find((i) => isIP(ipOfCidr(i.address)) === fam);
    if (!ip) continue;
    const routes = r.routes.filter((x) => isIP(ipOfCidr(x.dst)) === fam);
    out[key] = dropUndefined({ ip: ip.address, gateway: ip.gateway, routes: routes.length ? routes : undefined });
  }
  return out;
}

function isCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return false;
  const fam = isIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (fam === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (fam === 4 ? 32 : 128);
}

function asObject(value: unknown, what: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CniConfigError(`invalid result: ${what} is not an object`);
  return value as Json;
}

function asArray(value: unknown, what: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new CniConfigError(`invalid result: ${what} is not an array`);
  return value;
}

function dropUndefined(o: Json): Json {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
