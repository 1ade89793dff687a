// The error-stream payloads of remotecommand. v4+ carries a JSON metav1.Status (kubectl reads the
// exit code from details.causes); v1-v3 carry only a failure's message text. Field order and
// omitted fields match what Go's encoding/json produces for metav1.Status.

export type CommandResult = { exitCode: number } | { error: Error };

export interface StatusCause {
  reason?: string;
  message?: string;
}

export interface MetaStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: StatusCause[] };
  code?: number;
}

export function statusFor(result: CommandResult, cmd?: string[]): MetaStatus {
  if ('error' in result) {
    const msg = `error executing command in container: ${result.error.message}`;
    return {
      metadata: {},
      status: 'Failure',
      message: `Internal error occurred: ${msg}`,
      reason: 'InternalError',
      details: { causes: [{ message: msg }] },
      code: 500,
    };
  }
  if (result.exitCode === 0) return { metadata: {}, status: 'Success' };
  const what = cmd ? `error executing command [${cmd.join(' ')}], exit code ${result.exitCode}` : `exit code ${result.exitCode}`;
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: ${what}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(result.exitCode) }] },
  };
}

/** The bytes to write on the error stream, or null when nothing is written (pre-v4 success). */
export function encodeStatus(status: MetaStatus, jsonStatus: boolean): Buffer | null {
  if (jsonStatus) return Buffer.from(JSON.stringify(status));
  if (status.status === 'Success') return null;
  return Buffer.from(status.message ?? 'unknown error');
}
