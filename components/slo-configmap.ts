/**
 * The resolved SLO table as a ConfigMap `<appName>-slo` (data key `slo.json`) in the node namespace: the
 * quality-gates policy pack reads the thresholds of the stack being deployed from this object.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { POST_DEPLOY_REPORT_ANNOTATION, SLO_CONFIGMAP_KEY, type SloDocumentEntry } from "@bizra/contract";
import type { SloId, SloTable } from "./slo";
import { componentType, withFormerTypes } from "./component";

export { SLO_CONFIGMAP_KEY };

/** id -> value, unit, comparison, severity. Pure. */
export function sloDocument(slos: SloTable): Record<SloId, SloDocumentEntry> {
  return Object.fromEntries(
    Object.values(slos).map((s) => [s.id, { value: s.value, unit: s.unit, comparison: s.comparison, severity: s.severity }]),
  ) as Record<SloId, SloDocumentEntry>;
}

export function sloConfigMapName(appName: string): string {
  return `${appName}-slo`;
}

export interface SloConfigMapArgs {
  /** The resolved SLO table of the stack. */
  readonly slos: SloTable;
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
  /** `bizra:postDeployReport`, when set. */
  readonly postDeployReport?: { readonly stack: string; readonly maxAgeHours: number };
}

export class SloConfigMap extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: SloConfigMapArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("sloConfigmap", "SloConfigMap"), name, {}, withFormerTypes(opts, "bizra:observability:SloConfigMap"));
    const cm = new k8s.core.v1.ConfigMap(
      name,
      {
        metadata: {
          name: sloConfigMapName(args.appName),
          namespace: args.namespace,
          labels: args.labels,
          ...(args.postDeployReport ? { annotations: { [POST_DEPLOY_REPORT_ANNOTATION]: JSON.stringify(args.postDeployReport) } } : {}),
        },
        data: { [SLO_CONFIGMAP_KEY]: JSON.stringify(sloDocument(args.slos), null, 2) + "\n" },
      },
      { parent: this },
    );
    this.name = cm.metadata.name;
    this.registerOutputs({ name: this.name });
  }
}
