/** The canary builders (components/canary.ts) as pure functions: schedule, checks, bounds, webhooks, the Canary. */
import * as assert from "node:assert/strict";
import { METRICS, TRAFFIC_COMMAND } from "@bizra/contract";
import {
  CANARY_CHECKS,
  canaryInterval,
  CANARY_QUERIES,
  canaryAnalysis,
  canaryMetrics,
  canaryResource,
  canarySummary,
  CHECK_SLUGS,
  expandStages,
  HOLD_GATE_HOOKS,
  loadTesterWebhook,
  meshServiceName,
  metricTemplateName,
  metricTemplates,
  resolvedHoldGateUrl,
  scheduleText,
  thresholdRange,
  type CanaryConfig,
} from "../components/canary";
import { resolveSlos } from "../components/slo";

const STAGES = [
  { weight: 10, holdMinutes: 2 },
  { weight: 50, holdMinutes: 1 },
  { weight: 100, holdMinutes: 3 },
];
const SLOS = resolveSlos({ apiP99Latency: 0.002, apiErrorRate: 0.02, poiVerifySuccessRate: 0.97 });
const LOAD_TESTER = { url: "http://lt.flagger/", ratePerSecond: 7, validatorId: "loadtest", keyFile: "/keys/lt.seed", invalidEvery: 50 };

