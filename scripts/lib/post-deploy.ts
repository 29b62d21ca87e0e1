/**
 * Post-deploy SLA validation: one question to Prometheus per SLO of the stack's table, over a window, and a verdict.
 *
 * Verdict per SLO: `pass`, `fail` (the reason names the SLO, the measured value and the bound), `no-data` (nothing to
 * judge: no traffic of that kind in the window, or no series at all), or `info` (measured and shown, not a release
 * criterion). Overall: any `fail` -> no-go (exit 1); else any `no-data` -> could not judge (exit 2); else go (exit 0).
 * A silent pass is impossible: an SLO without data is never counted as met.
 *
 * The queries are those of the alerts and canary checks (components/promql.ts), over the validation window.
 */
import { METRICS } from "@bizra/contract";
import { humanSlo } from "../../components/alerts";
import { flaggerWeightQuery } from "../../components/dashboard";
import { apiErrorRatio, counterRate, histogramQuantile, poiSuccessRatio, verificationsShedRate } from "../../components/promql";
import { meetsSlo, SLO_IDS, type Slo, type SloId, type SloTable } from "../../components/slo";
import type { PrometheusApi } from "./prometheus-api";

export type SloVerdict = "pass" | "fail" | "no-data" | "info";
export type OverallVerdict = "go" | "no-go" | "could-not-judge";
export const EXIT_CODES: Readonly<Record<OverallVerdict, 0 | 1 | 2>> = { go: 0, "no-go": 1, "could-not-judge": 2 };

/** `15m` -> 900. Allowed: a whole number of s, m or h, from 1m to 24h (Prometheus needs a few scrapes in a window). */
export function parseWindow(text: string): number {
  const m = /^([1-9][0-9]*)(s|m|h)$/.exec(text);
  const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"] : NaN;
  if (!(seconds >= 60 && seconds <= 86_400)) throw new Error(`--window: found ${JSON.stringify(text)}; allowed: a duration such as 15m, 1h (from 1m to 24h)`);
  return seconds;
}

/** How one SLO is measured. `guard`: a second query that decides whether a miss of the bound is a failure. */
export interface SloProbe {
  readonly id: SloId;
  readonly query: string;
  /** The SLO is shown but not judged, with the reason. */
  readonly infoOnly?: string;
  readonly guard?: { readonly query: string; readonly holdsWhen: string; readonly passNote: string };
}

/**
 * One probe per SLO of the table. `selector`: the stack's series (`namespace="…"`: the node pods and the signer, where
 * PoI generation happens); `apiSelector`: the node API's own series (`…, job="<app>"`: the API SLOs judge the node's
 * API, not the signer's answers); `window`: PromQL duration.
 */
export function sloProbes(selector: string, window: string, apiSelector: string = selector): Record<SloId, SloProbe> {
  return {
    finalityCheckP99: { id: "finalityCheckP99", query: histogramQuantile(0.99, METRICS.finalityCheckSeconds, selector, window) },
    poiGenerateP99: { id: "poiGenerateP99", query: histogramQuantile(0.99, METRICS.poiGenerateSeconds, selector, window) },
    poiVerifyP99: { id: "poiVerifyP99", query: histogramQuantile(0.99, METRICS.poiVerifySeconds, selector, window) },
    poiVerifyThroughput: {
      id: "poiVerifyThroughput",
      query: counterRate(METRICS.poiVerifyTotal, selector, window),
      // the floor is a capacity: a rate below it fails only when the node refused verifications (same as the alert)
      guard: {
        query: verificationsShedRate(selector, window),
        holdsWhen: "verifications were refused (503 on a verification route)",
        passNote: "below the floor with no verification refused: the offered load was lower, capacity was not exhausted",
      },
    },
    poiVerifySuccessRate: { id: "poiVerifySuccessRate", query: poiSuccessRatio(selector, window) },
    apiP99Latency: { id: "apiP99Latency", query: histogramQuantile(0.99, METRICS.httpRequestDurationSeconds, apiSelector, window) },
    apiErrorRate: { id: "apiErrorRate", query: apiErrorRatio(apiSelector, window) },
    cacheHitRate: {
      id: "cacheHitRate",
      query: `${counterRate(METRICS.poiCacheHitsTotal, selector, window)} / ${counterRate(METRICS.poiCacheLookupsTotal, selector, window)}`,
      infoOnly: "a cache hit needs an attestation seen before, which the replay window rejects: not a release criterion (ARCHITECTURE.md)",
    },
    fastFinalityBp: { id: "fastFinalityBp", query: `sum(increase(${METRICS.consensusQuorumFailuresTotal}{${selector}}[${window}]))` },
    economicFinalityBp: {
      id: "economicFinalityBp",
      query: `max(${METRICS.consensusFinalizedSlot}{${selector}})`,
      infoOnly: "a consensus rule applied by the node to each vote; shown: the highest slot at fast finality",
    },
  };
}

