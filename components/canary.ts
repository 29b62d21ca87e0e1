/**
 * Progressive delivery of the node with Flagger: a Canary for the node Deployment and MetricTemplates for the
 * canary checks of the SLO table. Pure builders, thin component.
 *
 * ## Mapping config stages to Flagger (see docs/canary.md)
 * Config gives stages `{weight, holdMinutes}`; the design reads a stage held N minutes as N one-minute checks at
 * that weight (`expandStages`: production 60 x 10 % + 120 x 50 % + 180 x 100 % = 360 checks). Flagger's
 * analysis runs one check per `interval` and, on success, moves to the next weight at once. What it offers and what
 * we use, verified in fluxcd/flagger pkg/controller/scheduler.go:
 * - `interval: 1m`: one metric check per minute (`bizra:canary.intervalSeconds`, default 60; test stacks shorten it).
 * - `stepWeights`: the distinct stage weights, in order. Repeating a weight to hold it is NOT possible:
 *   `nextStepWeight` looks up the FIRST index whose weight equals the current one and returns the difference to the
 *   next entry, which is 0 for a repeat, and a 0 step never advances nor promotes (the canary would stall).
 * - the hold: Flagger calls `confirm-traffic-increase` webhooks after each successful check and before raising the
 *   weight, and `confirm-promotion` before promoting at the last weight. The hold gate (components/hold-gate.ts,
 *   deployed by default; `bizra:canary.holdGateUrl` overrides the URL) answers 200 only once the current weight has
 *   passed its stage's holdMinutes checks, so Flagger walks exactly the expanded schedule; a `pre-rollout` webhook
 *   arms it at 0 %. The schedule is in the webhooks' metadata.
 * - `threshold` = failedChecksBeforeRollback. Flagger counts failed checks over the whole analysis (a successful
 *   check does not reset the count), so 5 failures roll back whether or not they are consecutive: never later than
 *   "5 consecutive failed checks", possibly sooner.
 */
import * as pulumi from "@pulumi/pulumi";
import { METRICS, TRAFFIC_COMMAND } from "@bizra/contract";
import type { StackConfig } from "./config";
import { FLAGGER_API_VERSION, type Canary, type CanaryAnalysis, type CanaryMetric, type CanaryWebhook, type MetricTemplate } from "./crds/flagger";
import { registerCustomResource } from "./crds/register";
import { apiErrorRatio, histogramQuantile, poiSuccessRatio, promNumber } from "./promql";
import { holdGateUrl as inClusterHoldGateUrl } from "./hold-gate";
import { API_PORT_NAME } from "./node";
import type { Slo, SloId, SloTable } from "./slo";
import { componentType, withFormerTypes } from "./component";

/** The default analysis interval (`bizra:canary.intervalSeconds`): one check a minute. */
export const DEFAULT_CANARY_INTERVAL_SECONDS = 60;

/** Flagger's duration for an interval: `1m` for whole minutes, else seconds (`20s`). Pure. */
export function canaryInterval(intervalSeconds: number = DEFAULT_CANARY_INTERVAL_SECONDS): string {
  return intervalSeconds % 60 === 0 ? `${intervalSeconds / 60}m` : `${intervalSeconds}s`;
}

export type CanaryStage = StackConfig["canary"]["stages"][number];

/** One check of the rollout (one per analysis interval). */
export interface CanaryCheck {
  /** 1-based number of the check (the minute of the rollout at the default one-minute interval). */
  readonly minute: number;
  /** 0-based index of the config stage. */
  readonly stage: number;
  /** Percent of traffic on the canary during this check. */
  readonly weight: number;
}

/**
 * The schedule of checks the stages describe: a stage held N minutes is N * 60 / intervalSeconds checks, rounded up
 * as the hold gate rounds (N checks at the default one-minute interval). Pure.
 */
