/**
 * Gate evaluation: each gate an artifact declares ({gate, slo, field}) is judged against the stack's SLO table,
 * so the thresholds are those of the stack being deployed, from the same table as the alerts and canary checks.
 *
 * Critical and consensus SLOs are mandatory gates; warning, canary and advisory SLOs are advisory. A required gate that no
 * artifact measures fails (fail closed). Composite score = weighted share of gates passed, weights critical 3,
 * consensus 3, warning 2, canary 1, advisory 1; grade A >= 90, B >= 80, C >= 70, D >= 60, else F, and F whenever a mandatory
 * gate fails.
 */
import { valueAt, type Artifact } from "@bizra/evidence";
import { comparisonSymbol, meetsSlo } from "@bizra/contract";
import type { StackSloTable } from "../shared/stack";

/** Gates a release must measure: gate -> SLO id and the artifact/field `npm run evidence` writes it to. */
export const REQUIRED_GATES = [
  { gate: "finality-check-p99", slo: "finalityCheckP99", file: "finality.json", field: "results.p99Seconds" },
  { gate: "poi-generate-p99", slo: "poiGenerateP99", file: "poi.json", field: "results.generate.p99Seconds" },
  { gate: "poi-verify-p99", slo: "poiVerifyP99", file: "poi.json", field: "results.verify.p99Seconds" },
  { gate: "poi-verify-throughput", slo: "poiVerifyThroughput", file: "perf-bench.json", field: "results.best2Threads.medianPerSecond" },
  { gate: "poi-verify-success-rate", slo: "poiVerifySuccessRate", file: "verify-success.json", field: "results.successRate" },
  { gate: "api-p99-latency", slo: "apiP99Latency", file: "http-load.json", field: "results.latency.p99Seconds" },
  { gate: "api-error-rate", slo: "apiErrorRate", file: "http-load.json", field: "results.errorRate" },
  { gate: "cache-hit-rate", slo: "cacheHitRate", file: "http-load.json", field: "results.cacheHitRate" },
  { gate: "wq-determinism", slo: "fastFinalityBp", file: "wq-determinism.json", field: "results.agreed" },
] as const;

export const SEVERITY_WEIGHTS: Readonly<Record<string, number>> = { critical: 3, consensus: 3, warning: 2, canary: 1, advisory: 1 };

export interface GateResult {
  readonly gate: string;
  readonly slo: string;
  readonly severity: string;
  readonly mandatory: boolean;
  readonly file: string;
  readonly field: string;
  readonly measured: number | boolean | undefined;
  /** e.g. "< 0.0004 seconds" or "true". */
  readonly threshold: string;
  readonly passed: boolean;
  /** Why it failed, when it did not fail on the numbers alone. */
  readonly note?: string;
}

export interface GateSummary {
  readonly passed: number;
  readonly total: number;
  /** Weighted share of gates passed, 0..100, one decimal. */
  readonly score: number;
  readonly grade: "A" | "B" | "C" | "D" | "F";
  readonly mandatoryFailed: number;
}

export function isMandatory(severity: string): boolean {
  return severity !== "warning" && severity !== "canary" && severity !== "advisory"; // critical, consensus, and anything unknown (fail closed)
}