describe("canary builders", () => {
  it("a stage held N minutes is N one-minute checks at its weight, numbered from minute 1", () => {
    assert.deepEqual(expandStages(STAGES), [
      { minute: 1, stage: 0, weight: 10 },
      { minute: 2, stage: 0, weight: 10 },
      { minute: 3, stage: 1, weight: 50 },
      { minute: 4, stage: 2, weight: 100 },
      { minute: 5, stage: 2, weight: 100 },
      { minute: 6, stage: 2, weight: 100 },
    ]);
    assert.deepEqual(expandStages([]), []);
    assert.equal(scheduleText(STAGES), "10:2,50:1,100:3");
  });

  it("checks: p99 API latency, API error rate and PoI success rate, each with its slug and template name", () => {
    assert.deepEqual([...CANARY_CHECKS], ["apiP99Latency", "apiErrorRate", "poiVerifySuccessRate"]);
    assert.deepEqual(CHECK_SLUGS, { apiP99Latency: "api-p99-latency", apiErrorRate: "api-error-rate", poiVerifySuccessRate: "poi-success-rate" });
    assert.equal(metricTemplateName("node0", "apiErrorRate"), "node0-api-error-rate");
  });

  it("the queries select the canary pods only, over Flagger's interval", () => {
    const pods = 'namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';
    assert.equal(CANARY_QUERIES.apiP99Latency, `histogram_quantile(0.99, sum by (le) (rate(${METRICS.httpRequestDurationSeconds}_bucket{${pods}}[{{ interval }}])))`);
    for (const id of CANARY_CHECKS) assert.ok(CANARY_QUERIES[id].includes(`{${pods}`) && CANARY_QUERIES[id].includes("[{{ interval }}]"), id);
    assert.match(CANARY_QUERIES.apiErrorRate, /status_code=~"5\.\."/);
  });

  it("Flagger's bounds are inclusive: gte gives a min, lt and lte a max, at the SLO's value", () => {
    assert.deepEqual(thresholdRange({ comparison: "gte", value: 0.99 }), { min: 0.99 });
    assert.deepEqual(thresholdRange({ comparison: "lt", value: 0.5 }), { max: 0.5 });
    assert.deepEqual(thresholdRange({ comparison: "lte", value: 0.01 }), { max: 0.01 });
  });

  it("one MetricTemplate per check: name, namespace, labels, the SLO it enforces, Prometheus address, query", () => {
    const t = metricTemplates(SLOS, { appName: "a", namespace: "ns", prometheusAddress: "http://prom:9090", labels: { l: "1" } });
    assert.deepEqual(t[0], {
      apiVersion: "flagger.app/v1beta1",
      kind: "MetricTemplate",
      metadata: { name: "a-api-p99-latency", namespace: "ns", labels: { l: "1" }, annotations: { "bizra.io/slo": "apiP99Latency lte 0.002 seconds" } },
      spec: { provider: { type: "prometheus", address: "http://prom:9090" }, query: CANARY_QUERIES.apiP99Latency },
    });
    assert.deepEqual(t.map((x) => x.metadata.annotations!["bizra.io/slo"]), ["apiP99Latency lte 0.002 seconds", "apiErrorRate lte 0.02 ratio", "poiVerifySuccessRate gte 0.97 ratio"]);
    assert.deepEqual(t.map((x) => x.spec.query), CANARY_CHECKS.map((id) => CANARY_QUERIES[id]));
  });

  it("the Canary's metric checks point at those templates, with bounds from the table", () => {
    assert.deepEqual(canaryMetrics(SLOS, { appName: "a", namespace: "ns" }), [
      { name: "api-p99-latency", templateRef: { name: "a-api-p99-latency", namespace: "ns" }, thresholdRange: { max: 0.002 }, interval: "1m" },
      { name: "api-error-rate", templateRef: { name: "a-api-error-rate", namespace: "ns" }, thresholdRange: { max: 0.02 }, interval: "1m" },
      { name: "poi-success-rate", templateRef: { name: "a-poi-success-rate", namespace: "ns" }, thresholdRange: { min: 0.97 }, interval: "1m" },
    ]);
  });

  it("analysis: refuses weights that repeat or fall, naming them; accepts strictly increasing ones", () => {
    const opts = { failedChecksBeforeRollback: 5, metrics: [] };
    for (const weights of [[10, 10], [50, 10], [10, 50, 50], [10, 60, 50]]) {
      const stages = weights.map((weight) => ({ weight, holdMinutes: 1 }));
      assert.throws(() => canaryAnalysis(stages, opts), { message: `stage weights must be strictly increasing: ${weights.join(", ")}` });
    }
    assert.deepEqual(canaryAnalysis([{ weight: 5, holdMinutes: 1 }], opts), { interval: "1m", threshold: 5, stepWeights: [5], metrics: [] });
    assert.deepEqual(canaryAnalysis(STAGES, opts).stepWeights, [10, 50, 100]);
  });

  it("analysis: hold-gate webhooks in Flagger's order with the schedule, then the load tester; none without either", () => {
    const lt = loadTesterWebhook(LOAD_TESTER, { appName: "a", namespace: "ns", apiPort: 8080 });
    const a = canaryAnalysis(STAGES, { failedChecksBeforeRollback: 3, metrics: [], holdGateUrl: "http://gate/hold", loadTester: lt });
    assert.deepEqual(HOLD_GATE_HOOKS, ["pre-rollout", "confirm-traffic-increase", "confirm-promotion"]);
    assert.deepEqual(a.webhooks, [
      ...HOLD_GATE_HOOKS.map((type) => ({ name: `hold-${type}`, type, url: "http://gate/hold", timeout: "10s", metadata: { schedule: "10:2,50:1,100:3", interval: "1m", hook: type } })),
      { ...lt, name: "load-traffic-pre-rollout", type: "pre-rollout" },
      lt,
    ]);
    assert.equal(a.threshold, 3);
    assert.deepEqual(canaryAnalysis(STAGES, { failedChecksBeforeRollback: 3, metrics: [], loadTester: lt }).webhooks, [{ ...lt, name: "load-traffic-pre-rollout", type: "pre-rollout" }, lt]);
    assert.ok(!("webhooks" in canaryAnalysis(STAGES, { failedChecksBeforeRollback: 3, metrics: [] })));
  });

  it("the load tester runs the traffic CLI against the canary and primary Services, a tenth of the interval (at least 2 s) shorter than it", () => {
    assert.equal(meshServiceName("a"), "a-mesh");
    assert.deepEqual(loadTesterWebhook(LOAD_TESTER, { appName: "a", namespace: "ns", apiPort: 8080 }), {
      name: "load-traffic",
      type: "rollout",
      url: "http://lt.flagger/",
      timeout: "15s",
      metadata: {
        type: "cmd",
        cmd: `${TRAFFIC_COMMAND.join(" ")} --target http://a-mesh-canary.ns:8080 --target http://a-mesh-primary.ns:8080 --validator-id loadtest --key-file /keys/lt.seed --rate 7 --duration 54s --invalid-every 50`,
        logCmdOutput: "true",
      },
    });
  });

  const cfg: CanaryConfig = {
    appName: "a",
    namespace: "ns",
    apiPort: 8080,
    slos: SLOS,
    canary: { provider: "istio", stages: STAGES, failedChecksBeforeRollback: 4, prometheusAddress: "http://prom:9090", flaggerNamespace: "flagger-system" },
  } as CanaryConfig;

  it("the hold gate: the configured URL, else the in-cluster gate of this app", () => {
    assert.equal(resolvedHoldGateUrl(cfg), "http://a-hold-gate.ns.svc.cluster.local/gate");
    assert.equal(resolvedHoldGateUrl({ ...cfg, canary: { ...cfg.canary, holdGateUrl: "http://elsewhere/h" } }), "http://elsewhere/h");
  });

  it("the Canary: targets, mesh Service on the API port, analysis from the stages, load tester only when configured", () => {
    const c = canaryResource(cfg, { l: "1" });
    assert.deepEqual(c, {
      apiVersion: "flagger.app/v1beta1",
      kind: "Canary",
      metadata: { name: "a", namespace: "ns", labels: { l: "1" } },
      spec: {
        provider: "istio",
        targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "a" },
        autoscalerRef: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: "a" },
        progressDeadlineSeconds: 600,
        service: { name: "a-mesh", port: 8080, portName: "http", targetPort: "http", portDiscovery: true },
        analysis: canaryAnalysis(STAGES, { failedChecksBeforeRollback: 4, metrics: canaryMetrics(SLOS, cfg), holdGateUrl: "http://a-hold-gate.ns.svc.cluster.local/gate" }),
      },
    });
    const withLt = canaryResource({ ...cfg, canary: { ...cfg.canary, loadTester: LOAD_TESTER } } as CanaryConfig, {});
    assert.deepEqual(withLt.spec.analysis.webhooks?.map((w) => w.name), ["hold-pre-rollout", "hold-confirm-traffic-increase", "hold-confirm-promotion", "load-traffic-pre-rollout", "load-traffic"]);
  });

  it("the stack output: interval, stages, planned checks, step weights and whether the holds are enforced", () => {
    assert.deepEqual(canarySummary(STAGES, "http://gate/hold"), {
      interval: canaryInterval(),
      stages: STAGES,
      plannedChecks: 6,
      stepWeights: [10, 50, 100],
      holds: "enforced by the hold gate http://gate/hold: each stage held its holdMinutes (a check every 1m) before the next step",
    });
    assert.match(canarySummary(STAGES, undefined).holds, /^not enforced: no bizra:canary\.holdGateUrl/);
  });
});
