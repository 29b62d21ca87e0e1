/**
 * Generates `promtool test rules` unit tests for the 12 alerts from the SLO table and the stack config.
 *
 * For every alert there is a "violating" case (input series just past the threshold: the alert fires after its
 * `for` duration, with the expected labels and annotations) and a "healthy" case (series just inside the
 * threshold: nothing fires). Every threshold in the inputs comes from the SLO table / stack config handed in,
 * NOT from the rule text, so an SLO the rule does not follow makes promtool fail.
 *
 * The expected labels are independent of the rule (severity from the SLO table for SLO alerts, from the design's
 * table for the others), and so is `runbook_url` (base URL from the stack config + `#<alert lower-case>`). The
 * other expected annotations are the rule's own templates with `{{ $value }}` rendered; to
 * know `$value` exactly, this file computes it with the same float operations Prometheus 2.x uses
 * (`extrapolatedRate`, `bucketQuantile`) and formats it as Go's `%v` does.
 */
import { FAIL_REASON_LABEL, LATENCY_BUCKETS_SECONDS, METRICS } from "@bizra/contract";
import { cpuCores, memoryBytes } from "../../components/alerts";
import type { RuleGroup } from "../../components/crds/monitoring";
import { meetsSlo, type Slo, type SloTable } from "../../components/slo";

/** What the generator needs to know about the stack (all from the validated stack config). */
export interface AlertTestTarget {
  readonly namespace: string;
  /** The node Service name: the `job` label of scraped series. */
  readonly job: string;
  readonly memoryLimit: string;
  readonly cpuLimit: string;
  readonly memoryShareOfLimit: number;
  readonly cpuShareOfLimit: number;
  readonly scrapeDurationSeconds: number;
  readonly runbookBaseUrl: string;
}

/** Severity of the alerts that do not enforce an SLO (ARCHITECTURE.md / design table). */
export const PLAIN_SEVERITY: Record<string, "critical" | "warning"> = {
  FinalityCheckStalled: "critical",
  ProcessMemoryHigh: "warning",
  ProcessCPUHigh: "warning",
  MetricsEndpointDown: "critical",
  PrometheusScrapeSlow: "warning",
  ConsensusQuorumFailure: "critical",
  ReplayAttackDetected: "critical",
};

/** `for` of each alert, in minutes (design); 0 = fires at the first evaluation. */
export const FOR_MINUTES: Record<string, number> = {
  FinalityCheckP99Violation: 5,
  FinalityCheckStalled: 10,
  PoIGenerationP99Violation: 5,
  PoIVerificationP99Violation: 5,
  PoIThroughputDegraded: 10,
  PoISuccessRateCritical: 5,
  ProcessMemoryHigh: 5,
  ProcessCPUHigh: 10,
  MetricsEndpointDown: 2,
  PrometheusScrapeSlow: 5,
  ConsensusQuorumFailure: 5,
  ReplayAttackDetected: 0,
};

/** The SLO each SLO alert enforces. */
export const SLO_ALERTS = {
  FinalityCheckP99Violation: "finalityCheckP99",
  PoIGenerationP99Violation: "poiGenerateP99",
  PoIVerificationP99Violation: "poiVerifyP99",
  PoIThroughputDegraded: "poiVerifyThroughput",
  PoISuccessRateCritical: "poiVerifySuccessRate",
} as const;

const RATE_WINDOW_MINUTES = 5;

/**
 * When the firing check runs: `for` + 6 minutes. A 5m rate over series that start at minute 0 is extrapolated to
 * zero, so it reaches its steady value only once the window is full (minute 5); the alert is then active from
 * minute 5 at the latest and firing at `for` + 5m.
 */
export const fireAtMinute = (alert: string) => FOR_MINUTES[alert] + 6;
/** When the "not yet" check runs: 1 minute before `for` has elapsed since minute 0 (the earliest activation). */
export const pendingAtMinute = (alert: string) => FOR_MINUTES[alert] - 1;
/** Minutes of input series in every test. */
const SERIES_MINUTES = 20;
/** Relative margin of "just past" / "just inside" for rates, ratios and gauges. */
const MARGIN = 0.01;

