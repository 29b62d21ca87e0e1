import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { canaryAnalysis, canaryInterval, trafficSeconds, CANARY_CHECKS, CHECK_SLUGS, expandStages, loadTesterWebhook, meshServiceName, metricTemplates, scheduleText, thresholdRange } from "../components/canary";
import { ConfigError, parseStackConfig } from "../components/config";
import { publicKeyOfSeed } from "../components/validator-set";
import { HOLD_GATE_COMMAND, TRAFFIC_COMMAND } from "@bizra/contract";
import { runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { byType, configOf, find, named, nth, single, stackWithLoadTester, testStackConfig } from "./support/stack";

/** The spec of the one Canary the run registered. */
const canarySpec = (run: ProgramRun) => single(byType(run, "Canary"), "Canary").spec;
/** The webhooks of the one Canary (none when unset). */
const webhooks = (run: ProgramRun) => canarySpec(run).analysis.webhooks ?? [];

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
  it("a shorter interval (bizra:canary.intervalSeconds) checks more often, the stages keep their holds", () => {
    const stages = [{ weight: 10, holdMinutes: 1 }, { weight: 50, holdMinutes: 2 }];
    assert.deepEqual(expandStages(stages, 15).map((c) => c.weight), [...Array(4).fill(10), ...Array(8).fill(50)]);
    assert.deepEqual(expandStages(stages, 45).map((c) => c.weight), [10, 10, 50, 50, 50]);
    assert.deepEqual([canaryInterval(60), canaryInterval(120), canaryInterval(15), canaryInterval(90)], ["1m", "2m", "15s", "90s"]);
    const a = canaryAnalysis(stages, { failedChecksBeforeRollback: 5, metrics: [], holdGateUrl: "http://gate/hold", intervalSeconds: 15 });
    assert.equal(a.interval, "15s");
    assert.deepEqual(a.webhooks?.map((w) => w.metadata?.interval), ["15s", "15s", "15s"]);
  });
  it("checks only SLOs a healthy release can meet: none is advisory, the verify cache hit rate is not one", () => {
    const slos = configOf("production").slos;
    assert.deepEqual(CANARY_CHECKS.filter((id) => slos[id].severity === "advisory"), []);
    assert.ok(!(CANARY_CHECKS as readonly string[]).includes("cacheHitRate"));
    assert.equal(slos.cacheHitRate.severity, "advisory");
  });
  it("refuses repeated or decreasing weights (Flagger would stall on a repeated weight)", () => {
    assert.throws(() => canaryAnalysis([{ weight: 10, holdMinutes: 1 }, { weight: 10, holdMinutes: 1 }], { failedChecksBeforeRollback: 5, metrics: [] }));
  });
  it("adds hold-gate webhooks with the schedule when a gate is configured", () => {
    const a = canaryAnalysis(configOf("production").canary.stages, { failedChecksBeforeRollback: 5, metrics: [], holdGateUrl: "http://gate.flagger/hold" });
    assert.deepEqual(a.webhooks?.map((w) => [w.type, w.metadata?.schedule, w.metadata?.hook]), [
      ["pre-rollout", "10:60,50:120,100:180", "pre-rollout"],
      ["confirm-traffic-increase", "10:60,50:120,100:180", "confirm-traffic-increase"],
      ["confirm-promotion", "10:60,50:120,100:180", "confirm-promotion"],
    ]);
  });
});

