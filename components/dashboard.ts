/**
 * The Grafana dashboard of the node: the 6 panels of ARCHITECTURE.md and the operator's panels (rejects, votes,
 * finality progress, circuit breaker, HTTP, resources against limits, replicas, canary weight), threshold lines from
 * the SLO table and the limits, `namespace` and `pod` variables, delivered as a ConfigMap the Grafana sidecar picks
 * up (label `grafana_dashboard: "1"`). Pure builders.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CIRCUIT_STATES, FAIL_REASON_LABEL, METRICS } from "@bizra/contract";
import { apiErrorRatio, counterRate, histogramQuantile, poiSuccessRatio, verificationsShedRate } from "./promql";
import { cpuCores, memoryBytes } from "./quantity";
import type { Slo, SloTable } from "./slo";
import { componentType, withFormerTypes } from "./component";

/** Rate window of dashboard queries: 12 scrapes at 5 s, short enough to see a canary step. */
export const DASHBOARD_RATE_WINDOW = "1m";
export const DASHBOARD_REFRESH = "5s";
export const GRAFANA_SIDECAR_LABEL = { grafana_dashboard: "1" } as const;

/** Where a panel's series come from: the node itself, or a cluster component beside it. */
export type QuerySource = "node" | "kube-state-metrics" | "flagger";

export interface PanelQuery {
  readonly legend: string;
  readonly expr: string;
  /** Default `node`: scraped from the node (answered in the monitoring e2e); the others exist on a cluster only. */
  readonly source?: QuerySource;
}

export interface PanelDefinition {
  readonly title: string;
  readonly unit: string;
  readonly queries: PanelQuery[];
  /** The SLO whose value is drawn as the threshold line, if any. */
  readonly slo?: Slo;
  /** A fixed threshold line that is not an SLO (e.g. a resource limit). */
  readonly limit?: number;
  /** Value mappings for a state gauge (value -> text). */
  readonly states?: readonly string[];
}

/** Grafana template variables the panel queries use. */
export const DASHBOARD_VARIABLES = { namespace: "$namespace", pod: "$pod" } as const;

/** A panel query with the dashboard variables filled in (what Grafana sends Prometheus). */
export function fillVariables(expr: string, values: { namespace: string; pod: string }): string {
  return expr.replaceAll(DASHBOARD_VARIABLES.namespace, values.namespace).replaceAll(DASHBOARD_VARIABLES.pod, values.pod);
}

export interface DashboardTarget {
  readonly appName: string;
  /** Memory and CPU limits of one node container (the resource panels draw them). */
  readonly resources: { readonly limits: { readonly cpu: string; readonly memory: string } };
}

