// Image fixtures for tests: OCI image layouts built by hack/build-test-images.sh (Debian's
// busybox, reproducible layers) into $NORI_TEST_IMAGES (default /var/cache/nori-test-images),
// and the catalog (fixtures.json) of what each one holds. The script is idempotent, so
// loadFixtures() runs it every time and it returns at once when its stamp is current.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Every manifest type the fixtures use, for an Accept header. */
export const ACCEPT_ALL_MANIFESTS = [
  MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest,
].join(', ');

// ---------------------------------------------------------------------------------------------
// The fixture catalog (small/fixtures.json, big/fixtures.json of the build script)
// ---------------------------------------------------------------------------------------------

export type FixtureName =
  | 'busybox' | 'web' | 'layers' | 'user-uid' | 'user-name' | 'user-uid-gid' | 'user-name-gid'
  | 'multiarch' | 'docker-v2s2' | 'docker-list' | 'zstd' | 'uncompressed' | 'big';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface FixtureLayer {
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
}

export interface Fixture {
  name: FixtureName;
  /** repository path without host, e.g. nori-test/busybox */
  repository: string;
  tag: string;
  /** absolute path of the layout: an OCI image layout (transport oci, ref = tag) or a skopeo
   *  dir: copy (transport dir; the Docker fixtures, which skopeo's oci: transport cannot hold) */
  layout: string;
  transport: 'oci' | 'dir';
  /** what the registry serves for repository:tag */
  mediaType: string;
  digest: string;
  size: number;
  /** the image this machine's platform resolves to (the top manifest unless it is a list) */
  manifestDigest: string;
  manifestMediaType: string;
  /** config digest = the CRI image id */
  imageId: string;
  configMediaType: string;
  platform: Platform;
  /** the image config's "config" member: User, Cmd, Env, ExposedPorts, Labels, ... */
  config: { User?: string; Cmd?: string[]; Env?: string[]; ExposedPorts?: Record<string, object>; Labels?: Record<string, string> };
  layers: FixtureLayer[];
  /** sum of the (compressed) layer sizes */
  layersSize: number;
  /** index and manifest list entries, in their order */
  platforms?: Array<Platform & { digest: string; mediaType: string; imageId: string }>;
}

/** One entry of hack/images/layer-tree.py's output. mode: permission bits including
 *  setuid/setgid/sticky; hard links appear as files sharing a hardlinkGroup (the group's first
 *  path); overlayDiff whiteouts are {type: 'char', devmajor: 0, devminor: 0, whiteout: true}. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  size?: number;
  sha256?: string;
  content?: string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
  hardlinkGroup?: string;
  whiteout?: true;
  opaque?: true;
}

export interface LayersExpected {
  layers: Array<{ mediaType: string; digest: string; size: number; diffId: string; entries: TreeEntry[]; overlayDiff: TreeEntry[] }>;
  merged: TreeEntry[];
}

export interface FixtureCatalog {
  dir: string;
  fixtures: Partial<Record<FixtureName, Fixture>>;
  get(name: FixtureName): Fixture;
  /** the "layers" fixture's expected content, layer by layer and merged */
  layersExpected(): LayersExpected;
}

export function testImagesDir(): string {
  return process.env.NORI_TEST_IMAGES ?? '/var/cache/nori-test-images';
}

function repoRoot(): string {
  let d = __dirname;
  while (!existsSync(join(d, 'hack', 'build-test-images.sh'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`hack/build-test-images.sh not found above ${__dirname}`);
    d = up;
  }
  return d;
}

const built = new Set<string>();

/** Runs hack/build-test-images.sh (once per process and set): a no-op when current, ~20 s
 *  for the small set on a fresh machine, ~40 s more for the big image. */
export function ensureTestImages(opts: { big?: boolean; dir?: string } = {}): string {
  const dir = opts.dir ?? testImagesDir();
  const key = `${dir}|${opts.big ? 'big' : 'small'}`;
  if (built.has(key)) return dir;
  const script = join(repoRoot(), 'hack', 'build-test-images.sh');
  const r = spawnSync('bash', [script, ...(opts.big ? ['--big'] : []), dir], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status !== 0) {
    throw new Error(`${script} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  }
  built.add(key);
  return dir;
}

export function loadFixtures(opts: { big?: boolean; dir?: string } = {}): FixtureCatalog {
  const dir = ensureTestImages(opts);
  const fixtures: Partial<Record<FixtureName, Fixture>> = {};
  for (const set of opts.big ? ['small', 'big'] : ['small']) {
    const list = JSON.parse(readFileSync(join(dir, set, 'fixtures.json'), 'utf8')) as Fixture[];
    for (const f of list) fixtures[f.name] = { ...f, layout: join(dir, set, f.layout) };
  }
  let expected: LayersExpected | undefined;
  return {
    dir,
    fixtures,
    get(name) {
      const f = fixtures[name];
      if (!f) throw new Error(`no fixture ${name} in ${dir}${name === 'big' ? ' (load with { big: true })' : ''}`);
      return f;
    },
    layersExpected() {
      expected ??= JSON.parse(readFileSync(join(dir, 'small', 'layers-expected.json'), 'utf8')) as LayersExpected;
      return expected;
    },
  };
}