// ---------------------------------------------------------------------------------------------------------------
// Prometheus arithmetic, float for float (Prometheus 2.x promql/functions.go and promql/quantile.go)

/** `rate`/`increase` at `evalMin` over `[evalMin - 5m, evalMin]` of a series sampled every minute from minute 0. */
export function extrapolatedRate(values: readonly number[], evalMin: number, isRate: boolean, windowMin = RATE_WINDOW_MINUTES): number {
  const first = evalMin - windowMin;
  const pts = values.map((v, i) => ({ t: i * 60, v })).filter((p) => p.t >= first * 60 && p.t <= evalMin * 60);
  if (pts.length < 2) return NaN;
  let result = pts[pts.length - 1].v - pts[0].v;
  for (let i = 1; i < pts.length; i++) if (pts[i].v < pts[i - 1].v) result += pts[i - 1].v; // counter resets
  let durationToStart = pts[0].t - first * 60;
  const durationToEnd = evalMin * 60 - pts[pts.length - 1].t;
  const sampledInterval = pts[pts.length - 1].t - pts[0].t;
  const averageDurationBetweenSamples = sampledInterval / (pts.length - 1);
  if (result > 0 && pts[0].v >= 0) {
    const durationToZero = sampledInterval * (pts[0].v / result);
    if (durationToZero < durationToStart) durationToStart = durationToZero;
  }
  const threshold = averageDurationBetweenSamples * 1.1;
  let extrapolateToInterval = sampledInterval;
  extrapolateToInterval += durationToStart < threshold ? durationToStart : averageDurationBetweenSamples / 2;
  extrapolateToInterval += durationToEnd < threshold ? durationToEnd : averageDurationBetweenSamples / 2;
  let factor = extrapolateToInterval / sampledInterval;
  if (isRate) factor /= windowMin * 60;
  return result * factor;
}

/** `histogram_quantile` over cumulative bucket rates (`le` ascending, last is +Inf). */
export function bucketQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && !(buckets[b].count >= rank)) b++;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let bucketStart = 0;
  const bucketEnd = buckets[b].le;
  let count = buckets[b].count;
  if (b > 0) {
    bucketStart = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucketStart + (bucketEnd - bucketStart) * (rank / count);
}

/** Go's `fmt.Sprint(float64)` (`%v` = strconv 'g', -1): shortest digits, exponent form below 1e-4 and from 1e6. */
export function goFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "+Inf" : "-Inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const [mant, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  const digits = mant.replace("-", "").replace(".", "");
  const sign = x < 0 ? "-" : "";
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${sign}${digits}${"0".repeat(exp + 1 - digits.length)}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Input series

interface Series {
  readonly series: string;
  readonly values: number[];
}

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");

/** A counter growing by `perMinute` each minute from 0 (values computed once, printed exactly). */
const counter = (perMinute: number): number[] => Array.from({ length: SERIES_MINUTES + 1 }, (_, i) => i * perMinute);
const gauge = (value: number): number[] => Array.from({ length: SERIES_MINUTES + 1 }, () => value);

/** Cumulative per-minute bucket counts whose p99 lands at `target` (in a bucket's interior). */
export function histogramFor(target: number, perMinute = 100_000): { le: number; perMinute: number }[] {
  const bounds = [...LATENCY_BUCKETS_SECONDS];
  const hiIndex = bounds.findIndex((b) => b >= target);
  if (hiIndex <= 0) throw new Error(`p99 target ${target} must lie above the first bucket and within the buckets`);
  const lo = bounds[hiIndex - 1];
  const hi = bounds[hiIndex];
  const p = (target - lo) / (hi - lo);
  // rank = 0.99 T falls p of the way through the target bucket when it holds B = 0.01 T / (1 - p) observations.
  const inBucket = Math.round((0.01 * perMinute) / (1 - p));
  const below = perMinute - inBucket; // all in the first bucket
  return [...bounds, Infinity].map((le, i) => ({ le, perMinute: i < hiIndex ? below : perMinute }));
}

