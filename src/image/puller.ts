// PullImage's engine: resolve the reference through registries.conf endpoints, fetch and verify
// the manifest and config, then download the layers in parallel, each streamed through its
// digest and size check, decompression, the diff-id check and extraction into a temp dir that
// is renamed into place only when everything matched. A layer wanted by several pulls at once
// is fetched once.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { DeadlineExceededError, InternalError, InvalidArgumentError, errorMessage, isNoriError } from '../errors';
import type { Logger } from '../log';
import type { ImageStore } from '../store/image_store';
import type { Sys } from '../sys/types';
import { fromAuthFile, fromCriAuth, type CriAuth, type Credentials } from './credentials';
import { compressionOf } from './decompress';
import { InlineUnpacker } from './inline_unpack';
import type { LayerSink, LayerUnpacker, UnpackResult } from './layer_unpack';
import { chainIds, type LayerDirs } from './layer_store';
import { choosePlatform, INDEX_TYPES, parseImageManifest, type Descriptor } from './manifest';
import { formatReference, parseReference, repoName, tagged, type ImageReference } from './reference';
import { endpointsFor, type Endpoint, type RegistriesConf } from './registries_conf';
import { TransientError, type RegistryClient } from './registry_client';
import { faultPoint } from '../fault';

export interface PullMetrics {
  pullStarted(): void;
  pullFinished(registry: string, result: 'success' | 'failure', seconds: number): void;
  bytes(n: number): void;
  /** bytes done and expected of a running pull, by image name */
  progress(image: string, done: number, total: number): void;
  progressEnded(image: string): void;
}

export interface PullerDeps {
  dirs: LayerDirs;
  store: ImageStore;
  client: RegistryClient;
  registriesConf: () => RegistriesConf;
  authFile: string;
  sys: Sys;
  log: Logger;
  maxConcurrentDownloads: number;
  progressTimeoutMs: number;
  metrics: PullMetrics;
  /** where big layers are unpacked (worker threads); small ones, or all without it, inline */
  unpacker?: LayerUnpacker;
}

interface Progress {
  done: number;
  total: number;
}

const RETRIES = 3;
/** 0.5 s, 1 s, … with jitter, so pulls that failed together do not retry together */
const backoffMs = (attempt: number) => 250 * 2 ** attempt * (0.75 + Math.random() / 2);
/** compressed layers below this are unpacked on the event loop, not in a worker */
const INLINE_MAX_BYTES = 4 << 20;

