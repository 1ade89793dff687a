// gRPC status codes (the numbers of grpc/grpc doc/statuscodes.md, the names of grpc-js's `status`)
// and the percent-encoding of grpc-message (doc/PROTOCOL-HTTP2.md).

export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** What a method implementation rejects with to answer a status other than INTERNAL. */
export class StatusError extends Error {
  constructor(
    readonly code: Status,
    readonly details: string,
  ) {
    super(details);
  }
}

/** Printable ASCII other than '%': what grpc-message carries as it is. */
const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

/**
 * grpc-message's Percent-Encoded form: the UTF-8 bytes outside 0x20-0x7E, and '%' itself, as %XX.
 * Clients decode it back; header values can then never hold CR, LF or other bytes HTTP/2 refuses.
 */
export function encodeGrpcMessage(message: string): string {
  if (PLAIN.test(message)) return message;
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}
