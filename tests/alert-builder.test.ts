/**
 * The alert rule builder (components/alerts.ts) as a pure function: every expression, duration, label and runbook
 * link of the 13 alerts for one config, written out from the documented rules. The promtool tests
 * (monitoring-rules.test.ts) check that these expressions fire at the right values.
 */
import * as assert from "node:assert/strict";
import { FAIL_REASON_LABEL, METRICS } from "@bizra/contract";
import { ALERT_RATE_WINDOW, API_ERROR_ALERT_SEVERITY, alertRuleConfig, alertRuleGroups, alertRuleSummary, humanSlo, prometheusRule, type AlertRuleConfig } from "../components/alerts";
import { VERIFY_ROUTES_REGEX } from "../components/promql";
import { resolveSlos } from "../components/slo";

const RB = "https://runbooks.example/node.md";
const CFG: AlertRuleConfig = {
  namespace: "ns",
  job: "app",
  resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "2", memory: "1Gi" } },
  alerts: { memoryShareOfLimit: 0.5, cpuShareOfLimit: 0.25, scrapeDurationSeconds: 2, runbookBaseUrl: RB },
};
// Every SLO off its default, so a value that does not come from the table shows.
const SLOS = resolveSlos({
  finalityCheckP99: 0.002,
  poiGenerateP99: 0.0003,
  poiVerifyP99: 0.0005,
  poiVerifyThroughput: 50_000,
  poiVerifySuccessRate: 0.95,
  fastFinalityBp: 7000,
  apiErrorRate: 0.02,
});
const NS = 'namespace="ns"';
const quantile = (metric: string) => `histogram_quantile(0.99, sum by (le) (rate(${metric}_bucket{${NS}}[5m])))`;
const verified = `sum(rate(${METRICS.poiVerifyTotal}{${NS}}[5m]))`;

/** alert -> [group, expr, for, severity, SLO id when the SLO table sets it] */
const EXPECTED: Record<string, [string, string, string | undefined, string, string?]> = {
  FinalityCheckP99Violation: ["bizra_finality_sla", `${quantile(METRICS.finalityCheckSeconds)} >= 0.002`, "5m", "critical", "finalityCheckP99"],
  FinalityCheckStalled: [
    "bizra_finality_sla",
    `max by (pod) (${METRICS.consensusHeadSlot}{${NS}}) > max by (pod) (${METRICS.consensusFinalizedSlot}{${NS}})` +
      ` and sum by (pod) (increase(${METRICS.consensusVotesTotal}{${NS}, outcome="accepted"}[5m])) > 0` +
      ` and max by (pod) (changes(${METRICS.consensusFinalizedSlot}{${NS}}[5m])) == 0`,
    "10m",
    "critical",
  ],
  PoIGenerationP99Violation: ["bizra_poi_sla", `${quantile(METRICS.poiGenerateSeconds)} >= 0.0003`, "5m", "warning", "poiGenerateP99"],
  PoIVerificationP99Violation: ["bizra_poi_sla", `${quantile(METRICS.poiVerifySeconds)} >= 0.0005`, "5m", "warning", "poiVerifyP99"],
  PoIThroughputDegraded: [
    "bizra_poi_sla",
    `${verified} < 50000 and on() (sum(rate(${METRICS.httpRequestsTotal}{${NS}, route=~"${VERIFY_ROUTES_REGEX}", status_code="503"}[5m])) or vector(0)) > 0`,
    "10m",
    "warning",
    "poiVerifyThroughput",
  ],
  PoISuccessRateCritical: [
    "bizra_poi_sla",
    `(${verified} / (${verified} + (sum(rate(${METRICS.poiVerifyFailTotal}{${NS}}[5m])) or vector(0)))) < 0.95`,
    "5m",
    "critical",
    "poiVerifySuccessRate",
  ],
  ProcessMemoryHigh: ["bizra_resource_limits", `max by (pod) (process_resident_memory_bytes{${NS}}) > 536870912`, "5m", "warning"],
  ProcessCPUHigh: ["bizra_resource_limits", `max by (pod) (rate(process_cpu_seconds_total{${NS}}[5m])) > 0.5`, "10m", "warning"],
  MetricsEndpointDown: ["bizra_health_checks", 'up{namespace="ns", job="app"} == 0 or absent(up{namespace="ns", job="app"})', "2m", "critical"],
  PrometheusScrapeSlow: ["bizra_health_checks", 'max(scrape_duration_seconds{namespace="ns", job="app"}) > 2', "5m", "warning"],
  APIErrorRateHigh: [
    "bizra_api_sla",
    `((sum(rate(${METRICS.httpRequestsTotal}{${NS}, job="app", status_code=~"5.."}[5m])) or vector(0)) / sum(rate(${METRICS.httpRequestsTotal}{${NS}, job="app"}[5m]))) > 0.02`,
    "5m",
    "warning",
    "apiErrorRate",
  ],
  ConsensusQuorumFailure: ["bizra_consensus_security", `sum by (pod) (increase(${METRICS.consensusQuorumFailuresTotal}{${NS}}[5m])) > 0`, "5m", "critical"],
  ReplayAttackDetected: ["bizra_consensus_security", `sum(increase(${METRICS.poiVerifyFailTotal}{${NS}, ${FAIL_REASON_LABEL}="replayed"}[5m])) > 0`, undefined, "critical"],
};

