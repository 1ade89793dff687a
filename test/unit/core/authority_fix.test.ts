import { strict as assert } from 'node:assert';
import { fixAuthority } from '../../../src/grpc/authority_fix';

// Literal header field with incremental indexing, name from static index 1 (:authority).
const rawAuthority = (v: string) => Buffer.concat([Buffer.from([0x41, v.length]), Buffer.from(v, 'latin1')]);

describe('AuthorityFix header rewriting', () => {
  it('rewrites a raw socket-path authority to the same length', () => {
    const block = Buffer.concat([Buffer.from([0x83, 0x86]), rawAuthority('/run/nori/nori.sock'), Buffer.from([0x84])]);
    const out = fixAuthority(block)!;
    assert.ok(out);
    assert.deepEqual(out.subarray(0, 2), Buffer.from([0x83, 0x86]), 'fields before are untouched');
    assert.equal(out[2], 0x41);
    assert.equal(out[3], '/run/nori/nori.sock'.length);
    assert.equal(out.subarray(4, 4 + out[3]!).toString(), '-run-nori-nori.sock');
    assert.equal(out[out.length - 1], 0x84, 'fields after are untouched');
  });

  it('decodes a Huffman-coded value (0x9d29ad171863c78f0b97c8e9ae82ae43d3 is "www.example.com")', () => {
    // RFC 7541 C.4.1: ":authority: www.example.com" Huffman-coded; valid, so nothing changes.
    const block = Buffer.from('418cf1e3c2e5f23a6ba0ab90f4ff', 'hex');
    assert.equal(fixAuthority(block), null);
  });

  it('handles a literal :authority name and leaves valid authorities alone', () => {
    const name = Buffer.from(':authority');
    const lit = Buffer.concat([Buffer.from([0x40, name.length]), name, Buffer.from([5]), Buffer.from('/a/b!')]);
    const out = fixAuthority(lit)!;
    assert.equal(out.subarray(out.length - 5).toString(), '-a-b!');
    assert.equal(fixAuthority(rawAuthority('localhost')), null);
  });
});
