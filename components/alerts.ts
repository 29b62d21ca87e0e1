/**
 * The PrometheusRule of the node: the 12 alerts in 5 groups of ARCHITECTURE.md plus `APIErrorRateHigh` (group
 * `bizra_api_sla`), every SLO threshold read from the resolved SLO table. `alertRuleGroups` is pure; the component
 * only registers what it returns.
 */
import * as pulumi from "@pulumi/pulumi";
import { FAIL_REASON_LABEL, METRICS } from "@bizra/contract";
import type { StackConfig } from "./config";
import { MONITORING_API_VERSION, type AlertingRule, type PrometheusRule, type RuleGroup } from "./crds/monitoring";
import { registerCustomResource } from "./crds/register";
import { apiErrorRatio, counterRate, histogramQuantile, poiSuccessRatio, promNumber, verificationsShedRate } from "./promql";
import { cpuCores, memoryBytes } from "./quantity";
import { comparisonSymbol, violationOperator, type Slo, type SloTable } from "./slo";
import { componentType, withFormerTypes } from "./component";

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

/**
 * The alert on one SLO: `<measured> <violation operator> <SLO value>`, severity from the SLO entry unless given (an
 * SLO whose table severity is not an alert severity, e.g. `canary`); `guard`, when given, must hold too
 * (`... and on() <guard>`), e.g. "and requests are being shed".
 */
function sloAlert(
  alert: string,
  slo: Slo,
  measured: string,
  forDuration: string,
  summary: string,
  runbooks: string,
  guard?: string,
  severity: string = slo.severity,
): AlertingRule {
  return {
    alert,
    expr: `${measured} ${violationOperator(slo.comparison)} ${promNumber(slo.value)}${guard !== undefined ? ` and on() ${guard}` : ""}`,
    for: forDuration,
    labels: { severity, slo: slo.id },
    annotations: {
      summary: `${summary} (SLO: ${comparisonSymbol(slo.comparison)} ${humanSlo(slo)})`,
      description: `${slo.description}: {{ $value }} ${slo.unit}; the SLO table (bizra:slo.${slo.id}) requires ${slo.comparison} ${slo.value} ${slo.unit}.`,
      runbook_url: `${runbooks}#${alert.toLowerCase()}`,
    },
  };
}

function plainAlert(
  alert: string,
  expr: string,
  forDuration: string | undefined,
  severity: "critical" | "warning",
  summary: string,
  runbooks: string,
  description = `${summary}. Value: {{ $value }}.`,
): AlertingRule {
  return {
    alert,
    expr,
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    labels: { severity },
    annotations: { summary, description, runbook_url: `${runbooks}#${alert.toLowerCase()}` },
  };
}

/** Severity of `APIErrorRateHigh`: the SLO table marks apiErrorRate a canary check, the alert opens a ticket. */
export const API_ERROR_ALERT_SEVERITY = "warning";

/**
 * The 6 groups and 13 alerts. Pure. Every alert carries the node's `namespace` label, also those whose expression
 * aggregates it away: the Alertmanager routes of `components/alertmanager.ts` match on it. With
 * `bizra:alerts.forOverride` (drills on test stacks), every alert that has a `for` gets that one instead.
 */
export function alertRuleGroups(slos: SloTable, cfg: AlertRuleConfig): RuleGroup[] {
  const forOverride = cfg.alerts.forOverride;
  return unlabelledRuleGroups(slos, cfg).map((g) => ({
    ...g,
    rules: g.rules.map((r) => ({
      ...r,
      ...(forOverride !== undefined && r.for !== undefined ? { for: forOverride } : {}),
      labels: { ...r.labels, namespace: cfg.namespace },
    })),
  }));
}

function unlabelledRuleGroups(slos: SloTable, cfg: AlertRuleConfig): RuleGroup[] {
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
        // Votes arrive and the head moves on, but no slot reaches fast finality: an idle node (no votes) and a client
        // polling a block (no effect on the finalized slot) never fire it.
        plainAlert(
          "FinalityCheckStalled",
          `max by (pod) (${METRICS.consensusHeadSlot}{${ns}}) > max by (pod) (${METRICS.consensusFinalizedSlot}{${ns}})` +
            ` and sum by (pod) (increase(${METRICS.consensusVotesTotal}{${ns}, outcome="accepted"}[${w}])) > 0` +
            ` and max by (pod) (changes(${METRICS.consensusFinalizedSlot}{${ns}}[${w}])) == 0`,
          "10m",
          "critical",
          `Votes keep arriving but the finalized slot has not moved (no change over ${w}, for 10m)`,
          rb,
          "Head slot {{ $value }} while the finalized slot has not moved.",
        ),
      ],
    },
    {
      name: "bizra_poi_sla",
      rules: [
        sloAlert("PoIGenerationP99Violation", slos.poiGenerateP99, histogramQuantile(0.99, METRICS.poiGenerateSeconds, ns, w), "5m", "PoI generation p99 latency breaches its SLO", rb),
        sloAlert("PoIVerificationP99Violation", slos.poiVerifyP99, histogramQuantile(0.99, METRICS.poiVerifySeconds, ns, w), "5m", "PoI verification p99 latency breaches its SLO", rb),
        // A capacity signal: below the floor AND refusing verifications (503: shed or circuit open). Low demand alone
        // (an idle node) is not degraded throughput.
        sloAlert(
          "PoIThroughputDegraded",
          slos.poiVerifyThroughput,
          counterRate(METRICS.poiVerifyTotal, ns, w),
          "10m",
          "PoI verification capacity below its SLO: the node refuses verifications while verifying fewer than the floor",
          rb,
          `${verificationsShedRate(ns, w)} > 0`,
        ),
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
      name: "bizra_api_sla",
      rules: [
        // The node's API only (job: its Service): the signer's answers (e.g. 503 from the standby) are not the API's.
        sloAlert(
          "APIErrorRateHigh",
          slos.apiErrorRate,
          `(${apiErrorRatio(target, w)})`,
          "5m",
          "Share of node API requests answered 5xx above its SLO",
          rb,
          undefined,
          API_ERROR_ALERT_SEVERITY,
        ),
      ],
    },
    {
      name: "bizra_consensus_security",
      rules: [
        plainAlert(
          "ConsensusQuorumFailure",
          `sum by (pod) (increase(${METRICS.consensusQuorumFailuresTotal}{${ns}}[${w}])) > 0`,
          "5m",
          "critical",
          `Slots keep closing without the fast-finality quorum (${humanSlo(slos.fastFinalityBp)} of validator weight)`,
          rb,
          "{{ $value }} slots closed without quorum in the last 5 minutes.",
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
    super(componentType("alerts", "NodeAlerts"), name, {}, withFormerTypes(opts, "bizra:observability:NodeAlerts"));
    const rule = prometheusRule(args.slos, args.rules, args.rules.job, args.labels);
    registerCustomResource(name, rule, { parent: this }, args.namespace);
    this.groups = rule.spec.groups;
    this.registerOutputs({ groups: this.groups.map((g) => g.name), alerts: alertRuleSummary(this.groups).length });
  }
}
