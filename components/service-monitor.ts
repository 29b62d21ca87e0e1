/**
 * The ServiceMonitors of the node and of its signer: Prometheus Operator scrapes each Service's `metrics` port every
 * 5 s and keeps only the node's own series plus the process metrics the resource alerts read. The signer's is needed
 * because PoI generation (`bizra_poi_generate_seconds`) happens only in the signer pods. Pure builders, thin component.
 */
import * as pulumi from "@pulumi/pulumi";
import { METRICS_PATH } from "@bizra/contract";
import { MONITORING_API_VERSION, type ServiceMonitor } from "./crds/monitoring";
import { registerCustomResource } from "./crds/register";
import { selectorLabels, type NodeLabels } from "./labels";
import type { NodeNamespace } from "./namespace";
import { METRICS_PORT_NAME } from "./node";
import { componentType, withFormerTypes } from "./component";
import { SIGNER_METRICS_SERVICE_LABEL, SIGNER_NAME_LABEL, signerLabels, signerSelector } from "./signer";

export const SCRAPE_INTERVAL = "5s";
/** Series the node exports that dashboards and alerts read. `up` and `scrape_*` are synthetic and never dropped. */
export const KEPT_NODE_SERIES = "bizra_(poi|finality|consensus|http)_.*";
/** prom-client default metrics the resource alerts and the dashboard (memory, CPU, restarts) read. */
export const KEPT_PROCESS_SERIES = ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds"] as const;
export const KEEP_REGEX = `${KEPT_NODE_SERIES}|${KEPT_PROCESS_SERIES.join("|")}`;

/** Scrapes the Services whose labels are `selector` (the node's by default); `name` is also their `job` label. */
export function serviceMonitor(
  appName: string,
  namespace: string,
  labels: Record<string, string>,
  selector: Record<string, string> = selectorLabels(appName),
  name: string = appName,
): ServiceMonitor {
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: "ServiceMonitor",
    metadata: { name, namespace, labels },
    spec: {
      selector: { matchLabels: selector },
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

/**
 * The signer's ServiceMonitor: its Service `<app>-signer-metrics` (every signer pod; the Service `<app>-signer` reaches
 * the active one only). The job label stays `<app>-signer`: the operator reads it from the Service's `SIGNER_NAME_LABEL`.
 */
export function signerServiceMonitor(appName: string, namespace: string, nodeLabels: NodeLabels): ServiceMonitor {
  const sm = serviceMonitor(appName, namespace, signerLabels(appName, nodeLabels), { ...signerSelector(appName), ...SIGNER_METRICS_SERVICE_LABEL }, `${appName}-signer`);
  return { ...sm, spec: { ...sm.spec, jobLabel: SIGNER_NAME_LABEL } };
}

export interface NodeServiceMonitorArgs {
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** The node's namespace: the objects go there, select Services there, and are created after it. */
  readonly namespace: Pick<NodeNamespace, "name" | "configuredName">;
  /** Labels of the node deployment (`nodeLabels`), put on the node's ServiceMonitor; the signer's derive from them. */
  readonly labels: NodeLabels;
}

export class NodeServiceMonitor extends pulumi.ComponentResource {
  constructor(name: string, args: NodeServiceMonitorArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("serviceMonitor", "NodeServiceMonitor"), name, {}, withFormerTypes(opts, "bizra:observability:NodeServiceMonitor"));
    const sm = serviceMonitor(args.appName, args.namespace.configuredName, args.labels);
    registerCustomResource(name, sm, { parent: this }, args.namespace.name);
    const signer = signerServiceMonitor(args.appName, args.namespace.configuredName, args.labels);
    registerCustomResource(`${name}-signer`, signer, { parent: this }, args.namespace.name);
    this.registerOutputs({ interval: SCRAPE_INTERVAL, keep: KEEP_REGEX, jobs: [sm.metadata.name, signer.metadata.name] });
  }
}
