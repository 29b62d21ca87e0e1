/** Native BLAKE3 (addon, blake3 crate) gives the same digests as @noble/hashes; the verifier's hot path agrees with it. */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { blake3 } from "@noble/hashes/blake3.js";
import { attestationDigest, decodeAttestation, encodeAttestation, toHex } from "../../src/poi";
import { jsDigests } from "../../src/poi/verify";
import { loadNativeVerifier, nativeDigests } from "../../src/poi/fast";
import { skipWithoutNative } from "../helpers";
import { signMessage, publicKeyOf, verifyZip215 } from "../../src/poi/signature";

const addon = loadNativeVerifier();

describe("BLAKE3: native batch digests", () => {
  before(function () {
    skipWithoutNative(this);
  });

  it("match @noble/hashes for lengths 0..300 and the shared BLAKE3 vectors", () => {
    const msgs: Uint8Array[] = [];
    for (let len = 0; len <= 300; len++) msgs.push(new Uint8Array(randomBytes(len)));
    const file = path.join(__dirname, "..", "vectors", "blake3.json");
    const cases = (JSON.parse(fs.readFileSync(file, "utf8")) as { cases: { input_len: number; hash: string }[] }).cases;
    const native = nativeDigests(addon!)(msgs);
    assert.equal(native.length, msgs.length);
    msgs.forEach((m, i) => assert.equal(toHex(native[i]!), toHex(blake3(m))));
    assert.deepEqual(native.map(toHex), jsDigests(msgs).map(toHex));
    const inputs = cases.map((c) => Uint8Array.from({ length: c.input_len }, (_, i) => i % 251));
    const got = nativeDigests(addon!)(inputs);
    assert.ok(cases.length > 0);
    cases.forEach((c, i) => assert.equal(toHex(got[i]!), c.hash.slice(0, 64)));
  });

  it("an empty batch gives no digests; bad offsets or output length throw", () => {
    assert.deepEqual(nativeDigests(addon!)([]), []);
    assert.throws(() => addon!.blake3Into(new Uint8Array(4), Uint32Array.of(0, 5), new Uint8Array(32)));
    assert.throws(() => addon!.blake3Into(new Uint8Array(4), Uint32Array.of(3, 1), new Uint8Array(32)));
    assert.throws(() => addon!.blake3Into(new Uint8Array(4), Uint32Array.of(0, 4), new Uint8Array(31)));
  });

  it("verifyEncoded (hash + ZIP-215 in one call) agrees with BLAKE3 + verifyZip215, batch and single", () => {
    const n = 40;
    const seeds = Array.from({ length: 4 }, () => new Uint8Array(randomBytes(32)));
    const encs: Uint8Array[] = [];
    const pks = new Uint8Array(32 * n);
    const sigs = new Uint8Array(64 * n);
    const expect: number[] = [];
    for (let i = 0; i < n; i++) {
      const seed = seeds[i % 4]!;
      const enc = encodeAttestation({ version: 1, validatorId: `v${i % 4}`, epoch: i, slot: i, payloadDigest: new Uint8Array(32), nonce: new Uint8Array(randomBytes(16)), timestampMs: 1 });
      const sig = signMessage(seed, attestationDigest(enc));
      if (i % 7 === 3) sig[5] = (sig[5]! ^ 1) & 255; // forged
      encs.push(enc);
      pks.set(publicKeyOf(seed), 32 * i);
      sigs.set(sig, 64 * i);
      expect.push(verifyZip215(publicKeyOf(seed), attestationDigest(enc), sig) ? 1 : 0);
    }
    const offsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i]! + encs[i]!.length;
    const data = Buffer.concat(encs);
    for (const batch of [true, false]) {
      const digests = new Uint8Array(32 * n);
      const verdicts = new Uint8Array(n);
      addon!.verifyEncoded(pks, data, offsets, sigs, digests, verdicts, batch);
      assert.deepEqual([...verdicts], expect);
      for (let i = 0; i < n; i++) assert.equal(toHex(digests.subarray(32 * i, 32 * i + 32)), toHex(attestationDigest(encs[i]!)));
    }
    assert.ok(expect.includes(0) && expect.includes(1));
  });
});

describe("decode without BigInt", () => {
  it("round-trips the u53 boundaries and rejects 2^53 in each integer field", () => {
    const base = { version: 1, validatorId: "a.B_c-9", epoch: 0, slot: 2 ** 32 - 1, payloadDigest: new Uint8Array(32), nonce: new Uint8Array(16), timestampMs: 2 ** 32 };
    for (const v of [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52 + 12345, Number.MAX_SAFE_INTEGER]) {
      for (const field of ["epoch", "slot", "timestampMs"] as const) {
        const a = { ...base, [field]: v };
        assert.deepEqual(decodeAttestation(encodeAttestation(a)), a);
      }
    }
    const enc = encodeAttestation(base);
    const idEnd = 2 + base.validatorId.length;
    for (const at of [idEnd, idEnd + 8, idEnd + 8 + 8 + 32 + 16]) {
      const bad = enc.slice();
      bad.set([0, 0x20, 0, 0, 0, 0, 0, 0], at); // 2^53
      assert.throws(() => decodeAttestation(bad), /exceeds 2\^53-1/);
      const max = enc.slice();
      max.set([0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], at);
      assert.doesNotThrow(() => decodeAttestation(max));
    }
  });
});
