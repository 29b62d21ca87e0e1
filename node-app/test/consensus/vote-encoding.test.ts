import { strict as assert } from "node:assert";
import fc from "fast-check";
import {
  decodeVote,
  encodeVote,
  MAX_VOTE_ENCODED_LENGTH,
  MIN_VOTE_ENCODED_LENGTH,
  signVote,
  verifyVote,
  voteDigest,
  voteSignatureItem,
  VOTE_DOMAIN,
  VOTE_VERSION,
  VoteFormatError,
  type Vote,
} from "../../src/consensus";
import {
  ATTESTATION_VERSION,
  AttestationFormatError,
  attestationDigest,
  bytesEqual,
  decodeAttestation,
  encodeAttestation,
  nobleVerifier,
  publicKeyOf,
  signAttestation,
  signMessageNoble,
  toHex,
  verifyZip215,
  type Attestation,
} from "../../src/poi";
import { hex } from "../helpers";

const SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"); // RFC 8032 TEST 1
const OTHER = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"); // RFC 8032 TEST 2
const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const idArb = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/);
const voteArb: fc.Arbitrary<Vote> = fc.record({
  validatorId: idArb,
  slot: fc.oneof(u53, fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)),
  blockHash: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(toHex),
});
const attestationArb: fc.Arbitrary<Attestation> = fc.record({
  version: fc.constant(ATTESTATION_VERSION),
  validatorId: idArb,
  epoch: u53,
  slot: u53,
  payloadDigest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  timestampMs: u53,
});
const sample: Vote = { validatorId: "node0", slot: 42, blockHash: "ab".repeat(32) };

function voteError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof VoteFormatError) return `${e.field}:${e.rule}`;
    throw e;
  }
  return "accepted";
}

