import { strict as assert } from "node:assert";
import {
  AttestationVerifier,
  ReplayWindow,
  encodeAttestation,
  nobleVerifier,
  publicKeyOf,
  signAttestation,
  type Attestation,
  type SignatureVerifier,
  type SignedAttestation,
} from "../../src/poi";
import { hex, manualClock } from "../helpers";

const seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const otherSeed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");

function setup(backend: SignatureVerifier = nobleVerifier) {
  const clock = manualClock();
  const keys = new Map([["v1", publicKeyOf(seed)]]);
  const verifier = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), backend, now: clock.now, replay: new ReplayWindow() });
  const make = (n: number, over: Partial<Attestation> = {}, key = seed): SignedAttestation => {
    const nonce = new Uint8Array(16);
    nonce[15] = n;
    return signAttestation({ version: 1, validatorId: "v1", epoch: 1, slot: n, payloadDigest: new Uint8Array(32), nonce, timestampMs: clock.now(), ...over }, key);
  };
  return { clock, verifier, make };
}

describe("AttestationVerifier", () => {
  it("accepts a signed attestation and returns its digest", async () => {
    const { verifier, make } = setup();
    const r = await verifier.verify(make(1));
    assert.equal(r.ok, true);
  });

  it("names every rejection reason, per item, in one batch", async () => {
    const { verifier, make, clock } = setup();
    const good = make(1);
    const tampered = { ...make(2), signature: Uint8Array.from(make(2).signature, (b, i) => (i === 40 ? b ^ 1 : b)) };
    const unknown = make(3, { validatorId: "stranger" });
    const stale = make(4, { timestampMs: clock.now() - 31_000 });
    const future = make(5, { timestampMs: clock.now() + 60_000 });
    const wrongVersion = { encoding: Uint8Array.from(good.encoding, (b, i) => (i === 0 ? 2 : b)), signature: good.signature };
    const truncated = { encoding: good.encoding.subarray(0, good.encoding.length - 1), signature: good.signature };
    const shortSig = { encoding: make(6).encoding, signature: new Uint8Array(10) };
    const wrongKey = make(7, {}, otherSeed);
    const results = await verifier.verifyBatch([good, good, tampered, unknown, stale, future, wrongVersion, truncated, shortSig, wrongKey]);
    assert.deepEqual(
      results.map((r) => (r.ok ? "ok" : r.reason)),
      ["ok", "replayed", "bad_signature", "unknown_validator", "stale", "stale", "unsupported_version", "malformed", "malformed", "bad_signature"],
    );
  });

  it("single and batch verification agree item by item", async () => {
    const a = setup();
    const b = setup();
    const items = [a.make(1), a.make(2, { validatorId: "nobody" }), { ...a.make(3), signature: new Uint8Array(64) }];
    const batch = (await a.verifier.verifyBatch(items)).map((r) => (r.ok ? "ok" : r.reason));
    const single: string[] = [];
    for (const it of items) {
      const r = await b.verifier.verify(it);
      single.push(r.ok ? "ok" : r.reason);
    }
    assert.deepEqual(batch, single);
  });

  it("a forged attestation does not burn the honest validator's nonce", async () => {
    const { verifier, make } = setup();
    const honest = make(9);
    const forged = { encoding: honest.encoding, signature: new Uint8Array(64).fill(7) };
    assert.equal((await verifier.verify(forged)).ok, false);
    assert.equal((await verifier.verify(honest)).ok, true);
  });

  it("uses the pluggable backend for signature checks", async () => {
    let calls = 0;
    const rejectAll: SignatureVerifier = { name: "reject-all", verifyOne: () => false, verifyMany: async (items) => { calls += items.length; return items.map(() => false); } };
    const { verifier, make } = setup(rejectAll);
    const r = await verifier.verifyBatch([make(1), make(2)]);
    assert.equal(calls, 2);
    assert.deepEqual(r.map((x) => (x.ok ? "ok" : x.reason)), ["bad_signature", "bad_signature"]);
  });

  it("caches signature outcomes but still enforces replay on a cache hit", async () => {
    const clock = manualClock();
    const store = new Map<string, boolean>();
    let backendCalls = 0;
    const counting: SignatureVerifier = { name: "counting", verifyOne: nobleVerifier.verifyOne, verifyMany: (items) => { backendCalls += items.length; return nobleVerifier.verifyMany(items); } };
    const verifier = new AttestationVerifier({
      publicKeyOf: () => publicKeyOf(seed), backend: counting, now: clock.now,
      cache: { get: (k) => store.get(k), set: (k, v) => void store.set(k, v) },
    });
    const nonce = new Uint8Array(16);
    const item = signAttestation({ version: 1, validatorId: "v1", epoch: 0, slot: 0, payloadDigest: new Uint8Array(32), nonce, timestampMs: clock.now() }, seed);
    assert.equal((await verifier.verify(item)).ok, true);
    const again = await verifier.verify(item);
    assert.equal(again.ok ? "ok" : again.reason, "replayed");
    assert.equal(backendCalls, 1);
  });

  it("signs BLAKE3 of the canonical encoding", () => {
    const a: Attestation = { version: 1, validatorId: "v1", epoch: 3, slot: 4, payloadDigest: new Uint8Array(32), nonce: new Uint8Array(16), timestampMs: 5 };
    const issued = signAttestation(a, seed);
    assert.deepEqual(issued.encoding, encodeAttestation(a));
    assert.equal(nobleVerifier.verifyOne(publicKeyOf(seed), issued.digest, issued.signature), true);
    assert.equal(nobleVerifier.verifyOne(publicKeyOf(seed), issued.encoding, issued.signature), false);
  });
});