/** Judges every gate of the verified artifacts, plus a failing entry for each required gate nobody measured. */
export function evaluateGates(report: { readonly artifacts: Readonly<Record<string, Pick<Artifact, "gates" | "results">>> }, table: StackSloTable): GateResult[] {
  const results: GateResult[] = [];
  const seen = new Set<string>();
  for (const [file, artifact] of Object.entries(report.artifacts).sort(([a], [b]) => a.localeCompare(b))) {
    for (const ref of artifact.gates) {
      const slo = table[ref.slo];
      const severity = slo?.severity ?? "critical";
      const base = { gate: ref.gate, slo: ref.slo, severity, mandatory: isMandatory(severity), file, field: ref.field };
      const measured = valueAt(artifact, ref.field);
      const value = typeof measured === "number" || typeof measured === "boolean" ? measured : undefined;
      if (seen.has(ref.gate)) {
        results.push({ ...base, measured: value, threshold: "measured once", passed: false, note: `gate ${ref.gate} is measured by more than one artifact` });
        continue;
      }
      seen.add(ref.gate);
      if (slo === undefined) {
        results.push({ ...base, measured: value, threshold: "?", passed: false, note: `SLO id ${ref.slo} is not in the stack's SLO table` });
        continue;
      }
      if (ref.kind === "proof") {
        const note = proofThresholdNote(artifact.results, table);
        results.push({ ...base, measured: value, threshold: "true", passed: measured === true && note === undefined, ...(note ? { note } : {}) });
        continue;
      }
      if (typeof measured !== "number" || !Number.isFinite(measured)) {
        results.push({ ...base, measured: undefined, threshold: `${comparisonSymbol(slo.comparison)} ${slo.value} ${slo.unit}`, passed: false, note: `${file} has no number at ${ref.field}` });
        continue;
      }
      results.push({ ...base, measured, threshold: `${comparisonSymbol(slo.comparison)} ${slo.value} ${slo.unit}`, passed: meetsSlo(slo, measured) });
    }
  }
  for (const req of REQUIRED_GATES) {
    if (seen.has(req.gate)) continue;
    const severity = table[req.slo]?.severity ?? "critical";
    results.push({
      gate: req.gate, slo: req.slo, severity, mandatory: isMandatory(severity), file: req.file, field: req.field,
      measured: undefined, threshold: "a measurement", passed: false, note: `no artifact measures required gate ${req.gate}`,
    });
  }
  return results;
}

/** A determinism proof must have run at the finality thresholds of the stack being deployed. */
function proofThresholdNote(results: Record<string, unknown>, table: StackSloTable): string | undefined {
  const t = results["thresholds"] as { fastFinalityBp?: unknown; economicFinalityBp?: unknown } | undefined;
  if (t === undefined) return undefined;
  const fast = table["fastFinalityBp"]?.value;
  const economic = table["economicFinalityBp"]?.value;
  if ((fast !== undefined && t.fastFinalityBp !== fast) || (economic !== undefined && t.economicFinalityBp !== economic)) {
    return `proof ran at ${String(t.fastFinalityBp)}/${String(t.economicFinalityBp)} bp, the stack uses ${fast}/${economic} bp`;
  }
  return undefined;
}

export function summarizeGates(results: readonly GateResult[]): GateSummary {
  const weight = (r: GateResult) => SEVERITY_WEIGHTS[r.severity] ?? 3;
  const total = results.reduce((n, r) => n + weight(r), 0);
  const got = results.filter((r) => r.passed).reduce((n, r) => n + weight(r), 0);
  const score = total === 0 ? 0 : Math.round((1000 * got) / total) / 10;
  const mandatoryFailed = results.filter((r) => r.mandatory && !r.passed).length;
  const grade = mandatoryFailed > 0 ? "F" : score >= 90 ? "A" : score >= 80 ? "B" : score >= 70 ? "C" : score >= 60 ? "D" : "F";
  return { passed: results.filter((r) => r.passed).length, total: results.length, score, grade, mandatoryFailed };
}

export function summaryLine(s: GateSummary): string {
  return `quality gates: ${s.passed}/${s.total} passed, score ${s.score}/100 (weights critical 3, consensus 3, warning 2, canary 1, advisory 1), grade ${s.grade}`;
}

/** `poi-verify-p99 (poiVerifyP99, warning): measured 0.0048 seconds, threshold < 0.0004 seconds, artifact poi.json#results.verify.p99Seconds` */
export function describeGate(r: GateResult): string {
  const measured = r.measured === undefined ? "no value" : String(r.measured);
  return `${r.gate} (${r.slo}, ${r.severity}): measured ${measured}, threshold ${r.threshold}, artifact ${r.file}#${r.field}${r.note ? ` — ${r.note}` : ""}`;
}
