/** Boundaries and named refusals of the PoI rules: byte helpers, the replay window, the verifier's checks. */
import { strict as assert } from "node:assert";
import {
  AttestationVerifier,
  ReplayWindow,
  bytesEqual,
  concatBytes,
  fromHex,
  nobleVerifier,
  publicKeyOf,
  signAttestation,
  toHex,
  verifyZip215,
  type Attestation,
  type SignatureVerifier,
} from "../../src/poi";
import { hex, manualClock } from "../helpers";

const seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const T = 1_700_000_000_000;
const nonce = (n: number) => Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? n : 0));

describe("poi rules: bytes", () => {
  it("fromHex: lower-case even-length hex only, with the expected length named", () => {
    assert.deepEqual(fromHex(""), new Uint8Array(0));
    assert.deepEqual(fromHex("00ff10"), Uint8Array.of(0, 255, 16));
    for (const bad of ["0", "FF", "0g", " 00", "00 ", "zz"]) assert.throws(() => fromHex(bad), /^TypeError: expected lower-case hex with an even number of digits$/, bad);
    assert.deepEqual(fromHex("0102", 2), Uint8Array.of(1, 2));
    assert.throws(() => fromHex("0102", 3), /^RangeError: expected 3 bytes, got 2$/);
  });

  it("toHex of a subarray covers only its bytes", () => {
    const b = Uint8Array.of(1, 2, 3, 4);
    assert.equal(toHex(b.subarray(1, 3)), "0203");
  });

  it("bytesEqual: equal contents, different lengths, one differing bit anywhere", () => {
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
    assert.equal(bytesEqual(new Uint8Array(0), new Uint8Array(0)), true);
    assert.equal(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0)), false);
    assert.equal(bytesEqual(Uint8Array.of(1, 2, 0), Uint8Array.of(1, 2)), false);
    for (let i = 0; i < 3; i++) {
      const a = Uint8Array.of(9, 9, 9);
      const b = Uint8Array.of(9, 9, 9);
      b[i] = 9 ^ 0x80;
      assert.equal(bytesEqual(a, b), false, `byte ${i}`);
    }
  });

  it("concatBytes keeps order and lengths", () => {
    assert.deepEqual(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3)), Uint8Array.of(1, 2, 3));
    assert.deepEqual(concatBytes(), new Uint8Array(0));
  });

  it("verifyZip215 answers false, never throws, for wrong key or signature lengths and undecodable keys", () => {
    const msg = Uint8Array.of(1);
    const pk = publicKeyOf(seed);
    const sig = signAttestation({ version: 1, validatorId: "v", epoch: 0, slot: 0, payloadDigest: new Uint8Array(32), nonce: nonce(0), timestampMs: 0 }, seed).signature;
    assert.equal(verifyZip215(pk.subarray(1), msg, sig), false);
    assert.equal(verifyZip215(pk, msg, sig.subarray(1)), false);
    assert.equal(verifyZip215(new Uint8Array(32).fill(0xff), msg, sig), false);
    assert.deepEqual(nobleVerifier.verifyMany([{ publicKey: pk, message: msg, signature: new Uint8Array(64) }]), [false]);
    assert.equal(nobleVerifier.name, "noble-zip215");
  });
});

