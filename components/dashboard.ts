/**
 * The Grafana dashboard of the node: the 6 panels of ARCHITECTURE.md with threshold lines from the SLO table,
 * delivered as a ConfigMap the Grafana sidecar picks up (label `grafana_dashboard: "1"`). Pure builders.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { METRICS } from "@bizra/contract";
import { counterRate, histogramQuantile, poiSuccessRatio } from "./alerts";
import type { Slo, SloTable } from "./slo";

/** Rate window of dashboard queries: 12 scrapes at 5 s, short enough to see a canary step. */
export const DASHBOARD_RATE_WINDOW = "1m";
export const DASHBOARD_REFRESH = "5s";
export const GRAFANA_SIDECAR_LABEL = { grafana_dashboard: "1" } as const;

export interface PanelQuery {
  readonly legend: string;
  readonly expr: string;
}

export interface PanelDefinition {
  readonly title: string;
  readonly unit: string;
  readonly queries: PanelQuery[];
  /** The SLO whose value is drawn as the threshold line, if any. */
  readonly slo?: Slo;
}

/** The 6 panels. Pure. */
export function dashboardPanels(slos: SloTable, namespace: string): PanelDefinition[] {
  const sel = `namespace="${namespace}"`;
  const w = DASHBOARD_RATE_WINDOW;
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
      ],
      slo: slos.poiVerifyThroughput,
    },
    { title: "PoI success rate", unit: "percentunit", queries: [{ legend: "success", expr: poiSuccessRatio(sel, w) }], slo: slos.poiVerifySuccessRate },
  ];
}

/** Grafana threshold steps: red where the SLO is violated. */
export function thresholdSteps(slo: Slo | undefined): { color: string; value: number | null }[] {
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

/** The dashboard model (Grafana JSON). Pure. */
export function dashboardModel(slos: SloTable, opts: { namespace: string; appName: string; stack: string }): Record<string, unknown> {
  const datasource = { type: "prometheus", uid: "${datasource}" };
  const panels = dashboardPanels(slos, opts.namespace).map((p, i) => ({
    id: i + 1,
    type: "timeseries",
    title: p.title,
    description: p.slo ? `SLO ${p.slo.id}: ${p.slo.comparison} ${p.slo.value} ${p.slo.unit}` : undefined,
    datasource,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: {
      defaults: {
        unit: p.unit,
        thresholds: { mode: "absolute", steps: thresholdSteps(p.slo) },
        custom: { thresholdsStyle: { mode: p.slo ? "line" : "off" } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
    targets: p.queries.map((q, j) => ({ refId: String.fromCharCode(65 + j), datasource, expr: q.expr, legendFormat: q.legend })),
  }));
  return {
    uid: `bizra-${opts.appName}-${opts.stack}`.slice(0, 40),
    title: `BIZRA node ${opts.appName} (${opts.stack})`,
    tags: ["bizra", opts.stack],
    timezone: "utc",
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: DASHBOARD_REFRESH,
    time: { from: "now-1h", to: "now" },
    templating: {
      list: [{ name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus", current: {}, hide: 0, refresh: 1 }],
    },
    panels,
  };
}

/** Canonical JSON text of the dashboard (the ConfigMap data and the `dashboardJson` output). */
export function dashboardJson(slos: SloTable, opts: { namespace: string; appName: string; stack: string }): string {
  return JSON.stringify(dashboardModel(slos, opts), null, 2);
}

/** Every panel query, for the `promqlQueries` stack output. */
export function promqlQueries(slos: SloTable, namespace: string): { panel: string; legend: string; query: string }[] {
  return dashboardPanels(slos, namespace).flatMap((p) => p.queries.map((q) => ({ panel: p.title, legend: q.legend, query: q.expr })));
}

export interface NodeDashboardArgs {
  /** The resolved SLO table of the stack. */
  readonly slos: SloTable;
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** Stack name, shown in the dashboard title and tags. */
  readonly stack: string;
  /** The node namespace (queried by the panels). */
  readonly nodeNamespace: string;
  /** Where Grafana's sidecar looks for dashboards. */
  readonly monitoringNamespace: string;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class NodeDashboard extends pulumi.ComponentResource {
  public readonly json: string;

  constructor(name: string, args: NodeDashboardArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bizra:observability:NodeDashboard", name, {}, opts);
    this.json = dashboardJson(args.slos, { namespace: args.nodeNamespace, appName: args.appName, stack: args.stack });
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
    this.registerOutputs({ json: this.json });
  }
}
