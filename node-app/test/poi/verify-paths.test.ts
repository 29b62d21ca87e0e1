/**
 * The verifier's paths beyond the noble backend: hash-and-verify backends (`verifyEncoded`), replay guards that refuse
 * at admission what `peek` let through, the documented order of checks, and signing with a digest function that
 * reuses its buffer. Whole result arrays are compared, so a result written anywhere else shows.
 */
import { strict as assert } from "node:assert";
import {
  AttestationVerifier,
  ReplayWindow,
  attestationDigest,
  jsDigests,
  nobleVerifier,
  publicKeyOf,
  signAttestation,
  signMessage,
  signMessageNoble,
  verifyZip215,
  type Attestation,
  type ReplayGuard,
  type SignatureVerifier,
} from "../../src/poi";
import { hex, manualClock } from "../helpers";

const seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const T = 1_700_000_000_000;
const nonce = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0));
const att = (n: number, over: Partial<Attestation> = {}): Attestation => ({
  version: 1, validatorId: "v1", epoch: 1, slot: n, payloadDigest: new Uint8Array(32), nonce: nonce(n), timestampMs: T, ...over,
});
const keys = new Map([["v1", publicKeyOf(seed)]]);
const verifier = (extra: object = {}) => new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), now: manualClock(T).now, ...extra });
const BAD = { ok: false, reason: "bad_signature", detail: "Ed25519 (ZIP-215) verification failed" } as const;
const okOf = (issued: ReturnType<typeof signAttestation>) => ({ ok: true, attestation: issued.attestation, digest: issued.digest });

/** A hash-and-verify backend written with the reference primitives: BLAKE3 in TypeScript, ZIP-215 by noble. */
const encodedBackend: SignatureVerifier = {
  ...nobleVerifier,
  name: "encoded-reference",
  verifyEncoded: ({ keys: ks, signatures, encodings }) => {
    const digests = jsDigests(encodings);
    return { digests, verdicts: Uint8Array.from(digests, (d, i) => (verifyZip215(ks[i]!, d, signatures[i]!) ? 1 : 0)) };
  },
};

