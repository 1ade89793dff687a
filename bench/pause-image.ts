// Builds a one-layer OCI image holding a static pause binary (bench/pause/pause.c) and pushes it
// to the benchmark registry: containerd needs a real image as its sandbox_image.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { TestRegistry } from '../test/helpers/registry';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export const PAUSE_SOURCE = join(__dirname, '..', '..', 'bench', 'pause', 'pause.c');

/** Returns the pushed reference, e.g. 127.0.0.1:PORT/nori-bench/pause:1. */
export async function buildAndPushPause(reg: TestRegistry, workDir: string): Promise<string> {
  const dir = join(workDir, 'pause-build');
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  copyFileSync(PAUSE_SOURCE, join(dir, 'pause.c'));
  execFileSync('gcc', ['-static', '-Os', '-s', '-o', join(rootfs, 'pause'), join(dir, 'pause.c')], { stdio: 'pipe' });
  chmodSync(join(rootfs, 'pause'), 0o755);
  const tar = execFileSync('tar', ['--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', rootfs, '-cf', '-', 'pause'], {
    maxBuffer: 64 << 20,
  });
  const layer = gzipSync(tar);
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer | string) => {
    const d = sha(b);
    writeFileSync(join(blobs, d), b);
    return { digest: `sha256:${d}`, size: Buffer.byteLength(b) };
  };
  const layerDesc = put(layer);
  const config = JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    os: 'linux',
    config: { Entrypoint: ['/pause'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] },
    history: [{ created_by: 'nori bench pause' }],
  });
  const configDesc = put(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configDesc },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerDesc }],
  });
  const manifestDesc = put(manifest);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': '1' } },
      ],
    }),
  );
  await reg.push(`oci:${layout}:1`, 'nori-bench/pause:1');
  return reg.ref('nori-bench/pause:1');
}