describe("canary load tester (bizra:canary.loadTester)", () => {
  const LT = { url: "http://flagger-loadtester.flagger-system/", ratePerSecond: 10, validatorId: "loadtest", keyFile: "/keys/loadtest.seed" };
  const TEST_VALIDATOR = { id: "loadtest", publicKey: publicKeyOfSeed(randomBytes(32).toString("hex")) };
  const withLoadTester = (lt: Record<string, unknown> = LT) => stackWithLoadTester("testnet", lt, [TEST_VALIDATOR]);
  it("a rollout webhook runs the traffic CLI, signing as the test validator, against the canary and primary Services for one interval", async () => {
    const raw = withLoadTester();
    const cfg = parseStackConfig("testnet", raw.values, raw.secretKeys);
    const run = await runProgram("testnet", raw);
    const hook = webhooks(run).find((w) => w.type === "rollout");
    assert.deepEqual(hook, loadTesterWebhook(cfg.canary.loadTester!, cfg));
    assert.equal(hook?.url, LT.url);
    assert.equal(hook?.metadata?.type, "cmd");
    const svc = meshServiceName(cfg.appName);
    // the flags of node-app/src/cli/traffic.ts (its own tests cover the parsing)
    assert.equal(
      hook?.metadata?.cmd,
      [...TRAFFIC_COMMAND, "--target", `http://${svc}-canary.${cfg.namespace}:${cfg.apiPort}`, "--target", `http://${svc}-primary.${cfg.namespace}:${cfg.apiPort}`, "--validator-id", "loadtest", "--key-file", "/keys/loadtest.seed", "--rate", "10", "--duration", "54s", "--invalid-every", "200"].join(" "),
    );
    const np = named(byType(run, "NetworkPolicy"), `${cfg.appName}-allow-api-from-load-tester`, "NetworkPolicy");
    assert.deepEqual(nth(nth(np.spec.ingress, 0, "ingress rule").from, 0, "ingress peer").namespaceSelector.matchLabels, { "kubernetes.io/metadata.name": cfg.canary.flaggerNamespace });
    assert.ok(!JSON.stringify(np.spec).includes(String(cfg.signer.port)), "the load tester is not let to the signer port");
  });
  it("the traffic also runs as a pre-rollout hook, after the gate's, so the first check at the first weight has canary traffic in its window", async () => {
    const base = withLoadTester({ ...LT, ratePerSecond: 20 });
    const raw = { ...base, values: { ...base.values, "bizra:canary": JSON.stringify({ ...JSON.parse(base.values["bizra:canary"] as string), intervalSeconds: 20 }) } };
    const cfg = parseStackConfig("testnet", raw.values, raw.secretKeys);
    const run = await runProgram("testnet", raw);
    const hooks = webhooks(run);
    assert.deepEqual(hooks.map((w) => [w.name, w.type]), [
      ["hold-pre-rollout", "pre-rollout"],
      ["hold-confirm-traffic-increase", "confirm-traffic-increase"],
      ["hold-confirm-promotion", "confirm-promotion"],
      ["load-traffic-pre-rollout", "pre-rollout"],
      ["load-traffic", "rollout"],
    ]);
    const rollout = loadTesterWebhook(cfg.canary.loadTester!, cfg, 20);
    assert.deepEqual(hooks[3]?.metadata, rollout.metadata);
    assert.match(String(rollout.metadata?.cmd), / --rate 20 --duration 18s /);
    assert.deepEqual([trafficSeconds(20), trafficSeconds(60), trafficSeconds(10)], [18, 54, 8], "shorter than the interval, so the load tester never skips a run");
    assert.equal(canarySpec(run).analysis.interval, "20s");
    assert.deepEqual(canarySpec(run).analysis.metrics?.map((m) => m.interval), ["20s", "20s", "20s"]);
  });
  it("no load tester: no rollout webhook and no NetworkPolicy for it", async () => {
    const run = await runProgram("testnet", testStackConfig("testnet"));
    assert.ok(!webhooks(run).some((w) => w.type === "rollout" || w.name.startsWith("load-traffic")));
    assert.ok(!byType(run, "NetworkPolicy").some((p) => p.metadata.name.endsWith("allow-api-from-load-tester")));
  });
  it("production: no load tester and no test validator in the validator set", () => {
    const prod = configOf("production");
    assert.equal(prod.canary.loadTester, undefined);
    assert.deepEqual((prod.validators ?? []).map((v) => v.id).filter((id) => id !== prod.validatorId), []);
  });
  it("refuses a bad load tester config, naming the field", () => {
    for (const [lt, field] of [
      [{ ...LT, url: "flagger-loadtester" }, "bizra:canary.loadTester.url"],
      [{ ...LT, ratePerSecond: 0 }, "bizra:canary.loadTester.ratePerSecond"],
      [{ ...LT, invalidEvery: 1 }, "bizra:canary.loadTester.invalidEvery"],
      [{ ...LT, rate: 5 }, "bizra:canary.loadTester"],
      [{ ...LT, keyFile: "keys/loadtest.seed" }, "bizra:canary.loadTester.keyFile"],
      [{ ...LT, validatorId: "bad id" }, "bizra:canary.loadTester.validatorId"],
      [{ ...LT, validatorId: "node0" }, "bizra:canary.loadTester.validatorId"],
      [{ ...LT, validatorId: "other" }, "bizra:canary.loadTester.validatorId"],
    ] as const) {
      const raw = withLoadTester(lt);
      assert.throws(() => parseStackConfig("testnet", raw.values, raw.secretKeys), (e: unknown) => e instanceof ConfigError && e.message.includes(`  - ${field}`), JSON.stringify(lt));
    }
    const noSet = testStackConfig("testnet", { "bizra:canary": { stages: configOf("testnet").canary.stages, loadTester: LT } });
    assert.throws(() => parseStackConfig("testnet", noSet.values, noSet.secretKeys), /bizra:canary\.loadTester\.validatorId.*listed in bizra:validators \(unset: this validator alone\)/s);
  });
});

