import { strict as assert } from "node:assert";
import { blake3 } from "@noble/hashes/blake3.js";
import { nobleVerifier, publicKeyOf, signMessage, toHex, verifyZip215 } from "../../src/poi";
import { hex, readVectors } from "../helpers";

interface RfcVector { name: string; secretKey: string; publicKey: string; msg: string; sig: string }
interface Blake3Case { input_len: number; hash: string }
interface EdgeCase { name: string; pubkey: string; msg: string; sig: string; valid: boolean; why: string }

const rfc = readVectors<{ vectors: RfcVector[] }>("rfc8032.json").vectors;
const b3 = readVectors<{ cases: Blake3Case[] }>("blake3.json").cases;
const edge = readVectors<EdgeCase[]>("ed25519-edge-cases.json");

describe("RFC 8032 section 7.1 vectors", () => {
  for (const v of rfc) {
    it(`${v.name}: public key, deterministic signature, verification`, () => {
      assert.equal(toHex(publicKeyOf(hex(v.secretKey))), v.publicKey);
      assert.equal(toHex(signMessage(hex(v.secretKey), hex(v.msg))), v.sig);
      assert.equal(verifyZip215(hex(v.publicKey), hex(v.msg), hex(v.sig)), true);
    });
  }
});

describe("official BLAKE3 vectors (hash mode)", () => {
  for (const c of b3) {
    it(`input_len ${c.input_len}: 32-byte digest and 131-byte extended output`, () => {
      const input = Uint8Array.from({ length: c.input_len }, (_, i) => i % 251);
      assert.equal(toHex(blake3(input)), c.hash.slice(0, 64));
      assert.equal(toHex(blake3(input, { dkLen: c.hash.length / 2 })), c.hash);
    });
  }
});

describe("Ed25519 edge cases under ZIP-215 (test/vectors/ed25519-edge-cases.json)", () => {
  it("the file has accept and reject cases with reasons", () => {
    assert.ok(edge.some((c) => c.valid) && edge.some((c) => !c.valid));
    for (const c of edge) assert.ok(c.why.length > 0 && c.sig.length === 128 && c.pubkey.length === 64, c.name);
  });
  for (const c of edge) {
    it(`${c.name}: ${c.valid ? "accept" : "reject"}`, () => {
      assert.equal(verifyZip215(hex(c.pubkey), hex(c.msg), hex(c.sig)), c.valid, c.why);
    });
  }
  it("verifyMany (the batch path) agrees with verifyOne on every case", async () => {
    const many = await nobleVerifier.verifyMany(
      edge.map((c) => ({ publicKey: hex(c.pubkey), message: hex(c.msg), signature: hex(c.sig) })),
    );
    assert.deepEqual(many, edge.map((c) => c.valid));
  });
  it("wrong lengths are rejected, never thrown", () => {
    const c = edge[0] as EdgeCase;
    assert.equal(verifyZip215(hex(c.pubkey).subarray(1), hex(c.msg), hex(c.sig)), false);
    assert.equal(verifyZip215(hex(c.pubkey), hex(c.msg), hex(c.sig).subarray(1)), false);
  });
});
