import { strict as assert } from "node:assert";
import { canaryAnalysis, CANARY_CHECKS, expandStages, metricTemplates, thresholdRange } from "../components/canary";
import { runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { offlineStackConfig, STACKS } from "../scripts/lib/stack-config";
import { byType, configOf } from "./observability.test";

describe("canary stage expansion", () => {
  it("production: 360 one-minute checks, 10 % x 60, 50 % x 120, 100 % x 180, in order", () => {
    const checks = expandStages(configOf("production").canary.stages);
    assert.equal(checks.length, 360);
    assert.deepEqual(checks.map((c) => c.minute), Array.from({ length: 360 }, (_, i) => i + 1));
    assert.deepEqual(checks.slice(0, 60).map((c) => c.weight), Array(60).fill(10));
    assert.deepEqual(checks.slice(60, 180).map((c) => c.weight), Array(120).fill(50));
    assert.deepEqual(checks.slice(180).map((c) => c.weight), Array(180).fill(100));
  });
  it("testnet: one 5 % stage", () => {
    const checks = expandStages(configOf("testnet").canary.stages);
    assert.ok(checks.length > 0 && checks.every((c) => c.weight === 5 && c.stage === 0));
  });
  it("refuses repeated or decreasing weights (Flagger would stall on a repeated weight)", () => {
    assert.throws(() => canaryAnalysis([{ weight: 10, holdMinutes: 1 }, { weight: 10, holdMinutes: 1 }], { failedChecksBeforeRollback: 5, metrics: [] }));
  });
  it("adds hold-gate webhooks with the schedule when a gate is configured", () => {
    const a = canaryAnalysis(configOf("production").canary.stages, { failedChecksBeforeRollback: 5, metrics: [], holdGateUrl: "http://gate.flagger/hold" });
    assert.deepEqual(a.webhooks?.map((w) => [w.type, w.metadata?.schedule]), [
      ["confirm-traffic-increase", "10:60,50:120,100:180"],
      ["confirm-promotion", "10:60,50:120,100:180"],
    ]);
  });
});

for (const stack of STACKS) {
  describe(`canary (${stack})`, () => {
    let run: ProgramRun;
    const cfg = configOf(stack);
    before(async () => {
      run = await runProgram(stack, offlineStackConfig(stack));
    });
    it("targets the node Deployment and HPA, routes the API port, provider from config", () => {
      const [c] = byType(run, "Canary");
      assert.deepEqual(c.spec.targetRef, { apiVersion: "apps/v1", kind: "Deployment", name: cfg.appName });
      assert.deepEqual(c.spec.autoscalerRef, { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: cfg.appName });
      assert.equal(c.spec.service.port, cfg.apiPort);
      assert.equal(c.spec.service.portName, "http");
      assert.equal(c.spec.provider, cfg.canary.provider);
    });
    it("analysis: 1 m interval, rollback threshold and step weights from config", () => {
      const a = byType(run, "Canary")[0].spec.analysis;
      assert.equal(a.interval, "1m");
      assert.equal(a.threshold, cfg.canary.failedChecksBeforeRollback);
      assert.deepEqual(a.stepWeights, cfg.canary.stages.map((s) => s.weight));
      assert.deepEqual(a.stepWeights, stack === "production" ? [10, 50, 100] : [5]);
    });
    it("metric checks use the four MetricTemplates with bounds from the SLO table", () => {
      const a = byType(run, "Canary")[0].spec.analysis;
      const templates = byType(run, "MetricTemplate");
      assert.equal(templates.length, 4);
      assert.equal(a.metrics.length, 4);
      CANARY_CHECKS.forEach((id, i) => {
        const m = a.metrics[i];
        assert.deepEqual(m.thresholdRange, thresholdRange(cfg.slos[id]));
        assert.equal(m.thresholdRange[cfg.slos[id].comparison === "gte" ? "min" : "max"], cfg.slos[id].value);
        const t = templates.find((x) => x.metadata.name === m.templateRef.name)!;
        assert.equal(t.spec.provider.type, "prometheus");
        assert.equal(t.spec.provider.address, cfg.canary.prometheusAddress);
        assert.match(t.spec.query, /\{\{ target \}\}/);
      });
      assert.deepEqual(templates.map((t) => t.spec), metricTemplates(cfg.slos, { appName: cfg.appName, namespace: cfg.namespace, prometheusAddress: cfg.canary.prometheusAddress, labels: {} }).map((t) => t.spec));
    });
    it("the canary stack output reports the planned checks", () => {
      const out = run.outputs.canary as { plannedChecks: number };
      assert.equal(out.plannedChecks, expandStages(cfg.canary.stages).length);
    });
  });
}

describe("canary SLO override", () => {
  it("poiVerifyP99 is no canary check: the Canary and templates do not change", async () => {
    const a = await runProgram("production", offlineStackConfig("production"));
    const b = await runProgram("production", offlineStackConfig("production", { "bizra:slo": { poiVerifyP99: 0.0005 } }));
    assert.deepEqual(byType(a, "Canary"), byType(b, "Canary"));
    assert.deepEqual(byType(a, "MetricTemplate"), byType(b, "MetricTemplate"));
  });
  it("apiP99Latency moves the canary check bound and nothing in alerts", async () => {
    const a = await runProgram("production", offlineStackConfig("production"));
    const b = await runProgram("production", offlineStackConfig("production", { "bizra:slo": { apiP99Latency: 0.002 } }));
    const bound = (r: ProgramRun) => byType(r, "Canary")[0].spec.analysis.metrics.find((m: any) => m.name === "api-p99-latency").thresholdRange;
    assert.deepEqual(bound(a), { max: configOf("production").slos.apiP99Latency.value });
    assert.deepEqual(bound(b), { max: 0.002 });
    assert.deepEqual(byType(a, "PrometheusRule"), byType(b, "PrometheusRule"));
  });
});