describe("poi rules: replay window", () => {
  it("defaults: 30 s window, 2 s skew, 100 000 entries in all and per validator", () => {
    const w = new ReplayWindow();
    assert.deepEqual([w.windowMs, w.maxClockSkewMs, w.maxEntries, w.maxEntriesPerValidator, w.size, w.floorOf("v")], [30_000, 2_000, 100_000, 100_000, 0, -1]);
  });

  it("refuses bad options by name; 0 window and 0 skew are allowed", () => {
    assert.throws(() => new ReplayWindow({ windowMs: -1 }), /^RangeError: windowMs must be a non-negative integer$/);
    assert.throws(() => new ReplayWindow({ windowMs: 1.5 }), /^RangeError: windowMs must be a non-negative integer$/);
    assert.throws(() => new ReplayWindow({ maxClockSkewMs: -1 }), /^RangeError: maxClockSkewMs must be a non-negative integer$/);
    assert.throws(() => new ReplayWindow({ maxEntries: 0 }), /^RangeError: maxEntries must be a positive integer$/);
    assert.throws(() => new ReplayWindow({ maxEntries: 2.5 }), /^RangeError: maxEntries must be a positive integer$/);
    const w = new ReplayWindow({ windowMs: 0, maxClockSkewMs: 0, maxEntries: 1 });
    assert.equal(w.admit("v", nonce(1), T, T), "ok");
    assert.equal(w.admit("v", nonce(2), T - 1, T), "stale");
    assert.equal(w.admit("v", nonce(3), T + 1, T), "stale");
  });

  it("peek classifies without remembering", () => {
    const w = new ReplayWindow();
    assert.equal(w.peek("v", nonce(1), T, T), "ok");
    assert.equal(w.peek("v", nonce(1), T, T), "ok");
    assert.equal(w.size, 0);
    w.admit("v", nonce(1), T, T);
    assert.equal(w.peek("v", nonce(1), T, T), "replayed");
    assert.equal(w.peek("w", nonce(1), T, T), "ok");
    assert.equal(w.peek("v", nonce(2), T, T), "ok");
  });

  it("a stale or replayed verdict remembers nothing", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxClockSkewMs: 0 });
    assert.equal(w.admit("v", nonce(1), T - 5_000, T), "stale");
    assert.equal(w.size, 0);
    w.admit("v", nonce(2), T, T);
    assert.equal(w.admit("v", nonce(2), T, T), "replayed");
    assert.equal(w.size, 1);
  });

  it("expiry: a pair is remembered while its timestamp is at the window edge and forgotten one millisecond later", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxClockSkewMs: 0 });
    w.admit("v", nonce(1), T, T);
    assert.equal(w.peek("v", nonce(1), T + 1_000, T + 1_000), "replayed", "keyed by (validator, nonce), whatever the timestamp");
    assert.equal(w.size, 1);
    assert.equal(w.peek("v", nonce(1), T + 1_001, T + 1_001), "ok");
    assert.equal(w.size, 0);
  });

  it("eviction at maxEntries drops the oldest entry of the validator holding the most, and raises only its floor", () => {
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000, maxEntries: 3 });
    assert.equal(w.admit("v", nonce(1), T - 300, T), "ok");
    assert.equal(w.admit("v", nonce(2), T - 100, T), "ok");
    assert.equal(w.admit("v", nonce(3), T - 200, T), "ok");
    assert.equal(w.admit("v", nonce(4), T, T), "ok"); // evicts v/1 (T - 300)
    assert.deepEqual([w.size, w.floorOf("v")], [3, T - 300]);
    assert.equal(w.admit("v", nonce(1), T - 300, T), "stale");
    assert.equal(w.admit("x", nonce(9), T - 300, T), "ok", "another validator's floor is its own"); // evicts v/3 (T - 200)
    assert.deepEqual([w.size, w.floorOf("v"), w.floorOf("x")], [3, T - 200, -1]);
    assert.equal(w.peek("v", nonce(3), T - 150, T), "ok", "the evicted pair is forgotten");
    assert.equal(w.peek("v", nonce(2), T - 100, T), "replayed");
    assert.equal(w.peek("x", nonce(9), T - 300, T), "replayed");
  });

  it("an arrival older than every remembered pair, when full, raises the floor past itself: stale, not remembered", () => {
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 0, maxEntries: 2 });
    w.admit("v", nonce(1), T - 10, T);
    w.admit("v", nonce(2), T - 20, T);
    assert.equal(w.admit("v", nonce(3), T - 30, T), "stale");
    assert.deepEqual([w.size, w.floorOf("v")], [1, T - 20]);
    assert.equal(w.peek("v", nonce(3), T - 5, T), "ok");
  });

  it("the heap keeps expiry in timestamp order whatever the arrival order", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxClockSkewMs: 1_000 });
    const stamps = [500, 100, 900, 300, 700, 200, 800, 400, 600, 0];
    stamps.forEach((s, i) => assert.equal(w.admit("v", nonce(i), T + s, T + 500), "ok"));
    for (const s of [...stamps].sort((a, b) => a - b)) {
      const before = w.size;
      w.peek("v", nonce(99), T + 1_500, T + 1_000 + s + 1); // moves the clock so exactly the entries <= s expire
      assert.equal(w.size, stamps.filter((x) => x > s).length, `after expiring ${s} (was ${before})`);
    }
  });
});

