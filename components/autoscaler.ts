import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { METRICS } from "@bizra/contract";
import type { Slo } from "./slo";
import { componentType, withFormerTypes } from "./component";

/** The Pods metric the HPA reads: what prometheus-adapter serves for `rate(bizra_poi_verify_total[1m])` under its
 * usual `^(.*)_total$ -> ${1}_per_second` naming rule. */
export const HPA_METRIC_NAME = METRICS.poiVerifyTotal.replace(/_total$/, "_per_second");

export interface NodeAutoscalerArgs {
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** The node Deployment the HPA scales. */
  readonly deploymentName: pulumi.Input<string>;
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
  /** Lower HPA bound (`bizra:hpa.minReplicas`). */
  readonly minReplicas: number;
  /** Upper HPA bound (`bizra:hpa.maxReplicas`). */
  readonly maxReplicas: number;
  /** The throughput SLO; the HPA target is a share of it per pod. */
  readonly throughputSlo: Pick<Slo, "value">;
  /** Scale out when a pod passes this share of the throughput SLO. */
  readonly targetShareOfThroughputSlo: number;
}

/** Per-pod target of verifications per second (a whole number, as a Kubernetes quantity). */
export function hpaTargetAverageValue(throughputSlo: Pick<Slo, "value">, share: number): string {
  return String(Math.round(throughputSlo.value * share));
}

export function hpaSpec(args: NodeAutoscalerArgs): k8s.types.input.autoscaling.v2.HorizontalPodAutoscalerSpec {
  return {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: args.deploymentName },
    minReplicas: args.minReplicas,
    maxReplicas: args.maxReplicas,
    metrics: [
      {
        type: "Pods",
        pods: {
          metric: { name: HPA_METRIC_NAME },
          target: { type: "AverageValue", averageValue: hpaTargetAverageValue(args.throughputSlo, args.targetShareOfThroughputSlo) },
        },
      },
    ],
    behavior: {
      scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] },
      scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Pods", value: 1, periodSeconds: 120 }] },
    },
  };
}

/** autoscaling/v2 HPA on the node's verification rate per pod. */
export class NodeAutoscaler extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: NodeAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("autoscaler", "NodeAutoscaler"), name, {}, withFormerTypes(opts, "bizra:node:Autoscaler"));
    const hpa = new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      name,
      { metadata: { name: args.appName, namespace: args.namespace, labels: args.labels }, spec: hpaSpec(args) },
      { parent: this },
    );
    this.name = hpa.metadata.name;
    this.registerOutputs({ name: this.name, metric: HPA_METRIC_NAME });
  }
}