describe("alert rule builder", () => {
  // Built inside each test (not once when the file loads), so every test sees the builder as it is when it runs.
  const built = () => alertRuleGroups(SLOS, CFG);
  const rulesOf = (groups: ReturnType<typeof built>) => groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));

  it("the rule config takes namespace, the app name as job, limits and alert settings from the stack config", () => {
    const stack = { namespace: "n1", appName: "a1", resources: CFG.resources, alerts: CFG.alerts };
    assert.deepEqual(alertRuleConfig(stack), { namespace: "n1", job: "a1", resources: CFG.resources, alerts: CFG.alerts });
  });

  it("13 alerts in 6 groups, in order, over a 5 m rate window", () => {
    const groups = built();
    const rules = rulesOf(groups);
    assert.equal(ALERT_RATE_WINDOW, "5m");
    assert.deepEqual(
      groups.map((g) => g.name),
      ["bizra_finality_sla", "bizra_poi_sla", "bizra_resource_limits", "bizra_health_checks", "bizra_api_sla", "bizra_consensus_security"],
    );
    assert.deepEqual(rules.map((r) => [r.group, r.alert]), Object.entries(EXPECTED).map(([alert, [group]]) => [group, alert]));
  });

  for (const [alert, [, expr, forDuration, severity, sloId]] of Object.entries(EXPECTED)) {
    it(`${alert}: expression, ${forDuration ?? "no"} for, ${severity}${sloId ? `, from SLO ${sloId}` : ""}, namespace label, runbook anchor`, () => {
      const r = rulesOf(built()).find((x) => x.alert === alert)!;
      assert.equal(r.expr, expr);
      assert.equal(r.for, forDuration);
      assert.equal("for" in r, forDuration !== undefined, "an alert that fires at once has no `for` key");
      assert.deepEqual(r.labels, sloId ? { severity, slo: sloId, namespace: "ns" } : { severity, namespace: "ns" });
      assert.equal(r.annotations?.runbook_url, `${RB}#${alert.toLowerCase()}`);
      assert.deepEqual(Object.keys(r.annotations ?? {}), ["summary", "description", "runbook_url"]);
    });
  }

  it("SLO alerts: the summary ends with the SLO as people read it, the description names the table entry", () => {
    const rules = rulesOf(built());
    const summaries = Object.fromEntries(rules.map((r) => [r.alert, r.annotations!.summary]));
    assert.ok(summaries.FinalityCheckP99Violation!.endsWith(" (SLO: < 2ms)"), summaries.FinalityCheckP99Violation);
    assert.ok(summaries.PoIGenerationP99Violation!.endsWith(" (SLO: < 300µs)"), summaries.PoIGenerationP99Violation);
    assert.ok(summaries.PoIThroughputDegraded!.endsWith(" (SLO: >= 50000/s)"), summaries.PoIThroughputDegraded);
    assert.ok(summaries.PoISuccessRateCritical!.endsWith(" (SLO: >= 95%)"), summaries.PoISuccessRateCritical);
    assert.equal(summaries.APIErrorRateHigh, "Share of node API requests answered 5xx above its SLO (SLO: <= 2%)");
    assert.equal(API_ERROR_ALERT_SEVERITY, "warning", "the table marks apiErrorRate a canary check; the alert opens a ticket");
    const d = rules.find((r) => r.alert === "PoIVerificationP99Violation")!.annotations!.description;
    assert.equal(d, `${SLOS.poiVerifyP99.description}: {{ $value }} seconds; the SLO table (bizra:slo.poiVerifyP99) requires lt 0.0005 seconds.`);
  });

  it("other alerts: the summary names the threshold's source; every description carries the value", () => {
    const rules = rulesOf(built());
    const summary = (alert: string) => rules.find((r) => r.alert === alert)!.annotations!.summary;
    assert.equal(summary("ProcessMemoryHigh"), "Node process resident memory above 50% of its 1Gi limit");
    assert.equal(summary("ProcessCPUHigh"), "Node process CPU above 25% of its 2 core limit");
    assert.equal(summary("PrometheusScrapeSlow"), "Scraping the node metrics endpoint takes longer than 2s");
    assert.equal(summary("ConsensusQuorumFailure"), "Slots keep closing without the fast-finality quorum (7000bp of validator weight)");
    assert.equal(rules.find((r) => r.alert === "MetricsEndpointDown")!.annotations!.description, "Prometheus cannot scrape the node metrics endpoint. Value: {{ $value }}.");
    const summaries = rules.map((r) => r.annotations!.summary);
    assert.equal(new Set(summaries).size, 13, "one summary per alert");
    for (const r of rules) {
      assert.ok(r.annotations!.summary!.length > 20, `${r.alert}: summary ${JSON.stringify(r.annotations!.summary)}`);
      assert.ok(r.annotations!.description!.includes("{{ $value }}"), `${r.alert}: ${r.annotations!.description}`);
    }
  });

  it("a drill's for override replaces every alert's for; an alert that fires at once keeps firing at once", () => {
    const rules = rulesOf(alertRuleGroups(SLOS, { ...CFG, alerts: { ...CFG.alerts, forOverride: "30s" } }));
    assert.deepEqual(rules.map((r) => [r.alert, r.for]), Object.entries(EXPECTED).map(([alert, [, , forDuration]]) => [alert, forDuration === undefined ? undefined : "30s"]));
    assert.equal("for" in rules.find((r) => r.alert === "ReplayAttackDetected")!, false);
  });

  it("SLO values in the unit people read: µs below 1 ms, ms below 1 s, then s; percent; per second; basis points", () => {
    const s = (value: number) => humanSlo({ unit: "seconds", value });
    assert.deepEqual([s(0.0004), s(0.000999), s(0.001), s(0.0015), s(0.999), s(1), s(30)], ["400µs", "999µs", "1ms", "1.5ms", "999ms", "1s", "30s"]);
    assert.equal(humanSlo({ unit: "ratio", value: 0.999 }), "99.9%");
    assert.equal(humanSlo({ unit: "per_second", value: 100_000 }), "100000/s");
    assert.equal(humanSlo({ unit: "basis_points", value: 6700 }), "6700bp");
  });

  it("the PrometheusRule object and the one-line summary of each alert", () => {
    const groups = built();
    const pr = prometheusRule(SLOS, CFG, "node0-alerts", { app: "x" });
    assert.deepEqual(pr, {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: { name: "node0-alerts", namespace: "ns", labels: { app: "x" } },
      spec: { groups },
    });
    const lines = alertRuleSummary(groups);
    assert.equal(lines.length, 13);
    assert.deepEqual(lines[0], { group: "bizra_finality_sla", alert: "FinalityCheckP99Violation", severity: "critical", for: "5m", expr: EXPECTED.FinalityCheckP99Violation![1] });
    assert.deepEqual(lines.find((l) => l.alert === "ReplayAttackDetected")!.for, "0m", "no `for`: fires at once");
    assert.equal(alertRuleSummary([{ name: "g", rules: [{ alert: "A", expr: "1" }] }])[0]!.severity, "", "a rule without labels");
  });
});
