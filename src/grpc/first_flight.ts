// Reads what a client sent on a new connection up to its first header block, to tell whether Node's
// HTTP/2 would accept the connection's :authority as it is (see connection_router.ts for why).
// Pure: it looks at the bytes read so far and says what they amount to.

import { VALID_AUTHORITY, firstBlockAuthorities } from './hpack_read';

/** RFC 9113 3.4: the client connection preface. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** An empty SETTINGS frame: a valid server connection preface. */
export const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);

const FRAME_HEADERS = 0x1;
const FRAME_PRIORITY = 0x2;
const FRAME_SETTINGS = 0x4;
const FRAME_WINDOW_UPDATE = 0x8;
const FRAME_CONTINUATION = 0x9;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

export type FirstFlight =
  /** Not an HTTP/2 client: the bytes differ from the client preface. */
  | { kind: 'garbage' }
  /**
   * The first header block is not complete yet. `clientPreface`: the preface and the client's
   * SETTINGS have arrived, so a client that waits for the server's preface (Go's) is waiting now.
   */
  | { kind: 'incomplete'; clientPreface: boolean; ackAt: number | undefined }
  /** The first header block is complete; `authorityValid`: nghttp2 accepts its :authority. */
  | { kind: 'headers'; authorityValid: boolean; ackAt: number | undefined }
  /** A frame that a client may wait on an answer for (PING...), or one out of place: no more waiting. */
  | { kind: 'unexpected'; frameType: number };

/**
 * Looks at the bytes a client sent so far. `ackExpected`: a SETTINGS of our own went out unanswered,
 * so the client's first SETTINGS ACK is its answer; `ackAt` is where that ACK (9 bytes) starts.
 * Frames after the first header block are passed over, looking only for that ACK.
 */
export function examineFirstFlight(buf: Buffer, ackExpected: boolean): FirstFlight {
  const prefaceBytes = Math.min(buf.length, CLIENT_PREFACE.length);
  if (!buf.subarray(0, prefaceBytes).equals(CLIENT_PREFACE.subarray(0, prefaceBytes))) return { kind: 'garbage' };
  let clientPreface = false;
  let ackAt: number | undefined;
  let block: { streamId: number; fragments: Buffer[] } | undefined;
  let authorityValid: boolean | undefined;
  let p = CLIENT_PREFACE.length;
  while (p + 9 <= buf.length) {
    const len = buf.readUIntBE(p, 3);
    const type = buf[p + 3]!;
    const flags = buf[p + 4]!;
    const streamId = buf.readUInt32BE(p + 5) & 0x7fffffff;
    if (p + 9 + len > buf.length) break;
    const payload = buf.subarray(p + 9, p + 9 + len);
    const at = p;
    p += 9 + len;
    if (type === FRAME_SETTINGS && flags & FLAG_ACK) {
      if (!ackExpected || ackAt !== undefined || len !== 0) {
        if (authorityValid === undefined) return { kind: 'unexpected', frameType: type };
        continue;
      }
      ackAt = at;
      continue;
    }
    if (authorityValid !== undefined) continue; // after the first header block
    if (block) {
      if (type !== FRAME_CONTINUATION || streamId !== block.streamId) return { kind: 'unexpected', frameType: type };
      block.fragments.push(payload);
    } else if (type === FRAME_SETTINGS) {
      clientPreface = true;
      continue;
    } else if (type === FRAME_WINDOW_UPDATE || type === FRAME_PRIORITY) {
      continue;
    } else if (type === FRAME_HEADERS) {
      const fragment = headerFragment(payload, flags);
      if (!fragment) return { kind: 'unexpected', frameType: type };
      block = { streamId, fragments: [fragment] };
    } else return { kind: 'unexpected', frameType: type };
    if (!(flags & FLAG_END_HEADERS)) continue;
    try {
      authorityValid = firstBlockAuthorities(Buffer.concat(block.fragments)).every((a) => VALID_AUTHORITY.test(a));
    } catch {
      return { kind: 'unexpected', frameType: FRAME_HEADERS }; // malformed: nghttp2 will say so
    }
  }
  if (authorityValid !== undefined) return { kind: 'headers', authorityValid, ackAt };
  return { kind: 'incomplete', clientPreface: clientPreface && !block, ackAt };
}

/** The header block fragment of a HEADERS payload, without padding and priority; undefined if malformed. */
function headerFragment(payload: Buffer, flags: number): Buffer | undefined {
  let start = 0;
  let end = payload.length;
  if (flags & FLAG_PADDED) {
    if (payload.length < 1) return undefined;
    end -= payload[0]!;
    start = 1;
  }
  if (flags & FLAG_PRIORITY) start += 5;
  return start <= end ? payload.subarray(start, end) : undefined;
}