/** The panels. Pure. Queries select `namespace="$namespace", pod=~"$pod"`. */
export function dashboardPanels(slos: SloTable, target: DashboardTarget): PanelDefinition[] {
  const sel = `namespace="${DASHBOARD_VARIABLES.namespace}", pod=~"${DASHBOARD_VARIABLES.pod}"`;
  const w = DASHBOARD_RATE_WINDOW;
  const app = target.appName;
  const quantiles = (histogram: string, qs: number[]): PanelQuery[] =>
    qs.map((q) => ({ legend: `p${Math.round(q * 100)}`, expr: histogramQuantile(q, histogram, sel, w) }));
  return [
    { title: "Finality check latency", unit: "s", queries: quantiles(METRICS.finalityCheckSeconds, [0.5, 0.9, 0.99]), slo: slos.finalityCheckP99 },
    { title: "Finality throughput", unit: "ops", queries: [{ legend: "checks/s", expr: counterRate(METRICS.finalityChecksTotal, sel, w) }] },
    { title: "PoI generation latency", unit: "s", queries: quantiles(METRICS.poiGenerateSeconds, [0.5, 0.95, 0.99]), slo: slos.poiGenerateP99 },
    { title: "PoI verification latency", unit: "s", queries: quantiles(METRICS.poiVerifySeconds, [0.5, 0.95, 0.99]), slo: slos.poiVerifyP99 },
    {
      title: "PoI throughput",
      unit: "ops",
      queries: [
        { legend: "generate/s", expr: counterRate(`${METRICS.poiGenerateSeconds}_count`, sel, w) },
        { legend: "verify/s", expr: counterRate(METRICS.poiVerifyTotal, sel, w) },
        { legend: "refused/s (503)", expr: verificationsShedRate(sel, w) },
      ],
      slo: slos.poiVerifyThroughput,
    },
    { title: "PoI success rate", unit: "percentunit", queries: [{ legend: "success", expr: poiSuccessRatio(sel, w) }], slo: slos.poiVerifySuccessRate },
    {
      title: "Rejected attestations by reason",
      unit: "ops",
      queries: [{ legend: `{{${FAIL_REASON_LABEL}}}`, expr: `sum by (${FAIL_REASON_LABEL}) (rate(${METRICS.poiVerifyFailTotal}{${sel}}[${w}]))` }],
    },
    {
      title: "Consensus votes by outcome",
      unit: "ops",
      queries: [
        { legend: "{{outcome}}", expr: `sum by (outcome) (rate(${METRICS.consensusVotesTotal}{${sel}}[${w}]))` },
        { legend: "refused: {{reason}}", expr: `sum by (reason) (rate(${METRICS.consensusVoteRejectedTotal}{${sel}}[${w}]))` },
      ],
    },
    {
      title: "Finality progress, equivocations and quorum",
      unit: "short",
      queries: [
        { legend: "head - finalized slot {{pod}}", expr: `max by (pod) (${METRICS.consensusHeadSlot}{${sel}}) - max by (pod) (${METRICS.consensusFinalizedSlot}{${sel}})` },
        { legend: "slots without quorum (5m)", expr: `sum(increase(${METRICS.consensusQuorumFailuresTotal}{${sel}}[5m]))` },
        { legend: "equivocations (5m)", expr: `sum(increase(${METRICS.consensusEquivocationsTotal}{${sel}}[5m]))` },
      ],
    },
    {
      title: "Verifier circuit breaker",
      unit: "short",
      queries: [{ legend: "{{pod}}", expr: `max by (pod) (${METRICS.poiVerifierCircuitState}{${sel}})` }],
      states: CIRCUIT_STATES,
    },
    {
      title: "HTTP latency and errors",
      unit: "s",
      queries: [
        { legend: "p99 {{route}}", expr: `histogram_quantile(0.99, sum by (le, route) (rate(${METRICS.httpRequestDurationSeconds}_bucket{${sel}}[${w}])))` },
        { legend: "5xx share", expr: apiErrorRatio(sel, w) },
      ],
      slo: slos.apiP99Latency,
    },
    {
      title: "Memory against the limit",
      unit: "bytes",
      queries: [{ legend: "resident {{pod}}", expr: `max by (pod) (process_resident_memory_bytes{${sel}})` }],
      limit: memoryBytes(target.resources.limits.memory),
    },
    {
      title: "CPU against the limit",
      unit: "short",
      queries: [{ legend: "cores {{pod}}", expr: `max by (pod) (rate(process_cpu_seconds_total{${sel}}[${w}]))` }],
      limit: cpuCores(target.resources.limits.cpu),
    },
    {
      title: "Replicas (HPA)",
      unit: "short",
      queries: [
        { legend: "pods scraped", expr: `count(up{namespace="${DASHBOARD_VARIABLES.namespace}", job="${app}"} == 1)` },
        { legend: "current", expr: `max(kube_horizontalpodautoscaler_status_current_replicas{namespace="${DASHBOARD_VARIABLES.namespace}", horizontalpodautoscaler="${app}"})`, source: "kube-state-metrics" },
        { legend: "desired", expr: `max(kube_horizontalpodautoscaler_status_desired_replicas{namespace="${DASHBOARD_VARIABLES.namespace}", horizontalpodautoscaler="${app}"})`, source: "kube-state-metrics" },
        { legend: "max", expr: `max(kube_horizontalpodautoscaler_spec_max_replicas{namespace="${DASHBOARD_VARIABLES.namespace}", horizontalpodautoscaler="${app}"})`, source: "kube-state-metrics" },
      ],
    },
    {
      title: "Canary weight: primary and canary",
      unit: "percent",
      queries: [{ legend: "{{workload}}", expr: flaggerWeightQuery(DASHBOARD_VARIABLES.namespace, app), source: "flagger" }],
    },
  ];
}

/** Flagger's traffic weight of the primary and the canary workload (`flagger_canary_weight{workload, namespace}`). */
export function flaggerWeightQuery(namespace: string, appName: string): string {
  return `max by (workload) (flagger_canary_weight{namespace="${namespace}", workload=~"${appName}|${appName}-primary"})`;
}

/** A node (re)start, shown as a deployment annotation: a new pod is a new revision or a restart. */
export function deploymentAnnotationQuery(appName: string): string {
  return `changes(process_start_time_seconds{namespace="${DASHBOARD_VARIABLES.namespace}", job="${appName}"}[1m]) > 0`;
}

/** Grafana threshold steps: red where the SLO is violated (or above a limit). */
export function thresholdSteps(slo: Slo | undefined, limit?: number): { color: string; value: number | null }[] {
  if (!slo && limit !== undefined) return [{ color: "green", value: null }, { color: "red", value: limit }];
  if (!slo) return [{ color: "green", value: null }];
  return slo.comparison === "gte"
    ? [
        { color: "red", value: null },
        { color: "green", value: slo.value },
      ]
    : [
        { color: "green", value: null },
        { color: "red", value: slo.value },
      ];
}

/** What the dashboard is about. */
export interface DashboardOptions extends DashboardTarget {
  readonly namespace: string;
  readonly stack: string;
}

/** The dashboard's UID (also a stack output): stable per app and stack. */
export function dashboardUid(appName: string, stack: string): string {
  return `bizra-${appName}-${stack}`.slice(0, 40);
}

