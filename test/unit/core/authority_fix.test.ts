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

  it('rewrites the Huffman-coded socket path that Go gRPC sends (header block captured from crictl 1.26.1)', () => {
    // `crictl --runtime-endpoint unix:///run/nori-tenantcap/nori.sock version`, its first HEADERS
    // frame as it reached the socket: :method POST, :scheme http, :path (Huffman), then
    // :authority "/run/nori-tenantcap/nori.sock" Huffman-coded (0x41 0x95: 21 bytes), then
    // content-type, user-agent, te, grpc-timeout (all Huffman).
    const block = Buffer.from(
      '8386459962cb6a49a92afdc2bedb6a49a92ee2d9dcc42b1c4b620c7abf' +
        '419562cb6a62a3d865925a8752483ad8a8f619741c9d7f' +
        '5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602bb615c140027465864d833505b11f408e9acac8b0c842d6958b510f21aa9b839bd9ab40899acac8b24d494f6a7f860bee3ed32edb',
      'hex',
    );
    const at = 29; // where the :authority field starts
    const after = at + 2 + 0x15;
    const out = fixAuthority(block)!;
    assert.ok(out, 'the authority holds "/" and must be rewritten');
    assert.deepEqual(out.subarray(0, at), block.subarray(0, at), 'the fields before are untouched');
    // a raw literal with the same decoded length (29), the "/" replaced
    const path = '/run/nori-tenantcap/nori.sock';
    assert.deepEqual([out[at], out[at + 1]], [0x41, path.length]);
    assert.equal(out.subarray(at + 2, at + 2 + path.length).toString('latin1'), path.replace(/\//g, '-'));
    assert.deepEqual(out.subarray(at + 2 + path.length), block.subarray(after), 'the fields after are untouched');
  });
});
