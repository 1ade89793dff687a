// Undo steps of a half-made sandbox, run in reverse. Each step is tried even when an earlier one
// failed (a leaked mount is no reason to also leak an IP lease); failures are logged.

import { errorMessage } from '../errors';
import type { Logger } from '../log';

export type UndoStep = { what: string; run: (signal: AbortSignal) => Promise<void> | void };

/** Rollback has its own deadline: the request's may already be gone (that may be why we fail). */
export const ROLLBACK_TIMEOUT_MS = 120_000;

export class Rollback {
  private readonly steps: UndoStep[] = [];

  push(what: string, run: UndoStep['run']): void {
    this.steps.push({ what, run });
  }

  /** Runs every step, newest first; returns the ones that failed. */
  async run(log: Logger, timeoutMs = ROLLBACK_TIMEOUT_MS): Promise<string[]> {
    const signal = AbortSignal.timeout(timeoutMs);
    const failed: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.run(signal);
      } catch (e) {
        failed.push(step.what);
        log.error({ step: step.what, err: errorMessage(e) }, 'sandbox rollback step failed');
      }
    }
    this.steps.length = 0;
    return failed;
  }
}
