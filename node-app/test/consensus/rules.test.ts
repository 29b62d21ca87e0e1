/** Boundaries and named refusals of the consensus rules: thresholds, the validator set, the tally, the determinism proof. */
import { strict as assert } from "node:assert";
import {
  BP_DENOMINATOR,
  DEFAULT_THRESHOLDS,
  ValidatorSet,
  VoteTally,
  meetsThreshold,
  proveDeterminism,
  seededRandom,
  shuffledOrder,
  supportBp,
  validateThresholds,
  type Vote,
} from "../../src/consensus";

const H = (c: string) => c.repeat(64);
const refusal = (fn: () => unknown, message: string) => assert.throws(fn, (e: unknown) => e instanceof RangeError && e.message === message);

describe("consensus rules: thresholds", () => {
  it("the defaults are 6700 bp (fast) and 8000 bp (economic) of 10 000", () => {
    assert.equal(BP_DENOMINATOR, 10_000);
    assert.deepEqual({ ...DEFAULT_THRESHOLDS }, { fastFinalityBp: 6_700, economicFinalityBp: 8_000 });
    assert.ok(Object.isFrozen(DEFAULT_THRESHOLDS));
  });

  it("accepts the edges [1, 10 000] and economic = fast, and returns the thresholds", () => {
    for (const t of [{ fastFinalityBp: 1, economicFinalityBp: 1 }, { fastFinalityBp: 10_000, economicFinalityBp: 10_000 }, { fastFinalityBp: 6_700, economicFinalityBp: 6_700 }]) {
      assert.equal(validateThresholds(t), t);
    }
  });

  it("refuses values outside [1, 10 000] or not integers, naming the field and the value", () => {
    refusal(() => validateThresholds({ fastFinalityBp: 0, economicFinalityBp: 8_000 }), "fastFinalityBp must be an integer in [1, 10000], got 0");
    refusal(() => validateThresholds({ fastFinalityBp: 6_700, economicFinalityBp: 10_001 }), "economicFinalityBp must be an integer in [1, 10000], got 10001");
    refusal(() => validateThresholds({ fastFinalityBp: 6_700.5, economicFinalityBp: 8_000 }), "fastFinalityBp must be an integer in [1, 10000], got 6700.5");
    refusal(() => validateThresholds({ fastFinalityBp: 6_701, economicFinalityBp: 6_700 }), "economicFinalityBp must be >= fastFinalityBp");
  });

  it("meetsThreshold: no total weight reaches nothing; the full weight reaches 10 000 bp", () => {
    assert.equal(meetsThreshold(0, 0, 1), false);
    assert.equal(meetsThreshold(5, 0, 1), false);
    assert.equal(meetsThreshold(5, -1, 1), false);
    assert.equal(meetsThreshold(0, 1, 1), false);
    assert.equal(meetsThreshold(1, 1, 10_000), true);
    assert.equal(meetsThreshold(9_999, 10_000, 10_000), false);
  });

  it("supportBp rounds down and is 0 without total weight", () => {
    assert.deepEqual([supportBp(1, 3), supportBp(2, 3), supportBp(3, 3), supportBp(1, 0), supportBp(1, -2)], [3_333, 6_666, 10_000, 0, 0]);
  });
});

describe("consensus rules: validator set", () => {
  it("refuses bad sets with a message naming the validator", () => {
    refusal(() => new ValidatorSet([]), "a validator set needs at least one validator");
    refusal(() => new ValidatorSet([{ id: "a", weight: 1 }, { id: "a", weight: 2 }]), "duplicate validator a");
    refusal(() => new ValidatorSet([{ id: "b", weight: 0 }]), "validator b: weight must be a positive integer");
    refusal(() => new ValidatorSet([{ id: "b", weight: -3 }]), "validator b: weight must be a positive integer");
    refusal(() => new ValidatorSet([{ id: "b", weight: 2 ** 53 }]), "validator b: weight must be a positive integer");
    refusal(() => new ValidatorSet([{ id: "a", weight: 2 ** 52 }, { id: "b", weight: 2 ** 52 }]), "total weight exceeds 2^53-1");
  });

  it("weight 1 and a total of exactly 2^53-1 are accepted", () => {
    assert.equal(new ValidatorSet([{ id: "a", weight: 1 }]).totalWeight, 1);
    assert.equal(new ValidatorSet([{ id: "a", weight: 2 ** 52 }, { id: "b", weight: 2 ** 52 - 1 }]).totalWeight, Number.MAX_SAFE_INTEGER);
  });

  it("lookups: size, has, get (a frozen copy), weightOf (0 when unknown), ids sorted", () => {
    const input = [{ id: "z", weight: 2 }, { id: "m", weight: 5 }];
    const s = new ValidatorSet(input);
    input[0]!.weight = 99;
    assert.equal(s.size, 2);
    assert.deepEqual([s.has("z"), s.has("q")], [true, false]);
    assert.deepEqual(s.get("z"), { id: "z", weight: 2 });
    assert.ok(Object.isFrozen(s.get("z")));
    assert.equal(s.get("q"), undefined);
    assert.deepEqual([s.weightOf("m"), s.weightOf("q")], [5, 0]);
    assert.deepEqual(s.ids(), ["m", "z"]);
    assert.equal(s.totalWeight, 7);
  });

  it("maxFaultyWeight is the largest F with total >= 3F + 1", () => {
    const bound = (...w: number[]) => new ValidatorSet(w.map((weight, i) => ({ id: `v${i}`, weight }))).maxFaultyWeight;
    assert.deepEqual([bound(1), bound(3), bound(4), bound(2, 2), bound(6, 1), bound(9, 1)], [0, 0, 1, 1, 2, 3]);
  });
});

