// Typed CNI failures. Each carries the network and plugin it came from so a sandbox can report
// "plugin type=bridge failed (add): ..." the way containerd and CRI-O do, and rollback code can
// tell a timeout from a plugin that answered with an error.

import {
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
} from '../errors';
import type { CniCommand } from './cni-types';

/** A plugin ran and failed: non-zero exit, with the CNI error JSON from stdout when it gave one. */
export class CniPluginError extends InternalError {
  constructor(
    readonly network: string,
    readonly plugin: string,
    readonly command: CniCommand,
    /** The CNI error code (e.g. 7 invalid config, 11 try again later); undefined when none was printed. */
    readonly code: number | undefined,
    readonly msg: string,
    readonly details: string,
    readonly stderr: string,
  ) {
    super(`${describe(network, plugin, command)}: ${msg}${details ? `; ${details}` : ''}`);
  }
}

/** A plugin did not finish within the per-exec timeout; it and its children were killed. */
export class CniPluginTimeoutError extends DeadlineExceededError {
  constructor(
    readonly network: string,
    readonly plugin: string,
    readonly command: CniCommand,
    readonly timeoutMs: number,
  ) {
    super(`${describe(network, plugin, command)}: timed out after ${timeoutMs}ms (killed)`);
  }
}

/** The plugin binary named by `type` is in none of the bin dirs. */
export class CniPluginNotFoundError extends FailedPreconditionError {
  constructor(
    readonly plugin: string,
    readonly binDirs: readonly string[],
  ) {
    super(`failed to find CNI plugin "${plugin}" in path [${binDirs.join(' ')}]`);
  }
}

/** No valid network config in the conf dir (NetworkReady is false for the same reason). */
export class CniNotReadyError extends FailedPreconditionError {
  constructor(
    readonly confDir: string,
    readonly reason: string,
  ) {
    super(`cni network not ready: ${reason}`);
  }
}

/** A config file or a runtime argument that libcni would reject. */
export class CniConfigError extends InvalidArgumentError {}

function describe(network: string, plugin: string, command: CniCommand): string {
  return `network "${network}": plugin type="${plugin}" failed (${command.toLowerCase()})`;
}
