// Start-up and shutdown. Order: config → dirs → store → metrics → socket (calls answer
// UNAVAILABLE) → recovery of each subsystem → the init gate opens. Shutdown stops accepting,
// lets in-flight calls finish for a bounded time, then closes the store; containers keep running.

import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config';
import { parseHostPort } from './config';
import { containerSubsystem } from './cri/container_subsystem';
import { Edge, InitGate } from './cri/edge';
import { armedFaultPoints, FAULT_ENV } from './fault';
import { quarantineBadRows } from './recovery/quarantine';
import { imageSubsystem } from './cri/image_subsystem';
import { observeSubsystem } from './cri/observe_subsystem';
import { runtimeSubsystem } from './cri/runtime_subsystem';
import { sandboxSubsystem } from './cri/sandbox_subsystem';
import { streamingSubsystem } from './cri/streaming_subsystem';
import { ImageServiceDefinition, RuntimeServiceDefinition } from './gen/api';
import type { GrpcServer } from './grpc/h2_server';
import type { Logger } from './log';
import { Metrics, serveMetrics } from './metrics';
import { bindUnix, createServer, prepareSocketPath, shutdownServer } from './server';
import { openDb, type Db } from './store/db';
import type { Subsystem, SubsystemContext } from './subsystem';
import { getSys, preloadAddon } from './sys';
import { mkdirp } from './util/fs';
import { idleTrimSubsystem, reclaimAfterBurst } from './memory_trim';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export class Daemon {
  private constructor(
    readonly config: Config,
    readonly log: Logger,
    private readonly db: Db,
    private readonly server: GrpcServer,
    private readonly listener: NetServer,
    private readonly metricsServer: HttpServer | undefined,
    readonly metricsPort: number | undefined,
    private readonly subsystems: Subsystem[],
  ) {}

  static async start(config: Config, log: Logger): Promise<Daemon> {
    // before any descriptor of the daemon's own: loading the addon opens libnftables' socket
    preloadAddon();
    const db = openDb(config.root);
    quarantineBadRows(db, config.root, log);
    mkdirp(config.state, 0o700);
    const metrics = new Metrics();
    const gate = new InitGate();
    const ctx: SubsystemContext = { config, db, log, metrics, sys: getSys() };
    // Each subsystem gets the context and the lookups of those it depends on.
    const sandboxes = sandboxSubsystem(ctx);
    const network = sandboxes.service.network;
    const subsystems: Subsystem[] = [runtimeSubsystem({ config, db, log, version: packageVersion(), networkStatus: () => network.status() })];
    const images = imageSubsystem(ctx);
    subsystems.push(images);
    subsystems.push(sandboxes);
    const containers = containerSubsystem(ctx, { images: images.lookup, sandboxes: sandboxes.lookup });
    subsystems.push(containers);
    subsystems.push(streamingSubsystem(ctx, { containers: containers.manager, sandboxes: sandboxes.lookup }));
    subsystems.push(observeSubsystem(ctx, { containers: containers.manager, sandboxes: sandboxes.service, images: images.service }));

    const edge = new Edge(log, metrics, gate);
    subsystems.push(idleTrimSubsystem(ctx.sys, log, () => edge.calls));

    let metricsServer: HttpServer | undefined;
    let metricsPort: number | undefined;
    const server = createServer(reclaimAfterBurst(ctx.sys, log));
    let listener: NetServer | undefined;
    try {
      const m = parseHostPort(config.metricsListen, 'metrics-listen');
      if (m) ({ server: metricsServer, port: metricsPort } = await serveMetrics(metrics, m.host, m.port));

      const handlers = Object.assign({}, ...subsystems.map((s) => s.handlers));
      server.addMethods(edge.implement(RuntimeServiceDefinition, handlers));
      server.addMethods(edge.implement(ImageServiceDefinition, handlers));
      const how = await prepareSocketPath(config.listen);
      if (how === 'replaced-stale') log.warn({ socket: config.listen }, 'replaced a stale socket left by an earlier run');
      listener = await bindUnix(server, config.listen, metrics);
    } catch (e) {
      server.forceShutdown();
      listener?.close();
      metricsServer?.close();
      db.close();
      throw e;
    }
    log.info({ socket: config.listen, metricsPort }, 'listening; recovering state');
    const faults = armedFaultPoints();
    if (faults.length) log.warn({ faultPoints: faults, env: FAULT_ENV }, 'fault injection armed: nori kills itself at these points (tests only)');

    for (const s of subsystems) {
      const started = Date.now();
      await s.recover?.();
      log.debug({ subsystem: s.name, ms: Date.now() - started }, 'recovered');
    }
    gate.markReady();
    log.info({ socket: config.listen }, 'nori ready');
    return new Daemon(config, log, db, server, listener!, metricsServer, metricsPort, subsystems);
  }

  async stop(): Promise<void> {
    for (const s of this.subsystems) s.drain?.();
    const how = await shutdownServer(this.server, this.listener, this.config.shutdownGraceSeconds * 1000);
    for (const s of [...this.subsystems].reverse()) {
      try {
        await s.close?.();
      } catch (e) {
        this.log.error({ subsystem: s.name, err: (e as Error).message }, 'close failed');
      }
    }
    await new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
    this.db.close();
    rmSync(this.config.listen, { force: true });
    this.log.info({ how }, 'nori stopped');
  }
}