export interface SloRow {
  readonly id: SloId;
  readonly description: string;
  readonly severity: string;
  readonly bound: string;
  readonly query: string;
  /** undefined when there was no sample or the sample was NaN. */
  readonly measured: number | undefined;
  readonly unit: string;
  readonly verdict: SloVerdict;
  readonly reason: string;
}

const shown = (slo: Pick<Slo, "unit">, v: number) => humanSlo({ unit: slo.unit, value: v });
const boundText = (slo: Slo) => `${slo.comparison === "gte" ? ">=" : slo.comparison === "lte" ? "<=" : "<"} ${humanSlo(slo)}`;

/** Judges one SLO from its probe's answers. Pure. */
export function judgeSlo(slo: Slo, probe: SloProbe, samples: readonly number[], guardSamples?: readonly number[]): SloRow {
  const base = { id: slo.id, description: slo.description, severity: slo.severity, query: probe.query, unit: slo.unit };
  // fastFinalityBp is judged on the count of slots left without quorum (0 passes), not on a bp value
  const quorum = slo.id === "fastFinalityBp";
  const bound = quorum ? `0 slots without ${humanSlo(slo)} of validator weight` : boundText(slo);
  const finite = samples.filter((v) => Number.isFinite(v));
  if (samples.length > 1) return { ...base, bound, measured: undefined, verdict: "no-data", reason: `${samples.length} series answered where one was expected` };
  const measured = finite[0];
  if (measured === undefined) {
    const why = samples.length === 0 ? "no series in the window" : "no observations in the window (NaN)";
    return { ...base, bound, measured, verdict: probe.infoOnly ? "info" : "no-data", reason: probe.infoOnly ? `${probe.infoOnly}; ${why}` : `${slo.id}: ${why}` };
  }
  if (probe.infoOnly) return { ...base, bound, measured, verdict: "info", reason: probe.infoOnly };
  if (quorum) {
    return measured === 0
      ? { ...base, bound, measured, verdict: "pass", reason: "no slot left without quorum" }
      : { ...base, bound, measured, verdict: "fail", reason: `${slo.id}: ${measured} slot(s) closed without reaching ${humanSlo(slo)} of validator weight` };
  }
  if (meetsSlo(slo, measured)) return { ...base, bound, measured, verdict: "pass", reason: `${shown(slo, measured)} ${boundText(slo)}` };
  if (probe.guard) {
    const g = (guardSamples ?? []).find((v) => Number.isFinite(v)) ?? 0;
    if (!(g > 0)) return { ...base, bound, measured, verdict: "pass", reason: probe.guard.passNote };
    return { ...base, bound, measured, verdict: "fail", reason: `${slo.id}: ${shown(slo, measured)} misses ${boundText(slo)} while ${probe.guard.holdsWhen} (${g}/s)` };
  }
  return { ...base, bound, measured, verdict: "fail", reason: `${slo.id}: measured ${shown(slo, measured)}, the SLO requires ${boundText(slo)}` };
}

