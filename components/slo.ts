/**
 * The SLO table: the ONE place where every tunable threshold of the node is defined (ARCHITECTURE.md, contract 1).
 *
 * Alerts, dashboard thresholds, Flagger metric checks, the HPA target and the quality gates all read a resolved
 * `SloTable`, so they cannot drift apart. Values are in base units (seconds, ratios in [0, 1], per-second rates,
 * basis points) so that PromQL can compare against them without conversion.
 */

import {
  DEFAULT_ECONOMIC_FINALITY_BP,
  DEFAULT_FAST_FINALITY_BP,
  type SloComparison,
  type SloSeverity,
  type SloUnit,
} from "@bizra/contract";

// The unit, severity and comparison vocabulary, and the comparison rule itself, are part of the published SLO
// document (@bizra/contract), which the policy packs read.
export { comparisonSymbol, meetsSlo, violationOperator, type SloComparison, type SloSeverity, type SloUnit } from "@bizra/contract";

export interface SloDefinition {
  /** What is measured, in words. */
  readonly description: string;
  readonly unit: SloUnit;
  readonly comparison: SloComparison;
  readonly severity: SloSeverity;
  /** Seed default from ARCHITECTURE.md. */
  readonly default: number;
}

export const SLO_DEFINITIONS = {
  finalityCheckP99: {
    description: "finality check latency p99",
    unit: "seconds",
    comparison: "lt",
    severity: "critical",
    default: 0.001,
  },
  poiGenerateP99: {
    description: "PoI attestation generation latency p99",
    unit: "seconds",
    comparison: "lt",
    severity: "warning",
    default: 0.0002,
  },
  poiVerifyP99: {
    description: "PoI attestation verification latency p99",
    unit: "seconds",
    comparison: "lt",
    severity: "warning",
    default: 0.0004,
  },
  poiVerifyThroughput: {
    description: "PoI verifications per second",
    unit: "per_second",
    comparison: "gte",
    severity: "warning",
    default: 100_000,
  },
  poiVerifySuccessRate: {
    description: "PoI verification success rate",
    unit: "ratio",
    comparison: "gte",
    severity: "critical",
    default: 0.99,
  },
  apiP99Latency: {
    description: "API request latency p99",
    unit: "seconds",
    comparison: "lte",
    severity: "canary",
    default: 0.0015,
  },
  apiErrorRate: {
    description: "API error rate (5xx share of requests)",
    unit: "ratio",
    comparison: "lte",
    severity: "canary",
    default: 0.01,
  },
  cacheHitRate: {
    // Not a canary check: a hit needs a repeated attestation, which the replay window rejects (ARCHITECTURE.md).
    description: "verification cache hit rate (repeated attestations, HTTP load bench)",
    unit: "ratio",
    comparison: "gte",
    severity: "advisory",
    default: 0.9,
  },
  fastFinalityBp: {
    description: "fast finality: share of total validator weight, in basis points",
    unit: "basis_points",
    comparison: "gte",
    severity: "consensus",
    default: DEFAULT_FAST_FINALITY_BP,
  },
  economicFinalityBp: {
    description: "economic finality: share of total validator weight, in basis points",
    unit: "basis_points",
    comparison: "gte",
    severity: "consensus",
    default: DEFAULT_ECONOMIC_FINALITY_BP,
  },
} as const satisfies Record<string, SloDefinition>;

export type SloId = keyof typeof SLO_DEFINITIONS;
export const SLO_IDS = Object.keys(SLO_DEFINITIONS) as SloId[];

/** A resolved SLO: its definition plus the value in force for this stack. */
export interface Slo extends SloDefinition {
  readonly id: SloId;
  readonly value: number;
}

export type SloTable = { readonly [K in SloId]: Slo };

/** Per-stack overrides, already validated by `config.ts`. */
export type SloOverrides = Partial<Record<SloId, number>>;

/** Allowed range of a value of each unit, used by config validation. */
export function sloValueProblem(id: SloId, value: unknown): string | undefined {
  const unit = SLO_DEFINITIONS[id].unit;
  if (typeof value !== "number" || !Number.isFinite(value)) return `a finite number (${unit})`;
  switch (unit) {
    case "seconds":
      return value > 0 && value <= 60 ? undefined : "seconds, > 0 and <= 60";
    case "ratio":
      return value > 0 && value <= 1 ? undefined : "a ratio, > 0 and <= 1";
    case "per_second":
      return value > 0 ? undefined : "a rate per second, > 0";
    case "basis_points":
      return Number.isInteger(value) && value > 5000 && value <= 10_000
        ? undefined
        : "an integer number of basis points, > 5000 and <= 10000";
  }
}

/** The table in force: defaults with the stack's overrides applied. Frozen. */
export function resolveSlos(overrides: SloOverrides = {}): SloTable {
  const entries = SLO_IDS.map((id) => {
    const def: SloDefinition = SLO_DEFINITIONS[id];
    const value = overrides[id] ?? def.default;
    return [id, Object.freeze({ ...def, id, value })] as const;
  });
  return Object.freeze(Object.fromEntries(entries)) as SloTable;
}
