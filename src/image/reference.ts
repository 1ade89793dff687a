// Image references normalized the way Docker and containerd do: `busybox` →
// `docker.io/library/busybox:latest`; a first component with a dot, a colon or `localhost` is a
// registry host; `name:tag`, `name@sha256:…` and `name:tag@sha256:…` are all accepted.

import { InvalidArgumentError } from '../errors';

export const DEFAULT_REGISTRY = 'docker.io';

export interface ImageReference {
  /** registry host[:port], e.g. docker.io, 127.0.0.1:5000 */
  registry: string;
  /** repository path, e.g. library/busybox */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;

export function isDigest(s: string): boolean {
  return SHA256.test(s);
}

/** Parses and normalizes; throws InvalidArgumentError for anything Docker would reject. */
export function parseReference(input: string): ImageReference {
  const bad = (why: string) => new InvalidArgumentError(`invalid image reference "${input}": ${why}`);
  if (!input || input.length > 4096) throw bad('empty or too long');
  if (/\s/.test(input)) throw bad('contains whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('malformed digest');
    if (digest.startsWith('sha256:') && !SHA256.test(digest)) throw bad('sha256 digest must be 64 lowercase hex characters');
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad('malformed tag');
  }
  if (!rest) throw bad('empty name');
  let registry = DEFAULT_REGISTRY;
  let path = rest;
  const first = rest.indexOf('/');
  if (first !== -1) {
    const head = rest.slice(0, first);
    if (head.includes('.') || head.includes(':') || head === 'localhost' || head !== head.toLowerCase()) {
      if (!HOST.test(head)) throw bad(`malformed registry host "${head}"`);
      registry = head;
      path = rest.slice(first + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  const parts = path.split('/');
  for (const p of parts) if (!COMPONENT.test(p)) throw bad(`invalid repository component "${p}"`);
  if (registry === DEFAULT_REGISTRY && parts.length === 1) path = `library/${path}`;
  if (registry.length + path.length + 1 > 255) throw bad('name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

export function repoName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

/** `registry/repo:tag` (no digest), or undefined for digest-only references. */
export function tagged(r: ImageReference): string | undefined {
  return r.tag ? `${repoName(r)}:${r.tag}` : undefined;
}

/** The full normalized form. */
export function formatReference(r: ImageReference): string {
  return `${repoName(r)}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
