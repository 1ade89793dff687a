// A request's header block: its HEADERS frame and the CONTINUATION frames after it, put together
// and HPACK-decoded. The connection hands each frame over and gets the decoded block once it is
// whole; a block and its decoded header list are bounded, since a client sends both.

import { ConnectionError, Flag, H2Error, unpad } from './h2_frames';
import { HpackDecoder, HpackError } from './hpack_decoder';

/** The decoded header list a request may carry (RFC 9113 6.5.2), as node:http2 allowed. */
export const MAX_HEADER_LIST = 64 * 1024;
/** A compressed header block, HEADERS and CONTINUATION together. */
const MAX_HEADER_BLOCK = 2 * MAX_HEADER_LIST;

export interface HeaderBlockListener {
  (streamId: number, endStream: boolean, fields: [string, string][]): void;
}

export class HeaderBlockReader {
  private readonly decoder = new HpackDecoder();
  private headerBlock: { streamId: number; endStream: boolean; parts: Buffer[]; size: number } | undefined;

  constructor(private readonly onHeaderBlock: HeaderBlockListener) {}

  /** A block has begun and not ended: no frame but its CONTINUATION may come now. */
  get open(): boolean {
    return this.headerBlock !== undefined;
  }

  onHeaders(flags: number, id: number, p: Buffer): void {
    if (id === 0 || id % 2 === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
    let fragment = unpad(flags, p);
    if (flags & Flag.PRIORITY) {
      if (fragment.length < 5) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, 'HEADERS priority fields');
      fragment = fragment.subarray(5);
    }
    this.headerBlock = { streamId: id, endStream: (flags & Flag.END_STREAM) !== 0, parts: [], size: 0 };
    this.addFragment(fragment, flags);
  }

  onContinuation(flags: number, id: number, p: Buffer): void {
    if (!this.headerBlock || this.headerBlock.streamId !== id) throw new ConnectionError(H2Error.PROTOCOL_ERROR, 'CONTINUATION without a header block');
    this.addFragment(p, flags);
  }

  private addFragment(fragment: Buffer, flags: number): void {
    const hb = this.headerBlock!;
    hb.size += fragment.length;
    if (hb.size > MAX_HEADER_BLOCK) throw new ConnectionError(H2Error.ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK} bytes`);
    hb.parts.push(Buffer.from(fragment)); // the input buffer is reused
    if (!(flags & Flag.END_HEADERS)) return;
    this.headerBlock = undefined;
    let fields: [string, string][];
    try {
      fields = this.decoder.decode(hb.parts.length === 1 ? hb.parts[0]! : Buffer.concat(hb.parts), MAX_HEADER_LIST);
    } catch (e) {
      if (!(e instanceof HpackError)) throw e;
      // the decoder's table may be out of step with the client's now: nothing more can be read
      const tooBig = e.message.includes('header list larger');
      throw new ConnectionError(tooBig ? H2Error.ENHANCE_YOUR_CALM : H2Error.COMPRESSION_ERROR, e.message);
    }
    this.onHeaderBlock(hb.streamId, hb.endStream, fields);
  }
}
