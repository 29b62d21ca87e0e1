import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
  AttestationFormatError,
  ATTESTATION_VERSION,
  decodeAttestation,
  encodeAttestation,
  toHex,
  type Attestation,
} from "../../src/poi";

const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const attestationArb: fc.Arbitrary<Attestation> = fc.record({
  version: fc.constant(ATTESTATION_VERSION),
  validatorId: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  epoch: u53,
  slot: u53,
  payloadDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  timestampMs: u53,
});

const sample = (): Attestation => ({
  version: 1,
  validatorId: "node0",
  epoch: 7,
  slot: 42,
  payloadDigest: new Uint8Array(32).fill(0xab),
  nonce: new Uint8Array(16).fill(1),
  timestampMs: 1_700_000_000_000,
});

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AttestationFormatError) return e.reason;
    throw e;
  }
  return "accepted";
}

describe("attestation encoding v1", () => {
  it("round-trips: decode(encode(a)) = a (property)", () => {
    fc.assert(
      fc.property(attestationArb, (a) => {
        const back = decodeAttestation(encodeAttestation(a));
        assert.deepEqual({ ...back, payloadDigest: toHex(back.payloadDigest), nonce: toHex(back.nonce) }, {
          ...a,
          payloadDigest: toHex(a.payloadDigest),
          nonce: toHex(a.nonce),
        });
      }),
      { numRuns: 300 },
    );
  });

  it("is injective: distinct attestations have distinct encodings (property)", () => {
    const key = (a: Attestation) => JSON.stringify({ ...a, payloadDigest: toHex(a.payloadDigest), nonce: toHex(a.nonce) });
    fc.assert(
      fc.property(attestationArb, attestationArb, (a, b) => {
        fc.pre(key(a) !== key(b));
        assert.notEqual(toHex(encodeAttestation(a)), toHex(encodeAttestation(b)));
      }),
      { numRuns: 300 },
    );
  });

  it("is injective on near-collisions: one field changed at a time (property)", () => {
    fc.assert(
      fc.property(attestationArb, fc.nat({ max: 5 }), (a, field) => {
        const b: Attestation =
          field === 0 ? { ...a, validatorId: a.validatorId.length < 64 ? a.validatorId + "x" : a.validatorId.slice(1) }
          : field === 1 ? { ...a, epoch: a.epoch === 0 ? 1 : a.epoch - 1 }
          : field === 2 ? { ...a, slot: a.slot === 0 ? 1 : a.slot - 1 }
          : field === 3 ? { ...a, timestampMs: a.timestampMs === 0 ? 1 : a.timestampMs - 1 }
          : field === 4 ? { ...a, nonce: a.nonce.map((x, i) => (i === 0 ? x ^ 1 : x)) }
          : { ...a, payloadDigest: a.payloadDigest.map((x, i) => (i === 31 ? x ^ 0x80 : x)) };
        assert.notEqual(toHex(encodeAttestation(a)), toHex(encodeAttestation(b)));
      }),
      { numRuns: 200 },
    );
  });

  it("is canonical: every byte string the decoder accepts re-encodes to itself (property)", () => {
    const valid = encodeAttestation(sample());
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const mutated = Uint8Array.from(valid);
        mutated[at] = (mutated[at] as number) ^ x;
        let decoded: Attestation | undefined;
        try {
          decoded = decodeAttestation(mutated);
        } catch (e) {
          assert.ok(e instanceof AttestationFormatError);
          return;
        }
        assert.equal(toHex(encodeAttestation(decoded)), toHex(mutated));
      }),
      { numRuns: 300 },
    );
  });

  it("has the documented layout (74 + id length bytes, big-endian)", () => {
    const enc = encodeAttestation(sample());
    assert.equal(enc.length, 74 + 5);
    assert.equal(enc[0], 1);
    assert.equal(enc[1], 5);
    assert.equal(Buffer.from(enc.subarray(2, 7)).toString("ascii"), "node0");
    assert.equal(Buffer.from(enc.subarray(7, 15)).readBigUInt64BE(), 7n);
    assert.equal(Buffer.from(enc.subarray(15, 23)).readBigUInt64BE(), 42n);
  });

  it("rejects with named reasons", () => {
    const enc = encodeAttestation(sample());
    assert.equal(reasonOf(() => decodeAttestation(new Uint8Array([2, ...enc.subarray(1)]))), "unsupported_version");
    assert.equal(reasonOf(() => decodeAttestation(new Uint8Array([...enc, 0]))), "malformed"); // trailing byte
    assert.equal(reasonOf(() => decodeAttestation(enc.subarray(0, enc.length - 1))), "malformed"); // truncated
    assert.equal(reasonOf(() => decodeAttestation(new Uint8Array([1]))), "malformed");
    const badId = Uint8Array.from(enc);
    badId[2] = 0x20; // space is not an id character
    assert.equal(reasonOf(() => decodeAttestation(badId)), "malformed");
    const huge = Uint8Array.from(enc);
    huge.fill(0xff, 7, 15); // epoch = 2^64-1
    assert.equal(reasonOf(() => decodeAttestation(huge)), "malformed");
    const zeroId = Uint8Array.from(enc);
    zeroId[1] = 0;
    assert.equal(reasonOf(() => decodeAttestation(zeroId)), "malformed");
    assert.equal(reasonOf(() => encodeAttestation({ ...sample(), epoch: -1 })), "malformed");
    assert.equal(reasonOf(() => encodeAttestation({ ...sample(), nonce: new Uint8Array(15) })), "malformed");
    assert.equal(reasonOf(() => encodeAttestation({ ...sample(), version: 9 })), "unsupported_version");
  });
});
