// The number and record rules of Go's archive/tar (reader.go, strconv.go, format.go), which is
// what containerd, Docker, BuildKit and the Go-based image scanners read layers with. nori must
// refuse exactly what they refuse and read the same values from what they accept; otherwise a
// layer can show one content to nori and another to a scanner. Values are bigint where Go has
// int64, so range checks are exact.

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;

/** Go's strconv.ParseInt(s, 10, 64): an optional sign, decimal digits only, int64 range. */
export function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  return v < INT64_MIN || v > INT64_MAX ? undefined : v;
}

/** Go's parseString: up to the first NUL. */
export function cString(b: Buffer): Buffer {
  const z = b.indexOf(0);
  return z === -1 ? b : b.subarray(0, z);
}

/** Go's parser.parseOctal: trims spaces and NULs at both ends, then strconv.ParseUint(…, 8, 64)
 *  of the string up to the first NUL, then int64(x). undefined where Go sets ErrHeader. */
export function parseOctal(field: Buffer): bigint | undefined {
  let a = 0;
  let z = field.length;
  while (a < z && (field[a] === 0x20 || field[a] === 0)) a++;
  while (z > a && (field[z - 1] === 0x20 || field[z - 1] === 0)) z--;
  if (a === z) return 0n;
  const s = cString(field.subarray(a, z)).toString('latin1');
  if (!/^[0-7]+$/.test(s)) return undefined;
  const x = BigInt(`0o${s}`);
  if (x >= 1n << 64n) return undefined;
  return x >= 1n << 63n ? x - (1n << 64n) : x;
}

/** Go's parser.parseNumeric: base-256 (two's complement, first bit set) or octal. */
export function parseNumeric(field: Buffer): bigint | undefined {
  if (field.length > 0 && field[0]! & 0x80) {
    const inv = field[0]! & 0x40 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < field.length; i++) {
      let c = field[i]! ^ inv;
      if (i === 0) c &= 0x7f;
      if (x >> 56n > 0n) return undefined; // overflow
      x = (x << 8n) | BigInt(c);
    }
    if (x >> 63n > 0n) return undefined;
    return inv ? -x - 1n : x;
  }
  return parseOctal(field);
}

/** Go's parsePAXTime: "<int64 seconds>[.<digits>]", in seconds (fractional). */
export function parsePaxTime(s: string): number | undefined {
  const dot = s.indexOf('.');
  const ss = dot === -1 ? s : s.slice(0, dot);
  const sn = dot === -1 ? '' : s.slice(dot + 1);
  const secs = parseInt64(ss);
  if (secs === undefined) return undefined;
  if (sn.length === 0) return Number(secs);
  if (!/^[0-9]*$/.test(sn)) return undefined;
  const nanos = Number(sn.padEnd(9, '0').slice(0, 9));
  // Go: time.Unix(secs, -nsecs) when the seconds are written with a minus sign
  return Number(secs) + (ss.startsWith('-') ? -nanos : nanos) / 1e9;
}

const PAX_STRING_KEYS = new Set(['path', 'linkpath', 'uname', 'gname']);

/**
 * Go's parsePAXRecord: "<len> <key>=<value>\n" with len counting the whole record (at least 5,
 * within what is left), a newline at its end, an '=' after a non-empty key, no NUL in the key,
 * and none in the value of path, linkpath, uname and gname. Keys and values stay bytes.
 */
export function parsePaxRecord(s: Buffer): { key: string; value: Buffer; rest: Buffer } | undefined {
  const sp = s.indexOf(0x20);
  if (sp === -1) return undefined;
  const n = parseInt64(s.subarray(0, sp).toString('latin1'));
  if (n === undefined || n < 5n || n > BigInt(s.length)) return undefined;
  const end = Number(n);
  if (end - (sp + 1) <= 0) return undefined;
  if (s[end - 1] !== 0x0a) return undefined;
  const rec = s.subarray(sp + 1, end - 1);
  const eq = rec.indexOf(0x3d);
  if (eq === -1) return undefined;
  const k = rec.subarray(0, eq);
  const value = rec.subarray(eq + 1);
  if (k.length === 0) return undefined;
  const key = k.toString('utf8');
  if (PAX_STRING_KEYS.has(key) ? value.includes(0) : k.includes(0)) return undefined;
  return { key, value, rest: s.subarray(end) };
}

const SPARSE_OFFSET = 'GNU.sparse.offset';
const SPARSE_NUMBYTES = 'GNU.sparse.numbytes';

/** Go's parsePAX: every record valid, GNU sparse 0.0 offset/numbytes pairs in order (they are
 *  joined into GNU.sparse.map); a later record for a key replaces an earlier one. */
export function parsePax(data: Buffer): Map<string, Buffer> | undefined {
  const out = new Map<string, Buffer>();
  const sparse: Buffer[] = [];
  let s = data;
  while (s.length > 0) {
    const r = parsePaxRecord(s);
    if (!r) return undefined;
    s = r.rest;
    if (r.key === SPARSE_OFFSET || r.key === SPARSE_NUMBYTES) {
      const want = sparse.length % 2 === 0 ? SPARSE_OFFSET : SPARSE_NUMBYTES;
      if (r.key !== want || r.value.includes(0x2c)) return undefined;
      sparse.push(r.value);
    } else {
      out.set(r.key, r.value);
    }
  }
  if (sparse.length) out.set('GNU.sparse.map', Buffer.from(sparse.map((b) => b.toString('latin1')).join(','), 'latin1'));
  return out;
}

/** Whether Go would read this entry as a GNU sparse file (readGNUSparsePAXHeaders). */
export function isPaxSparse(pax: Map<string, Buffer>): boolean {
  const major = pax.get('GNU.sparse.major')?.toString('latin1') ?? '';
  const minor = pax.get('GNU.sparse.minor')?.toString('latin1') ?? '';
  if (major === '0' && (minor === '0' || minor === '1')) return true;
  if (major === '1' && minor === '0') return true;
  if (major !== '' || minor !== '') return false; // an unknown version: a regular file to Go
  return (pax.get('GNU.sparse.map')?.length ?? 0) > 0;
}
