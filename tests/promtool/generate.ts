/**
 * Generates `promtool test rules` unit tests for the 13 alerts from the SLO table and the stack config.
 *
 * For every alert there is a "violating" case (input series just past the threshold: the alert fires after its
 * `for` duration, with the expected labels and annotations) and "healthy" cases (series just inside the threshold,
 * an idle node, a client polling a block that is not final: nothing fires). Every threshold in the inputs comes
 * from the SLO table / stack config handed in, NOT from the rule text, so an SLO the rule does not follow makes
 * promtool fail. Whether an input lies on the right side of its threshold is promtool's to say: a violating case
 * that does not fire and a healthy case that fires both fail the run.
 *
 * The expected labels are independent of the rule (severity from the SLO table for SLO alerts, from the design's
 * table for the others), and so is `runbook_url` (base URL from the stack config + `#<alert lower-case>`). The other
 * annotations are asserted as text: the rules under test are the rendered rules with `{{ $value }}` rendered as the
 * literal `VALUE_PLACEHOLDER` (`testableRules`), so the expectation does not have to predict Prometheus's float
 * arithmetic; that `$value` renders as a number is checked against a real Prometheus (tests/monitoring-e2e.test.ts).
 */
import { FAIL_REASON_LABEL, LATENCY_BUCKETS_SECONDS, METRICS } from "@bizra/contract";
import type { RuleGroup } from "../../components/crds/monitoring";
import { VERIFY_ROUTES_REGEX } from "../../components/promql";
import { cpuCores, memoryBytes } from "../../components/quantity";
import type { Slo, SloTable } from "../../components/slo";

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

/**
 * Severity of the alerts that do not take it from the SLO table (ARCHITECTURE.md / design table): those that enforce
 * no SLO, and `APIErrorRateHigh`, whose SLO (apiErrorRate) the table marks a canary check.
 */
export const PLAIN_SEVERITY: Record<string, "critical" | "warning"> = {
  APIErrorRateHigh: "warning",
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
  APIErrorRateHigh: 5,
};

/** The SLO each SLO alert enforces. */
export const SLO_ALERTS = {
  FinalityCheckP99Violation: "finalityCheckP99",
  PoIGenerationP99Violation: "poiGenerateP99",
  PoIVerificationP99Violation: "poiVerifyP99",
  PoIThroughputDegraded: "poiVerifyThroughput",
  PoISuccessRateCritical: "poiVerifySuccessRate",
} as const;

/** `for` of `alert` in minutes; an alert missing from FOR_MINUTES is an error naming the known ones. */
function forMinutes(alert: string): number {
  const minutes = FOR_MINUTES[alert];
  if (minutes === undefined) throw new Error(`no \`for\` known for alert ${alert}; FOR_MINUTES lists ${Object.keys(FOR_MINUTES).join(", ")}`);
  return minutes;
}

/**
 * When the firing check runs: `for` + 6 minutes. A 5m rate over series that start at minute 0 is extrapolated to
 * zero, so it reaches its steady value only once the window is full (minute 5); the alert is then active from
 * minute 5 at the latest and firing at `for` + 5m.
 */
export const fireAtMinute = (alert: string) => forMinutes(alert) + 6;
/** When the "not yet" check runs: 1 minute before `for` has elapsed since minute 0 (the earliest activation). */
export const pendingAtMinute = (alert: string) => forMinutes(alert) - 1;
/** Minutes of input series in every test. */
const SERIES_MINUTES = 20;
/** Relative margin of "just past" / "just inside" for rates, ratios and gauges. */
const MARGIN = 0.01;

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
  // 0 < hiIndex < bounds.length (checked above), so both neighbours exist.
  const lo = bounds[hiIndex - 1]!;
  const hi = bounds[hiIndex]!;
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
  /** A short name of the situation, for promtool's test name. */
  readonly situation: string;
  readonly violating: boolean;
  readonly series: Series[];
  /** Expected firing alerts at `fireAt` (empty for the healthy case); labels only, annotations come from the rule. */
  readonly expected: { labels: Record<string, string> }[];
}