describe("poi rules: verifier", () => {
  const keys = new Map([["v1", publicKeyOf(seed)]]);
  const att = (n: number, over: Partial<Attestation> = {}): Attestation => ({
    version: 1, validatorId: "v1", epoch: 1, slot: n, payloadDigest: new Uint8Array(32), nonce: nonce(n), timestampMs: T, ...over,
  });
  const verifier = (backend: SignatureVerifier = nobleVerifier, extra: object = {}) =>
    new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), backend, now: manualClock(T).now, ...extra });

  it("names each refusal with its detail", async () => {
    const v = verifier();
    const good = signAttestation(att(1), seed);
    const results = await v.verifyBatch([
      { encoding: good.encoding, signature: new Uint8Array(63) },
      signAttestation(att(2, { validatorId: "nobody" }), seed),
      signAttestation(att(3, { timestampMs: T - 30_001 }), seed),
      { encoding: good.encoding, signature: new Uint8Array(64) },
      good,
      good,
      { encoding: new Uint8Array([1]), signature: good.signature },
      { encoding: "x" as unknown as Uint8Array, signature: good.signature },
    ]);
    assert.deepEqual(results.slice(0, 4).concat(results.slice(5)), [
      { ok: false, reason: "malformed", detail: "signature must be 64 bytes" },
      { ok: false, reason: "unknown_validator", detail: "validator nobody is not registered" },
      { ok: false, reason: "stale", detail: "timestamp outside the replay window" },
      { ok: false, reason: "bad_signature", detail: "Ed25519 (ZIP-215) verification failed" },
      { ok: false, reason: "replayed", detail: "nonce already used" },
      { ok: false, reason: "malformed", detail: "encoding is too short" },
      { ok: false, reason: "malformed", detail: "encoding is too short" },
    ]);
    const ok = results[4]!;
    assert.equal(ok.ok, true);
    if (ok.ok) {
      assert.equal(toHex(ok.digest), toHex(good.digest));
      assert.equal(ok.attestation.slot, 1);
    }
  });

  it("an empty batch gives no results and calls no backend", async () => {
    let calls = 0;
    const counting: SignatureVerifier = { name: "c", verifyOne: () => false, verifyMany: (i) => { calls++; return i.map(() => true); } };
    assert.deepEqual(await verifier(counting).verifyBatch([]), []);
    const onlyBad = await verifier(counting).verifyBatch([{ encoding: new Uint8Array(0), signature: new Uint8Array(64) }]);
    assert.equal(onlyBad.length, 1);
    assert.equal(calls, 0);
  });

  it("a backend or digest function that answers the wrong number of items is an error, not a verdict", async () => {
    const item = signAttestation(att(1), seed);
    const short: SignatureVerifier = { name: "short", verifyOne: () => true, verifyMany: () => [] };
    await assert.rejects(verifier(short).verifyBatch([item]), /^Error: signature backend returned the wrong number of results$/);
    await assert.rejects(verifier(nobleVerifier, { digests: () => [] }).verifyBatch([item]), /^Error: digest function returned the wrong number of digests$/);
    const encodedShort: SignatureVerifier = { ...nobleVerifier, verifyEncoded: () => ({ digests: [], verdicts: new Uint8Array(1) }) };
    await assert.rejects(verifier(encodedShort).verifyBatch([item]), /^Error: signature backend returned the wrong number of results$/);
    const verdictsShort: SignatureVerifier = { ...nobleVerifier, verifyEncoded: () => ({ digests: [new Uint8Array(32)], verdicts: new Uint8Array(0) }) };
    await assert.rejects(verifier(verdictsShort).verifyBatch([item]), /^Error: signature backend returned the wrong number of results$/);
  });

  it("a backend verdict is valid only when it is exactly true (verifyMany) or 1 (verifyEncoded)", async () => {
    const item = signAttestation(att(1), seed);
    const truthy: SignatureVerifier = { name: "truthy", verifyOne: () => true, verifyMany: (i) => i.map(() => 1 as unknown as boolean) };
    assert.equal((await verifier(truthy).verify(item)).ok, false);
    const two: SignatureVerifier = { ...nobleVerifier, verifyEncoded: (b) => ({ digests: b.encodings.map(() => new Uint8Array(32)), verdicts: Uint8Array.of(2) }) };
    assert.equal((await verifier(two).verify(item)).ok, false);
  });

  it("hash-and-verify is used only without a cache (the backend hashes; a digest function does not turn it off), and its digests are returned", async () => {
    const item = signAttestation(att(1), seed);
    const marker = new Uint8Array(32).fill(0xee);
    const enc: SignatureVerifier = { ...nobleVerifier, verifyEncoded: (b) => ({ digests: b.encodings.map(() => marker), verdicts: Uint8Array.of(1) }) };
    const v = verifier(enc);
    assert.equal(v.encoded, true);
    const r = await v.verify(item);
    assert.ok(r.ok);
    if (r.ok) assert.equal(toHex(r.digest), toHex(marker));
    assert.equal(verifier(enc, { cache: { get: () => undefined, set: () => undefined } }).encoded, false);
    assert.equal(verifier(enc, { digests: (e: readonly Uint8Array[]) => e.map(() => marker) }).encoded, true);
    assert.equal(verifier(nobleVerifier).encoded, false);
  });

  it("the cache key binds the key, the signature and the digest; a cached false stays false", async () => {
    const store = new Map<string, boolean>();
    const cache = { get: (k: string) => store.get(k), set: (k: string, ok: boolean) => void store.set(k, ok) };
    const v = verifier(nobleVerifier, { cache });
    const item = signAttestation(att(1), seed);
    const forged = { encoding: item.encoding, signature: new Uint8Array(64).fill(3) };
    assert.equal((await v.verify(forged)).ok, false);
    const [key] = [...store.keys()];
    assert.equal(key, Buffer.concat([publicKeyOf(seed), forged.signature, item.digest]).toString("latin1"));
    assert.equal(store.get(key!), false);
    assert.equal((await v.verify(item)).ok, true);
    assert.equal(store.size, 2);
    const again = await v.verify(forged);
    assert.equal(again.ok ? "ok" : again.reason, "bad_signature");
  });
});
