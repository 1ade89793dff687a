// System errors as Node's fs reports them: code, negative errno, syscall, path. The addon
// throws these; the fake builds the same with makeSysError so callers handle both alike.

import * as os from 'node:os';
import * as util from 'node:util';

export interface SysError extends Error {
  code: string;
  /** Negative, as in Node's fs errors (-2 for ENOENT). */
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
  /** For multi-step namespace work: which stage failed ('unshare', 'sysctl', 'pin', 'setns'…). */
  step?: string;
}

export function isSysError(e: unknown, code?: string): e is SysError {
  if (!(e instanceof Error)) return false;
  const err = e as Partial<SysError>;
  if (typeof err.code !== 'string' || typeof err.errno !== 'number' || typeof err.syscall !== 'string') return false;
  return code === undefined || err.code === code;
}

export interface SysErrorDetails {
  path?: string;
  dest?: string;
  step?: string;
}

/** An error identical in shape and message to what the addon throws for the same failure. */
export function makeSysError(code: string, syscall: string, details: SysErrorDetails = {}): SysError {
  const errnoValue = (os.constants.errno as Record<string, number>)[code];
  if (errnoValue === undefined) throw new TypeError(`unknown errno code ${code}`);
  const described = util.getSystemErrorMap().get(-errnoValue);
  let message = `${code}: ${described ? described[1] : 'unknown error'}, ${syscall}`;
  if (details.path) message += ` '${details.path}'`;
  if (details.dest) message += ` -> '${details.dest}'`;
  const err = new Error(message) as SysError;
  err.errno = -errnoValue;
  err.code = code;
  err.syscall = syscall;
  if (details.path) err.path = details.path;
  if (details.dest) err.dest = details.dest;
  if (details.step) err.step = details.step;
  return err;
}