/** What a scrape of the node carries besides the metric's own labels. */
export function targetLabels(t: Pick<AlertTestTarget, "namespace" | "job">) {
  const pod = `${t.job}-5d8c7f9b4-x2x7q`;
  return { namespace: t.namespace, job: t.job, pod, instance: "10.0.0.7:9464" };
}

/**
 * The series of a healthy node that nobody uses: up, fast scrapes, little memory and CPU, every counter flat,
 * no vote ever (head and finalized slot -1), circuit closed. No alert may fire on it.
 */
export function idleNodeSeries(t: AlertTestTarget): Series[] {
  const target = targetLabels(t);
  const at = (name: string, extra: Record<string, string> = {}) => `${name}{${labelText({ ...target, ...extra })}}`;
  const flat = (name: string, extra?: Record<string, string>) => ({ series: at(name, extra), values: gauge(0) });
  return [
    { series: at("up"), values: gauge(1) },
    { series: at("scrape_duration_seconds"), values: gauge(t.scrapeDurationSeconds / 100) },
    { series: at("process_resident_memory_bytes"), values: gauge(Math.round(memoryBytes(t.memoryLimit) / 10)) },
    { series: at("process_cpu_seconds_total"), values: counter(0.6) }, // 1 % of a core
    flat(METRICS.poiVerifyTotal),
    flat(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "replayed" }),
    flat(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "bad_signature" }),
    flat(METRICS.finalityChecksTotal),
    flat(METRICS.consensusQuorumFailuresTotal),
    { series: at(METRICS.consensusHeadSlot), values: gauge(-1) },
    { series: at(METRICS.consensusFinalizedSlot), values: gauge(-1) },
    flat(METRICS.poiVerifierCircuitState),
    ...[...LATENCY_BUCKETS_SECONDS.map(String), "+Inf"].flatMap((le) => [
      flat(`${METRICS.poiVerifySeconds}_bucket`, { le }),
      flat(`${METRICS.poiGenerateSeconds}_bucket`, { le }),
      flat(`${METRICS.finalityCheckSeconds}_bucket`, { le }),
    ]),
  ];
}

/**
 * A client polling a block that is not final yet, 10 times a second, fast answers: finality checks climb, the votes
 * do not (the head is 2 slots past the finalized slot and stays there). Neither a consensus alert nor the finality
 * latency alert may fire.
 */
export function pollingClientSeries(t: AlertTestTarget): Series[] {
  const target = targetLabels(t);
  const at = (name: string, extra: Record<string, string> = {}) => `${name}{${labelText({ ...target, ...extra })}}`;
  const fast = histogramFor(((LATENCY_BUCKETS_SECONDS[0] as number) + (LATENCY_BUCKETS_SECONDS[1] as number)) / 2, 600);
  return [
    { series: at(METRICS.finalityChecksTotal), values: counter(600) },
    ...fast.map((b) => ({ series: at(`${METRICS.finalityCheckSeconds}_bucket`, { le: b.le === Infinity ? "+Inf" : String(b.le) }), values: counter(b.perMinute) })),
    { series: at(METRICS.consensusVotesTotal, { outcome: "accepted" }), values: gauge(40) },
    { series: at(METRICS.consensusHeadSlot), values: gauge(7) },
    { series: at(METRICS.consensusFinalizedSlot), values: gauge(5) },
    { series: at(METRICS.consensusQuorumFailuresTotal), values: gauge(0) },
  ];
}

/** Alerts the idle and polling checks assert silence for: every alert, and the consensus and finality ones. */
export const POLLING_QUIET_ALERTS = ["FinalityCheckStalled", "ConsensusQuorumFailure", "FinalityCheckP99Violation"] as const;