/** A p99 value just past (violating) or just inside the SLO bound, placed 10 % into the neighbouring bucket. */
export function quantileTarget(slo: Pick<Slo, "value">, violating: boolean): number {
  const bounds = [0, ...LATENCY_BUCKETS_SECONDS];
  if (violating) {
    const next = bounds.find((b) => b > slo.value);
    if (next === undefined) throw new Error(`SLO ${slo.value} s is above the last bucket`);
    return slo.value + 0.1 * (next - slo.value);
  }
  const prev = [...bounds].reverse().find((b) => b < slo.value) as number;
  return slo.value - 0.1 * (slo.value - prev);
}

// ---------------------------------------------------------------------------------------------------------------
// The test cases

export interface AlertCase {
  readonly alert: string;
  readonly violating: boolean;
  readonly series: Series[];
  /** Expected firing alerts at `fireAt` (empty for the healthy case). */
  readonly expected: { labels: Record<string, string>; value: number }[];
  /** A derived measure, for the mocha-side sanity check (e.g. the computed p99). */
  readonly measured?: number;
}

export function alertCases(slos: SloTable, t: AlertTestTarget): AlertCase[] {
  const ns = { namespace: t.namespace };
  const pod = `${t.job}-5d8c7f9b4-x2x7q`;
  const target = { ...ns, job: t.job, pod, instance: "10.0.0.7:9464" };
  const evalMin = fireAtMinute;
  const cases: AlertCase[] = [];
  const sloLabels = (slo: Slo) => ({ severity: slo.severity, slo: slo.id });

  // p99 latency alerts
  const quantileAlerts = [
    ["FinalityCheckP99Violation", slos.finalityCheckP99, METRICS.finalityCheckSeconds],
    ["PoIGenerationP99Violation", slos.poiGenerateP99, METRICS.poiGenerateSeconds],
    ["PoIVerificationP99Violation", slos.poiVerifyP99, METRICS.poiVerifySeconds],
  ] as const;
  for (const [alert, slo, histogram] of quantileAlerts) {
    for (const violating of [true, false]) {
      const buckets = histogramFor(quantileTarget(slo, violating));
      const series = buckets.map((b) => ({
        series: `${histogram}_bucket{${labelText({ ...target, le: b.le === Infinity ? "+Inf" : String(b.le) })}}`,
        values: counter(b.perMinute),
      }));
      const at = evalMin(alert);
      const p99 = bucketQuantile(0.99, buckets.map((b, i) => ({ le: b.le, count: extrapolatedRate(series[i].values, at, true) })));
      if (meetsSlo(slo, p99) === violating) throw new Error(`${alert}: generated p99 ${p99} is on the wrong side of ${slo.value}`);
      cases.push({ alert, violating, series, measured: p99, expected: violating ? [{ labels: sloLabels(slo), value: p99 }] : [] });
    }
  }

  // throughput floor: rate just under / just over the SLO
  {
    const alert = "PoIThroughputDegraded";
    const slo = slos.poiVerifyThroughput;
    for (const violating of [true, false]) {
      const perSecond = slo.value * (violating ? 1 - MARGIN : 1 + MARGIN);
      const values = counter(perSecond * 60);
      const rate = extrapolatedRate(values, evalMin(alert), true);
      if (meetsSlo(slo, rate) === violating) throw new Error(`${alert}: generated rate ${rate} on the wrong side`);
      cases.push({
        alert, violating, measured: rate,
        series: [{ series: `${METRICS.poiVerifyTotal}{${labelText(target)}}`, values }],
        expected: violating ? [{ labels: sloLabels(slo), value: rate }] : [],
      });
    }
  }

  // success rate: failures of two reasons
  {
    const alert = "PoISuccessRateCritical";
    const slo = slos.poiVerifySuccessRate;
    for (const violating of [true, false]) {
      // half-way between the bound and 1 (inside), or as far below it (violating): 98.5 % / 99.5 % for a 99 % SLO
      const ratio = violating ? slo.value - (1 - slo.value) / 2 : slo.value + (1 - slo.value) / 2;
      const total = 60_000;
      const ok = Math.round(total * ratio);
      const badSig = Math.ceil((total - ok) / 2);
      const stale = total - ok - badSig;
      const at = evalMin(alert);
      const okV = counter(ok);
      const badV = counter(badSig);
      const staleV = counter(stale);
      const okRate = extrapolatedRate(okV, at, true);
      const failRate = extrapolatedRate(badV, at, true) + extrapolatedRate(staleV, at, true);
      const measured = okRate / (okRate + failRate);
      if (meetsSlo(slo, measured) === violating) throw new Error(`${alert}: generated ratio ${measured} on the wrong side`);
      cases.push({
        alert, violating, measured,
        series: [
          { series: `${METRICS.poiVerifyTotal}{${labelText(target)}}`, values: okV },
          { series: `${METRICS.poiVerifyFailTotal}{${labelText({ ...target, [FAIL_REASON_LABEL]: "bad_signature" })}}`, values: badV },
          { series: `${METRICS.poiVerifyFailTotal}{${labelText({ ...target, [FAIL_REASON_LABEL]: "stale" })}}`, values: staleV },
        ],
        expected: violating ? [{ labels: sloLabels(slo), value: measured }] : [],
      });
    }
  }

  // finality stalled: flat counter vs one check a minute
  for (const violating of [true, false]) {
    const alert = "FinalityCheckStalled";
    cases.push({
      alert, violating,
      series: [{ series: `${METRICS.finalityChecksTotal}{${labelText(target)}}`, values: violating ? gauge(42) : counter(1) }],
      expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert] }, value: 0 }] : [],
    });
  }

  // resident memory: just over / just under share x limit (a max by (pod))
  {
    const alert = "ProcessMemoryHigh";
    const limit = memoryBytes(t.memoryLimit) * t.memoryShareOfLimit;
    for (const violating of [true, false]) {
      const bytes = Math.round(limit * (violating ? 1 + MARGIN : 1 - MARGIN));
      cases.push({
        alert, violating, measured: bytes,
        series: [{ series: `process_resident_memory_bytes{${labelText(target)}}`, values: gauge(bytes) }],
        expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert], pod }, value: bytes }] : [],
      });
    }
  }

  // CPU: rate of process_cpu_seconds_total just over / under share x limit cores
  {
    const alert = "ProcessCPUHigh";
    const limit = cpuCores(t.cpuLimit) * t.cpuShareOfLimit;
    for (const violating of [true, false]) {
      const values = counter(limit * (violating ? 1 + MARGIN : 1 - MARGIN) * 60);
      const rate = extrapolatedRate(values, evalMin(alert), true);
      if (rate > limit !== violating) throw new Error(`${alert}: generated rate ${rate} on the wrong side of ${limit}`);
      cases.push({
        alert, violating, measured: rate,
        series: [{ series: `process_cpu_seconds_total{${labelText(target)}}`, values }],
        expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert], pod }, value: rate }] : [],
      });
    }
  }

  // metrics endpoint down: up == 0 (labels of the target), up absent (labels of the selector), up == 1 (healthy)
  {
    const alert = "MetricsEndpointDown";
    const sev = { severity: PLAIN_SEVERITY[alert] };
    cases.push({ alert, violating: true, series: [{ series: `up{${labelText(target)}}`, values: gauge(0) }], expected: [{ labels: { ...sev, ...target }, value: 0 }] });
    cases.push({
      alert, violating: true,
      // only another job's target exists: the node's `up` is absent
      series: [{ series: `up{${labelText({ ...target, job: "something-else" })}}`, values: gauge(1) }],
      expected: [{ labels: { ...sev, namespace: t.namespace, job: t.job }, value: 1 }],
    });
    cases.push({ alert, violating: false, series: [{ series: `up{${labelText(target)}}`, values: gauge(1) }], expected: [] });
  }

  // scrape slow: max(scrape_duration_seconds) just over / exactly at the configured bound (the rule is strict `>`)
  {
    const alert = "PrometheusScrapeSlow";
    for (const violating of [true, false]) {
      const seconds = violating ? t.scrapeDurationSeconds * (1 + MARGIN) : t.scrapeDurationSeconds;
      cases.push({
        alert, violating, measured: seconds,
        series: [{ series: `scrape_duration_seconds{${labelText(target)}}`, values: gauge(seconds) }],
        expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert] }, value: seconds }] : [],
      });
    }
  }

  // quorum failures: one a minute vs none
  for (const violating of [true, false]) {
    const alert = "ConsensusQuorumFailure";
    const values = violating ? counter(1) : gauge(3);
    cases.push({
      alert, violating,
      series: [{ series: `${METRICS.consensusQuorumFailuresTotal}{${labelText(target)}}`, values }],
      expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert] }, value: extrapolatedRate(values, evalMin(alert), false) }] : [],
    });
  }

  // replay: ONE replayed attestation (at minute 3) fires at once; other failure reasons do not
  for (const violating of [true, false]) {
    const alert = "ReplayAttackDetected";
    const step = Array.from({ length: SERIES_MINUTES + 1 }, (_, i) => (i >= 3 ? 1 : 0));
    const series = violating
      ? [{ series: `${METRICS.poiVerifyFailTotal}{${labelText({ ...target, [FAIL_REASON_LABEL]: "replayed" })}}`, values: step }]
      : [
          { series: `${METRICS.poiVerifyFailTotal}{${labelText({ ...target, [FAIL_REASON_LABEL]: "replayed" })}}`, values: gauge(0) },
          { series: `${METRICS.poiVerifyFailTotal}{${labelText({ ...target, [FAIL_REASON_LABEL]: "bad_signature" })}}`, values: counter(5) },
        ];
    cases.push({
      alert, violating, series,
      expected: violating ? [{ labels: { severity: PLAIN_SEVERITY[alert] }, value: extrapolatedRate(step, evalMin(alert), false) }] : [],
    });
  }
  return cases;
}

