// Entry point: `nori [flags]` serves; `nori config [flags]` prints the effective configuration;
// `nori doctor` checks the host (src/doctor/); `nori inspect POD|CONTAINER` draws the kernel's
// view of one (src/inspect/).

import { takeSubcommandFlags } from './cli/subcommand_flags';
import { loadConfig, usage } from './config';
import { configToToml } from './config_print';
import { Daemon, packageVersion } from './daemon';
import { errorMessage } from './errors';
import { createLogger } from './log';
import { SystemdNotifier } from './sd_notify';

/** The doctor is loaded only when asked for: every module the daemon loads delays its first answer after a restart. */
async function runDoctor(...args: Parameters<typeof import('./doctor').runDoctor>): Promise<number> {
  return (await import('./doctor')).runDoctor(...args);
}

/** The same for inspect, which also brings @grpc/grpc-js (≈ 70 ms to load) for its client. */
async function runInspect(...args: Parameters<typeof import('./inspect/cli').runInspect>): Promise<number> {
  return (await import('./inspect/cli')).runInspect(...args);
}

async function main(rawArgv: string[]): Promise<number> {
  const { argv, own } = takeSubcommandFlags(rawArgv);
  let loaded;
  try {
    loaded = loadConfig(argv);
  } catch (e) {
    // The doctor reports a configuration that does not load as its one FAIL.
    if (argv.includes('doctor')) return runDoctor(e instanceof Error ? e : new Error(String(e)), { json: own.has('json'), online: own.has('online') });
    process.stderr.write(`nori: ${errorMessage(e)}\n`);
    return 2;
  }
  const { config, positional, flags } = loaded;
  if (flags.has('help')) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (flags.has('version')) {
    process.stdout.write(`nori ${packageVersion()}\n`);
    return 0;
  }
  if (positional[0] === 'config') {
    process.stdout.write(configToToml(config));
    return 0;
  }
  if (positional[0] === 'doctor' && positional.length === 1) {
    return runDoctor(config, { json: own.has('json'), online: own.has('online') });
  }
  if (positional[0] === 'inspect') return runInspect(config, positional.slice(1), own.has('json'));
  if (positional.length > 0) {
    process.stderr.write(`nori: unknown command "${positional[0]}"\n${usage()}\n`);
    return 2;
  }

  const log = createLogger(config.logLevel, config.logFormat);
  const systemd = SystemdNotifier.fromEnv();
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(config, log);
  } catch (e) {
    log.fatal({ err: errorMessage(e) }, 'nori failed to start');
    return 1;
  }
  notifyQuietly(log, () => systemd.ready(`serving CRI on ${config.listen}`));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'shutting down');
      notifyQuietly(log, () => systemd.stopping());
      daemon.stop().then(
        () => resolve(0),
        (e) => {
          log.error({ err: errorMessage(e) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** A lost notification is logged, never fatal: systemd's start timeout reports it too. */
function notifyQuietly(log: ReturnType<typeof createLogger>, send: () => void): void {
  try {
    send();
  } catch (e) {
    log.error({ err: errorMessage(e) }, 'sd_notify failed');
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Leave time for pino to flush, then exit even if a stray handle (a watcher) is still open.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (e) => {
    process.stderr.write(`nori: ${errorMessage(e)}\n`);
    process.exit(1);
  },
);
