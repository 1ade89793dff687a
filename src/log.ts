// One pino logger for the daemon. `pretty` is a small built-in formatter for humans at a
// terminal; json is what log collectors read.

import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import type { LogFormat } from './config';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const { level, time, msg, pid: _pid, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${new Date(Number(time)).toISOString()} ${(LEVEL_NAMES[Number(level)] ?? level)} ${msg ?? ''}${extra ? ' ' + extra : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      done();
    },
  });
}

export function createLogger(level: string, format: LogFormat, out: NodeJS.WritableStream = process.stderr): Logger {
  const opts = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime };
  if (format === 'pretty') return pino(opts, prettyStream(out));
  return pino({ ...opts, timestamp: pino.stdTimeFunctions.isoTime }, out as pino.DestinationStream);
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
