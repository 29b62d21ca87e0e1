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

/** Known answers: the bytes written out field by field from the layout in src/poi/attestation.ts, not by the encoder. */
const KNOWN_ANSWERS: { name: string; attestation: Attestation; hex: string }[] = [
  {
    name: "small values (hi words zero)",
    attestation: sample(),
    hex: [
      "01", // version
      "05", // validatorId length
      "6e6f646530", // "node0"
      "0000000000000007", // epoch 7
      "000000000000002a", // slot 42
      "ab".repeat(32), // payloadDigest
      "01".repeat(16), // nonce
      "0000018bcfe56800", // timestampMs 1 700 000 000 000 = 0x18bcfe56800
    ].join(""),
  },
  {
    name: "every field distinct, hi words non-zero",
    attestation: {
      version: 1,
      validatorId: "V-1.x_9",
      epoch: 0x000f0e0d0c0b0a09,
      slot: 0x001f1e1d1c1b1a19,
      payloadDigest: Uint8Array.from({ length: 32 }, (_, i) => i),
      nonce: Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i),
      timestampMs: 0x0011223344556677,
    },
    hex: [
      "01",
      "07",
      "562d312e785f39", // "V-1.x_9"
      "000f0e0d0c0b0a09",
      "001f1e1d1c1b1a19",
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
      "0011223344556677",
    ].join(""),
  },
];

describe("attestation encoding v1: known answers and boundaries", () => {
  const fields = (a: Attestation) => ({ ...a, payloadDigest: toHex(a.payloadDigest), nonce: toHex(a.nonce) });

  for (const k of KNOWN_ANSWERS) {
    it(`encodes to the pinned bytes and decodes back: ${k.name}`, () => {
      assert.equal(toHex(encodeAttestation(k.attestation)), k.hex);
      assert.deepEqual(fields(decodeAttestation(new Uint8Array(Buffer.from(k.hex, "hex")))), fields(k.attestation));
    });
  }

  it("decodes from a subarray at a non-zero offset (long and short ids)", () => {
    for (const id of ["n", "x".repeat(33), "y".repeat(64)]) {
      const enc = encodeAttestation({ ...sample(), validatorId: id });
      const padded = new Uint8Array(enc.length + 3);
      padded.set(enc, 3);
      assert.deepEqual(fields(decodeAttestation(padded.subarray(3))), fields({ ...sample(), validatorId: id }));
    }
  });

  it("u53 fields: 2^53-1 is accepted both ways; 2^53 is refused, naming the field", () => {
    const max = Number.MAX_SAFE_INTEGER;
    for (const [field, at] of [["epoch", 7], ["slot", 15], ["timestampMs", 7 + 8 + 8 + 32 + 16]] as const) {
      const a = { ...sample(), [field]: max };
      const enc = encodeAttestation(a);
      assert.equal(toHex(enc.subarray(at, at + 8)), "001fffffffffffff");
      assert.equal(decodeAttestation(enc)[field], max);
      const over = Uint8Array.from(enc);
      over.set([0x00, 0x20, 0, 0, 0, 0, 0, 0], at); // hi word 0x200000: 2^53
      assert.throws(() => decodeAttestation(over), (e: unknown) => e instanceof AttestationFormatError && e.reason === "malformed" && e.message === `${field} exceeds 2^53-1`);
      assert.throws(() => encodeAttestation({ ...sample(), [field]: max + 1 }), new RegExp(`^AttestationFormatError: ${field} must be an integer`));
      assert.throws(() => encodeAttestation({ ...sample(), [field]: 1.5 }), new RegExp(`${field} must be an integer`));
    }
  });

  it("validatorId: 64 characters accepted, length byte 0 and 65 refused, every id character accepted", () => {
    const id64 = "A".repeat(64);
    const enc = encodeAttestation({ ...sample(), validatorId: id64 });
    assert.equal(enc.length, 74 + 64);
    assert.equal(decodeAttestation(enc).validatorId, id64);
    assert.throws(() => encodeAttestation({ ...sample(), validatorId: "A".repeat(65) }), /validatorId must match/);
    assert.throws(() => encodeAttestation({ ...sample(), validatorId: "" }), /validatorId must match/);
    const long = new Uint8Array([1, 65, ...new Uint8Array(65).fill(0x41), ...new Uint8Array(72)]);
    assert.throws(() => decodeAttestation(long), /validatorId length must be in \[1, 64\]/);
    const all = "azAZ09._-";
    assert.equal(decodeAttestation(encodeAttestation({ ...sample(), validatorId: all })).validatorId, all);
    for (const bad of ["`", "{", "@", "[", "/", ":", " ", "\u00ff"]) {
      const e = Uint8Array.from(encodeAttestation({ ...sample(), validatorId: "a" }));
      e[2] = bad.charCodeAt(0);
      assert.throws(() => decodeAttestation(e), /validatorId must match/, `id byte 0x${e[2]!.toString(16)}`);
    }
  });

  it("names each malformed field on encode", () => {
    const cases: [Partial<Attestation>, RegExp][] = [
      [{ payloadDigest: new Uint8Array(31) }, /^payloadDigest must be 32 bytes$/],
      [{ payloadDigest: [] as unknown as Uint8Array }, /^payloadDigest must be 32 bytes$/],
      [{ nonce: new Uint8Array(17) }, /^nonce must be 16 bytes$/],
      [{ nonce: "x".repeat(16) as unknown as Uint8Array }, /^nonce must be 16 bytes$/],
      [{ validatorId: 5 as unknown as string }, /^validatorId must match/],
      [{ version: 2 }, /^version 2 is not supported$/],
    ];
    for (const [patch, msg] of cases) {
      assert.throws(() => encodeAttestation({ ...sample(), ...patch }), (e: unknown) => e instanceof AttestationFormatError && msg.test(e.message), JSON.stringify(Object.keys(patch)));
    }
    assert.throws(() => decodeAttestation("0105" as unknown as Uint8Array), /^AttestationFormatError: encoding is too short$/);
    const enc = encodeAttestation(sample());
    assert.throws(() => decodeAttestation(new Uint8Array([...enc, 0])), new RegExp(`encoding must be ${enc.length} bytes`));
    assert.throws(() => decodeAttestation(new Uint8Array([7, ...enc.subarray(1)])), /^AttestationFormatError: version 7 is not supported$/);
  });
});