for (const stack of STACKS) {
  describe(`canary (${stack})`, () => {
    let run: ProgramRun;
    const cfg = configOf(stack);
    before(async () => {
      run = await runProgram(stack, testStackConfig(stack));
    });
    it("targets the node Deployment and HPA, routes the API port, provider from config", () => {
      const c = single(byType(run, "Canary"), "Canary");
      assert.deepEqual(c.spec.targetRef, { apiVersion: "apps/v1", kind: "Deployment", name: cfg.appName });
      assert.deepEqual(c.spec.autoscalerRef, { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: cfg.appName });
      assert.equal(c.spec.service.port, cfg.apiPort);
      assert.equal(c.spec.service.portName, "http");
      assert.equal(c.spec.provider, cfg.canary.provider);
    });
    it("analysis: 1 m interval, rollback threshold and step weights from config", () => {
      const a = canarySpec(run).analysis;
      assert.equal(a.interval, "1m");
      assert.equal(a.threshold, cfg.canary.failedChecksBeforeRollback);
      assert.deepEqual(a.stepWeights, cfg.canary.stages.map((s) => s.weight));
      assert.deepEqual(a.stepWeights, stack === "production" ? [10, 50, 100] : [5]);
    });
    it("metric checks use one MetricTemplate per canary check with bounds from the SLO table", () => {
      const a = canarySpec(run).analysis;
      const templates = byType(run, "MetricTemplate");
      assert.equal(templates.length, CANARY_CHECKS.length);
      const metrics = a.metrics ?? [];
      assert.deepEqual(metrics.map((m) => m.name), CANARY_CHECKS.map((id) => CHECK_SLUGS[id]));
      CANARY_CHECKS.forEach((id, i) => {
        const m = nth(metrics, i, "canary metric");
        assert.deepEqual(m.thresholdRange, thresholdRange(cfg.slos[id]));
        assert.equal(m.thresholdRange[cfg.slos[id].comparison === "gte" ? "min" : "max"], cfg.slos[id].value);
        const t = find(templates, (x) => x.metadata.name === m.templateRef?.name, `MetricTemplate of ${m.name}`);
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
    it("deploys the hold gate by default and the Canary's webhooks call it", () => {
      const url = `http://${cfg.appName}-hold-gate.${cfg.namespace}.svc.cluster.local/gate`;
      assert.deepEqual(webhooks(run).map((w) => [w.type, w.url, w.metadata?.schedule]), ["pre-rollout", "confirm-traffic-increase", "confirm-promotion"].map((t) => [t, url, scheduleText(cfg.canary.stages)]));
      assert.match((run.outputs.canary as { holds: string }).holds, new RegExp(`^enforced by the hold gate ${url.replace(/[.]/g, "\\.")}`));
      const d = named(byType(run, "Deployment"), `${cfg.appName}-hold-gate`, "Deployment");
      assert.equal(d.spec.replicas, 1);
      assert.equal(d.spec.strategy.type, "Recreate");
      const c = nth(d.spec.template.spec.containers, 0, "hold gate container");
      assert.deepEqual(c.command, [...HOLD_GATE_COMMAND]);
      assert.equal(c.image, nth(named(byType(run, "Deployment"), cfg.appName, "Deployment").spec.template.spec.containers, 0, "node container").image);
      assert.equal(c.readinessProbe.httpGet.path, "/healthz");
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(d.spec.template.spec.securityContext.runAsNonRoot, true);
      const svc = named(byType(run, "Service"), `${cfg.appName}-hold-gate`, "Service");
      assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]), [["http", 80, "http"]]);
      assert.deepEqual(c.ports.map((p) => [p.name, p.containerPort]), [["http", 8090]]);
      const np = named(byType(run, "NetworkPolicy"), `${cfg.appName}-hold-gate-from-flagger`, "NetworkPolicy");
      assert.deepEqual(np.spec.podSelector.matchLabels, svc.spec.selector);
      const ingress = nth(np.spec.ingress, 0, "ingress rule");
      assert.equal(nth(ingress.from, 0, "ingress peer").namespaceSelector.matchLabels["kubernetes.io/metadata.name"], "flagger-system");
      assert.deepEqual(ingress.ports, [{ protocol: "TCP", port: 8090 }]);
      // the gate's pods are not node pods: no node Service or node policy selects them
      const nodeSvc = named(byType(run, "Service"), cfg.appName, "Service");
      assert.ok(!Object.entries(nodeSvc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    });
  });
}

describe("canary SLO override", () => {
  it("poiVerifyP99 is no canary check: the Canary and templates do not change", async () => {
    const a = await runProgram("production", testStackConfig("production"));
    const b = await runProgram("production", testStackConfig("production", { "bizra:slo": { poiVerifyP99: 0.0005 } }));
    assert.deepEqual(byType(a, "Canary"), byType(b, "Canary"));
    assert.deepEqual(byType(a, "MetricTemplate"), byType(b, "MetricTemplate"));
  });
  it("apiP99Latency moves the canary check bound and nothing in alerts", async () => {
    const a = await runProgram("production", testStackConfig("production"));
    const b = await runProgram("production", testStackConfig("production", { "bizra:slo": { apiP99Latency: 0.002 } }));
    const bound = (r: ProgramRun) => find(canarySpec(r).analysis.metrics, (m) => m.name === "api-p99-latency", "metric api-p99-latency").thresholdRange;
    assert.deepEqual(bound(a), { max: configOf("production").slos.apiP99Latency.value });
    assert.deepEqual(bound(b), { max: 0.002 });
    assert.deepEqual(byType(a, "PrometheusRule"), byType(b, "PrometheusRule"));
  });
});
