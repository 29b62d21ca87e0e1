/**
 * The PrometheusRule of the node: 12 alerts in 5 groups (ARCHITECTURE.md), every SLO threshold read from the
 * resolved SLO table. `alertRuleGroups` is pure; the component only registers what it returns.
 */
import * as pulumi from "@pulumi/pulumi";
import { FAIL_REASON_LABEL, METRICS } from "@bizra/contract";
import type { StackConfig } from "./config";
import { MONITORING_API_VERSION, type AlertingRule, type PrometheusRule, type RuleGroup } from "./crds/monitoring";
import { registerCustomResource } from "./crds/register";
import { comparisonSymbol, violationOperator, type Slo, type SloTable } from "./slo";

/** The rate window of every alert expression. */
export const ALERT_RATE_WINDOW = "5m";

/** What the alert rules need besides the SLO table. */
export interface AlertRuleConfig {
  readonly namespace: string;
  /** Name of the node Service: the `job` label Prometheus Operator gives the scraped series. */
  readonly job: string;
  readonly resources: StackConfig["resources"];
  readonly alerts: StackConfig["alerts"];
}

export function alertRuleConfig(cfg: Pick<StackConfig, "namespace" | "appName" | "resources" | "alerts">): AlertRuleConfig {
  return { namespace: cfg.namespace, job: cfg.appName, resources: cfg.resources, alerts: cfg.alerts };
}

const MEMORY_UNITS = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 } as const;

/** `512Mi` -> 536870912 bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  return Number(m[1]) * MEMORY_UNITS[(m[2] ?? "") as keyof typeof MEMORY_UNITS]; // the pattern admits only these units
}

/** `500m` -> 0.5 cores, `2` -> 2 cores. */
export function cpuCores(quantity: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m)?$/.exec(quantity);
  if (!m) throw new Error(`not a CPU quantity: ${quantity}`);
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

/** A PromQL number literal (PromQL accepts JS's exponent form, e.g. `5e-7`). */
export function promNumber(n: number): string {
  return String(n);
}

/** An SLO value in the unit a human reads (`0.0004` seconds -> `400µs`). */
export function humanSlo(slo: Pick<Slo, "unit" | "value">): string {
  switch (slo.unit) {
    case "seconds":
      return slo.value < 0.001 ? `${+(slo.value * 1e6).toPrecision(6)}µs` : slo.value < 1 ? `${+(slo.value * 1e3).toPrecision(6)}ms` : `${slo.value}s`;
    case "ratio":
      return `${+(slo.value * 100).toPrecision(6)}%`;
    case "per_second":
      return `${slo.value}/s`;
    case "basis_points":
      return `${slo.value}bp`;
  }
}

/** `histogram_quantile(q, sum by (le) (rate(<histogram>_bucket{sel}[w])))`. */
export function histogramQuantile(q: number, histogram: string, selector: string, window: string): string {
  return `histogram_quantile(${q}, sum by (le) (rate(${histogram}_bucket{${selector}}[${window}])))`;
}

/** `sum(rate(<counter>{sel}[w]))`. */
export function counterRate(counter: string, selector: string, window: string): string {
  return `sum(rate(${counter}{${selector}}[${window}]))`;
}

/**
 * `<counter rate> or vector(0)`: a labelled counter has no series until its first increment, and without this an
 * expression over it (an error or failure share) is empty instead of 0 while nothing has failed yet.
 */
export function counterRateOrZero(counter: string, selector: string, window: string): string {
  return `(${counterRate(counter, selector, window)} or vector(0))`;
}

/** PoI verification success ratio: successes / (successes + failures of every reason). */
export function poiSuccessRatio(selector: string, window: string): string {
  const ok = counterRate(METRICS.poiVerifyTotal, selector, window);
  const failed = counterRateOrZero(METRICS.poiVerifyFailTotal, selector, window);
  return `${ok} / (${ok} + ${failed})`;
}

/** The alert on one SLO: `<measured> <violation operator> <SLO value>`, severity from the SLO entry. */
function sloAlert(alert: string, slo: Slo, measured: string, forDuration: string, summary: string, runbooks: string): AlertingRule {
  return {
    alert,
    expr: `${measured} ${violationOperator(slo.comparison)} ${promNumber(slo.value)}`,
    for: forDuration,
    labels: { severity: slo.severity, slo: slo.id },
    annotations: {
      summary: `${summary} (SLO: ${comparisonSymbol(slo.comparison)} ${humanSlo(slo)})`,
      description: `${slo.description}: {{ $value }} ${slo.unit}; the SLO table (bizra:slo.${slo.id}) requires ${slo.comparison} ${slo.value} ${slo.unit}.`,
      runbook_url: `${runbooks}#${alert.toLowerCase()}`,
    },
  };
}

function plainAlert(alert: string, expr: string, forDuration: string | undefined, severity: "critical" | "warning", summary: string, runbooks: string): AlertingRule {
  return {
    alert,
    expr,
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    labels: { severity },
    annotations: { summary, description: `${summary}. Value: {{ $value }}.`, runbook_url: `${runbooks}#${alert.toLowerCase()}` },
  };
}

