// Raw HTTP/1.1 responses on an upgrade socket (Node hands 'upgrade' requests over as sockets).

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

export function replyError(socket: Duplex, code: number, message: string, headers: Record<string, string | string[]> = {}): void {
  const body = `${message}\n`;
  const lines = [`HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}`, 'Content-Type: text/plain; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  socket.end(lines.join('\r\n') + '\r\n\r\n' + body);
}

export function replySwitching(socket: Duplex, headers: Record<string, string>): void {
  const lines = ['HTTP/1.1 101 Switching Protocols'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
}

/** All values of a request header, split on commas (clients send either form). */
export function headerList(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}