export function alertCases(slos: SloTable, t: AlertTestTarget): AlertCase[] {
  const target = targetLabels(t);
  const pod = target.pod;
  const cases: AlertCase[] = [];
  const sloLabels = (slo: Slo) => ({ severity: slo.severity, slo: slo.id });
  const at = (name: string, extra: Record<string, string> = {}) => `${name}{${labelText({ ...target, ...extra })}}`;
  // every alert carries the node's namespace (the Alertmanager routes match on it)
  const add = (alert: string, situation: string, violating: boolean, series: Series[], labels: Record<string, string>) =>
    cases.push({ alert, situation, violating, series, expected: violating ? [{ labels: { ...labels, namespace: t.namespace } }] : [] });

  // p99 latency alerts: the p99 placed 10 % into the bucket past (or before) the SLO bound
  const quantileAlerts = [
    ["FinalityCheckP99Violation", slos.finalityCheckP99, METRICS.finalityCheckSeconds],
    ["PoIGenerationP99Violation", slos.poiGenerateP99, METRICS.poiGenerateSeconds],
    ["PoIVerificationP99Violation", slos.poiVerifyP99, METRICS.poiVerifySeconds],
  ] as const;
  for (const [alert, slo, histogram] of quantileAlerts) {
    for (const violating of [true, false]) {
      const series = histogramFor(quantileTarget(slo, violating)).map((b) => ({
        series: at(`${histogram}_bucket`, { le: b.le === Infinity ? "+Inf" : String(b.le) }),
        values: counter(b.perMinute),
      }));
      add(alert, violating ? "p99 just past the SLO" : "p99 just inside the SLO", violating, series, sloLabels(slo));
    }
  }

  // throughput floor as a capacity signal: below the floor AND verifications refused (503 on a verification route)
  {
    const alert = "PoIThroughputDegraded";
    const slo = slos.poiVerifyThroughput;
    const verified = (factor: number) => ({ series: at(METRICS.poiVerifyTotal), values: counter(slo.value * factor * 60) });
    const shed = (perMinute: number) => ({
      series: at(METRICS.httpRequestsTotal, { route: VERIFY_ROUTES_REGEX.split("|")[0] as string, method: "POST", status_code: "503" }),
      values: counter(perMinute),
    });
    add(alert, "below the floor while shedding", true, [verified(1 - MARGIN), shed(60)], sloLabels(slo));
    add(alert, "above the floor while shedding", false, [verified(1 + MARGIN), shed(60)], sloLabels(slo));
    add(alert, "below the floor with low demand (nothing shed)", false, [verified(0.01), shed(0)], sloLabels(slo));
  }

  // success rate: failures of two reasons, half-way between the bound and 1 (inside) or as far below it (violating)
  {
    const alert = "PoISuccessRateCritical";
    const slo = slos.poiVerifySuccessRate;
    for (const violating of [true, false]) {
      const ratio = violating ? slo.value - (1 - slo.value) / 2 : slo.value + (1 - slo.value) / 2;
      const total = 60_000;
      const ok = Math.round(total * ratio);
      const badSig = Math.ceil((total - ok) / 2);
      const stale = total - ok - badSig;
      add(alert, violating ? "success rate below the SLO" : "success rate above the SLO", violating, [
        { series: at(METRICS.poiVerifyTotal), values: counter(ok) },
        { series: at(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "bad_signature" }), values: counter(badSig) },
        { series: at(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "stale" }), values: counter(stale) },
      ], sloLabels(slo));
    }
  }

  // API error rate: the node API's 5xx share half-way past / inside the bound; 5xx of another job (the signer's
  // standby answers 503) do not count
  {
    const alert = "APIErrorRateHigh";
    const slo = slos.apiErrorRate;
    const labels = { severity: PLAIN_SEVERITY[alert] as string, slo: slo.id };
    const requests = (status: string, perMinute: number, job = t.job) => ({
      series: `${METRICS.httpRequestsTotal}{${labelText({ ...target, job, route: "/v1/attestations/verify", method: "POST", status_code: status })}}`,
      values: counter(perMinute),
    });
    const total = 60_000;
    for (const violating of [true, false]) {
      const share = violating ? slo.value * 1.5 : slo.value / 2;
      const failed = Math.round(total * share);
      add(alert, violating ? "5xx share past the SLO" : "5xx share inside the SLO", violating, [requests("500", failed), requests("200", total - failed)], labels);
    }
    add(alert, "5xx of another job only", false, [requests("200", total), requests("503", total, `${t.job}-signer`)], labels);
  }

  // finality stalled: votes arrive and the head moves on, the finalized slot does not; healthy: it follows the head
  {
    const alert = "FinalityCheckStalled";
    const labels = { severity: PLAIN_SEVERITY[alert] as string, pod };
    const votes = { series: at(METRICS.consensusVotesTotal, { outcome: "accepted" }), values: counter(30) };
    const head = { series: at(METRICS.consensusHeadSlot), values: counter(1).map((v) => v + 10) };
    add(alert, "votes arrive, the finalized slot stays", true, [votes, head, { series: at(METRICS.consensusFinalizedSlot), values: gauge(9) }], labels);
    add(alert, "votes arrive, the finalized slot follows the head", false, [votes, head, { series: at(METRICS.consensusFinalizedSlot), values: counter(1).map((v) => v + 9) }], labels);
  }

  // resident memory: just over / just under share x limit (a max by (pod))
  {
    const alert = "ProcessMemoryHigh";
    const limit = memoryBytes(t.memoryLimit) * t.memoryShareOfLimit;
    for (const violating of [true, false]) {
      const bytes = Math.round(limit * (violating ? 1 + MARGIN : 1 - MARGIN));
      add(alert, violating ? "just over the share of the limit" : "just under it", violating, [{ series: at("process_resident_memory_bytes"), values: gauge(bytes) }], {
        severity: PLAIN_SEVERITY[alert] as string,
        pod,
      });
    }
  }

  // CPU: rate of process_cpu_seconds_total just over / under share x limit cores
  {
    const alert = "ProcessCPUHigh";
    const limit = cpuCores(t.cpuLimit) * t.cpuShareOfLimit;
    for (const violating of [true, false]) {
      const values = counter(limit * (violating ? 1 + MARGIN : 1 - MARGIN) * 60);
      add(alert, violating ? "just over the share of the limit" : "just under it", violating, [{ series: at("process_cpu_seconds_total"), values }], {
        severity: PLAIN_SEVERITY[alert] as string,
        pod,
      });
    }
  }

  // metrics endpoint down: up == 0 (labels of the target), up absent (labels of the selector), up == 1 (healthy)
  {
    const alert = "MetricsEndpointDown";
    const sev = { severity: PLAIN_SEVERITY[alert] as string };
    add(alert, "up == 0", true, [{ series: at("up"), values: gauge(0) }], { ...sev, ...target });
    // only another job's target exists: the node's `up` is absent
    add(alert, "up absent", true, [{ series: `up{${labelText({ ...target, job: "something-else" })}}`, values: gauge(1) }], { ...sev, namespace: t.namespace, job: t.job });
    add(alert, "up == 1", false, [{ series: at("up"), values: gauge(1) }], sev);
  }

  // scrape slow: max(scrape_duration_seconds) just over / exactly at the configured bound (the rule is strict `>`)
  {
    const alert = "PrometheusScrapeSlow";
    for (const violating of [true, false]) {
      const seconds = violating ? t.scrapeDurationSeconds * (1 + MARGIN) : t.scrapeDurationSeconds;
      add(alert, violating ? "just over the bound" : "exactly at the bound", violating, [{ series: at("scrape_duration_seconds"), values: gauge(seconds) }], {
        severity: PLAIN_SEVERITY[alert] as string,
      });
    }
  }

  // quorum failures: a slot left without quorum every minute vs none
  for (const violating of [true, false]) {
    const alert = "ConsensusQuorumFailure";
    add(alert, violating ? "a slot without quorum every minute" : "no slot without quorum", violating, [
      { series: at(METRICS.consensusQuorumFailuresTotal), values: violating ? counter(1) : gauge(3) },
    ], { severity: PLAIN_SEVERITY[alert] as string, pod });
  }

  // replay: ONE replayed attestation (at minute 3) fires at once; other failure reasons do not
  for (const violating of [true, false]) {
    const alert = "ReplayAttackDetected";
    const step = Array.from({ length: SERIES_MINUTES + 1 }, (_, i) => (i >= 3 ? 1 : 0));
    const series = violating
      ? [{ series: at(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "replayed" }), values: step }]
      : [
          { series: at(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "replayed" }), values: gauge(0) },
          { series: at(METRICS.poiVerifyFailTotal, { [FAIL_REASON_LABEL]: "bad_signature" }), values: counter(5) },
        ];
    add(alert, violating ? "one replayed attestation" : "other failure reasons only", violating, series, { severity: PLAIN_SEVERITY[alert] as string });
  }
  return cases;
}

