/**
 * The shape of the SLO table as the program publishes it and the policy packs read it: the ConfigMap data key,
 * one entry per SLO id, and the single comparison rule every consumer applies (alerts, canary checks, gates).
 */

export type SloUnit = "seconds" | "ratio" | "per_second" | "basis_points";

/**
 * Who enforces the SLO: an alert severity, a canary metric check, a consensus rule, or nobody (`advisory`: measured
 * and reported by the benches, never a gate).
 */
export const SLO_SEVERITIES = ["critical", "warning", "canary", "consensus", "advisory"] as const;
export type SloSeverity = (typeof SLO_SEVERITIES)[number];

/** How a measured value is compared with the bound: `lt` means "measured must be < bound". */
export const SLO_COMPARISONS = ["lt", "lte", "gte"] as const;
export type SloComparison = (typeof SLO_COMPARISONS)[number];

/** Data key of the `<appName>-slo` ConfigMap that carries the resolved table as JSON. */
export const SLO_CONFIGMAP_KEY = "slo.json";

/** One entry of the published table (`slo.json`: SLO id -> entry). */
export interface SloDocumentEntry {
  readonly value: number;
  readonly unit: SloUnit;
  readonly comparison: SloComparison;
  readonly severity: SloSeverity;
}

/** True when `measured` meets a bound `value` under `comparison`. */
export function meetsSlo(slo: { readonly comparison: SloComparison; readonly value: number }, measured: number): boolean {
  switch (slo.comparison) {
    case "lt":
      return measured < slo.value;
    case "lte":
      return measured <= slo.value;
    case "gte":
      return measured >= slo.value;
  }
}

/** The comparison as a symbol for people: `<`, `<=`, `>=`. */
export function comparisonSymbol(comparison: SloComparison): "<" | "<=" | ">=" {
  return comparison === "lt" ? "<" : comparison === "lte" ? "<=" : ">=";
}

/** The PromQL comparison operator that is TRUE when the SLO is violated (for alert expressions). */
export function violationOperator(comparison: SloComparison): ">=" | ">" | "<" {
  return comparison === "lt" ? ">=" : comparison === "lte" ? ">" : "<";
}

/**
 * Finality thresholds in basis points of total validator weight (seed values of the design): the node's defaults
 * and the SLO table's defaults for `fastFinalityBp` / `economicFinalityBp`.
 */
export const BP_DENOMINATOR = 10_000;
export const DEFAULT_FAST_FINALITY_BP = 6_700;
export const DEFAULT_ECONOMIC_FINALITY_BP = 8_000;
