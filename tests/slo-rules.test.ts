/** The SLO comparison rule (@bizra/contract) and the SLO table's value ranges, as pure functions at their bounds. */
import * as assert from "node:assert/strict";
import { comparisonSymbol, meetsSlo, violationOperator, type SloComparison } from "@bizra/contract";
import { resolveSlos, SLO_DEFINITIONS, SLO_IDS, sloValueProblem, type SloId } from "../components/slo";

/** What Prometheus answers for `measured <op> bound` with the alert's operator: true means the alert fires. */
function promqlCompare(op: string, measured: number, bound: number): boolean {
  switch (op) {
    case "<":
      return measured < bound;
    case "<=":
      return measured <= bound;
    case ">":
      return measured > bound;
    case ">=":
      return measured >= bound;
    default:
      throw new Error(`not a PromQL comparison operator: ${op}`);
  }
}

const COMPARISONS: readonly SloComparison[] = ["lt", "lte", "gte"];

describe("SLO comparison rule (@bizra/contract)", () => {
  it("meets at the bound: lt fails, lte and gte pass; one step across flips each", () => {
    const at = (comparison: SloComparison, measured: number) => meetsSlo({ comparison, value: 2 }, measured);
    assert.deepEqual([at("lt", 1.999), at("lt", 2), at("lt", 2.001)], [true, false, false]);
    assert.deepEqual([at("lte", 1.999), at("lte", 2), at("lte", 2.001)], [true, true, false]);
    assert.deepEqual([at("gte", 1.999), at("gte", 2), at("gte", 2.001)], [false, true, true]);
  });

  it("symbols for people: lt <, lte <=, gte >=", () => {
    assert.deepEqual(COMPARISONS.map(comparisonSymbol), ["<", "<=", ">="]);
  });

  it("the alert's PromQL operator is true exactly when the SLO is not met, below, at and above the bound", () => {
    assert.deepEqual(COMPARISONS.map(violationOperator), [">=", ">", "<"]);
    for (const comparison of COMPARISONS) {
      for (const measured of [1.999, 2, 2.001]) {
        const fires = promqlCompare(violationOperator(comparison), measured, 2);
        assert.equal(fires, !meetsSlo({ comparison, value: 2 }, measured), `${comparison}, measured ${measured}`);
      }
    }
  });
});

describe("SLO table (components/slo.ts)", () => {
  /** An SLO id of each unit, so every range is checked through a real entry. */
  const ofUnit = (unit: string) => SLO_IDS.find((id) => SLO_DEFINITIONS[id].unit === unit) as SloId;

  it("seconds: > 0 and <= 60", () => {
    const id = ofUnit("seconds");
    assert.deepEqual([1e-9, 0.0004, 60].map((v) => sloValueProblem(id, v)), [undefined, undefined, undefined]);
    for (const v of [0, -0.001, 60.000001]) assert.equal(sloValueProblem(id, v), "seconds, > 0 and <= 60", String(v));
  });

  it("ratio: > 0 and <= 1", () => {
    const id = ofUnit("ratio");
    assert.deepEqual([1e-9, 0.99, 1].map((v) => sloValueProblem(id, v)), [undefined, undefined, undefined]);
    for (const v of [0, -0.5, 1.000001]) assert.equal(sloValueProblem(id, v), "a ratio, > 0 and <= 1", String(v));
  });

  it("per second: > 0", () => {
    const id = ofUnit("per_second");
    assert.deepEqual([1e-9, 100_000].map((v) => sloValueProblem(id, v)), [undefined, undefined]);
    for (const v of [0, -1]) assert.equal(sloValueProblem(id, v), "a rate per second, > 0", String(v));
  });

  it("basis points: an integer > 5000 (a majority) and <= 10000", () => {
    const id = ofUnit("basis_points");
    assert.deepEqual([5001, 6700, 10_000].map((v) => sloValueProblem(id, v)), [undefined, undefined, undefined]);
    for (const v of [5000, 10_001, 6700.5, 0]) assert.equal(sloValueProblem(id, v), "an integer number of basis points, > 5000 and <= 10000", String(v));
  });

  it("not a finite number: named with the unit, whatever the range", () => {
    for (const v of [Number.NaN, Infinity, -Infinity, "0.5", undefined, null]) {
      assert.equal(sloValueProblem("poiVerifySuccessRate", v), "a finite number (ratio)", String(v));
      assert.equal(sloValueProblem("fastFinalityBp", v), "a finite number (basis_points)", String(v));
    }
  });

  it("resolves defaults, applies an override to its own entry only, and freezes table and entries", () => {
    const base = resolveSlos();
    assert.deepEqual(Object.keys(base), SLO_IDS);
    for (const id of SLO_IDS) assert.deepEqual(base[id], { ...SLO_DEFINITIONS[id], id, value: SLO_DEFINITIONS[id].default }, id);
    const changed = resolveSlos({ poiVerifyP99: 0.0005 });
    assert.equal(changed.poiVerifyP99.value, 0.0005);
    assert.equal(changed.poiVerifyP99.default, SLO_DEFINITIONS.poiVerifyP99.default);
    for (const id of SLO_IDS.filter((i) => i !== "poiVerifyP99")) assert.deepEqual(changed[id], base[id], id);
    assert.ok(Object.isFrozen(base) && SLO_IDS.every((id) => Object.isFrozen(base[id])));
    assert.throws(() => {
      (base.poiVerifyP99 as { value: number }).value = 1;
    }, TypeError);
  });
});