export function expandStages(stages: readonly CanaryStage[], intervalSeconds: number = DEFAULT_CANARY_INTERVAL_SECONDS): CanaryCheck[] {
  const checks: CanaryCheck[] = [];
  stages.forEach((s, stage) => {
    const n = Math.max(1, Math.ceil((s.holdMinutes * 60) / intervalSeconds));
    for (let i = 0; i < n; i++) checks.push({ minute: checks.length + 1, stage, weight: s.weight });
  });
  return checks;
}

/** `10:60,50:120,100:180`: the schedule in the hold gate's metadata. */
export function scheduleText(stages: readonly CanaryStage[]): string {
  return stages.map((s) => `${s.weight}:${s.holdMinutes}`).join(",");
}

/**
 * The SLO-table canary checks and the PromQL each MetricTemplate runs against the canary pods. Each must be
 * satisfiable by a healthy release under realistic traffic (distinct attestations, a few invalid ones). The verify
 * cache hit rate is not one: a hit needs an attestation seen before, which the replay window rejects, so a high hit
 * rate and the success rate exclude each other (its SLO is `advisory`, measured by the HTTP load bench only).
 */
export const CANARY_CHECKS = ["apiP99Latency", "apiErrorRate", "poiVerifySuccessRate"] as const satisfies readonly SloId[];
export type CanaryCheckId = (typeof CANARY_CHECKS)[number];

/** Flagger template variables select the canary pods only (`<target>-<rs>-<pod>`; primary pods have one more segment). */
const CANARY_PODS = `namespace="{{ namespace }}", pod=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"`;
const WINDOW = "{{ interval }}";

export const CANARY_QUERIES: Record<CanaryCheckId, string> = {
  apiP99Latency: histogramQuantile(0.99, METRICS.httpRequestDurationSeconds, CANARY_PODS, WINDOW),
  apiErrorRate: apiErrorRatio(CANARY_PODS, WINDOW),
  poiVerifySuccessRate: poiSuccessRatio(CANARY_PODS, WINDOW),
};

/** Object and check names of the canary checks. */
export const CHECK_SLUGS: Record<CanaryCheckId, string> = {
  apiP99Latency: "api-p99-latency",
  apiErrorRate: "api-error-rate",
  poiVerifySuccessRate: "poi-success-rate",
};
const kebab = (id: CanaryCheckId) => CHECK_SLUGS[id];

export function metricTemplateName(appName: string, id: CanaryCheckId): string {
  return `${appName}-${kebab(id)}`;
}

/** Flagger's bounds are inclusive; an `lt` SLO becomes a `max` at the same value. */
export function thresholdRange(slo: Pick<Slo, "comparison" | "value">): { min?: number; max?: number } {
  return slo.comparison === "gte" ? { min: slo.value } : { max: slo.value };
}

export interface CanaryTarget {
  readonly appName: string;
  readonly namespace: string;
  readonly prometheusAddress: string;
  readonly labels: Record<string, string>;
}

/** The MetricTemplates. Pure. */
export function metricTemplates(slos: SloTable, t: CanaryTarget): MetricTemplate[] {
  return CANARY_CHECKS.map((id) => ({
    apiVersion: FLAGGER_API_VERSION,
    kind: "MetricTemplate",
    metadata: {
      name: metricTemplateName(t.appName, id),
      namespace: t.namespace,
      labels: t.labels,
      annotations: { "bizra.io/slo": `${id} ${slos[id].comparison} ${promNumber(slos[id].value)} ${slos[id].unit}` },
    },
    spec: { provider: { type: "prometheus", address: t.prometheusAddress }, query: CANARY_QUERIES[id] },
  }));
}

/** The Canary's metric checks: one per template, bounds from the SLO table. Pure. */
export function canaryMetrics(slos: SloTable, t: Pick<CanaryTarget, "appName" | "namespace">, intervalSeconds: number = DEFAULT_CANARY_INTERVAL_SECONDS): CanaryMetric[] {
  return CANARY_CHECKS.map((id) => ({
    name: kebab(id),
    templateRef: { name: metricTemplateName(t.appName, id), namespace: t.namespace },
    thresholdRange: thresholdRange(slos[id]),
    interval: canaryInterval(intervalSeconds),
  }));
}

