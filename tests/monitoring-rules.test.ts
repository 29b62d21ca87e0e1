/**
 * The alert rules the program renders, checked and unit-tested by Prometheus's own `promtool`:
 * - `promtool check rules` on the PrometheusRule spec of each stack (the plain rules file `npm run render` writes);
 * - `promtool test rules` with tests generated from the SLO table (tests/promtool/generate.ts): every one of the 13
 *   alerts fires just past its threshold after its `for`, with the expected labels and annotations, and stays quiet
 *   just inside it;
 * - and the checks can fail: a broken expression, a rule that ignores an SLO change, a wrong label all fail promtool.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { alertRuleConfig, alertRuleGroups } from "../components/alerts";
import type { StackConfig } from "../components/config";
import type { AlertingRule, RuleGroup } from "../components/crds/monitoring";
import { resolveSlos } from "../components/slo";
import { STACKS } from "../scripts/lib/stack-config";
import { alertCases, FOR_MINUTES, PLAIN_SEVERITY, promtoolTestFile, SLO_ALERTS, testableRules, VALUE_PLACEHOLDER, type AlertTestTarget } from "./promtool/generate";
import { promtool, PROMTOOL_BIN, requireBinary } from "./support/prometheus";
import { configOf, renderedRuleGroups } from "./support/stack";

const ALERTS = Object.keys(FOR_MINUTES);

export function alertTestTarget(cfg: Pick<StackConfig, "namespace" | "appName" | "resources" | "alerts">): AlertTestTarget {
  return {
    namespace: cfg.namespace,
    job: cfg.appName,
    memoryLimit: cfg.resources.limits.memory,
    cpuLimit: cfg.resources.limits.cpu,
    memoryShareOfLimit: cfg.alerts.memoryShareOfLimit,
    cpuShareOfLimit: cfg.alerts.cpuShareOfLimit,
    scrapeDurationSeconds: cfg.alerts.scrapeDurationSeconds,
    runbookBaseUrl: cfg.alerts.runbookBaseUrl,
  };
}

/** Writes the testable rules + generated tests into a fresh dir, runs `promtool test rules`, removes the dir. */
function promtoolTest(groups: readonly RuleGroup[], testFile: (rulesFile: string) => Record<string, unknown>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-promtool-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify({ groups: testableRules(groups) }));
    fs.writeFileSync(path.join(dir, "tests.yaml"), stringify(testFile("rules.yaml")));
    return promtool(["test", "rules", "tests.yaml"], dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function promtoolCheck(groups: readonly RuleGroup[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-promtool-"));
  try {
    fs.writeFileSync(path.join(dir, "rules.yaml"), stringify({ groups }));
    return promtool(["check", "rules", "rules.yaml"], dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A deep copy of `groups` with one alert's rule changed. */
/** An alerting rule of a deep copy, open to change. */
type EditableRule = { -readonly [K in keyof AlertingRule]: AlertingRule[K] };

function mutate(groups: readonly RuleGroup[], alert: string, change: (rule: EditableRule) => void): RuleGroup[] {
  const copy = JSON.parse(JSON.stringify(groups)) as RuleGroup[];
  const rule = copy.flatMap((g) => g.rules).find((r) => r.alert === alert);
  assert.ok(rule, alert);
  change(rule);
  return copy;
}

describe("monitoring: promtool on the rendered alert rules", function () {
  this.timeout(180_000);
  before(() => {
    requireBinary(PROMTOOL_BIN);
  });

  for (const stack of STACKS) {
    describe(`stack ${stack}`, () => {
      const cfg = configOf(stack);
      const target = alertTestTarget(cfg);
      let groups: RuleGroup[];
      before(async () => {
        groups = await renderedRuleGroups(stack);
      });

      it("renders the rules of the pure builder, 13 alerts, each with a severity and a runbook anchor", () => {
        assert.deepEqual(groups, alertRuleGroups(cfg.slos, alertRuleConfig(cfg)));
        const rules = groups.flatMap((g) => g.rules);
        assert.deepEqual(rules.map((r) => r.alert).sort(), [...ALERTS].sort());
        for (const r of rules) {
          const sloId = (SLO_ALERTS as Record<string, keyof typeof cfg.slos>)[r.alert];
          assert.equal(r.labels?.severity, sloId ? cfg.slos[sloId].severity : PLAIN_SEVERITY[r.alert], `${r.alert} severity`);
          assert.equal(r.annotations?.runbook_url, `${cfg.alerts.runbookBaseUrl}#${r.alert.toLowerCase()}`);
          assert.ok(r.annotations?.summary, `${r.alert} has a summary`);
          assert.equal(r.for ?? "0m", FOR_MINUTES[r.alert] === 0 ? "0m" : `${FOR_MINUTES[r.alert]}m`, `${r.alert} for`);
        }
      });

      it("annotations template nothing but `{{ $value }}`, which the promtool tests render as a placeholder", () => {
        for (const r of groups.flatMap((g) => g.rules)) {
          for (const [k, v] of Object.entries(r.annotations ?? {})) {
            assert.ok(!v.replace(/\{\{\s*\$value\s*\}\}/g, "").includes("{{"), `${r.alert}.${k} uses another template: ${v}`);
          }
        }
        const described = testableRules(groups).flatMap((g) => g.rules).filter((r) => r.annotations?.description?.includes(VALUE_PLACEHOLDER));
        assert.ok(described.length >= 10, `${described.length} descriptions carry the value`);
      });

      it("promtool check rules accepts the rules file", () => {
        const r = promtoolCheck(groups);
        assert.equal(r.status, 0, r.output);
        assert.match(r.output, /SUCCESS: 13 rules found/);
      });

      it("promtool test rules: all 13 alerts fire just past their threshold and stay quiet just inside, on an idle node and under a polling client", () => {
        const cases = alertCases(cfg.slos, target);
        assert.deepEqual([...new Set(cases.map((c) => c.alert))].sort(), [...ALERTS].sort());
        for (const alert of ALERTS) {
          assert.ok(cases.some((c) => c.alert === alert && c.violating), `${alert} has a violating case`);
          assert.ok(cases.some((c) => c.alert === alert && !c.violating), `${alert} has a healthy case`);
        }
        const r = promtoolTest(groups, (f) => promtoolTestFile(f, groups, cases, target));
        assert.equal(r.status, 0, r.output);
        assert.match(r.output, /SUCCESS/);
      });
    });
  }

  describe("the checks can fail", () => {
    const stack = "testnet";
    const cfg = configOf(stack);
    const target = alertTestTarget(cfg);
    let groups: RuleGroup[];
    before(async () => {
      groups = await renderedRuleGroups(stack);
    });

    it("promtool check rules rejects a PromQL syntax error", () => {
      const broken = mutate(groups, "PoISuccessRateCritical", (r) => (r.expr = r.expr.replace("sum(rate(", "sum(rate((")));
      const r = promtoolCheck(broken);
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /PoISuccessRateCritical|parse error/);
    });

    const mutations: [string, string, (r: EditableRule) => void][] = [
      ["a wrong metric name", "PoIVerificationP99Violation", (r) => (r.expr = r.expr.replace("bizra_poi_verify_seconds_bucket", "bizra_poi_verify_second_bucket"))],
      ["an inverted comparison", "PoIThroughputDegraded", (r) => (r.expr = r.expr.replace(" < ", " > "))],
      ["a wrong quantile", "FinalityCheckP99Violation", (r) => (r.expr = r.expr.replace("histogram_quantile(0.99,", "histogram_quantile(0.9,"))],
      ["a wrong namespace selector", "ProcessMemoryHigh", (r) => (r.expr = r.expr.replace(cfg.namespace, "other"))],
      ["a dropped `absent`", "MetricsEndpointDown", (r) => (r.expr = r.expr.replace(/ or absent\(.*\)$/, ""))],
      ["a changed severity", "PoISuccessRateCritical", (r) => (r.labels = { ...r.labels, severity: "warning" })],
      ["a shorter `for`", "FinalityCheckStalled", (r) => (r.for = "2m")],
      ["a wrong runbook URL", "ReplayAttackDetected", (r) => (r.annotations = { ...r.annotations, runbook_url: `${r.annotations?.runbook_url}-x` })],
      ["a dropped namespace label (Alertmanager could not route it)", "ReplayAttackDetected", (r) => (r.labels = Object.fromEntries(Object.entries(r.labels ?? {}).filter(([k]) => k !== "namespace")))],
      ["a dropped shedding guard (pages on low demand)", "PoIThroughputDegraded", (r) => (r.expr = r.expr.replace(/ and on\(\) .*$/, ""))],
      ["a stall rule driven by client queries", "FinalityCheckStalled", (r) => (r.expr = `sum(rate(bizra_finality_checks_total{namespace="${cfg.namespace}"}[5m])) == 0`)],
      ["a quorum rule driven by client queries", "ConsensusQuorumFailure", (r) => (r.expr = `sum(rate(bizra_finality_checks_total{namespace="${cfg.namespace}"}[5m])) > 0`)],
      ["a dropped job selector (the signer's 503s count)", "APIErrorRateHigh", (r) => (r.expr = r.expr.replaceAll(`, job="${cfg.appName}"`, ""))],
      ["a 5xx share counted as 4xx", "APIErrorRateHigh", (r) => (r.expr = r.expr.replace('status_code=~"5.."', 'status_code=~"4.."'))],
    ];
    for (const [what, alert, change] of mutations) {
      it(`promtool test rules fails on ${what} (${alert})`, () => {
        const broken = mutate(groups, alert, change);
        assert.equal(promtoolCheck(broken).status, 0, "still valid PromQL");
        const r = promtoolTest(broken, (f) => promtoolTestFile(f, broken, alertCases(cfg.slos, target), target));
        assert.notEqual(r.status, 0, `promtool passed a broken rule:\n${r.output}`);
        assert.match(r.output, new RegExp(`alertname: ${alert}`));
      });
    }

    it("promtool test rules fails when the SLO table changes and the rule does not follow", () => {
      const slos = resolveSlos({ finalityCheckP99: 0.0015, poiVerifySuccessRate: 0.95 });
      const r = promtoolTest(groups, (f) => promtoolTestFile(f, groups, alertCases(slos, target), target));
      assert.notEqual(r.status, 0, r.output);
      assert.match(r.output, /alertname: FinalityCheckP99Violation/);
      assert.match(r.output, /alertname: PoISuccessRateCritical/);
    });

    it("and passes when the program renders the rules with the changed SLO table (the rules follow the table)", async () => {
      const overrides = { "bizra:slo": { finalityCheckP99: 0.0015, poiVerifySuccessRate: 0.95, poiGenerateP99: 0.00015 } };
      const changed = await renderedRuleGroups(stack, overrides);
      const changedCfg = configOf(stack, overrides);
      const r = promtoolTest(changed, (f) => promtoolTestFile(f, changed, alertCases(changedCfg.slos, alertTestTarget(changedCfg)), alertTestTarget(changedCfg)));
      assert.equal(r.status, 0, r.output);
    });
  });
});
