import { strict as assert } from 'node:assert';
import { HpackDecoder, HpackError } from '../../../src/grpc/hpack_decoder';

// Every block and every expected header list / table size below is copied from RFC 7541
// (Appendix A: static table, Appendix B: Huffman code, Appendix C: examples), not from the
// implementation. Sections are cited next to each case.

type Fields = [string, string][];

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const bytes = (...b: number[]) => Buffer.from(b);
const show = (b: Buffer) => b.toString('hex').replace(/(..)/g, '$1 ').trim();

function throwsHpack(fn: () => unknown, what: string): void {
  let returned: unknown;
  try {
    returned = fn();
  } catch (err) {
    assert.ok(
      err instanceof HpackError,
      `${what}: expected an HpackError, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
    );
    assert.ok(err instanceof Error, `${what}: an HpackError is an Error`);
    return;
  }
  assert.fail(`${what}: expected an HpackError, but it decoded to ${JSON.stringify(returned)}`);
}

// ---- RFC 7541 Appendix C.2 ----
const C2_1 = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
const C2_2 = hex('040c 2f73 616d 706c 652f 7061 7468');
const C2_3 = hex('1008 7061 7373 776f 7264 0673 6563 7265 74');
const C2_4 = hex('82');

// ---- RFC 7541 Appendix C.3 (no Huffman) / C.4 (Huffman): requests, 4096-octet table ----
const C3 = [
  hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'),
  hex('8286 84be 5808 6e6f 2d63 6163 6865'),
  hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'),
];
const C4 = [
  hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'),
  hex('8286 84be 5886 a8eb 1064 9cbf'),
  hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'),
];
const REQUESTS: Fields[] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const REQUEST_TABLE_SIZES = [57, 110, 164];

// ---- RFC 7541 Appendix C.5 (no Huffman) / C.6 (Huffman): responses, 256-octet table ----
const C5 = [
  hex(
    '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  ),
  hex('4803 3330 37c1 c0bf'),
  hex(
    '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
  ),
];
const C6 = [
  hex(
    '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
  ),
  hex('4883 640e ffc1 c0bf'),
  hex(
    '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
  ),
];
const DATE_21 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_22 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES: Fields[] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]],
  [[':status', '307'], ['cache-control', 'private'], ['date', DATE_21], ['location', LOCATION]],
  [
    [':status', '200'],
    ['cache-control', 'private'],
    ['date', DATE_22],
    ['location', LOCATION],
    ['content-encoding', 'gzip'],
    ['set-cookie', COOKIE],
  ],
];
const RESPONSE_TABLE_SIZES = [222, 222, 215];

// ---- RFC 7541 Appendix A: the static table, index 1..61 ----
const STATIC_TABLE: Fields = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Deterministic xorshift32. */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Decodes, and turns anything but an HpackError into an assertion failure that names the input. */
function decodeOrHpackError(decoder: HpackDecoder, block: Buffer, what: string): Fields | undefined {
  try {
    return decoder.decode(block);
  } catch (err) {
    if (err instanceof HpackError) return undefined;
    const desc = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
    assert.fail(`${what}: block [${show(block)}] threw ${desc}, not an HpackError`);
  }
}

describe('HpackDecoder (RFC 7541)', () => {
  describe('single representations (C.2)', () => {
    it('C.2.1: a literal field with incremental indexing adds a 55-octet entry', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(C2_1), [['custom-key', 'custom-header']]);
      assert.equal(d.tableSize, 55);
      // The new entry is dynamic index 62 (RFC 7541 2.3.3).
      assert.deepEqual(d.decode(hex('be')), [['custom-key', 'custom-header']]);
      assert.equal(d.tableSize, 55);
    });

    it('C.2.2: a literal field without indexing leaves the table empty', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(C2_2), [[':path', '/sample/path']]);
      assert.equal(d.tableSize, 0);
    });

    it('C.2.3: a literal field never indexed leaves the table empty', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(C2_3), [['password', 'secret']]);
      assert.equal(d.tableSize, 0);
    });

    it('C.2.4: an indexed field 0x82 is :method GET', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(C2_4), [[':method', 'GET']]);
      assert.equal(d.tableSize, 0);
    });

    it('a fresh decoder has an empty table, and an empty block decodes to no fields', () => {
      const d = new HpackDecoder();
      assert.equal(d.tableSize, 0);
      assert.deepEqual(d.decode(Buffer.alloc(0)), []);
      assert.equal(d.tableSize, 0);
    });
  });

  describe('the static table (Appendix A)', () => {
    it('indexed fields 1..61 are the Appendix A entries', () => {
      const d = new HpackDecoder();
      for (let i = 1; i <= 61; i++) {
        assert.deepEqual(d.decode(bytes(0x80 | i)), [STATIC_TABLE[i - 1]], `static index ${i}`);
      }
      // All 61 in one block, in order.
      const all = Buffer.from(STATIC_TABLE.map((_, i) => 0x80 | (i + 1)));
      assert.deepEqual(d.decode(all), STATIC_TABLE);
      assert.equal(d.tableSize, 0);
    });
  });

  describe('request examples without Huffman coding (C.3)', () => {
    it('C.3.1-C.3.3 on one decoder give the RFC header lists and table sizes 57, 110, 164', () => {
      const d = new HpackDecoder();
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(d.decode(C3[i]), REQUESTS[i], `C.3.${i + 1} header list`);
        assert.equal(d.tableSize, REQUEST_TABLE_SIZES[i], `C.3.${i + 1} table size`);
      }
      // C.3.3 dynamic table: [62] custom-key: custom-value, [63] cache-control: no-cache,
      // [64] :authority: www.example.com.
      assert.deepEqual(d.decode(hex('be bf c0')), [
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ]);
      assert.equal(d.tableSize, 164);
    });
  });

  describe('request examples with Huffman coding (C.4)', () => {
    it('C.4.1-C.4.3 on one fresh decoder give the same lists and sizes 57, 110, 164', () => {
      const d = new HpackDecoder();
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(d.decode(C4[i]), REQUESTS[i], `C.4.${i + 1} header list`);
        assert.equal(d.tableSize, REQUEST_TABLE_SIZES[i], `C.4.${i + 1} table size`);
      }
      assert.deepEqual(d.decode(hex('be bf c0')), [
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ]);
    });
  });

  describe('response examples with a 256-octet table and eviction (C.5, C.6)', () => {
    for (const [section, blocks] of [['C.5', C5], ['C.6', C6]] as const) {
      it(`${section}.1-${section}.3 give the RFC header lists and table sizes 222, 222, 215`, () => {
        const d = new HpackDecoder(256);
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(d.decode(blocks[i]), RESPONSES[i], `${section}.${i + 1} header list`);
          assert.equal(d.tableSize, RESPONSE_TABLE_SIZES[i], `${section}.${i + 1} table size`);
        }
        // Dynamic table after the third response: [62] set-cookie, [63] content-encoding: gzip,
        // [64] date: Mon, 21 Oct 2013 20:13:22 GMT; nothing at 65.
        assert.deepEqual(d.decode(hex('be bf c0')), [
          ['set-cookie', COOKIE],
          ['content-encoding', 'gzip'],
          ['date', DATE_22],
        ]);
        throwsHpack(() => d.decode(hex('c1')), `${section}: index 65 after eviction`);
      });
    }

    it('C.5.2: the 307 entry evicted :status 302 and is now index 62', () => {
      const d = new HpackDecoder(256);
      d.decode(C5[0]);
      d.decode(C5[1]);
      assert.deepEqual(d.decode(hex('be c1')), [[':status', '307'], ['cache-control', 'private']]);
      throwsHpack(() => d.decode(hex('c2')), 'C.5.2: index 66 (four entries)');
    });
  });

  describe('integers and string literals (5.1, 5.2)', () => {
    it('reads a multi-octet index (name index 16 = 15 + 1 with a 4-bit prefix)', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(hex('0f01 03 616263')), [['accept-encoding', 'abc']]);
      assert.equal(d.tableSize, 0);
    });

    it('reads a multi-octet string length (200 = 127 + 73 with a 7-bit prefix)', () => {
      const d = new HpackDecoder();
      const value = 'x'.repeat(200);
      const block = Buffer.concat([hex('04 7f 49'), Buffer.from(value, 'latin1')]);
      assert.deepEqual(d.decode(block), [[':path', value]]);
    });

    it('takes empty literals, raw and Huffman', () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(hex('04 00')), [[':path', '']]);
      assert.deepEqual(d.decode(hex('04 80')), [[':path', '']]);
    });

    it("decodes a Huffman 'a' (00011) padded with 111 (Appendix B, 5.2)", () => {
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(hex('04 81 1f')), [[':path', 'a']]);
    });

    it('takes a literal whose name and value are both new strings (C.2.3 layout, Huffman name)', () => {
      // 0x00: literal without indexing, new name; name 'a' Huffman (81 1f), value 'a' raw.
      const d = new HpackDecoder();
      assert.deepEqual(d.decode(hex('00 81 1f 01 61')), [['a', 'a']]);
    });
  });

  describe('the dynamic table and its size (4.1-4.4, 6.3)', () => {
    it('a size update to 0 empties the table, and a later reference to entry 62 throws', () => {
      const d = new HpackDecoder();
      d.decode(C2_1);
      assert.equal(d.tableSize, 55);
      assert.deepEqual(d.decode(hex('20 82')), [[':method', 'GET']]);
      assert.equal(d.tableSize, 0);
      throwsHpack(() => d.decode(hex('be')), 'index 62 after a size update to 0');
    });

    it('a block of only a size update to 0 also empties the table', () => {
      const d = new HpackDecoder();
      d.decode(C2_1);
      assert.deepEqual(d.decode(hex('20')), []);
      assert.equal(d.tableSize, 0);
    });

    it('a size update to 0 and then an index 62 in the same block throws', () => {
      const d = new HpackDecoder();
      d.decode(C2_1);
      throwsHpack(() => d.decode(hex('20 be')), 'size update 0 then index 62');
    });

    it('with a maximum of 0 an entry is not added (4.4), and a size update back to 4096 re-opens the table', () => {
      const d = new HpackDecoder();
      d.decode(hex('20'));
      assert.deepEqual(d.decode(C2_1), [['custom-key', 'custom-header']]);
      assert.equal(d.tableSize, 0);
      // 0x3f 0xe1 0x1f = 31 + 97 + 31 * 128 = 4096 (5.1)
      assert.deepEqual(d.decode(hex('3fe11f')), []);
      assert.deepEqual(d.decode(C2_1), [['custom-key', 'custom-header']]);
      assert.equal(d.tableSize, 55);
    });

    it('a size update to 100 evicts the oldest entries until the table fits (4.3)', () => {
      const d = new HpackDecoder();
      for (const block of C3) d.decode(block);
      assert.equal(d.tableSize, 164);
      // 0x3f 0x45 = 31 + 69 = 100: evict :authority (57) and cache-control (53), keep custom-key (54).
      assert.deepEqual(d.decode(hex('3f45 be')), [['custom-key', 'custom-value']]);
      assert.equal(d.tableSize, 54);
      throwsHpack(() => d.decode(hex('bf')), 'index 63 after shrinking to 100');
    });

    it('takes two size updates at the start of a block (smallest, then final; 4.2)', () => {
      const d = new HpackDecoder();
      d.decode(C2_1);
      assert.deepEqual(d.decode(hex('20 3fe11f 82')), [[':method', 'GET']]);
      assert.equal(d.tableSize, 0);
    });

    it('takes a size update equal to the announced maximum (256 = 3f e1 01)', () => {
      const d = new HpackDecoder(256);
      assert.deepEqual(d.decode(hex('3fe101 82')), [[':method', 'GET']]);
    });

    it('an entry exactly the maximum size fits; one octet more empties the table without error (4.1, 4.4)', () => {
      const fits = new HpackDecoder(55);
      assert.deepEqual(fits.decode(C2_1), [['custom-key', 'custom-header']]);
      assert.equal(fits.tableSize, 55);
      const tooBig = new HpackDecoder(54);
      assert.deepEqual(tooBig.decode(C2_1), [['custom-key', 'custom-header']]);
      assert.equal(tooBig.tableSize, 0);
      throwsHpack(() => tooBig.decode(hex('be')), 'index 62 after an entry too large for the table');
    });

    it('a table filled to exactly its maximum keeps every entry (4.4: evict until size <= max - new entry)', () => {
      // C.3.1 + C.3.2 make 57 + 53 = 110 octets: with a 110-octet table nothing is evicted.
      const d = new HpackDecoder(110);
      assert.deepEqual(d.decode(C3[0]), REQUESTS[0]);
      assert.deepEqual(d.decode(C3[1]), REQUESTS[1]);
      assert.equal(d.tableSize, 110);
      assert.deepEqual(d.decode(hex('be bf')), [['cache-control', 'no-cache'], [':authority', 'www.example.com']]);
      // A size update to exactly the current size (0x3f 0x4f = 31 + 79 = 110) evicts nothing either.
      assert.deepEqual(d.decode(hex('3f4f bf')), [[':authority', 'www.example.com']]);
      assert.equal(d.tableSize, 110);
      // C.3.3's custom-key (54) then evicts the two older entries: 110 + 54 > 110, 53 + 54 <= 110.
      assert.deepEqual(d.decode(C3[2]), REQUESTS[2]);
      assert.equal(d.tableSize, 54 + 53);
      assert.deepEqual(d.decode(hex('be bf')), [['custom-key', 'custom-value'], ['cache-control', 'no-cache']]);
      throwsHpack(() => d.decode(hex('c0')), 'index 64 after :authority was evicted');
    });

    it('a new entry may use the name of the entry its insertion evicts (4.4)', () => {
      const d = new HpackDecoder(100);
      d.decode(C2_1); // custom-key: custom-header, 55 octets
      // 0x7e: literal with incremental indexing, name index 62; value 'custom-header-2' (15).
      // 55 + (10 + 15 + 32) = 112 > 100, so the entry that holds the name is evicted.
      const block = Buffer.concat([hex('7e 0f'), Buffer.from('custom-header-2', 'latin1')]);
      assert.deepEqual(d.decode(block), [['custom-key', 'custom-header-2']]);
      assert.equal(d.tableSize, 57);
      assert.deepEqual(d.decode(hex('be')), [['custom-key', 'custom-header-2']]);
    });
  });

  describe('malformed blocks throw HpackError', () => {
    it('index 0 (6.1)', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('80')), 'indexed field 0x80');
    });

    it('an index beyond the static and dynamic tables (2.3.3)', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('be')), '0xbe (62) on a fresh decoder');
      throwsHpack(() => new HpackDecoder().decode(hex('82 be')), '0xbe after a valid field');
      const d = new HpackDecoder();
      d.decode(C3[0]);
      throwsHpack(() => d.decode(hex('bf')), '0xbf (63) with one dynamic entry');
      // As a literal's name index: 0x7e (62, 6-bit prefix), 0x0f 0x2f (15 + 47 = 62, 4-bit prefix).
      throwsHpack(() => new HpackDecoder().decode(hex('7e 01 61')), 'literal name index 62 on a fresh decoder');
      throwsHpack(() => new HpackDecoder().decode(hex('0f2f 01 61')), 'literal w/o indexing name index 62');
      throwsHpack(() => new HpackDecoder().decode(hex('1f2f 01 61')), 'never-indexed literal name index 62');
    });

    it('an index of 2^32 + 2 (which 32-bit arithmetic would wrap to 2)', () => {
      // 0xff: 127, then 4294967171 in 7-bit groups: 83 ff ff ff 0f -> 127 + 4294967171 = 4294967298.
      throwsHpack(() => new HpackDecoder().decode(hex('ff 83ffffff0f')), 'index 2^32 + 2');
    });

    it('a dynamic table size update above the announced maximum (6.3)', () => {
      // 0x3f 0xe2 0x1f = 31 + 98 + 31 * 128 = 4097
      throwsHpack(() => new HpackDecoder(4096).decode(hex('3fe21f')), 'size update 4097 with maximum 4096');
      throwsHpack(() => new HpackDecoder(4096).decode(hex('3fe21f 82')), 'size update 4097, then a field');
      // 0x3f 0xe2 0x01 = 31 + 98 + 128 = 257
      throwsHpack(() => new HpackDecoder(256).decode(hex('3fe201')), 'size update 257 with maximum 256');
      throwsHpack(() => new HpackDecoder(0).decode(hex('21')), 'size update 1 with maximum 0');
    });

    it('a dynamic table size update after a field in the same block (4.2)', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('82 20')), '0x82 then size update 0');
      throwsHpack(() => new HpackDecoder().decode(hex('82 3fe11f')), '0x82 then size update 4096');
      throwsHpack(() => new HpackDecoder().decode(hex('20 82 20 84')), 'size update, field, size update, field');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([C2_2, hex('20')])), 'C.2.2 then size update 0');
    });

    it('an integer that never ends, or overflows (5.1)', () => {
      const ff = (n: number) => Buffer.alloc(n, 0xff);
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('1f'), ff(8)])), '0x1f + 8 x 0xff (no last octet)');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('1f'), ff(1000)])), '0x1f + 1000 x 0xff');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('1f'), ff(10), hex('01')])), '0x1f + 10 x 0xff + 0x01');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('ff'), ff(10), hex('01')])), 'indexed, huge index');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('3f'), ff(10), hex('01')])), 'size update, huge size');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('04 7f'), ff(10), hex('01')])), 'string length, huge');
      throwsHpack(() => new HpackDecoder().decode(Buffer.concat([hex('3f'), ff(1000)])), 'size update + 1000 x 0xff');
    });

    it('a string literal whose length runs past the end of the block (5.2)', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('04 05 6162')), 'value length 5, 2 octets');
      throwsHpack(() => new HpackDecoder().decode(hex('40 05 6162')), 'name length 5, 2 octets');
      throwsHpack(() => new HpackDecoder().decode(hex('40 01 61 05 6162')), 'value length 5 after a new name');
      throwsHpack(() => new HpackDecoder().decode(hex('04 85 1f')), 'Huffman length 5, 1 octet');
      throwsHpack(() => new HpackDecoder().decode(hex('04 7fffffffff0f 61')), 'value length 2^32 + 126, 1 octet');
      throwsHpack(() => new HpackDecoder().decode(C3[2].subarray(0, C3[2].length - 1)), 'C.3.3 without its last octet');
    });

    it('a Huffman string that contains EOS (5.2)', () => {
      // EOS is 30 ones (Appendix B); 32 ones = EOS + 2 bits of padding.
      throwsHpack(() => new HpackDecoder().decode(hex('04 84 ffffffff')), 'Huffman ff ff ff ff');
      // 'a' (00011), EOS (30 ones), 'a' (00011): 40 bits = 1f ff ff ff e3.
      throwsHpack(() => new HpackDecoder().decode(hex('04 85 1fffffffe3')), "Huffman 'a' EOS 'a'");
      throwsHpack(() => new HpackDecoder().decode(hex('00 84 ffffffff 01 61')), 'Huffman name with EOS');
    });

    it('Huffman padding longer than 7 bits (5.2)', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('04 81 ff')), 'Huffman string ff (8 bits of padding)');
      // 'a' then 11 ones: 00011111 11111111
      throwsHpack(() => new HpackDecoder().decode(hex('04 82 1fff')), "Huffman 'a' + 11 bits of padding");
      // 'a' then 19 ones: 00011111 11111111 11111111
      throwsHpack(() => new HpackDecoder().decode(hex('04 83 1fffff')), "Huffman 'a' + 19 bits of padding");
    });

    it('Huffman padding that is not the most significant bits of EOS (5.2)', () => {
      // 'a' = 00011 padded with 000 -> 0x18
      throwsHpack(() => new HpackDecoder().decode(hex('04 81 18')), "Huffman 'a' padded with 000");
      // 'a' padded with 110 -> 0x1e; with 011 -> 0x1b
      throwsHpack(() => new HpackDecoder().decode(hex('04 81 1e')), "Huffman 'a' padded with 110");
      throwsHpack(() => new HpackDecoder().decode(hex('04 81 1b')), "Huffman 'a' padded with 011");
    });

    it('a block that ends in the middle of a representation', () => {
      throwsHpack(() => new HpackDecoder().decode(hex('40')), '0x40 alone');
      throwsHpack(() => new HpackDecoder().decode(hex('82 40')), '0x82 0x40');
      throwsHpack(() => new HpackDecoder().decode(hex('40 01')), 'new name, length 1, no octet');
      throwsHpack(() => new HpackDecoder().decode(hex('40 01 61')), 'new name, no value');
      throwsHpack(() => new HpackDecoder().decode(hex('04')), 'indexed name, no value');
      throwsHpack(() => new HpackDecoder().decode(hex('10')), 'never indexed, no name');
      throwsHpack(() => new HpackDecoder().decode(hex('3f')), 'size update with a cut integer');
      throwsHpack(() => new HpackDecoder().decode(hex('ff')), 'indexed field with a cut integer');
    });

    it('a header list larger than maxListSize (4.1 sizes, name + value + 32 per field)', () => {
      // C.3.1: (7+3+32) + (7+4+32) + (5+1+32) + (10+15+32) = 42 + 43 + 38 + 57 = 180
      const size = 42 + 43 + 38 + 57;
      assert.equal(size, 180);
      throwsHpack(() => new HpackDecoder().decode(C3[0], 100), 'C.3.1 with maxListSize 100');
      throwsHpack(() => new HpackDecoder().decode(C3[0], size - 1), 'C.3.1 with maxListSize 179');
      assert.deepEqual(new HpackDecoder().decode(C3[0], size), REQUESTS[0]);
      assert.deepEqual(new HpackDecoder().decode(C3[0], size + 1), REQUESTS[0]);
      // C.4.1 is the same list: the limit counts decoded octets, not Huffman octets.
      throwsHpack(() => new HpackDecoder().decode(C4[0], size - 1), 'C.4.1 with maxListSize 179');
      assert.deepEqual(new HpackDecoder().decode(C4[0], size), REQUESTS[0]);
      // C.2.1: 10 + 13 + 32 = 55
      throwsHpack(() => new HpackDecoder().decode(C2_1, 54), 'C.2.1 with maxListSize 54');
      assert.deepEqual(new HpackDecoder().decode(C2_1, 55), [['custom-key', 'custom-header']]);
      // C.5.3 (after C.5.1, C.5.2): :status 200 (7+3+32) + cache-control private (13+7+32)
      // + date (4+29+32) + location (8+23+32) + content-encoding gzip (16+4+32) + set-cookie (10+56+32)
      const c53 = 42 + 52 + 65 + 63 + 52 + 98;
      assert.equal(c53, 372);
      for (const [limit, ok] of [[c53 - 1, false], [c53, true]] as const) {
        const d = new HpackDecoder(256);
        d.decode(C5[0]);
        d.decode(C5[1]);
        if (ok) assert.deepEqual(d.decode(C5[2], limit), RESPONSES[2]);
        else throwsHpack(() => d.decode(C5[2], limit), `C.5.3 with maxListSize ${limit}`);
      }
    });
  });

  describe('robustness: malformed input only ever throws HpackError', () => {
    const sequences: [string, Buffer[], number][] = [
      ['C.2.1', [C2_1], 4096],
      ['C.2.2', [C2_2], 4096],
      ['C.2.3', [C2_3], 4096],
      ['C.3', C3, 4096],
      ['C.4', C4, 4096],
      ['C.5', C5, 256],
      ['C.6', C6, 256],
    ];
    const expected: Record<string, Fields[]> = {
      'C.2.1': [[['custom-key', 'custom-header']]],
      'C.2.2': [[[':path', '/sample/path']]],
      'C.2.3': [[['password', 'secret']]],
      'C.3': REQUESTS,
      'C.4': REQUESTS,
      'C.5': RESPONSES,
      'C.6': RESPONSES,
    };

    it('every truncation of an RFC block decodes to a prefix of its list or throws HpackError', () => {
      for (const [name, blocks, max] of sequences) {
        for (let b = 0; b < blocks.length; b++) {
          for (let cut = 0; cut < blocks[b].length; cut++) {
            const d = new HpackDecoder(max);
            for (let p = 0; p < b; p++) d.decode(blocks[p]);
            const block = blocks[b].subarray(0, cut);
            const got = decodeOrHpackError(d, block, `${name}.${b + 1} cut at ${cut}`);
            if (got !== undefined) {
              assert.deepEqual(got, expected[name][b].slice(0, got.length), `${name}.${b + 1} cut at ${cut}: [${show(block)}]`);
              assert.ok(got.length < expected[name][b].length, `${name}.${b + 1} cut at ${cut} gave the whole list`);
            }
          }
        }
      }
    });

    it('2000 random blocks (xorshift32, seeded) each decode or throw HpackError, on fresh decoders', () => {
      const next = xorshift32(0x2545f491);
      for (let n = 0; n < 2000; n++) {
        const len = next() % 48;
        const block = Buffer.alloc(len);
        for (let i = 0; i < len; i++) block[i] = next() & 0xff;
        const d = new HpackDecoder(next() % 2 ? 4096 : 256);
        const got = decodeOrHpackError(d, block, `random block ${n}`);
        if (got !== undefined) {
          assert.ok(Array.isArray(got), `random block ${n}: [${show(block)}] gave no array`);
          for (const f of got) assert.ok(typeof f[0] === 'string' && typeof f[1] === 'string', `random block ${n}: [${show(block)}]`);
        }
      }
    });

    it('2000 random blocks on one shared decoder each decode or throw HpackError; the table never exceeds its maximum', () => {
      const next = xorshift32(0x9e3779b9);
      const d = new HpackDecoder(4096);
      for (let n = 0; n < 2000; n++) {
        const len = next() % 48;
        const block = Buffer.alloc(len);
        for (let i = 0; i < len; i++) block[i] = next() & 0xff;
        const got = decodeOrHpackError(d, block, `shared-decoder random block ${n}`);
        if (got !== undefined) assert.ok(d.tableSize >= 0 && d.tableSize <= 4096, `table size ${d.tableSize} after block ${n}`);
      }
    });

    it('2000 mutated RFC blocks (random octets changed) each decode or throw HpackError', () => {
      const next = xorshift32(0x1234567);
      const all: [Buffer, number][] = [
        [C2_1, 4096], [C2_2, 4096], [C2_3, 4096],
        ...C3.map((b) => [b, 4096] as [Buffer, number]),
        ...C4.map((b) => [b, 4096] as [Buffer, number]),
        ...C5.map((b) => [b, 256] as [Buffer, number]),
        ...C6.map((b) => [b, 256] as [Buffer, number]),
      ];
      for (let n = 0; n < 2000; n++) {
        const [src, max] = all[next() % all.length];
        const block = Buffer.from(src);
        const flips = 1 + (next() % 3);
        for (let k = 0; k < flips; k++) block[next() % block.length] = next() & 0xff;
        decodeOrHpackError(new HpackDecoder(max), block, `mutated block ${n}`);
      }
    });
  });
});