describe("verifier paths", () => {
  it("hash-and-verify backend: each item gets its own signature; exactly the expected results, nothing else", async () => {
    const v = verifier({ backend: encodedBackend });
    assert.equal(v.encoded, true);
    const a = signAttestation(att(1), seed);
    const b = signAttestation(att(2), seed);
    const swapped = { encoding: b.encoding, signature: a.signature };
    const results = await v.verifyBatch([a, { encoding: new Uint8Array(0), signature: a.signature }, swapped, b]);
    assert.deepStrictEqual(results, [okOf(a), { ok: false, reason: "malformed", detail: "encoding is too short" }, BAD, okOf(b)]);
  });

  it("noble backend and a signature cache: exactly the expected results, cached or not", async () => {
    const memo = new Map<string, boolean>();
    const cache = { get: (k: string) => memo.get(k), set: (k: string, valid: boolean) => void memo.set(k, valid) };
    const v = verifier({ cache });
    assert.equal(v.encoded, false);
    const a = signAttestation(att(1), seed);
    const b = signAttestation(att(2), seed);
    assert.deepStrictEqual(await v.verifyBatch([a, { encoding: b.encoding, signature: a.signature }]), [okOf(a), BAD]);
    assert.equal(memo.size, 2);
    const c = signAttestation(att(3), seed);
    assert.deepStrictEqual(await v.verifyBatch([{ encoding: b.encoding, signature: a.signature }, c, a]), [BAD, okOf(c), { ok: false, reason: "replayed", detail: "nonce already used" }]);
  });

  it("a replay guard that refuses at admission: its verdict is the result, stale or replayed; a wrong count is an error", async () => {
    const a = signAttestation(att(1), seed);
    const b = signAttestation(att(2), seed);
    const guard = (verdicts: ("ok" | "stale" | "replayed")[]): ReplayGuard => ({ windowMs: 30_000, maxClockSkewMs: 2_000, peek: () => "ok", admitMany: () => verdicts });
    assert.deepStrictEqual(await verifier({ replay: guard(["stale", "replayed"]) }).verifyBatch([a, b]), [
      { ok: false, reason: "stale", detail: "timestamp outside the replay window" },
      { ok: false, reason: "replayed", detail: "nonce already used" },
    ]);
    assert.deepStrictEqual(await verifier({ replay: guard(["replayed", "ok"]) }).verifyBatch([a, b]), [{ ok: false, reason: "replayed", detail: "nonce already used" }, okOf(b)]);
    await assert.rejects(verifier({ replay: guard(["ok"]) }).verifyBatch([a, b]), /^Error: replay guard returned the wrong number of verdicts$/);
  });

  it("order of checks: a stale attestation with a bad signature is stale, also when the staleness is the validator's floor", async () => {
    const old = signAttestation(att(1, { timestampMs: T - 30_001 }), seed);
    assert.deepStrictEqual(await verifier().verifyBatch([{ encoding: old.encoding, signature: new Uint8Array(64) }]), [
      { ok: false, reason: "stale", detail: "timestamp outside the replay window" },
    ]);
    const w = new ReplayWindow({ maxEntriesPerValidator: 1 });
    const v = verifier({ replay: w });
    const first = signAttestation(att(1, { timestampMs: T - 10 }), seed);
    const second = signAttestation(att(2), seed);
    assert.deepStrictEqual(await v.verifyBatch([first, second]), [okOf(first), okOf(second)]);
    assert.equal(w.floorOf("v1"), T - 10, "the first pair was evicted");
    const atFloor = signAttestation(att(3, { timestampMs: T - 10 }), seed);
    assert.deepStrictEqual(await v.verifyBatch([{ encoding: atFloor.encoding, signature: new Uint8Array(64) }, atFloor]), [
      { ok: false, reason: "stale", detail: "timestamp outside the replay window" },
      { ok: false, reason: "stale", detail: "timestamp outside the replay window" },
    ]);
  });

  it("work is skipped, not repeated: no digest, backend or replay round trip for a batch with nothing left to check", async () => {
    const calls = { digests: 0, verifyMany: 0, verifyEncoded: 0, admitMany: 0 };
    const counting: SignatureVerifier = { ...nobleVerifier, verifyMany: (items) => (calls.verifyMany++, nobleVerifier.verifyMany(items)) };
    const countingEncoded: SignatureVerifier = { ...encodedBackend, verifyEncoded: (batch) => (calls.verifyEncoded++, encodedBackend.verifyEncoded!(batch)) };
    const digests = (encodings: readonly Uint8Array[]) => (calls.digests++, jsDigests(encodings));
    const w = new ReplayWindow();
    const replay: ReplayGuard = { windowMs: w.windowMs, maxClockSkewMs: w.maxClockSkewMs, peek: (...a) => w.peek(...a), admitMany: (items, now) => (calls.admitMany++, w.admitMany(items, now)) };
    const refused = { encoding: new Uint8Array(0), signature: new Uint8Array(64) };
    await verifier({ backend: counting, digests, replay }).verifyBatch([refused]);
    await verifier({ backend: countingEncoded, replay }).verifyBatch([refused]);
    assert.deepEqual(calls, { digests: 0, verifyMany: 0, verifyEncoded: 0, admitMany: 0 }, "every item refused before its signature");
    const a = signAttestation(att(1), seed);
    await verifier({ backend: counting, replay }).verifyBatch([{ encoding: a.encoding, signature: new Uint8Array(64) }]);
    assert.deepEqual([calls.verifyMany, calls.admitMany], [1, 0], "no valid signature: nothing to admit");
    const memo = new Map<string, boolean>();
    const cache = { get: (k: string) => memo.get(k), set: (k: string, valid: boolean) => void memo.set(k, valid) };
    const cached = verifier({ backend: counting, cache, replay: new ReplayWindow() });
    const forged = { encoding: a.encoding, signature: signAttestation(att(2), seed).signature };
    assert.deepStrictEqual(await cached.verifyBatch([forged]), [BAD]);
    assert.deepStrictEqual(await cached.verifyBatch([forged]), [BAD]);
    assert.equal(calls.verifyMany, 2, "the second time the cached outcome answers; the backend is not asked");
  });

  it("signing keeps its own copy of the digest when the digest function reuses one buffer; no digest is an error", () => {
    const shared = new Uint8Array(32);
    const reusing = (encodings: readonly Uint8Array[]) => {
      shared.set(attestationDigest(encodings[0]!));
      return [shared];
    };
    const a = signAttestation(att(1), seed, reusing);
    signAttestation(att(2), seed, reusing);
    assert.deepStrictEqual(a.digest, attestationDigest(a.encoding));
    assert.throws(() => signAttestation(att(1), seed, () => []), /^Error: digest function returned no digest$/);
  });

  it("signMessage gives the reference signature, and keeps the reference's refusal of a seed that is not 32 bytes", () => {
    const msg = attestationDigest(signAttestation(att(1), seed).encoding);
    assert.deepStrictEqual(signMessage(seed, msg), signMessageNoble(seed, msg));
    assert.throws(() => signMessage(new Uint8Array(31), msg), /^RangeError: "secretKey" expected Uint8Array of length 32, got length=31$/);
  });
});

describe("replay window edges", () => {
  it("a validator never seen has no floor: the smallest timestamps in the window are accepted", () => {
    const w = new ReplayWindow({ windowMs: 10 });
    assert.equal(w.admit("new", nonce(1), 0, 5), "ok");
    assert.equal(w.admit("new2", nonce(1), 1, 5), "ok");
  });

  it("a validator whose floor is exactly the window's edge is still remembered: the edge timestamp stays stale", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxEntries: 1 });
    assert.equal(w.admit("a", nonce(1), T, T), "ok");
    assert.equal(w.admit("b", nonce(1), T + 1, T + 1), "ok"); // a holds the most: its only pair goes, its floor is T
    assert.deepEqual([w.sizeOf("a"), w.floorOf("a")], [0, T]);
    assert.equal(w.peek("a", nonce(3), T, T + 1_000), "stale", "floor T, oldest allowed T: the floor still refuses it");
    assert.equal(w.floorOf("a"), T);
    assert.equal(w.peek("a", nonce(3), T + 2, T + 1_001), "ok", "once the floor is below the window, the validator is forgotten");
    assert.equal(w.floorOf("a"), -1);
  });

  it("an arrival whose own eviction raises the floor to its timestamp is stale", () => {
    const w = new ReplayWindow({ maxEntriesPerValidator: 1 });
    assert.equal(w.admit("a", nonce(1), T, T), "ok");
    assert.equal(w.admit("a", nonce(2), T, T), "stale", "evicting nonce 1 (at T) raised the floor to T");
    assert.deepEqual([w.floorOf("a"), w.sizeOf("a")], [T, 0]);
  });

  it("nonces that differ only in a trailing zero byte are different nonces", () => {
    const w = new ReplayWindow();
    assert.equal(w.admit("a", Uint8Array.of(1, 2), T, T), "ok");
    assert.equal(w.admit("a", Uint8Array.of(1, 2, 0), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array(17), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array(16), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array(17), T, T), "replayed");
  });
});
