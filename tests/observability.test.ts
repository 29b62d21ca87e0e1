import { strict as assert } from "node:assert";
import { alertRuleConfig, alertRuleGroups } from "../components/alerts";
import { cpuCores, memoryBytes } from "../components/quantity";
import { dashboardModel, dashboardPanels } from "../components/dashboard";
import { KEEP_REGEX } from "../components/service-monitor";
import { SLO_CONFIGMAP_KEY } from "../components/slo-configmap";
import { violationOperator } from "../components/slo";
import { METRICS, METRICS_PATH } from "@bizra/contract";
import { runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { STACKS } from "../scripts/lib/stack-config";
import { SLO_ALERTS } from "./promtool/generate";
import { byType, configOf, find, named, nth, single, testStackConfig } from "./support/stack";

const GROUPS: Record<string, [string, string[]]> = {
  bizra_finality_sla: ["finality", ["FinalityCheckP99Violation", "FinalityCheckStalled"]],
  bizra_poi_sla: ["poi", ["PoIGenerationP99Violation", "PoIVerificationP99Violation", "PoIThroughputDegraded", "PoISuccessRateCritical"]],
  bizra_resource_limits: ["resources", ["ProcessMemoryHigh", "ProcessCPUHigh"]],
  bizra_health_checks: ["health", ["MetricsEndpointDown", "PrometheusScrapeSlow"]],
  bizra_api_sla: ["api", ["APIErrorRateHigh"]],
  bizra_consensus_security: ["consensus", ["ConsensusQuorumFailure", "ReplayAttackDetected"]],
};

/** The fields of the Grafana dashboard model (components/dashboard.ts) these tests read. */
interface DashboardModel {
  readonly refresh: string;
  readonly uid: string;
  readonly templating: { readonly list: { readonly name: string; readonly current?: { readonly value: string }; readonly allValue?: string }[] };
  readonly annotations: { readonly list: { readonly expr: string }[] };
  readonly panels: {
    readonly title: string;
    readonly targets: { readonly expr: string; readonly legendFormat: string; readonly datasource: { readonly uid: string } }[];
    readonly fieldConfig: {
      readonly defaults: {
        readonly thresholds: { readonly steps: { readonly value: number | null }[] };
        readonly mappings?: { readonly options: Record<string, { readonly text: string }> }[];
      };
    };
  }[];
}

/** The alerting rules of the one PrometheusRule of a run. */
const alertRules = (run: ProgramRun) => single(byType(run, "PrometheusRule"), "PrometheusRule").spec.groups.flatMap((g) => g.rules);
const alertRule = (run: ProgramRun, alert: string) => find(alertRules(run), (r) => r.alert === alert, `alert ${alert}`);

for (const stack of STACKS) {
  describe(`observability (${stack})`, () => {
    let run: ProgramRun;
    const cfg = configOf(stack);
    before(async () => {
      run = await runProgram(stack, testStackConfig(stack));
    });

    it("ServiceMonitor scrapes the metrics port every 5 s and keeps the node and process series", () => {
      const sm = named(byType(run, "ServiceMonitor"), cfg.appName, "ServiceMonitor");
      assert.deepEqual(sm.spec.selector.matchLabels, { "app.kubernetes.io/name": cfg.appName });
      assert.equal(sm.metadata.namespace, cfg.namespace);
      const ep = single(sm.spec.endpoints, "ServiceMonitor endpoint");
      assert.equal(ep.port, "metrics");
      assert.equal(ep.path, METRICS_PATH);
      assert.equal(ep.interval, "5s");
      const keep = new RegExp(`^(?:${KEEP_REGEX})$`);
      assert.deepEqual(ep.metricRelabelings, [{ sourceLabels: ["__name__"], regex: KEEP_REGEX, action: "keep" }]);
      for (const m of Object.values(METRICS)) assert.ok(keep.test(m), m);
      for (const m of ["process_resident_memory_bytes", "process_cpu_seconds_total"]) assert.ok(keep.test(m), m);
      for (const m of ["nodejs_heap_size_total_bytes", "process_open_fds"]) assert.ok(!keep.test(m), m);
    });

    it("a second ServiceMonitor scrapes every signer pod's metrics port through <app>-signer-metrics, as job <app>-signer (PoI generation happens only there)", () => {
      const sms = byType(run, "ServiceMonitor");
      assert.deepEqual(sms.map((s) => s.metadata.name), [cfg.appName, `${cfg.appName}-signer`]);
      const signerSm = named(sms, `${cfg.appName}-signer`, "ServiceMonitor");
      const services = byType(run, "Service");
      const metricsSvc = named(services, `${cfg.appName}-signer-metrics`, "Service");
      const signSvc = named(services, `${cfg.appName}-signer`, "Service");
      const nodeSvc = named(services, cfg.appName, "Service");
      const selector = signerSm.spec.selector.matchLabels ?? {};
      const selects = (svc: typeof nodeSvc) => Object.entries(selector).every(([k, v]) => svc.metadata.labels?.[k] === v);
      // the selector picks the signer's metrics Service, neither the node's nor the one that routes sign requests
      assert.ok(selects(metricsSvc), "selects <app>-signer-metrics");
      assert.ok(!selects(nodeSvc), "the signer's ServiceMonitor does not select the node Service");
      assert.ok(!selects(signSvc), "the signer's ServiceMonitor does not select the sign Service");
      // every signer pod, the standby too: the metrics Service selects the pods without the active-role label
      assert.deepEqual(metricsSvc.spec?.selector, { "app.kubernetes.io/name": `${cfg.appName}-signer` });
      const endpoint = single(signerSm.spec.endpoints, "signer ServiceMonitor endpoint");
      assert.equal(find(metricsSvc.spec?.ports, (p) => p.name === endpoint.port, "signer metrics Service port").port, cfg.metricsPort);
      // job label: the Service's app.kubernetes.io/name, i.e. <app>-signer, as the alerts and the dashboard expect
      assert.equal(signerSm.spec.jobLabel, "app.kubernetes.io/name");
      assert.equal(metricsSvc.metadata.labels?.["app.kubernetes.io/name"], `${cfg.appName}-signer`);
      assert.deepEqual(signerSm.spec.endpoints, named(sms, cfg.appName, "ServiceMonitor").spec.endpoints, "same path, interval and keep-regex as the node's");
      assert.equal(signerSm.metadata.labels?.["app.kubernetes.io/part-of"], "bizra", "a Prometheus selecting bizra's ServiceMonitors selects it");
    });

    it("PrometheusRule has exactly the 13 alerts in the 6 groups", () => {
      const groups = single(byType(run, "PrometheusRule"), "PrometheusRule").spec.groups;
      assert.deepEqual(
        groups.map((g) => [g.name, g.rules.map((r) => r.alert)]),
        Object.entries(GROUPS).map(([g, [, alerts]]) => [g, alerts]),
      );
      assert.equal(groups.flatMap((g) => g.rules).length, 13);
    });

    it("SLO alerts take severity and threshold from the SLO table, with histogram and counter PromQL", () => {
      for (const [alert, id] of Object.entries(SLO_ALERTS)) {
        const r = alertRule(run, alert);
        const slo = cfg.slos[id];
        assert.equal(r.labels?.severity, slo.severity, alert);
        assert.ok(r.expr.split(" and on() ")[0]!.endsWith(` ${violationOperator(slo.comparison)} ${slo.value}`), `${alert}: ${r.expr}`);
        assert.ok(r.annotations?.summary && r.annotations.runbook_url?.startsWith(cfg.alerts.runbookBaseUrl), alert);
      }
      const q = (a: string) => alertRule(run, a).expr;
      assert.match(q("FinalityCheckP99Violation"), /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(bizra_finality_check_seconds_bucket\{[^}]*\}\[5m\]\)\)\)/);
      assert.match(q("PoIVerificationP99Violation"), /histogram_quantile\(0\.99, sum by \(le\) \(rate\(bizra_poi_verify_seconds_bucket/);
      assert.match(q("PoIThroughputDegraded"), /^sum\(rate\(bizra_poi_verify_total\{[^}]*\}\[5m\]\)\) < \S+ and on\(\) \(sum\(rate\(bizra_http_requests_total\{[^}]*status_code="503"\}\[5m\]\)\) or vector\(0\)\) > 0$/);
      assert.match(q("PoISuccessRateCritical"), /bizra_poi_verify_fail_total/);
      assert.match(q("MetricsEndpointDown"), /up\{.*\} == 0 or absent\(up\{/);
      assert.match(q("PrometheusScrapeSlow"), /scrape_duration_seconds/);
      assert.match(q("ReplayAttackDetected"), /bizra_poi_verify_fail_total\{[^}]*reason="replayed"/);
      // the node API's 5xx share against apiErrorRate, its Service's job only (not the signer's answers)
      const apiErr = alertRule(run, "APIErrorRateHigh");
      assert.equal(apiErr.labels?.slo, "apiErrorRate");
      assert.equal(apiErr.labels?.severity, "warning");
      assert.ok(apiErr.expr.endsWith(` > ${cfg.slos.apiErrorRate.value}`), apiErr.expr);
      assert.match(apiErr.expr, new RegExp(`bizra_http_requests_total\\{namespace="${cfg.namespace}", job="${cfg.appName}", status_code=~"5\\.\\."\\}`));
      for (const r of alertRules(run)) assert.ok(r.annotations?.summary && r.annotations.runbook_url, r.alert);
    });

    it("resource alerts derive from the pod limits and config shares", () => {
      const rules = alertRuleGroups(cfg.slos, alertRuleConfig(cfg)).flatMap((g) => g.rules);
      const mem = rules.find((r) => r.alert === "ProcessMemoryHigh")!;
      assert.ok(mem.expr.endsWith(`> ${memoryBytes(cfg.resources.limits.memory) * cfg.alerts.memoryShareOfLimit}`));
      const cpu = rules.find((r) => r.alert === "ProcessCPUHigh")!;
      assert.ok(cpu.expr.endsWith(`> ${cpuCores(cfg.resources.limits.cpu) * cfg.alerts.cpuShareOfLimit}`));
      assert.equal(memoryBytes("512Mi"), 536870912);
      assert.equal(cpuCores("500m"), 0.5);
    });

    it("dashboard: operator panels, SLO and limit lines, namespace and pod variables, restart annotations, sidecar ConfigMap", () => {
      const cm = find(byType(run, "ConfigMap"), (c) => c.metadata.labels?.grafana_dashboard === "1", "dashboard ConfigMap");
      assert.equal(cm.metadata.namespace, cfg.monitoringNamespace);
      const model = JSON.parse(single(Object.values(cm.data), "dashboard file")) as DashboardModel;
      const panel = (i: number) => nth(model.panels, i, "dashboard panel");
      assert.equal(model.refresh, "5s");
      assert.equal(model.uid, run.outputs.dashboardUid);
      assert.deepEqual(model.templating.list.map((v) => v.name), ["datasource", "namespace", "pod"]);
      assert.equal(nth(model.templating.list, 1, "variable namespace").current?.value, cfg.namespace);
      assert.equal(nth(model.templating.list, 2, "variable pod").allValue, ".*");
      assert.deepEqual(model.panels.map((p) => p.title), [
        "Finality check latency",
        "Finality throughput",
        "PoI generation latency",
        "PoI verification latency",
        "PoI throughput",
        "PoI success rate",
        "Rejected attestations by reason",
        "Consensus votes by outcome",
        "Finality progress, equivocations and quorum",
        "Verifier circuit breaker",
        "HTTP latency and errors",
        "Memory against the limit",
        "CPU against the limit",
        "Replicas (HPA)",
        "Canary weight: primary and canary",
      ]);
      assert.deepEqual(panel(0).targets.map((t) => t.legendFormat), ["p50", "p90", "p99"]);
      assert.deepEqual(panel(2).targets.map((t) => t.legendFormat), ["p50", "p95", "p99"]);
      const thresholdOf = (i: number) => panel(i).fieldConfig.defaults.thresholds.steps.find((s) => s.value !== null)?.value;
      assert.equal(thresholdOf(0), cfg.slos.finalityCheckP99.value);
      assert.equal(thresholdOf(2), cfg.slos.poiGenerateP99.value);
      assert.equal(thresholdOf(3), cfg.slos.poiVerifyP99.value);
      assert.equal(thresholdOf(4), cfg.slos.poiVerifyThroughput.value);
      assert.equal(thresholdOf(5), cfg.slos.poiVerifySuccessRate.value);
      assert.equal(thresholdOf(10), cfg.slos.apiP99Latency.value);
      assert.equal(thresholdOf(11), memoryBytes(cfg.resources.limits.memory));
      assert.equal(thresholdOf(12), cpuCores(cfg.resources.limits.cpu));
      assert.deepEqual(nth(panel(9).fieldConfig.defaults.mappings, 0, "value mapping").options["2"]?.text, "open");
      for (const p of model.panels) {
        for (const t of p.targets) {
          assert.equal(t.datasource.uid, "${datasource}");
          assert.ok(t.expr.includes('namespace="$namespace"'), `${p.title}: ${t.expr} selects the namespace variable`);
        }
      }
      assert.match(nth(model.annotations.list, 0, "annotation").expr, /process_start_time_seconds/);
      assert.deepEqual(JSON.parse(run.outputs.dashboardJson as string), model);
      assert.deepEqual(
        (run.outputs.promqlQueries as { query: string }[]).map((q) => q.query),
        model.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      );
    });

    it("stack outputs: dashboard UID, Prometheus address, the canary MetricTemplate queries", () => {
      assert.equal(run.outputs.prometheusAddress, cfg.canary.prometheusAddress);
      const templates = byType(run, "MetricTemplate");
      assert.deepEqual(Object.values(run.outputs.canaryQueries as Record<string, string>).sort(), templates.map((t) => t.spec.query).sort());
    });

    it("the SLO ConfigMap holds the resolved table", () => {
      const cm = named(byType(run, "ConfigMap"), `${cfg.appName}-slo`, "ConfigMap");
      assert.equal(cm.metadata.namespace, cfg.namespace);
      const doc = JSON.parse(cm.data[SLO_CONFIGMAP_KEY] ?? assert.fail(`no ${SLO_CONFIGMAP_KEY} in the SLO ConfigMap`)) as Record<string, unknown>;
      for (const s of Object.values(cfg.slos)) assert.deepEqual(doc[s.id], { value: s.value, unit: s.unit, comparison: s.comparison, severity: s.severity });
    });
  });
}

describe("one SLO override changes the alert, the dashboard threshold and nothing else", () => {
  const override = { "bizra:slo": { poiVerifyP99: 0.0005 } };
  let base: ProgramRun;
  let changed: ProgramRun;
  before(async () => {
    // one signing key for both runs: the validator set's default entry carries its public key
    const baseConfig = testStackConfig("production");
    base = await runProgram("production", baseConfig);
    const overridden = testStackConfig("production", override);
    changed = await runProgram("production", {
      values: { ...overridden.values, "bizra:signingKey": baseConfig.values["bizra:signingKey"] as string },
      secretKeys: overridden.secretKeys,
    });
  });
  const objects = (run: ProgramRun) =>
    Object.fromEntries(run.resources.filter((r) => r.custom && r.inputs.kind !== "Secret").map((r) => [`${r.type}/${r.name}`, r.inputs]));

  it("differs exactly in the PrometheusRule, the dashboard and the SLO ConfigMap", () => {
    const a = objects(base);
    const b = objects(changed);
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
    const differing = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    assert.deepEqual(differing.sort(), [
      "kubernetes:core/v1:ConfigMap/dashboard",
      "kubernetes:core/v1:ConfigMap/slo",
      "kubernetes:monitoring.coreos.com/v1:PrometheusRule/alerts",
    ]);
  });

  it("the alert expression and the dashboard threshold carry the new value", () => {
    const before_ = alertRule(base, "PoIVerificationP99Violation").expr;
    const after = alertRule(changed, "PoIVerificationP99Violation").expr;
    assert.ok(before_.endsWith(" >= 0.0004") && after.endsWith(" >= 0.0005"), after);
    assert.equal(before_.replace(/0\.0004$/, "0.0005"), after);
    const cfg = configOf("production", override);
    const panel = dashboardPanels(cfg.slos, cfg).find((p) => p.title === "PoI verification latency")!;
    assert.equal(panel.slo?.value, 0.0005);
    const model = dashboardModel(cfg.slos, { namespace: cfg.namespace, appName: cfg.appName, stack: "production", resources: cfg.resources });
    assert.deepEqual(JSON.parse(changed.outputs.dashboardJson as string), JSON.parse(JSON.stringify(model)));
  });
});
