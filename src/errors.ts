// Typed errors thrown by handlers and stores. The edge wrapper (src/cri/edge.ts) maps each
// kind to one gRPC status code and keeps the message text, so a handler never deals with
// gRPC codes itself.

export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'InvalidArgument'
  | 'FailedPrecondition'
  | 'Unavailable'
  | 'DeadlineExceeded'
  | 'Unimplemented'
  | 'ResourceExhausted'
  | 'Cancelled'
  | 'Internal';

export abstract class NoriError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NotFoundError extends NoriError {
  readonly kind = 'NotFound' as const;
}
export class AlreadyExistsError extends NoriError {
  readonly kind = 'AlreadyExists' as const;
}
export class InvalidArgumentError extends NoriError {
  readonly kind = 'InvalidArgument' as const;
}
export class FailedPreconditionError extends NoriError {
  readonly kind = 'FailedPrecondition' as const;
}
export class UnavailableError extends NoriError {
  readonly kind = 'Unavailable' as const;
}
export class DeadlineExceededError extends NoriError {
  readonly kind = 'DeadlineExceeded' as const;
}
export class UnimplementedError extends NoriError {
  readonly kind = 'Unimplemented' as const;
}
export class ResourceExhaustedError extends NoriError {
  readonly kind = 'ResourceExhausted' as const;
}
export class CancelledError extends NoriError {
  readonly kind = 'Cancelled' as const;
}
export class InternalError extends NoriError {
  readonly kind = 'Internal' as const;
}

export function isNoriError(e: unknown): e is NoriError {
  return e instanceof NoriError;
}

/** The message of anything thrown, for logs and wrapped errors. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
