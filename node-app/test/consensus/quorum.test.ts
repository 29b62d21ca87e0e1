import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ValidatorSet, meetsThreshold, supportBp, validateThresholds } from "../../src/consensus";

describe("quorum arithmetic (basis points)", () => {
  it("6699 bp does not reach fast finality, 6700 bp does (total weight 10 000)", () => {
    assert.equal(meetsThreshold(6_699, 10_000, 6_700), false);
    assert.equal(meetsThreshold(6_700, 10_000, 6_700), true);
    assert.equal(meetsThreshold(7_999, 10_000, 8_000), false);
    assert.equal(meetsThreshold(8_000, 10_000, 8_000), true);
  });

  it("2 of 3 equal weights is 6666 bp: below 6700", () => {
    assert.equal(supportBp(2, 3), 6_666);
    assert.equal(meetsThreshold(2, 3, 6_700), false);
    assert.equal(meetsThreshold(3, 3, 6_700), true);
  });

  it("the boundary is exact at sub-basis-point precision: 67/100 reaches, 66 999/100 000 does not", () => {
    assert.equal(meetsThreshold(67, 100, 6_700), true);
    assert.equal(meetsThreshold(66_999, 100_000, 6_700), false);
  });

  it("agrees with the rounded-down basis points for integer thresholds (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.nat(), fc.integer({ min: 1, max: 10_000 }), (total, s, t) => {
        const support = s % (total + 1);
        assert.equal(meetsThreshold(support, total, t), supportBp(support, total) >= t);
      }),
      { numRuns: 500 },
    );
  });

  it("is monotone in support (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.nat(), fc.integer({ min: 1, max: 10_000 }), (total, s, t) => {
        const a = s % (total + 1);
        if (meetsThreshold(a, total, t) && a < total) assert.ok(meetsThreshold(a + 1, total, t));
      }),
      { numRuns: 300 },
    );
  });

  it("validates thresholds", () => {
    assert.throws(() => validateThresholds({ fastFinalityBp: 0, economicFinalityBp: 8_000 }), /fastFinalityBp/);
    assert.throws(() => validateThresholds({ fastFinalityBp: 6_700, economicFinalityBp: 10_001 }), /economicFinalityBp/);
    assert.throws(() => validateThresholds({ fastFinalityBp: 6_700.5, economicFinalityBp: 8_000 }), /integer/);
    assert.throws(() => validateThresholds({ fastFinalityBp: 8_000, economicFinalityBp: 6_700 }), />= fastFinalityBp/);
  });
});

describe("ValidatorSet Byzantine bounds", () => {
  const set = (n: number) => new ValidatorSet(Array.from({ length: n }, (_, i) => ({ id: `v${i}`, weight: 1 })));
  it("reports f with n >= 3f + 1", () => {
    assert.deepEqual([1, 3, 4, 6, 7, 10].map((n) => set(n).maxFaultyValidators), [0, 0, 1, 1, 2, 3]);
  });
  it("f is the largest value with n >= 3f + 1 (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (n) => {
        const f = set(n).maxFaultyValidators;
        assert.ok(n >= 3 * f + 1 && n < 3 * (f + 1) + 1);
      }),
      { numRuns: 100 },
    );
  });
  it("weighted bound and input checks", () => {
    const s = new ValidatorSet([{ id: "a", weight: 5 }, { id: "b", weight: 2 }]);
    assert.equal(s.totalWeight, 7);
    assert.equal(s.maxFaultyWeight, 2);
    assert.throws(() => new ValidatorSet([{ id: "a", weight: 0 }]), /positive integer/);
    assert.throws(() => new ValidatorSet([{ id: "a", weight: 1.5 }]), /positive integer/);
    assert.throws(() => new ValidatorSet([{ id: "a", weight: 1 }, { id: "a", weight: 1 }]), /duplicate/);
    assert.throws(() => new ValidatorSet([]), /at least one/);
  });
});
