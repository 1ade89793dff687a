// containers-registries.conf v2: [[registry]] prefix/location/insecure/blocked with
// [[registry.mirror]] location/insecure, and unqualified-search-registries. Endpoint selection
// as containers/image does it: mirrors in order, then the registry itself; the repository path
// below the matched prefix is kept.

import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { FailedPreconditionError, InvalidArgumentError } from '../errors';
import type { ImageReference } from './reference';

export interface Mirror {
  location: string;
  insecure: boolean;
}

export interface RegistryEntry {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrors: Mirror[];
}

export interface RegistriesConf {
  registries: RegistryEntry[];
  unqualifiedSearchRegistries: string[];
}

export interface Endpoint {
  /** host[:port] to talk to (registry-1.docker.io for docker.io) */
  host: string;
  /** repository path on that host */
  repository: string;
  insecure: boolean;
  mirror: boolean;
}

export const EMPTY_REGISTRIES_CONF: RegistriesConf = { registries: [], unqualifiedSearchRegistries: [] };

function bool(v: unknown, where: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`${where} must be a boolean`);
  return v;
}

function str(v: unknown, where: string): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new InvalidArgumentError(`${where} must be a string`);
  return v;
}

export function parseRegistriesConf(text: string, source = 'registries.conf'): RegistriesConf {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidArgumentError(`${source}: ${(e as Error).message}`);
  }
  const regs = (doc.registry ?? []) as unknown[];
  if (!Array.isArray(regs)) throw new InvalidArgumentError(`${source}: registry must be an array of tables`);
  const registries: RegistryEntry[] = regs.map((r0, i) => {
    const r = r0 as Record<string, unknown>;
    const where = `${source}: registry[${i}]`;
    const location = str(r.location, `${where}.location`).replace(/\/+$/, '');
    const prefix = (str(r.prefix, `${where}.prefix`) || location).replace(/\/+$/, '');
    if (!prefix) throw new InvalidArgumentError(`${where} needs a prefix or a location`);
    const mirrors = ((r.mirror ?? []) as unknown[]).map((m0, j) => {
      const m = m0 as Record<string, unknown>;
      const loc = str(m.location, `${where}.mirror[${j}].location`).replace(/\/+$/, '');
      if (!loc) throw new InvalidArgumentError(`${where}.mirror[${j}] needs a location`);
      return { location: loc, insecure: bool(m.insecure, `${where}.mirror[${j}].insecure`) };
    });
    return {
      prefix,
      location: location || prefix,
      insecure: bool(r.insecure, `${where}.insecure`),
      blocked: bool(r.blocked, `${where}.blocked`),
      mirrors,
    };
  });
  const usr = doc['unqualified-search-registries'] ?? [];
  if (!Array.isArray(usr) || usr.some((s) => typeof s !== 'string')) {
    throw new InvalidArgumentError(`${source}: unqualified-search-registries must be an array of strings`);
  }
  return { registries, unqualifiedSearchRegistries: usr as string[] };
}

/** A missing file is an empty configuration; a broken one is an error. */
export function loadRegistriesConf(path: string): RegistriesConf {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_REGISTRIES_CONF;
    throw new FailedPreconditionError(`cannot read ${path}: ${(e as Error).message}`);
  }
  return parseRegistriesConf(text, path);
}

function prefixMatches(prefix: string, name: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = name.split('/')[0]!;
    return host.endsWith(prefix.slice(1));
  }
  return name === prefix || name.startsWith(`${prefix}/`) || name.startsWith(`${prefix}:`) || name.startsWith(`${prefix}@`);
}

export function findRegistry(conf: RegistriesConf, name: string): RegistryEntry | undefined {
  let best: RegistryEntry | undefined;
  for (const r of conf.registries) {
    if (!prefixMatches(r.prefix, name)) continue;
    if (!best || r.prefix.length > best.prefix.length) best = r;
  }
  return best;
}

function splitLocation(location: string, rest: string): { host: string; repository: string } {
  const full = `${location}${rest}`;
  const slash = full.indexOf('/');
  const host = slash === -1 ? full : full.slice(0, slash);
  const repository = slash === -1 ? '' : full.slice(slash + 1);
  return { host: host === 'docker.io' ? 'registry-1.docker.io' : host, repository };
}

/** Loopback registries may speak plain HTTP, as Docker allows by default (127.0.0.0/8). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '[::1]';
}

/** Where to pull `ref` from, in order. Throws FailedPrecondition for a blocked registry. */
export function endpointsFor(conf: RegistriesConf, ref: ImageReference): Endpoint[] {
  const name = `${ref.registry}/${ref.repository}`;
  const entry = findRegistry(conf, name);
  if (!entry) return [{ ...splitLocation(ref.registry, `/${ref.repository}`), insecure: isLoopbackHost(ref.registry), mirror: false }];
  if (entry.blocked) throw new FailedPreconditionError(`registry ${entry.prefix} is blocked in registries.conf`);
  const rest = entry.prefix.startsWith('*.') ? name.slice(name.indexOf('/')) : name.slice(entry.prefix.length);
  const out: Endpoint[] = entry.mirrors.map((m) => ({ ...splitLocation(m.location, rest), insecure: m.insecure, mirror: true }));
  const loc = entry.prefix.startsWith('*.') ? ref.registry : entry.location;
  out.push({ ...splitLocation(loc, rest), insecure: entry.insecure, mirror: false });
  return out;
}