/** The Canary's webhooks to the hold gate, in the order Flagger meets them. */
export const HOLD_GATE_HOOKS = ["pre-rollout", "confirm-traffic-increase", "confirm-promotion"] as const;

/** The gate the Canary calls: `bizra:canary.holdGateUrl`, else the in-cluster gate the program deploys. */
export function resolvedHoldGateUrl(cfg: Pick<StackConfig, "appName" | "namespace" | "canary">): string {
  return cfg.canary.holdGateUrl ?? inClusterHoldGateUrl(cfg.appName, cfg.namespace);
}

export type LoadTesterConfig = NonNullable<StackConfig["canary"]["loadTester"]>;
/**
 * How long one run of the traffic lasts: a tenth (at least 2 s) shorter than the interval. Flagger's load tester
 * skips a command that is still running ("command skipped ... is already running"), so a run as long as the interval
 * (plus node's start) made every other interval's call a no-op and left the next check's window without canary
 * traffic ("no values found"). Pure.
 */
export function trafficSeconds(intervalSeconds: number): number {
  return intervalSeconds - Math.max(2, Math.ceil(intervalSeconds / 10));
}


/**
 * The `rollout` webhook that has Flagger's load tester run the canary traffic for one interval against the canary
 * and primary Services Flagger generates (`<mesh service>-canary`, `-primary`), straight to the pods, not through
 * the mesh. Pure.
 */
export function loadTesterWebhook(lt: LoadTesterConfig, t: { appName: string; namespace: string; apiPort: number }, intervalSeconds: number = DEFAULT_CANARY_INTERVAL_SECONDS): CanaryWebhook {
  const svc = (suffix: string) => `http://${meshServiceName(t.appName)}-${suffix}.${t.namespace}:${t.apiPort}`;
  const cmd = [...TRAFFIC_COMMAND, "--target", svc("canary"), "--target", svc("primary"), "--validator-id", lt.validatorId, "--key-file", lt.keyFile, "--rate", String(lt.ratePerSecond), "--duration", `${trafficSeconds(intervalSeconds)}s`, "--invalid-every", String(lt.invalidEvery)];
  // logCmdOutput: the load tester logs the counts the command prints, one line per interval
  return { name: "load-traffic", type: "rollout", url: lt.url, timeout: "15s", metadata: { type: "cmd", cmd: cmd.join(" "), logCmdOutput: "true" } };
}

/** Flagger's analysis for the stages (mapping in the header comment). Pure. */
export function canaryAnalysis(
  stages: readonly CanaryStage[],
  opts: { failedChecksBeforeRollback: number; metrics: CanaryMetric[]; holdGateUrl?: string; loadTester?: CanaryWebhook; intervalSeconds?: number },
): CanaryAnalysis {
  const interval = canaryInterval(opts.intervalSeconds);
  const weights = stages.map((s) => s.weight);
  const notIncreasing = weights.some((w, i) => {
    const prev = weights[i - 1];
    return prev !== undefined && w <= prev;
  });
  if (notIncreasing) throw new Error(`stage weights must be strictly increasing: ${weights.join(", ")}`);
  // pre-rollout arms the gate for the revision at 0 %; the confirm hooks are counted (node-app/src/canary/hold.ts).
  const webhooks: CanaryWebhook[] | undefined = opts.holdGateUrl
    ? HOLD_GATE_HOOKS.map((type) => ({
        name: `hold-${type}`,
        type,
        url: opts.holdGateUrl as string,
        timeout: "10s",
        metadata: { schedule: scheduleText(stages), interval, hook: type },
      }))
    : undefined;
  // The load tester runs once more as a pre-rollout hook (after the gate's): Flagger calls `rollout` hooks just before
  // each interval's metric checks and not at 0 %, so without it the first check at the first weight would find no
  // canary traffic in its window ("no values found": a failed check for every release).
  const loadHooks = opts.loadTester ? [{ ...opts.loadTester, name: `${opts.loadTester.name}-pre-rollout`, type: "pre-rollout" as const }, opts.loadTester] : [];
  const hooks = [...(webhooks ?? []), ...loadHooks];
  return {
    interval,
    threshold: opts.failedChecksBeforeRollback,
    stepWeights: weights,
    metrics: opts.metrics,
    ...(hooks.length > 0 ? { webhooks: hooks } : {}),
  };
}