/** What `{{ $value }}` renders as in `testableRules`. */
export const VALUE_PLACEHOLDER = "VALUE_PLACEHOLDER";
const VALUE_TEMPLATE = /\{\{\s*\$value\s*\}\}/g;

/**
 * The rules promtool runs: the rendered rules with `{{ $value }}` in annotations replaced by a constant, every other
 * character (expressions, labels, `for`, the rest of each annotation) unchanged.
 */
export function testableRules(groups: readonly RuleGroup[]): RuleGroup[] {
  return groups.map((g) => ({
    ...g,
    rules: g.rules.map((r) => ({
      ...r,
      ...(r.annotations ? { annotations: Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, v.replace(VALUE_TEMPLATE, VALUE_PLACEHOLDER)])) } : {}),
    })),
  }));
}

/** An annotation template as `testableRules` renders it; any other template is an error (the generator cannot render it). */
export function renderAnnotation(template: string): string {
  const rendered = template.replace(VALUE_TEMPLATE, VALUE_PLACEHOLDER);
  if (rendered.includes("{{")) throw new Error(`annotation uses a template the generator does not render: ${template}`);
  return rendered;
}

/**
 * The promtool test file (as an object to serialise to YAML) for `rulesFile` (written from `testableRules(groups)`),
 * with one test group per case. Each case checks: nothing fires 1 minute before `for` has elapsed (still pending;
 * only for alerts with a `for`), and at `for` + 6m the expected alerts fire (violating) or nothing fires (healthy).
 * Two more groups run the idle node and the polling client and expect silence.
 */