describe("vote encoding v1", () => {
  it("has the documented byte layout (golden vector)", () => {
    const enc = encodeVote(sample);
    assert.equal(
      toHex(enc),
      "42495a52412d564f5445" + // "BIZRA-VOTE"
        "01" + // version
        "05" + "6e6f646530" + // id length, "node0"
        "000000000000002a" + // slot 42, u64 big-endian
        "ab".repeat(32), // block hash
    );
    assert.equal(Buffer.from(enc.subarray(0, 10)).toString("ascii"), VOTE_DOMAIN);
    assert.equal(enc[10], VOTE_VERSION);
    assert.equal(enc.length, 52 + 5);
    assert.equal(toHex(voteDigest(enc)), "f2cd2f67fc014d506587c9da0e1024379a3199994af593c281dea21a50a5bf1a");
    const signed = signVote(sample, SEED);
    assert.equal(
      toHex(signed.signature),
      "2c94c81ad119a07253526ced7d94a491b41400a7242a81f34b8f5e0b4839a8e6671221bb55d1356e080cb3e0b503d07084a315eabf4ab6a12e049800f366c00c",
    );
  });

  it("round-trips: decode(encode(v)) = v (property)", () => {
    fc.assert(
      fc.property(voteArb, (v) => {
        const enc = encodeVote(v);
        assert.ok(enc.length >= MIN_VOTE_ENCODED_LENGTH && enc.length <= MAX_VOTE_ENCODED_LENGTH);
        assert.deepEqual(decodeVote(enc), { ...v });
      }),
      { numRuns: 500 },
    );
  });

  it("is injective: distinct votes have distinct encodings (property)", () => {
    const key = (v: Vote) => JSON.stringify([v.validatorId, v.slot, v.blockHash]);
    fc.assert(
      fc.property(voteArb, voteArb, (a, b) => {
        assert.equal(bytesEqual(encodeVote(a), encodeVote(b)), key(a) === key(b));
      }),
      { numRuns: 500 },
    );
    // near misses: one field changed, or bytes shifted between the id and the slot
    fc.assert(
      fc.property(voteArb, fc.integer({ min: 0, max: 2 }), (v, which) => {
        const w: Vote =
          which === 0
            ? { ...v, validatorId: v.validatorId.length < 64 ? v.validatorId + "0" : v.validatorId.slice(1) }
            : which === 1
              ? { ...v, slot: v.slot === Number.MAX_SAFE_INTEGER ? 0 : v.slot + 1 }
              : { ...v, blockHash: (v.blockHash[0] === "0" ? "1" : "0") + v.blockHash.slice(1) };
        assert.equal(bytesEqual(encodeVote(v), encodeVote(w)), false);
      }),
      { numRuns: 300 },
    );
  });

  it("decodes only what it encodes: any byte string either round-trips or is rejected (property)", () => {
    const prefixed = fc
      .tuple(fc.uint8Array({ minLength: 0, maxLength: 4 }), fc.uint8Array({ minLength: 0, maxLength: 110 }))
      .map(([head, tail]) => Uint8Array.from([...Buffer.from(VOTE_DOMAIN, "ascii"), ...head, ...tail]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 130 }), prefixed), (bytes) => {
        let v: Vote;
        try {
          v = decodeVote(bytes);
        } catch (e) {
          assert.ok(e instanceof VoteFormatError, String(e));
          return;
        }
        assert.deepEqual(toHex(encodeVote(v)), toHex(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects bad tag, other versions, trailing bytes, slots above 2^53-1 and bad ids", () => {
    const enc = encodeVote(sample);
    const mutate = (at: number, value: number) => {
      const b = Uint8Array.from(enc);
      b[at] = value;
      return b;
    };
    assert.equal(voteError(() => decodeVote(mutate(0, 0x62))), "encoding:malformed");
    assert.equal(voteError(() => decodeVote(mutate(10, 2))), "encoding:unsupported_version");
    assert.equal(voteError(() => decodeVote(mutate(10, 0))), "encoding:unsupported_version");
    assert.equal(voteError(() => decodeVote(mutate(11, 0))), "validatorId:malformed");
    assert.equal(voteError(() => decodeVote(mutate(11, 65))), "validatorId:malformed");
    assert.equal(voteError(() => decodeVote(mutate(12, 0x20))), "validatorId:malformed");
    assert.equal(decodeVote(mutate(18, 0x1f)).slot, 0x1f * 2 ** 48 + 42); // bytes 17..24: the slot
    assert.equal(voteError(() => decodeVote(mutate(18, 0x20))), "slot:malformed"); // 2^53 and above
    assert.equal(voteError(() => decodeVote(Uint8Array.from([...enc, 0]))), "encoding:malformed");
    assert.equal(voteError(() => decodeVote(enc.subarray(0, enc.length - 1))), "encoding:malformed");
    assert.equal(voteError(() => decodeVote(new Uint8Array(0))), "encoding:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, validatorId: "" })), "validatorId:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, validatorId: "x".repeat(65) })), "validatorId:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, slot: -1 })), "slot:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, slot: 1.5 })), "slot:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, slot: 2 ** 53 })), "slot:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, blockHash: "AB".repeat(32) })), "blockHash:malformed");
    assert.equal(voteError(() => encodeVote({ ...sample, blockHash: "ab".repeat(31) })), "blockHash:malformed");
  });
});

