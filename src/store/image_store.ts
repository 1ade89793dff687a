// Image and layer records: images (id = sha256:<config digest>), their names (repo tags and
// repo digests), layers keyed by chain id, which layers each image uses, and which containers
// hold a writable layer over which image. Liveness is computed from these rows, not counters,
// so a crash can never leave a count wrong.

import type { Db, Migration } from './types';

export const IMAGES_MIGRATION: Migration = {
  version: 2,
  description: 'images, image names, layers, container layers',
  sql: `
    CREATE TABLE images (
      id              TEXT PRIMARY KEY,
      size            INTEGER NOT NULL,
      config          TEXT NOT NULL,
      manifest_digest TEXT NOT NULL,
      created_at      INTEGER NOT NULL,
      pinned          INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE image_names (
      name     TEXT PRIMARY KEY,
      kind     TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
      image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
    ) STRICT;
    CREATE INDEX image_names_by_image ON image_names(image_id);
    CREATE TABLE layers (
      chain_id TEXT PRIMARY KEY,
      diff_id  TEXT NOT NULL,
      parent   TEXT,
      link     TEXT NOT NULL,
      size     INTEGER NOT NULL,
      inodes   INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE image_layers (
      image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      idx      INTEGER NOT NULL,
      chain_id TEXT NOT NULL REFERENCES layers(chain_id),
      PRIMARY KEY (image_id, idx)
    ) STRICT;
    CREATE TABLE container_layers (
      container_id TEXT PRIMARY KEY,
      image_id     TEXT NOT NULL REFERENCES images(id)
    ) STRICT;
  `,
};

export interface ImageRow {
  id: string;
  size: number;
  config: string;
  manifestDigest: string;
  createdAt: number;
  pinned: boolean;
  repoTags: string[];
  repoDigests: string[];
  /** chain ids, bottom layer first */
  layers: string[];
}

export interface LayerRow {
  chainId: string;
  diffId: string;
  parent: string | null;
  link: string;
  size: number;
  inodes: number;
}

/**
 * Image rows are read on every ListContainers row, ContainerStatus and ImageStatus, and change
 * only when an image is recorded or removed. So rows and name lookups are kept in memory and the
 * whole cache is dropped on any write, by this store or by another ImageStore over the same
 * database (the write counter lives with the Db object).
 */
const writes = new WeakMap<Db, { n: number }>();

/**
 * The ids of container_layers, read once per database and then kept current by addContainer and
 * removeContainer (of any ImageStore over the same Db: the container manager makes its own).
 * The writable-layer loop (image/layer_usage.ts) walks every id on each of its turns, up to ten a
 * second: reading them from SQLite each time was a quarter of an idle daemon's CPU at 500
 * containers. Only this file writes the table, never inside a transaction that could roll back.
 */
const containerIdsOf = new WeakMap<Db, Set<string>>();

export class ImageStore {
  private readonly rows = new Map<string, ImageRow | null>();
  private readonly byNames = new Map<string, string | null>();
  private seen = -1;
  private readonly counter: { n: number };

  constructor(private readonly db: Db) {
    let c = writes.get(db);
    if (!c) writes.set(db, (c = { n: 0 }));
    this.counter = c;
  }

  /** Drops what this store remembers when anyone wrote images since. */
  private fresh(): void {
    if (this.seen === this.counter.n) return;
    this.rows.clear();
    this.byNames.clear();
    this.seen = this.counter.n;
  }

  private wrote(): void {
    this.counter.n++;
  }

  private names(id: string): { repoTags: string[]; repoDigests: string[] } {
    const rows = this.db.prepare('SELECT name, kind FROM image_names WHERE image_id = ? ORDER BY name').all(id) as Array<{ name: string; kind: string }>;
    return {
      repoTags: rows.filter((r) => r.kind === 'tag').map((r) => r.name),
      repoDigests: rows.filter((r) => r.kind === 'digest').map((r) => r.name),
    };
  }

  private row(r: { id: string; size: number; config: string; manifest_digest: string; created_at: number; pinned: number }): ImageRow {
    const layers = (this.db.prepare('SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx').all(r.id) as Array<{ chain_id: string }>).map(
      (l) => l.chain_id,
    );
    return { id: r.id, size: r.size, config: r.config, manifestDigest: r.manifest_digest, createdAt: r.created_at, pinned: !!r.pinned, ...this.names(r.id), layers };
  }

  get(id: string): ImageRow | undefined {
    this.fresh();
    const have = this.rows.get(id);
    if (have !== undefined) return have ?? undefined;
    const r = this.db.prepare('SELECT * FROM images WHERE id = ?').get(id) as Parameters<ImageStore['row']>[0] | undefined;
    const row = r ? this.row(r) : undefined;
    this.rows.set(id, row ?? null);
    return row;
  }

  byName(name: string): ImageRow | undefined {
    this.fresh();
    let id = this.byNames.get(name);
    if (id === undefined) {
      const r = this.db.prepare('SELECT image_id FROM image_names WHERE name = ?').get(name) as { image_id: string } | undefined;
      id = r?.image_id ?? null;
      this.byNames.set(name, id);
    }
    return id === null ? undefined : this.get(id);
  }

