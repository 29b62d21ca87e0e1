import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as ed from "@noble/ed25519";
import { fromHex, toHex } from "../../src/poi/bytes";
import { publicKeyOf, signMessage, signMessageNoble, verifyZip215 } from "../../src/poi/signature";

interface RfcVector { name: string; secretKey: string; publicKey: string; msg: string; sig: string }
const rfc = (JSON.parse(fs.readFileSync(path.join(__dirname, "..", "vectors", "rfc8032.json"), "utf8")) as { vectors: RfcVector[] }).vectors;

describe("signMessage (node:crypto / OpenSSL, PKCS#8-imported seed)", () => {
  for (const v of rfc) {
    it(`reproduces RFC 8032 ${v.name} byte for byte`, () => {
      const seed = fromHex(v.secretKey, 32);
      assert.equal(toHex(publicKeyOf(seed)), v.publicKey);
      assert.equal(toHex(signMessage(seed, fromHex(v.msg))), v.sig);
      assert.equal(toHex(signMessageNoble(seed, fromHex(v.msg))), v.sig);
    });
  }

  it("gives the same bytes as @noble/ed25519 on 300 random seeds and messages", () => {
    for (let i = 0; i < 300; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const msg = new Uint8Array(randomBytes(i % 97));
      assert.equal(toHex(publicKeyOf(seed)), toHex(ed.getPublicKey(seed)));
      const sig = signMessage(seed, msg);
      assert.equal(toHex(sig), toHex(signMessageNoble(seed, msg)));
      assert.ok(verifyZip215(publicKeyOf(seed), msg, sig));
    }
  });

  it("keeps noble's errors for a seed that is not 32 bytes", () => {
    assert.throws(() => signMessage(new Uint8Array(31), new Uint8Array(1)));
    assert.throws(() => publicKeyOf(new Uint8Array(33)));
  });

  it("returns a copy of the cached public key", () => {
    const seed = new Uint8Array(randomBytes(32));
    const a = publicKeyOf(seed);
    a.fill(0);
    assert.notEqual(toHex(publicKeyOf(seed)), toHex(a));
  });
});