/** The 5 groups and 12 alerts of ARCHITECTURE.md. Pure. */
export function alertRuleGroups(slos: SloTable, cfg: AlertRuleConfig): RuleGroup[] {
  const ns = `namespace="${cfg.namespace}"`;
  const target = `${ns}, job="${cfg.job}"`;
  const w = ALERT_RATE_WINDOW;
  const rb = cfg.alerts.runbookBaseUrl;
  const memoryLimit = memoryBytes(cfg.resources.limits.memory) * cfg.alerts.memoryShareOfLimit;
  const cpuLimit = cpuCores(cfg.resources.limits.cpu) * cfg.alerts.cpuShareOfLimit;
  return [
    {
      name: "bizra_finality_sla",
      rules: [
        sloAlert("FinalityCheckP99Violation", slos.finalityCheckP99, histogramQuantile(0.99, METRICS.finalityCheckSeconds, ns, w), "5m", "Finality check p99 latency breaches its SLO", rb),
        plainAlert("FinalityCheckStalled", `${counterRate(METRICS.finalityChecksTotal, ns, w)} == 0`, "10m", "critical", "No finality checks for 10 minutes", rb),
      ],
    },
    {
      name: "bizra_poi_sla",
      rules: [
        sloAlert("PoIGenerationP99Violation", slos.poiGenerateP99, histogramQuantile(0.99, METRICS.poiGenerateSeconds, ns, w), "5m", "PoI generation p99 latency breaches its SLO", rb),
        sloAlert("PoIVerificationP99Violation", slos.poiVerifyP99, histogramQuantile(0.99, METRICS.poiVerifySeconds, ns, w), "5m", "PoI verification p99 latency breaches its SLO", rb),
        // The SLO is a throughput floor; the rate falls under it when the node is offered less work, too.
        sloAlert("PoIThroughputDegraded", slos.poiVerifyThroughput, counterRate(METRICS.poiVerifyTotal, ns, w), "10m", "PoI verification throughput below its SLO", rb),
        sloAlert("PoISuccessRateCritical", slos.poiVerifySuccessRate, `(${poiSuccessRatio(ns, w)})`, "5m", "PoI verification success rate below its SLO", rb),
      ],
    },
    {
      name: "bizra_resource_limits",
      rules: [
        plainAlert(
          "ProcessMemoryHigh",
          `max by (pod) (process_resident_memory_bytes{${ns}}) > ${promNumber(memoryLimit)}`,
          "5m",
          "warning",
          `Node process resident memory above ${cfg.alerts.memoryShareOfLimit * 100}% of its ${cfg.resources.limits.memory} limit`,
          rb,
        ),
        plainAlert(
          "ProcessCPUHigh",
          `max by (pod) (rate(process_cpu_seconds_total{${ns}}[${w}])) > ${promNumber(cpuLimit)}`,
          "10m",
          "warning",
          `Node process CPU above ${cfg.alerts.cpuShareOfLimit * 100}% of its ${cfg.resources.limits.cpu} core limit`,
          rb,
        ),
      ],
    },
    {
      name: "bizra_health_checks",
      rules: [
        plainAlert("MetricsEndpointDown", `up{${target}} == 0 or absent(up{${target}})`, "2m", "critical", "Prometheus cannot scrape the node metrics endpoint", rb),
        plainAlert(
          "PrometheusScrapeSlow",
          `max(scrape_duration_seconds{${target}}) > ${promNumber(cfg.alerts.scrapeDurationSeconds)}`,
          "5m",
          "warning",
          `Scraping the node metrics endpoint takes longer than ${cfg.alerts.scrapeDurationSeconds}s`,
          rb,
        ),
      ],
    },
    {
      name: "bizra_consensus_security",
      rules: [
        plainAlert(
          "ConsensusQuorumFailure",
          `sum(increase(${METRICS.consensusQuorumFailuresTotal}{${ns}}[${w}])) > 0`,
          "5m",
          "critical",
          `Finality checks keep failing the fast-finality quorum (${humanSlo(slos.fastFinalityBp)} of validator weight)`,
          rb,
        ),
        plainAlert(
          "ReplayAttackDetected",
          `sum(increase(${METRICS.poiVerifyFailTotal}{${ns}, ${FAIL_REASON_LABEL}="replayed"}[${w}])) > 0`,
          undefined, // one replay is an attack: fire at once
          "critical",
          "Replayed PoI attestations were rejected",
          rb,
        ),
      ],
    },
  ];
}

/** The PrometheusRule object. Pure. */
export function prometheusRule(slos: SloTable, cfg: AlertRuleConfig, name: string, labels: Record<string, string>): PrometheusRule {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: "PrometheusRule",
    metadata: { name, namespace: cfg.namespace, labels },
    spec: { groups: alertRuleGroups(slos, cfg) },
  };
}

/** One line per alert, for the `alertRules` stack output. */
export function alertRuleSummary(groups: readonly RuleGroup[]): { group: string; alert: string; severity: string; for: string; expr: string }[] {
  return groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, alert: r.alert, severity: r.labels?.severity ?? "", for: r.for ?? "0m", expr: r.expr })));
}

export interface NodeAlertsArgs {
  /** Resolved SLO table. */
  readonly slos: SloTable;
  /** Namespace, job, limits and alert settings. */
  readonly rules: AlertRuleConfig;
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

/** The node's PrometheusRule. */
export class NodeAlerts extends pulumi.ComponentResource {
  public readonly groups: RuleGroup[];

  constructor(name: string, args: NodeAlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bizra:observability:NodeAlerts", name, {}, opts);
    const rule = prometheusRule(args.slos, args.rules, args.rules.job, args.labels);
    registerCustomResource(name, rule, { parent: this }, args.namespace);
    this.groups = rule.spec.groups;
    this.registerOutputs({ groups: this.groups.map((g) => g.name), alerts: alertRuleSummary(this.groups).length });
  }
}