export type CanaryConfig = Pick<StackConfig, "appName" | "namespace" | "apiPort" | "canary" | "slos">;

/**
 * The apex Service Flagger generates and routes by weight (with `-primary` and `-canary` beside it). Flagger takes
 * over whatever Service has the apex name and rewrites its selector, so the apex must not be the Service the program
 * manages (`<app>`, which selects primary and canary pods alike for scraping and peer traffic); two owners of one
 * object would undo each other on every `pulumi up`.
 */
export function meshServiceName(appName: string): string {
  return `${appName}-mesh`;
}

/** The Canary. Pure. */
export function canaryResource(cfg: CanaryConfig, labels: Record<string, string>): Canary {
  return {
    apiVersion: FLAGGER_API_VERSION,
    kind: "Canary",
    metadata: { name: cfg.appName, namespace: cfg.namespace, labels },
    spec: {
      provider: cfg.canary.provider,
      targetRef: { apiVersion: "apps/v1", kind: "Deployment", name: cfg.appName },
      autoscalerRef: { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", name: cfg.appName },
      progressDeadlineSeconds: 600,
      // portDiscovery adds the metrics port to the services Flagger generates, so they stay scrapeable.
      service: { name: meshServiceName(cfg.appName), port: cfg.apiPort, portName: API_PORT_NAME, targetPort: API_PORT_NAME, portDiscovery: true },
      analysis: canaryAnalysis(cfg.canary.stages, {
        failedChecksBeforeRollback: cfg.canary.failedChecksBeforeRollback,
        metrics: canaryMetrics(cfg.slos, cfg, cfg.canary.intervalSeconds),
        holdGateUrl: resolvedHoldGateUrl(cfg),
        intervalSeconds: cfg.canary.intervalSeconds,
        ...(cfg.canary.loadTester ? { loadTester: loadTesterWebhook(cfg.canary.loadTester, cfg, cfg.canary.intervalSeconds) } : {}),
      }),
    },
  };
}

/** What the `canary` stack output reports. */
export function canarySummary(stages: readonly CanaryStage[], holdGateUrl: string | undefined, intervalSeconds: number = DEFAULT_CANARY_INTERVAL_SECONDS) {
  const checks = expandStages(stages, intervalSeconds);
  return {
    interval: canaryInterval(intervalSeconds),
    stages: stages.map((s) => ({ weight: s.weight, holdMinutes: s.holdMinutes })),
    plannedChecks: checks.length,
    stepWeights: stages.map((s) => s.weight),
    holds: holdGateUrl
      ? `enforced by the hold gate ${holdGateUrl}: each stage held its holdMinutes (a check every ${canaryInterval(intervalSeconds)}) before the next step`
      : "not enforced: no bizra:canary.holdGateUrl, Flagger advances after one successful check per stage (docs/canary.md)",
  };
}

export interface NodeCanaryArgs {
  /** Validated stack config (the parts this component uses). */
  readonly config: CanaryConfig;
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class NodeCanary extends pulumi.ComponentResource {
  constructor(name: string, args: NodeCanaryArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("canary", "NodeCanary"), name, {}, withFormerTypes(opts, "bizra:delivery:NodeCanary"));
    const cfg = args.config;
    const target: CanaryTarget = { appName: cfg.appName, namespace: cfg.namespace, prometheusAddress: cfg.canary.prometheusAddress, labels: args.labels };
    const templates = metricTemplates(cfg.slos, target).map((t) =>
      registerCustomResource(t.metadata.name, t, { parent: this }, args.namespace),
    );
    registerCustomResource(name, canaryResource(cfg, args.labels), { parent: this, dependsOn: templates }, args.namespace);
    this.registerOutputs(canarySummary(cfg.canary.stages, resolvedHoldGateUrl(cfg), cfg.canary.intervalSeconds));
  }
}