function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export class Puller {
  private readonly layerJobs = new Map<string, Promise<void>>();
  /** chain id → pulls that are using it and have not recorded their image yet */
  readonly busyLayers = new Map<string, number>();
  private readonly inline: LayerUnpacker;

  constructor(private readonly d: PullerDeps) {
    this.inline = new InlineUnpacker(d.sys);
  }

  async pull(refText: string, auth: CriAuth | undefined, signal: AbortSignal, log: Logger): Promise<string> {
    const ref = parseReference(refText);
    const started = Date.now();
    this.d.metrics.pullStarted();
    let result: 'success' | 'failure' = 'failure';
    try {
      const id = await this.pullRef(ref, auth, signal, log);
      result = 'success';
      log.info({ image: formatReference(ref), id, ms: Date.now() - started }, 'image pulled');
      return id;
    } finally {
      this.d.metrics.pullFinished(ref.registry, result, (Date.now() - started) / 1000);
    }
  }

  private creds(auth: CriAuth | undefined, ep: Endpoint): Credentials | undefined {
    return fromCriAuth(auth) ?? fromAuthFile(this.d.authFile, ep.host, ep.repository);
  }

  private async pullRef(ref: ImageReference, auth: CriAuth | undefined, signal: AbortSignal, log: Logger): Promise<string> {
    const endpoints = endpointsFor(this.d.registriesConf(), ref);
    let lastErr: unknown;
    for (const ep of endpoints) {
      try {
        return await this.pullFrom(ep, ref, this.creds(auth, ep), signal, log);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        lastErr = e;
        log.debug({ endpoint: ep.host, mirror: ep.mirror, err: errorMessage(e) }, 'pull from endpoint failed');
        // corrupt content is not a reason to try the next mirror's copy of the same digest
        if (isNoriError(e) && (e.kind === 'Internal' || e.kind === 'InvalidArgument')) throw e;
      }
    }
    if (isNoriError(lastErr)) throw lastErr;
    throw new InternalError(`pulling ${formatReference(ref)}: ${errorMessage(lastErr)}`);
  }

  private async pullFrom(ep: Endpoint, ref: ImageReference, creds: Credentials | undefined, signal: AbortSignal, log: Logger): Promise<string> {
    const c = this.d.client;
    const top = await this.retrying(`manifest ${ref.digest ?? ref.tag}`, signal, () => c.manifest(ep, ref.digest ?? ref.tag!, creds, signal));
    let m = top;
    if (INDEX_TYPES.has(top.mediaType)) {
      const chosen = choosePlatform(JSON.parse(top.body.toString('utf8')) as { manifests?: Descriptor[] });
      m = await this.retrying(`manifest ${chosen.digest}`, signal, () => c.manifest(ep, chosen.digest, creds, signal, Number.isSafeInteger(chosen.size) ? chosen.size : undefined));
    }
    const manifest = parseImageManifest(m.body, m.mediaType);
    const configBytes = await this.retrying(`config ${manifest.config.digest}`, signal, () => this.smallBlob(ep, manifest.config, creds, signal));
    const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw new InvalidArgumentError(`image config lists ${diffIds.length} diff ids for ${manifest.layers.length} layers`);
    }
    const chain = chainIds(diffIds);
    const id = manifest.config.digest;
    for (const cid of chain) this.busyLayers.set(cid, (this.busyLayers.get(cid) ?? 0) + 1);
    try {
      const progress: Progress = { done: 0, total: manifest.layers.reduce((a, l) => a + l.size, 0) };
      const name = formatReference(ref);
      const report = () => {
        log.debug({ image: name, bytesDone: progress.done, bytesTotal: progress.total }, 'pull progress');
        this.d.metrics.progress(name, progress.done, progress.total);
      };
      report();
      const timer = setInterval(report, 1000);
      try {
        let next = 0;
        let failed = false;
        const worker = async () => {
          while (next < manifest.layers.length && !failed) {
            const i = next++;
            try {
              await this.ensureLayer(ep, creds, manifest.layers[i]!, diffIds[i]!, chain.slice(0, i + 1), progress, signal);
            } catch (e) {
              failed = true;
              throw e;
            }
          }
        };
        const n = Math.max(1, Math.min(this.d.maxConcurrentDownloads || 1, manifest.layers.length));
        // wait for every worker, so a failed pull has nothing still writing when it returns
        const settled = await Promise.allSettled(Array.from({ length: n }, worker));
        const bad = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (bad) throw bad.reason;
      } finally {
        clearInterval(timer);
        this.d.metrics.progressEnded(name);
      }
      log.debug({ image: name, bytesDone: progress.done, bytesTotal: progress.total }, 'pull progress');
      faultPoint('pull.after-layers');
      this.d.store.putImage({
        id,
        size: manifest.layers.reduce((a, l) => a + l.size, 0),
        config: configBytes.toString('utf8'),
        manifestDigest: m.digest,
        layers: chain,
        repoTags: tagged(ref) ? [tagged(ref)!] : [],
        repoDigests: [`${repoName(ref)}@${top.digest}`],
      });
      return id;
    } finally {
      for (const cid of chain) {
        const n = (this.busyLayers.get(cid) ?? 1) - 1;
        if (n <= 0) this.busyLayers.delete(cid);
        else this.busyLayers.set(cid, n);
      }
    }
  }

  private async smallBlob(ep: Endpoint, desc: Descriptor, creds: Credentials | undefined, signal: AbortSignal): Promise<Buffer> {
    // size and digest checked as the bytes arrive: a wrong or endless config stops at its size
    return this.d.client.config(ep, desc, creds, signal);
  }

  private ensureLayer(
    ep: Endpoint,
    creds: Credentials | undefined,
    desc: Descriptor,
    diffId: string,
    chain: string[],
    progress: Progress,
    signal: AbortSignal,
  ): Promise<void> {
    const chainId = chain[chain.length - 1]!;
    if (this.d.store.layer(chainId) && this.d.dirs.exists(chainId)) {
      progress.done += desc.size;
      return Promise.resolve();
    }
    let job = this.layerJobs.get(chainId);
    if (!job) {
      // not tied to one caller's signal: another pull may be waiting for the same layer
      job = this.downloadWithRetry(ep, creds, desc, diffId, chain, progress).finally(() => this.layerJobs.delete(chainId));
      this.layerJobs.set(chainId, job);
    } else {
      progress.done += desc.size;
    }
    return raceSignal(job, signal);
  }

  /** Runs fn again after a transient failure (connection, HTTP 5xx/429), with backoff. */
  private async retrying<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (signal.aborted || !(e instanceof TransientError) || attempt >= RETRIES) throw e;
        this.d.log.warn({ what, attempt, err: errorMessage(e) }, 'registry request failed; retrying');
        await raceSignal(new Promise((r) => setTimeout(r, backoffMs(attempt))), signal);
      }
    }
  }

  private async downloadWithRetry(ep: Endpoint, creds: Credentials | undefined, desc: Descriptor, diffId: string, chain: string[], progress: Progress): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const before = progress.done;
      try {
        return await this.download(ep, creds, desc, diffId, chain, progress);
      } catch (e) {
        progress.done = before;
        const transient = e instanceof TransientError || (!isNoriError(e) && /ECONNRESET|terminated|socket|premature|aborted/i.test(errorMessage(e)));
        if (!transient || attempt >= RETRIES) throw e;
        this.d.log.warn({ layer: desc.digest, attempt, err: errorMessage(e) }, 'layer download failed; retrying');
        await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
  }

  private async download(ep: Endpoint, creds: Credentials | undefined, desc: Descriptor, diffId: string, chain: string[], progress: Progress): Promise<void> {
    const chainId = chain[chain.length - 1]!;
    const ctl = new AbortController();
    let stall: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(stall);
      stall = setTimeout(
        () => ctl.abort(new DeadlineExceededError(`layer ${desc.digest}: no progress for ${this.d.progressTimeoutMs / 1000} s`)),
        this.d.progressTimeoutMs,
      );
    };
    const temp = this.d.dirs.newTemp();
    let sink: LayerSink | undefined;
    let got = 0;
    try {
      arm();
      const res = await this.d.client.blob(ep, desc.digest, creds, ctl.signal);
      if (!res.body) throw new TransientError(`blob ${desc.digest}: empty response`);
      // small layers are cheaper to unpack here than to hand to a worker thread
      const unpacker = desc.size < INLINE_MAX_BYTES ? this.inline : this.d.unpacker ?? this.inline;
      sink = unpacker.start(join(temp, 'diff'), compressionOf(desc.mediaType), ctl.signal, arm);
      let result: UnpackResult;
      try {
        const body = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
        for (;;) {
          let next: IteratorResult<Uint8Array>;
          try {
            next = await body.next();
          } catch (e) {
            if (ctl.signal.aborted) throw ctl.signal.reason;
            // the connection failed mid-blob: worth another try
            throw new TransientError(`blob ${desc.digest}: ${errorMessage(e)} after ${got} of ${desc.size} bytes`);
          }
          if (next.done) break;
          const chunk = next.value;
          got += chunk.length;
          if (got > desc.size) throw new InternalError(`blob ${desc.digest} is longer than the ${desc.size} bytes the manifest says`);
          progress.done += chunk.length;
          this.d.metrics.bytes(chunk.length);
          arm();
          const wait = sink.write(chunk);
          if (wait) await wait;
        }
        result = await raceSignal(sink.end(), ctl.signal);
        sink = undefined;
      } catch (e) {
        if (ctl.signal.aborted) throw ctl.signal.reason;
        if (got !== desc.size && !isNoriError(e)) throw new InternalError(`blob ${desc.digest}: ${errorMessage(e)} after ${got} of ${desc.size} bytes`);
        throw e;
      }
      if (got !== desc.size || result.size !== got || result.digest !== desc.digest) {
        throw new InternalError(`blob ${desc.digest} failed verification: got ${got} bytes with digest ${result.digest}`);
      }
      if (result.diffId !== diffId) throw new InternalError(`layer ${desc.digest} unpacks to ${result.diffId}, the config says ${diffId}`);
      this.d.dirs.commit(temp, chainId, chain.slice(0, -1));
      faultPoint('pull.after-layer-commit');
      this.d.store.addLayer({ chainId, diffId, parent: chain.length > 1 ? chain[chain.length - 2]! : null, link: this.d.dirs.link(chainId), size: result.stats.bytes, inodes: result.stats.inodes });
    } catch (e) {
      if (isNoriError(e) || e instanceof Error) throw e;
      throw new InternalError(errorMessage(e));
    } finally {
      clearTimeout(stall);
      ctl.abort(); // ends the response body if we stopped reading it early
      // nothing may still be writing into temp when it is removed
      if (sink) await sink.abort();
      fs.rmSync(temp, { recursive: true, force: true });
    }
  }
}
