/**
 * The ServiceMonitor of the node: Prometheus Operator scrapes the node Service's `metrics` port every 5 s and keeps
 * only the node's own series plus the process metrics the resource alerts read. Pure builder, thin component.
 */
import * as pulumi from "@pulumi/pulumi";
import { METRICS_PATH } from "@bizra/contract";
import { MONITORING_API_VERSION, type ServiceMonitor } from "./crds/monitoring";
import { registerCustomResource } from "./crds/register";
import { selectorLabels } from "./labels";
import type { NodeNamespace } from "./namespace";
import { METRICS_PORT_NAME } from "./node";
import { componentType, withFormerTypes } from "./component";

export const SCRAPE_INTERVAL = "5s";
/** Series the node exports that dashboards and alerts read. `up` and `scrape_*` are synthetic and never dropped. */
export const KEPT_NODE_SERIES = "bizra_(poi|finality|consensus|http)_.*";
/** prom-client default metrics the resource alerts and the dashboard (memory, CPU, restarts) read. */
export const KEPT_PROCESS_SERIES = ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds"] as const;
export const KEEP_REGEX = `${KEPT_NODE_SERIES}|${KEPT_PROCESS_SERIES.join("|")}`;

export function serviceMonitor(appName: string, namespace: string, labels: Record<string, string>): ServiceMonitor {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: "ServiceMonitor",
    metadata: { name: appName, namespace, labels },
    spec: {
      selector: { matchLabels: selectorLabels(appName) },
      namespaceSelector: { matchNames: [namespace] },
      endpoints: [
        {
          port: METRICS_PORT_NAME,
          path: METRICS_PATH,
          scheme: "http",
          interval: SCRAPE_INTERVAL,
          scrapeTimeout: "4s",
          metricRelabelings: [{ sourceLabels: ["__name__"], regex: KEEP_REGEX, action: "keep" }],
        },
      ],
    },
  };
}

export interface NodeServiceMonitorArgs {
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** The node's namespace: the object goes there, selects Services there, and is created after it. */
  readonly namespace: Pick<NodeNamespace, "name" | "configuredName">;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class NodeServiceMonitor extends pulumi.ComponentResource {
  constructor(name: string, args: NodeServiceMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("serviceMonitor", "NodeServiceMonitor"), name, {}, withFormerTypes(opts, "bizra:observability:NodeServiceMonitor"));
    const sm = serviceMonitor(args.appName, args.namespace.configuredName, args.labels);
    registerCustomResource(name, sm, { parent: this }, args.namespace.name);
    this.registerOutputs({ interval: SCRAPE_INTERVAL, keep: KEEP_REGEX });
  }
}