describe("vote encoding vs attestation encoding (domain separation)", () => {
  it("a vote's bytes never equal an attestation's encoding, and neither decodes as the other (property)", () => {
    fc.assert(
      fc.property(voteArb, attestationArb, (v, a) => {
        const ve = encodeVote(v);
        const ae = encodeAttestation(a);
        assert.equal(bytesEqual(ve, ae), false);
        assert.notEqual(ve[0], ae[0]);
        assert.throws(() => decodeAttestation(ve), AttestationFormatError);
        assert.throws(() => decodeVote(ae), VoteFormatError);
      }),
      { numRuns: 500 },
    );
  });

  it("the vote tag byte is not an attestation version, now or as decodeAttestation accepts", () => {
    const tag = Buffer.from(VOTE_DOMAIN, "ascii")[0] as number;
    assert.notEqual(tag, ATTESTATION_VERSION);
    // every byte string starting with the vote tag is refused by the attestation decoder
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 140 }), (tail) => {
        assert.throws(() => decodeAttestation(Uint8Array.from([tag, ...tail])), AttestationFormatError);
      }),
      { numRuns: 300 },
    );
  });

  it("signatures do not cross domains: an attestation signature is no vote signature, and back (property)", () => {
    const pub = publicKeyOf(SEED);
    fc.assert(
      fc.property(voteArb, attestationArb, (v, a) => {
        const att = signAttestation(a, SEED);
        const vote = signVote(v, SEED);
        assert.equal(verifyVote(v, pub, att.signature), false);
        assert.equal(verifyZip215(pub, attestationDigest(att.encoding), vote.signature), false);
        assert.equal(verifyZip215(pub, attestationDigest(vote.encoding), att.signature), false);
      }),
      { numRuns: 40 },
    );
  });
});

describe("vote signatures", () => {
  const pub = publicKeyOf(SEED);

  it("sign then verify; any change of the vote, key or signature fails (property)", () => {
    fc.assert(
      fc.property(voteArb, voteArb, fc.integer({ min: 0, max: 63 }), fc.integer({ min: 0, max: 7 }), (v, w, byte, bit) => {
        const s = signVote(v, SEED);
        assert.equal(toHex(s.publicKey), toHex(pub));
        assert.equal(verifyVote(v, pub, s.signature), true);
        assert.equal(verifyVote(v, publicKeyOf(OTHER), s.signature), false);
        const flipped = Uint8Array.from(s.signature);
        flipped[byte] = (flipped[byte] as number) ^ (1 << bit);
        assert.equal(verifyVote(v, pub, flipped), false);
        if (!bytesEqual(encodeVote(v), encodeVote(w))) assert.equal(verifyVote(w, pub, s.signature), false);
      }),
      { numRuns: 60 },
    );
  });

  it("signs with signMessage (same bytes as the noble reference) over BLAKE3(encoding)", () => {
    fc.assert(
      fc.property(voteArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), (v, seed) => {
        const s = signVote(v, seed);
        assert.equal(toHex(s.digest), toHex(voteDigest(encodeVote(v))));
        assert.equal(toHex(s.signature), toHex(signMessageNoble(seed, s.digest)));
      }),
      { numRuns: 40 },
    );
  });

  it("verifies by the ZIP-215 rule: S + L is refused; the backend item agrees with verifyVote", async () => {
    const s = signVote(sample, SEED);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    let sl = 0n;
    for (let i = 31; i >= 0; i--) sl = (sl << 8n) | BigInt(s.signature[32 + i] as number);
    sl += L;
    const malleated = Uint8Array.from(s.signature);
    for (let i = 0; i < 32; i++) {
      malleated[32 + i] = Number(sl & 0xffn);
      sl >>= 8n;
    }
    assert.equal(verifyVote(sample, pub, malleated), false);
    const items = [s.signature, malleated].map((sig) => voteSignatureItem(sample, pub, sig));
    assert.deepEqual(await nobleVerifier.verifyMany(items), [true, false]);
  });

  it("never throws on malformed input: wrong lengths or bad votes are false", () => {
    const s = signVote(sample, SEED);
    assert.equal(verifyVote(sample, pub, s.signature.subarray(0, 63)), false);
    assert.equal(verifyVote(sample, pub.subarray(0, 31), s.signature), false);
    assert.equal(verifyVote({ ...sample, slot: -1 }, pub, s.signature), false);
    assert.equal(voteError(() => voteSignatureItem(sample, pub, new Uint8Array(63))), "signature:malformed");
  });
});