/** Renders an annotation template the way the rules use them (only `{{ $value }}` is allowed). */
export function renderAnnotation(template: string, value: number): string {
  const rendered = template.replace(/\{\{\s*\$value\s*\}\}/g, goFloat(value));
  if (rendered.includes("{{")) throw new Error(`annotation uses a template the generator does not render: ${template}`);
  return rendered;
}

/**
 * The promtool test file (as an object to serialise to YAML) for `rulesFile`, with one test group per case.
 * Each case checks: nothing fires 1 minute before `for` has elapsed (still pending; only for alerts with a `for`),
 * and at `for` + 6m the expected alerts fire (violating) or nothing fires (healthy).
 */
export function promtoolTestFile(
  rulesFile: string,
  groups: readonly RuleGroup[],
  cases: readonly AlertCase[],
  runbookBaseUrl: string,
): Record<string, unknown> {
  const rules = new Map(groups.flatMap((g) => g.rules.map((r) => [r.alert, r] as const)));
  return {
    rule_files: [rulesFile],
    evaluation_interval: "1m",
    tests: cases.map((c) => {
      const rule = rules.get(c.alert);
      if (!rule) throw new Error(`the rules have no alert ${c.alert}`);
      const forMin = FOR_MINUTES[c.alert];
      const checks: Record<string, unknown>[] = [];
      if (forMin > 0) checks.push({ eval_time: `${pendingAtMinute(c.alert)}m`, alertname: c.alert, exp_alerts: [] });
      checks.push({
        eval_time: `${fireAtMinute(c.alert)}m`,
        alertname: c.alert,
        exp_alerts: c.expected.map((e) => ({
          exp_labels: e.labels,
          exp_annotations: {
            ...Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, renderAnnotation(v, e.value)])),
            // not taken from the rule: the runbook anchor the stack config promises
            runbook_url: `${runbookBaseUrl}#${c.alert.toLowerCase()}`,
          },
        })),
      });
      return {
        name: `${c.alert} ${c.violating ? "just past the threshold fires" : "just inside the threshold stays quiet"}`,
        interval: "1m",
        input_series: c.series.map((s) => ({ series: s.series, values: s.values.map((v) => String(v)).join(" ") })),
        alert_rule_test: checks,
      };
    }),
  };
}