/** The dashboard model (Grafana JSON). Pure. */
export function dashboardModel(slos: SloTable, opts: DashboardOptions): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: "${datasource}" };
  const panels = dashboardPanels(slos, opts).map((p, i) => ({
    id: i + 1,
    type: "timeseries",
    title: p.title,
    description: p.slo
      ? `SLO ${p.slo.id}: ${p.slo.comparison} ${p.slo.value} ${p.slo.unit}`
      : p.limit !== undefined
        ? `the red line is the container limit (${p.limit} ${p.unit === "bytes" ? "bytes" : "cores"})`
        : p.states
          ? p.states.map((st, v) => `${v} = ${st}`).join(", ")
          : undefined,
    datasource,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: {
      defaults: {
        unit: p.unit,
        thresholds: { mode: "absolute", steps: thresholdSteps(p.slo, p.limit) },
        custom: { thresholdsStyle: { mode: p.slo || p.limit !== undefined ? "line" : "off" } },
        ...(p.states
          ? { mappings: [{ type: "value", options: Object.fromEntries(p.states.map((st, v) => [String(v), { text: st, index: v }])) }], min: 0, max: p.states.length - 1 }
          : {}),
      },
      overrides: [],
    },
    options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
    targets: p.queries.map((q, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: q.expr, legendFormat: q.legend })),
  }));
  const promVariable = (name: string, label: string, query: string, current: string, extra: Record<string, unknown> = {}) => ({
    name,
    label,
    type: "query",
    datasource,
    query: { query, refId: `${name}-variable` },
    definition: query,
    current: { text: current, value: current },
    refresh: 2,
    sort: 1,
    hide: 0,
    ...extra,
  });
  return {
    uid: dashboardUid(opts.appName, opts.stack),
    title: `BIZRA node ${opts.appName} (${opts.stack})`,
    tags: ["bizra", opts.stack],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: DASHBOARD_REFRESH,
    time: { from: "now-1h", to: "now" },
    templating: {
      list: [
        { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus", current: {}, hide: 0, refresh: 1 },
        promVariable("namespace", "Namespace", `label_values(up{job="${opts.appName}"}, namespace)`, opts.namespace),
        promVariable("pod", "Pod", `label_values(up{namespace="${DASHBOARD_VARIABLES.namespace}", job="${opts.appName}"}, pod)`, "All", {
          includeAll: true,
          multi: true,
          allValue: ".*",
          current: { text: "All", value: "$__all" },
        }),
      ],
    },
    annotations: {
      list: [
        {
          name: "Node (re)starts: deployments and restarts",
          datasource,
          enable: true,
          iconColor: "blue",
          expr: deploymentAnnotationQuery(opts.appName),
          step: "30s",
          titleFormat: "node started",
          textFormat: "{{pod}}",
        },
      ],
    },
    panels,
  };
}

/** Canonical JSON text of the dashboard (the ConfigMap data and the `dashboardJson` output). */
export function dashboardJson(slos: SloTable, opts: DashboardOptions): string {
  return JSON.stringify(dashboardModel(slos, opts), null, 2);
}

/** Every panel query, for the `promqlQueries` stack output (variables unfilled, see `fillVariables`). */
export function promqlQueries(slos: SloTable, target: DashboardTarget): { panel: string; legend: string; query: string; source: QuerySource }[] {
  return dashboardPanels(slos, target).flatMap((p) => p.queries.map((q) => ({ panel: p.title, legend: q.legend, query: q.expr, source: q.source ?? "node" })));
}

export interface NodeDashboardArgs {
  /** The resolved SLO table of the stack. */
  readonly slos: SloTable;
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** Stack name, shown in the dashboard title and tags. */
  readonly stack: string;
  /** Container limits drawn on the resource panels. */
  readonly resources: DashboardTarget["resources"];
  /** The node namespace (the default of the `namespace` variable). */
  readonly nodeNamespace: string;
  /** Where Grafana's sidecar looks for dashboards. */
  readonly monitoringNamespace: string;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class NodeDashboard extends pulumi.ComponentResource {
  public readonly json: string;
  public readonly uid: string;

  constructor(name: string, args: NodeDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("dashboard", "NodeDashboard"), name, {}, withFormerTypes(opts, "bizra:observability:NodeDashboard"));
    this.json = dashboardJson(args.slos, { namespace: args.nodeNamespace, appName: args.appName, stack: args.stack, resources: args.resources });
    this.uid = dashboardUid(args.appName, args.stack);
    new k8s.core.v1.ConfigMap(
      name,
      {
        metadata: {
          name: `${args.appName}-dashboard`,
          namespace: args.monitoringNamespace,
          labels: { ...args.labels, ...GRAFANA_SIDECAR_LABEL },
        },
        data: { [`${args.appName}.json`]: this.json },
      },
      { parent: this },
    );
    this.registerOutputs({ json: this.json, uid: this.uid });
  }
}