/** Overall verdict from the rows. Pure. */
export function overallVerdict(rows: readonly SloRow[]): { verdict: OverallVerdict; reasons: string[] } {
  const failed = rows.filter((r) => r.verdict === "fail");
  if (failed.length > 0) return { verdict: "no-go", reasons: failed.map((r) => r.reason) };
  const missing = rows.filter((r) => r.verdict === "no-data");
  if (missing.length > 0) return { verdict: "could-not-judge", reasons: missing.map((r) => r.reason) };
  return { verdict: "go", reasons: [] };
}

/** Asks Prometheus every probe at `end` and judges each SLO. Throws PrometheusUnreachable / PrometheusQueryError. */
export async function measureSlos(api: PrometheusApi, slos: SloTable, selector: string, window: string, end: number, apiSelector: string = selector): Promise<SloRow[]> {
  const probes = sloProbes(selector, window, apiSelector);
  const rows: SloRow[] = [];
  for (const id of SLO_IDS) {
    const probe = probes[id];
    const samples = (await api.instant(probe.query, end)).map((s) => s.value);
    const guard = probe.guard ? (await api.instant(probe.guard.query, end)).map((s) => s.value) : undefined;
    rows.push(judgeSlo(slos[id], probe, samples, guard));
  }
  return rows;
}

/** A chart of the report: series over the window from one or more range queries. */
export interface ChartDefinition {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly queries: readonly { readonly legend: string; readonly query: string }[];
  /** Label whose value names the series (e.g. `reason`), instead of the legend alone. */
  readonly splitBy?: string;
  readonly slo?: Slo;
}

/** The report's charts: latency percentiles, throughput, success rate, rejects by reason, canary weight. */
export function reportCharts(slos: SloTable, selector: string, appName: string, namespace: string, rateWindow: string): ChartDefinition[] {
  const q = (h: string, p: number) => histogramQuantile(p, h, selector, rateWindow);
  return [
    {
      id: "latency",
      title: "Latency percentiles",
      unit: "seconds",
      queries: [
        { legend: "PoI verify p50", query: q(METRICS.poiVerifySeconds, 0.5) },
        { legend: "PoI verify p99", query: q(METRICS.poiVerifySeconds, 0.99) },
        { legend: "API p50", query: q(METRICS.httpRequestDurationSeconds, 0.5) },
        { legend: "API p99", query: q(METRICS.httpRequestDurationSeconds, 0.99) },
      ],
      slo: slos.apiP99Latency,
    },
    {
      id: "throughput",
      title: "Throughput",
      unit: "per_second",
      queries: [
        { legend: "PoI verified/s", query: counterRate(METRICS.poiVerifyTotal, selector, rateWindow) },
        { legend: "API requests/s", query: counterRate(METRICS.httpRequestsTotal, selector, rateWindow) },
        { legend: "verifications refused/s", query: verificationsShedRate(selector, rateWindow) },
      ],
    },
    {
      id: "success",
      title: "Success rate",
      unit: "ratio",
      queries: [
        { legend: "PoI verification success", query: poiSuccessRatio(selector, rateWindow) },
        { legend: "API non-5xx share", query: `1 - (${apiErrorRatio(selector, rateWindow)})` },
      ],
      slo: slos.poiVerifySuccessRate,
    },
    {
      id: "rejects",
      title: "Rejected attestations by reason (/s)",
      unit: "per_second",
      queries: [{ legend: "reason", query: `sum by (reason) (rate(${METRICS.poiVerifyFailTotal}{${selector}}[${rateWindow}]))` }],
      splitBy: "reason",
    },
    {
      id: "canary",
      title: "Canary weight (% of traffic)",
      unit: "percent",
      // Flagger's own gauge: one series per workload, `<app>-primary` and `<app>` (the canary), side by side
      queries: [{ legend: "workload", query: flaggerWeightQuery(namespace, appName) }],
      splitBy: "workload",
    },
  ];
}