describe("consensus rules: tally", () => {
  const set = new ValidatorSet([{ id: "a", weight: 3_350 }, { id: "b", weight: 3_349 }, { id: "c", weight: 1 }, { id: "d", weight: 3_300 }]);
  const outcome = (t: VoteTally, v: Vote) => t.addVote(v);

  it("refuses invalid thresholds at construction", () => {
    refusal(() => new VoteTally(set, { fastFinalityBp: 8_001, economicFinalityBp: 8_000 }), "economicFinalityBp must be >= fastFinalityBp");
    assert.deepEqual(new VoteTally(set).thresholds, { fastFinalityBp: 6_700, economicFinalityBp: 8_000 });
  });

  it("names each refusal and its detail", () => {
    const t = new VoteTally(set);
    assert.deepEqual(outcome(t, { validatorId: "zz", slot: 1, blockHash: H("1") }), { accepted: false, reason: "unknown_validator", detail: "validator zz is not in the set" });
    const badSlot = { accepted: false, reason: "malformed", detail: "slot must be a non-negative integer" };
    assert.deepEqual(outcome(t, { validatorId: "a", slot: -1, blockHash: H("1") }), badSlot);
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 1.5, blockHash: H("1") }), badSlot);
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 2 ** 53, blockHash: H("1") }), badSlot);
    const badHash = { accepted: false, reason: "malformed", detail: "blockHash must be 64 lower-case hex digits" };
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 1, blockHash: H("A") }), badHash);
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 1, blockHash: H("1") + "1" }), badHash);
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 0, blockHash: H("1") }), { accepted: true, duplicate: false });
    assert.deepEqual(outcome(t, { validatorId: "a", slot: 0, blockHash: H("2") }), {
      accepted: false,
      reason: "equivocation",
      detail: "validator a already voted for another block in slot 0",
    });
    assert.equal(t.head(), undefined, "refused votes and an equivocator's votes give no head");
  });

  it("counts k - 1 equivocations for k blocks; a repeat of a known vote stays a duplicate; equivocators sorted", () => {
    const t = new VoteTally(set);
    for (const h of ["1", "2", "3"]) t.addVote({ validatorId: "d", slot: 4, blockHash: H(h) });
    t.addVote({ validatorId: "b", slot: 4, blockHash: H("1") });
    t.addVote({ validatorId: "b", slot: 4, blockHash: H("5") });
    assert.equal(t.equivocations, 3);
    assert.deepEqual(t.addVote({ validatorId: "d", slot: 4, blockHash: H("2") }), { accepted: true, duplicate: true });
    assert.equal(t.equivocations, 3);
    assert.deepEqual(t.equivocatorsAt(4), ["b", "d"]);
    assert.deepEqual(t.equivocatorsAt(3), []);
  });

  it("finality: the full record; undefined for an unvoted block; a hash voted in two slots counts where support is greatest, ties at the lowest slot", () => {
    const t = new VoteTally(set);
    assert.equal(t.finalityOf(H("1")), undefined);
    t.addVote({ validatorId: "d", slot: 2, blockHash: H("1") });
    t.addVote({ validatorId: "a", slot: 3, blockHash: H("1") });
    assert.deepEqual(t.finalityOf(H("1")), { blockHash: H("1"), slot: 3, supportWeight: 3_350, totalWeight: 10_000, supportBp: 3_350, fast: false, economic: false });
    t.addVote({ validatorId: "c", slot: 2, blockHash: H("1") });
    t.addVote({ validatorId: "b", slot: 2, blockHash: H("1") });
    assert.deepEqual(t.finalityOf(H("1")), { blockHash: H("1"), slot: 2, supportWeight: 6_650, totalWeight: 10_000, supportBp: 6_650, fast: false, economic: false });
    const tie = new VoteTally(new ValidatorSet([{ id: "x", weight: 1 }, { id: "y", weight: 1 }]));
    tie.addVote({ validatorId: "x", slot: 9, blockHash: H("e") });
    tie.addVote({ validatorId: "y", slot: 8, blockHash: H("e") });
    assert.equal(tie.finalityOf(H("e"))?.slot, 8);
    const zero = new VoteTally(new ValidatorSet([{ id: "x", weight: 1 }]));
    zero.addVote({ validatorId: "x", slot: 1, blockHash: H("1") });
    zero.addVote({ validatorId: "x", slot: 1, blockHash: H("2") });
    assert.deepEqual(zero.finalityOf(H("2")), { blockHash: H("2"), slot: 1, supportWeight: 0, totalWeight: 1, supportBp: 0, fast: false, economic: false });
  });

  it("head: a slot whose blocks lost all support is passed over; ties go to the smaller hash in either arrival order", () => {
    const t = new VoteTally(set);
    t.addVote({ validatorId: "c", slot: 1, blockHash: H("9") });
    t.addVote({ validatorId: "a", slot: 7, blockHash: H("1") });
    t.addVote({ validatorId: "a", slot: 7, blockHash: H("2") });
    assert.deepEqual(t.head(), { blockHash: H("9"), slot: 1, supportWeight: 1, totalWeight: 10_000, supportBp: 1, fast: false, economic: false });
    for (const order of [["x", "y"], ["y", "x"]]) {
      const tie = new VoteTally(new ValidatorSet([{ id: "x", weight: 2 }, { id: "y", weight: 2 }, { id: "z", weight: 1 }]));
      for (const id of order) tie.addVote({ validatorId: id, slot: 1, blockHash: id === "x" ? H("b") : H("a") });
      tie.addVote({ validatorId: "z", slot: 1, blockHash: H("0") });
      assert.equal(tie.head()?.blockHash, H("a"), `arrival ${order.join(",")}`);
      assert.equal(tie.head()?.supportWeight, 2);
    }
  });
});

