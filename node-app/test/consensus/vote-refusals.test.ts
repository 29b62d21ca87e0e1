/** Vote encoding: each refusal with its field, rule and message; the id alphabet and length at their edges. */
import { strict as assert } from "node:assert";
import { decodeVote, encodeVote, ValidatorSet, verifyVote, voteSignatureItem, VoteFormatError, VoteTally, type Vote } from "../../src/consensus";
import { publicKeyOf } from "../../src/poi";
import { hex } from "../helpers";

const SEED = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const sample: Vote = { validatorId: "node0", slot: 42, blockHash: "ab".repeat(32) };
const refused = (fn: () => unknown, field: string, rule: string, message: string) =>
  assert.throws(fn, (e: unknown) => e instanceof VoteFormatError && e.name === "VoteFormatError" && e.field === field && e.rule === rule && e.message === message);

describe("vote encoding refusals", () => {
  it("encode: names the field and the rule, also for values of the wrong type", () => {
    const id = "validatorId must match [A-Za-z0-9._-]{1,64}";
    refused(() => encodeVote({ ...sample, validatorId: 5 as unknown as string }), "validatorId", "malformed", id);
    refused(() => encodeVote({ ...sample, validatorId: "a b" }), "validatorId", "malformed", id);
    refused(() => encodeVote({ ...sample, slot: -1 }), "slot", "malformed", "slot must be an integer in [0, 2^53-1]");
    refused(() => encodeVote({ ...sample, blockHash: 7 as unknown as string }), "blockHash", "malformed", "blockHash must be 64 lower-case hex digits");
    refused(() => encodeVote({ ...sample, blockHash: "AB".repeat(32) }), "blockHash", "malformed", "blockHash must be 64 lower-case hex digits");
  });

  it("decode: too short (under 12 bytes, or not bytes at all), tag, version, id length, total length, slot", () => {
    const enc = encodeVote(sample);
    refused(() => decodeVote(enc.subarray(0, 11)), "encoding", "malformed", "vote encoding is too short");
    refused(() => decodeVote("BIZRA-VOTE\x01\x05" as unknown as Uint8Array), "encoding", "malformed", "vote encoding is too short");
    refused(() => decodeVote(enc.subarray(0, 12)), "encoding", "malformed", "vote encoding must be 57 bytes");
    refused(() => decodeVote(Uint8Array.from(enc, (b, i) => (i === 9 ? 0x46 : b))), "encoding", "malformed", "not a vote encoding (domain tag)");
    refused(() => decodeVote(Uint8Array.from(enc, (b, i) => (i === 10 ? 2 : b))), "encoding", "unsupported_version", "vote version 2 is not supported");
    refused(() => decodeVote(Uint8Array.from(enc, (b, i) => (i === 11 ? 65 : b))), "validatorId", "malformed", "validatorId length must be in [1, 64]");
    refused(() => decodeVote(Uint8Array.from([...enc, 0])), "encoding", "malformed", "vote encoding must be 57 bytes");
    refused(() => decodeVote(Uint8Array.from(enc, (b, i) => (i === 17 ? 0xff : b))), "slot", "malformed", "slot exceeds 2^53-1");
  });

  it("a 64-character id round-trips; 65 is refused on both sides", () => {
    const long = { ...sample, validatorId: "v".repeat(64) };
    const enc = encodeVote(long);
    assert.equal(enc.length, 52 + 64);
    assert.deepEqual(decodeVote(enc), long);
    refused(() => encodeVote({ ...sample, validatorId: "v".repeat(65) }), "validatorId", "malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
  });

  it("id alphabet: the edges of a-z, A-Z, 0-9 and . _ - decode; their neighbours are refused", () => {
    const withIdByte = (c: number) => Uint8Array.from(encodeVote({ ...sample, validatorId: "x" }), (b, i) => (i === 12 ? c : b));
    for (const ok of "azAZ09._-") assert.equal(decodeVote(withIdByte(ok.charCodeAt(0))).validatorId, ok);
    for (const bad of ["`", "{", "@", "[", "/", ":", ",", "^", " ", "\u00e9"]) {
      refused(() => decodeVote(withIdByte(bad.charCodeAt(0))), "validatorId", "malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
    }
  });

  it("signature items: a signature that is not 64 bytes is refused by name", () => {
    refused(() => voteSignatureItem(sample, publicKeyOf(SEED), new Uint8Array(63)), "signature", "malformed", "signature must be 64 bytes");
    refused(() => voteSignatureItem(sample, publicKeyOf(SEED), "x".repeat(64) as unknown as Uint8Array), "signature", "malformed", "signature must be 64 bytes");
  });

  it("verifyVote: false for malformed input, but a programming error (no vote at all) is not swallowed", () => {
    assert.equal(verifyVote({ ...sample, slot: -1 }, publicKeyOf(SEED), new Uint8Array(64)), false);
    assert.throws(() => verifyVote(null as unknown as Vote, publicKeyOf(SEED), new Uint8Array(64)), TypeError);
  });

  it("block hashes: exactly 64 lower-case hex digits, anchored at both ends, and a string", () => {
    const msg = "blockHash must be 64 lower-case hex digits";
    refused(() => encodeVote({ ...sample, blockHash: "g" + "a".repeat(64) }), "blockHash", "malformed", msg);
    refused(() => encodeVote({ ...sample, blockHash: "a".repeat(64) + "g" }), "blockHash", "malformed", msg);
    const lookalike = { toString: () => "ab".repeat(32) } as unknown as string;
    refused(() => encodeVote({ ...sample, blockHash: lookalike }), "blockHash", "malformed", msg);
    const t = new VoteTally(new ValidatorSet([{ id: "a", weight: 1 }]));
    assert.deepEqual(t.addVote({ validatorId: "a", slot: 1, blockHash: "g" + "a".repeat(64) }), { accepted: false, reason: "malformed", detail: msg });
  });

  it("equivocatorsAt lists only the validators with two blocks in the slot", () => {
    const t = new VoteTally(new ValidatorSet([{ id: "a", weight: 1 }, { id: "b", weight: 1 }]));
    t.addVote({ validatorId: "a", slot: 3, blockHash: "1".repeat(64) });
    t.addVote({ validatorId: "b", slot: 3, blockHash: "1".repeat(64) });
    t.addVote({ validatorId: "b", slot: 3, blockHash: "2".repeat(64) });
    assert.deepEqual(t.equivocatorsAt(3), ["b"]);
  });
});
