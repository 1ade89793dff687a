// The resize stream is a sequence of JSON objects {"Width":w,"Height":h} with no separator (Go's
// json.Encoder adds a newline, older clients may not): split it on balanced top-level braces.

import type { TerminalSize } from './types';

export class ResizeDecoder {
  private buf = '';

  /** Feeds bytes; returns each complete, valid size in order. */
  push(chunk: Buffer | string): TerminalSize[] {
    this.buf += chunk.toString();
    const out: TerminalSize[] = [];
    let depth = 0;
    let inString = false;
    let escaped = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}' && depth > 0) {
        depth--;
        if (depth === 0) {
          const size = parseSize(this.buf.slice(start, i + 1));
          if (size) out.push(size);
          consumed = i + 1;
        }
      } else if (depth === 0) consumed = i + 1; // whitespace or junk between objects
    }
    this.buf = this.buf.slice(consumed);
    if (this.buf.length > 64 * 1024) this.buf = ''; // a client sending garbage cannot grow us
    return out;
  }
}

function parseSize(text: string): TerminalSize | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const w = Number(v.Width ?? v.width);
    const h = Number(v.Height ?? v.height);
    if (!Number.isInteger(w) || !Number.isInteger(h) || w < 0 || h < 0 || w > 0xffff || h > 0xffff) return null;
    return { Width: w, Height: h };
  } catch {
    return null;
  }
}