export function promtoolTestFile(
  rulesFile: string,
  groups: readonly RuleGroup[],
  cases: readonly AlertCase[],
  t: AlertTestTarget,
): Record<string, unknown> {
  const rules = new Map(groups.flatMap((g) => g.rules.map((r) => [r.alert, r] as const)));
  const inputSeries = (series: readonly Series[]) => series.map((s) => ({ series: s.series, values: s.values.map((v) => String(v)).join(" ") }));
  const quiet = (alerts: readonly string[]) =>
    [...new Set(alerts.flatMap((a) => [pendingAtMinute(a), fireAtMinute(a)]).filter((m) => m >= 0))].flatMap((m) =>
      alerts.map((alertname) => ({ eval_time: `${m}m`, alertname, exp_alerts: [] })),
    );
  return {
    rule_files: [rulesFile],
    evaluation_interval: "1m",
    tests: [
      ...cases.map((c) => {
        const rule = rules.get(c.alert);
        if (!rule) throw new Error(`the rules have no alert ${c.alert}`);
        const forMin = forMinutes(c.alert);
        const checks: Record<string, unknown>[] = [];
        if (forMin > 0) checks.push({ eval_time: `${pendingAtMinute(c.alert)}m`, alertname: c.alert, exp_alerts: [] });
        checks.push({
          eval_time: `${fireAtMinute(c.alert)}m`,
          alertname: c.alert,
          exp_alerts: c.expected.map((e) => ({
            exp_labels: e.labels,
            exp_annotations: {
              ...Object.fromEntries(Object.entries(rule.annotations ?? {}).map(([k, v]) => [k, renderAnnotation(v)])),
              // not taken from the rule: the runbook anchor the stack config promises
              runbook_url: `${t.runbookBaseUrl}#${c.alert.toLowerCase()}`,
            },
          })),
        });
        return { name: `${c.alert}: ${c.situation} ${c.violating ? "fires" : "stays quiet"}`, interval: "1m", input_series: inputSeries(c.series), alert_rule_test: checks };
      }),
      { name: "an idle healthy node: no alert fires", interval: "1m", input_series: inputSeries(idleNodeSeries(t)), alert_rule_test: quiet(Object.keys(FOR_MINUTES)) },
      {
        name: "a client polling a block that is not final: no consensus or finality alert fires",
        interval: "1m",
        input_series: inputSeries(pollingClientSeries(t)),
        alert_rule_test: quiet(POLLING_QUIET_ALERTS),
      },
    ],
  };
}
