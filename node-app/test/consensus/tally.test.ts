import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ValidatorSet, VoteTally, proveDeterminism, type Vote } from "../../src/consensus";

const H = (c: string) => c.repeat(64);
const validators = [
  { id: "a", weight: 3_350 },
  { id: "b", weight: 3_349 },
  { id: "c", weight: 1 },
  { id: "d", weight: 3_300 },
];

describe("VoteTally", () => {
  it("fast finality at exactly 6700 bp, not at 6699 bp", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    t.addVote({ validatorId: "a", slot: 1, blockHash: H("1") });
    t.addVote({ validatorId: "b", slot: 1, blockHash: H("1") });
    assert.deepEqual([t.finalityOf(H("1"))?.supportBp, t.finalityOf(H("1"))?.fast], [6_699, false]);
    t.addVote({ validatorId: "c", slot: 1, blockHash: H("1") });
    assert.deepEqual([t.finalityOf(H("1"))?.supportBp, t.finalityOf(H("1"))?.fast, t.finalityOf(H("1"))?.economic], [6_700, true, false]);
    t.addVote({ validatorId: "d", slot: 1, blockHash: H("1") });
    assert.equal(t.finalityOf(H("1"))?.economic, true);
  });

  it("uses configured thresholds", () => {
    const t = new VoteTally(new ValidatorSet(validators), { fastFinalityBp: 3_000, economicFinalityBp: 3_400 });
    t.addVote({ validatorId: "a", slot: 1, blockHash: H("1") });
    assert.deepEqual([t.finalityOf(H("1"))?.fast, t.finalityOf(H("1"))?.economic], [true, false]);
  });

  it("rejects and counts equivocation, and removes the equivocator's support", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    assert.deepEqual(t.addVote({ validatorId: "a", slot: 1, blockHash: H("1") }), { accepted: true, duplicate: false });
    assert.deepEqual(t.addVote({ validatorId: "a", slot: 1, blockHash: H("1") }), { accepted: true, duplicate: true });
    const second = t.addVote({ validatorId: "a", slot: 1, blockHash: H("2") });
    assert.equal(second.accepted ? "accepted" : second.reason, "equivocation");
    assert.equal(t.equivocations, 1);
    assert.deepEqual(t.equivocatorsAt(1), ["a"]);
    assert.equal(t.finalityOf(H("1"))?.supportWeight, 0);
    t.addVote({ validatorId: "a", slot: 2, blockHash: H("3") }); // another slot is fine
    assert.equal(t.equivocations, 1);
  });

  it("rejects unknown validators and malformed votes", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    const r = (v: Vote) => { const o = t.addVote(v); return o.accepted ? "accepted" : o.reason; };
    assert.equal(r({ validatorId: "zz", slot: 1, blockHash: H("1") }), "unknown_validator");
    assert.equal(r({ validatorId: "a", slot: -1, blockHash: H("1") }), "malformed");
    assert.equal(r({ validatorId: "a", slot: 1, blockHash: "xyz" }), "malformed");
  });

  it("head: highest slot, then greatest weight, then smallest hash", () => {
    const t = new VoteTally(new ValidatorSet(validators));
    assert.equal(t.head(), undefined);
    t.addVote({ validatorId: "a", slot: 5, blockHash: H("9") });
    t.addVote({ validatorId: "d", slot: 6, blockHash: H("8") });
    t.addVote({ validatorId: "c", slot: 6, blockHash: H("7") });
    assert.equal(t.head()?.blockHash, H("8"));
    const tie = new VoteTally(new ValidatorSet([{ id: "x", weight: 1 }, { id: "y", weight: 1 }]));
    tie.addVote({ validatorId: "x", slot: 1, blockHash: H("b") });
    tie.addVote({ validatorId: "y", slot: 1, blockHash: H("a") });
    assert.equal(tie.head()?.blockHash, H("a"));
  });
});

describe("WQ determinism proof", () => {
  const log: Vote[] = [
    { validatorId: "a", slot: 1, blockHash: H("1") },
    { validatorId: "b", slot: 1, blockHash: H("1") },
    { validatorId: "c", slot: 1, blockHash: H("1") },
    { validatorId: "d", slot: 1, blockHash: H("2") },
    { validatorId: "a", slot: 2, blockHash: H("3") },
    { validatorId: "a", slot: 2, blockHash: H("4") }, // equivocation
    { validatorId: "b", slot: 2, blockHash: H("4") },
    { validatorId: "d", slot: 2, blockHash: H("4") },
    { validatorId: "c", slot: 2, blockHash: H("3") },
    { validatorId: "b", slot: 2, blockHash: H("4") }, // duplicate
  ];

  it("three instances fed one log in shuffled orders choose one head and one finality", () => {
    const proof = proveDeterminism(validators, log, { instances: 3, seed: 7 });
    assert.equal(proof.agreed, true);
    assert.equal(proof.instances.length, 3);
    assert.notDeepEqual(proof.instances[1]?.order, proof.instances[0]?.order);
    for (const i of proof.instances) {
      assert.equal(i.head?.blockHash, H("4"));
      assert.equal(i.head?.supportWeight, 3_349 + 3_300);
      assert.equal(i.equivocations, 1);
      assert.equal(i.finality.find((f) => f.blockHash === H("1"))?.fast, true);
    }
  });

  it("holds for random logs, including equivocations, in any order (property)", () => {
    const vs = [{ id: "a", weight: 5 }, { id: "b", weight: 3 }, { id: "c", weight: 2 }, { id: "d", weight: 1 }, { id: "e", weight: 7 }];
    const voteArb = fc.record({
      validatorId: fc.constantFrom("a", "b", "c", "d", "e"),
      slot: fc.integer({ min: 0, max: 3 }),
      blockHash: fc.constantFrom(H("0"), H("1"), H("2"), H("3"), H("4"), H("5")),
    });
    fc.assert(
      fc.property(fc.array(voteArb, { maxLength: 40 }), fc.nat(), (votes, seed) => {
        assert.equal(proveDeterminism(vs, votes, { instances: 4, seed }).agreed, true);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses fewer than three instances", () => {
    assert.throws(() => proveDeterminism(validators, log, { instances: 2 }), /at least 3/);
  });
});
