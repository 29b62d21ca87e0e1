/** The SLO comparison rule (@bizra/contract) and the SLO table's value ranges, as pure functions at their bounds. */
import * as assert from "node:assert/strict";
import { comparisonSymbol, meetsSlo, violationOperator, type SloComparison } from "@bizra/contract";

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