describe("consensus rules: determinism proof", () => {
  /** mulberry32 as published (bryc/code, jshash/PRNGs.md), the reference for seededRandom. */
  function mulberry32(a: number): () => number {
    return function () {
      let t = (a += 0x6d2b79f5);
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it("seededRandom is mulberry32", () => {
    for (const seed of [0, 1, 7, 0x7fffffff, 123456789]) {
      const ours = seededRandom(seed);
      const ref = mulberry32(seed);
      for (let i = 0; i < 50; i++) assert.equal(ours(), ref(), `seed ${seed}, draw ${i}`);
    }
  });

  it("shuffledOrder is Fisher-Yates from the top: random() = 0 rotates, random() just below 1 keeps the order", () => {
    assert.deepEqual(shuffledOrder(4, () => 0), [1, 2, 3, 0]);
    assert.deepEqual(shuffledOrder(4, () => 0.999999), [0, 1, 2, 3]);
    assert.deepEqual(shuffledOrder(3, () => 0.5), [0, 2, 1]);
    assert.deepEqual(shuffledOrder(0, () => 0), []);
    assert.deepEqual(shuffledOrder(1, () => 0), [0]);
  });

  it("defaults: 3 instances, seed 1, the first in log order; refused votes leave no finality entry; thresholds apply", () => {
    const vs = [{ id: "a", weight: 1 }, { id: "b", weight: 1 }, { id: "c", weight: 1 }];
    const log: Vote[] = [
      { validatorId: "b", slot: 1, blockHash: H("2") },
      { validatorId: "a", slot: 1, blockHash: H("1") },
      { validatorId: "zz", slot: 1, blockHash: H("3") },
    ];
    const p = proveDeterminism(vs, log);
    assert.deepEqual([p.agreed, p.seed, p.votes, p.instances.length], [true, 1, 3, 3]);
    assert.deepEqual(p.instances[0]!.order, [0, 1, 2]);
    const r = seededRandom(1);
    assert.deepEqual(p.instances[1]!.order, shuffledOrder(3, r));
    assert.deepEqual(p.instances[2]!.order, shuffledOrder(3, r));
    assert.deepEqual(p.instances[0]!.finality.map((f) => f.blockHash), [H("1"), H("2")]);
    assert.equal(p.instances[0]!.finality[0]!.fast, false);
    const low = proveDeterminism(vs, log, { thresholds: { fastFinalityBp: 3_000, economicFinalityBp: 3_000 }, instances: 4, seed: 9 });
    assert.deepEqual([low.instances.length, low.seed, low.instances[0]!.finality[0]!.fast], [4, 9, true]);
  });

  it("refuses fewer than 3 instances or a fractional count, by name", () => {
    for (const instances of [2, 0, 3.5]) refusal(() => proveDeterminism([{ id: "a", weight: 1 }], [], { instances }), "the proof needs at least 3 instances");
    assert.equal(proveDeterminism([{ id: "a", weight: 1 }], [], { instances: 3 }).instances.length, 3);
  });
});