  /** Ids starting with `sha256:<prefix>`. */
  byIdPrefix(prefix: string): ImageRow[] {
    const rows = this.db.prepare("SELECT id FROM images WHERE substr(id, 1, ?) = ?").all(prefix.length, prefix) as Array<{ id: string }>;
    return rows.map((r) => this.get(r.id)!);
  }

  list(): ImageRow[] {
    return (this.db.prepare('SELECT * FROM images ORDER BY created_at, id').all() as Array<Parameters<ImageStore['row']>[0]>).map((r) => this.row(r));
  }

  layer(chainId: string): LayerRow | undefined {
    const r = this.db.prepare('SELECT * FROM layers WHERE chain_id = ?').get(chainId) as
      | { chain_id: string; diff_id: string; parent: string | null; link: string; size: number; inodes: number }
      | undefined;
    return r && { chainId: r.chain_id, diffId: r.diff_id, parent: r.parent, link: r.link, size: r.size, inodes: r.inodes };
  }

  allLayers(): LayerRow[] {
    return (this.db.prepare('SELECT chain_id FROM layers').all() as Array<{ chain_id: string }>).map((r) => this.layer(r.chain_id)!);
  }

  addLayer(l: LayerRow): void {
    this.db
      .prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, link, size, inodes) VALUES (?, ?, ?, ?, ?, ?)')
      .run(l.chainId, l.diffId, l.parent, l.link, l.size, l.inodes);
  }

  /** Records an image and moves its names onto it, in one transaction. */
  putImage(img: { id: string; size: number; config: string; manifestDigest: string; layers: string[]; repoTags: string[]; repoDigests: string[] }): void {
    try {
      this.putImageRows(img);
    } finally {
      this.wrote();
    }
  }

  private putImageRows(img: Parameters<ImageStore['putImage']>[0]): void {
    this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM images WHERE id = ?').get(img.id);
      if (!exists) {
        this.db
          .prepare('INSERT INTO images (id, size, config, manifest_digest, created_at) VALUES (?, ?, ?, ?, ?)')
          .run(img.id, img.size, img.config, img.manifestDigest, Date.now());
        const ins = this.db.prepare('INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)');
        img.layers.forEach((c, i) => ins.run(img.id, i, c));
      }
      const name = this.db.prepare(
        'INSERT INTO image_names (name, kind, image_id) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, image_id = excluded.image_id',
      );
      for (const t of img.repoTags) name.run(t, 'tag', img.id);
      for (const d of img.repoDigests) name.run(d, 'digest', img.id);
    })();
  }

  removeImage(id: string): boolean {
    try {
      return this.db.prepare('DELETE FROM images WHERE id = ?').run(id).changes > 0;
    } finally {
      this.wrote();
    }
  }

  /** Chain ids some image uses. */
  liveLayers(): Set<string> {
    return new Set((this.db.prepare('SELECT DISTINCT chain_id FROM image_layers').all() as Array<{ chain_id: string }>).map((r) => r.chain_id));
  }

  removeLayer(chainId: string): void {
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }

  containersUsing(imageId: string): string[] {
    return (this.db.prepare('SELECT container_id FROM container_layers WHERE image_id = ?').all(imageId) as Array<{ container_id: string }>).map(
      (r) => r.container_id,
    );
  }

  containerImage(containerId: string): string | undefined {
    const r = this.db.prepare('SELECT image_id FROM container_layers WHERE container_id = ?').get(containerId) as { image_id: string } | undefined;
    return r?.image_id;
  }

  /** Every container-layer id (a copy). */
  containers(): string[] {
    return [...this.containerIds()];
  }

  /** Every container-layer id, as a live view that the next add or remove changes (no copy). */
  containerIds(): ReadonlySet<string> {
    let ids = containerIdsOf.get(this.db);
    if (!ids) {
      const rows = this.db.prepare('SELECT container_id FROM container_layers').all() as Array<{ container_id: string }>;
      containerIdsOf.set(this.db, (ids = new Set(rows.map((r) => r.container_id))));
    }
    return ids;
  }

  /** The container-layer ids in [from, to): a range on the key instead of a scan of all of them. */
  containersBetween(from: string, to: string): string[] {
    const rows = this.db.prepare('SELECT container_id FROM container_layers WHERE container_id >= ? AND container_id < ?').all(from, to) as Array<{ container_id: string }>;
    return rows.map((r) => r.container_id);
  }

  addContainer(containerId: string, imageId: string): void {
    this.db.prepare('INSERT OR IGNORE INTO container_layers (container_id, image_id) VALUES (?, ?)').run(containerId, imageId);
    containerIdsOf.get(this.db)?.add(containerId);
  }

  removeContainer(containerId: string): void {
    this.db.prepare('DELETE FROM container_layers WHERE container_id = ?').run(containerId);
    containerIdsOf.get(this.db)?.delete(containerId);
  }
}
