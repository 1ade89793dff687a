// Manifest shapes and platform choice for OCI indexes and Docker manifest lists.

import { InvalidArgumentError, NotFoundError } from '../errors';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ImageManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
export const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);

const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  const architecture = GOARCH[process.arch] ?? process.arch;
  return { os: 'linux', architecture, ...(architecture === 'arm64' ? { variant: 'v8' } : {}) };
}

/** Picks this machine's manifest from an index: exact variant first, then one without a variant. */
export function choosePlatform(index: { manifests?: Descriptor[] }, want = hostPlatform()): Descriptor {
  const cands = (index.manifests ?? []).filter((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture);
  const exact = cands.find((m) => (m.platform?.variant ?? '') === (want.variant ?? ''));
  const loose = cands.find((m) => !m.platform?.variant || (want.architecture === 'arm64' && m.platform.variant === 'v8'));
  const pick = exact ?? loose ?? (want.architecture === 'amd64' ? cands[0] : undefined);
  if (!pick) throw new NotFoundError(`no image for ${want.os}/${want.architecture}${want.variant ? `/${want.variant}` : ''} in the index`);
  return pick;
}

export function parseImageManifest(body: Buffer, mediaType: string): ImageManifest {
  if (!MANIFEST_TYPES.has(mediaType)) throw new InvalidArgumentError(`unsupported manifest type "${mediaType}"`);
  const m = JSON.parse(body.toString('utf8')) as ImageManifest;
  const ok = (d: Descriptor | undefined) => d && typeof d.digest === 'string' && /^sha256:[a-f0-9]{64}$/.test(d.digest) && Number.isSafeInteger(d.size) && d.size >= 0;
  if (!ok(m.config) || !Array.isArray(m.layers) || !m.layers.every(ok)) throw new InvalidArgumentError('malformed image manifest');
  return m;
}
