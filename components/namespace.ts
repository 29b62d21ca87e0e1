import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { componentType, withFormerTypes } from "./component";

export interface NodeNamespaceArgs {
  /** The namespace name. */
  readonly name: string;
  /** Labels added to the namespace. */
  readonly labels: Record<string, string>;
}

/** Pod Security Admission at `restricted`: the API server itself refuses pods that drop the hardening. */
export function namespaceLabels(labels: Record<string, string>): Record<string, string> {
  return {
    ...labels,
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
  };
}

/** The node's Namespace, with Pod Security Admission at `restricted`. */
export class NodeNamespace extends pulumi.ComponentResource {
  /** The name as an Output of the Namespace resource: an object that uses it is created after the namespace. */
  public readonly name: pulumi.Output<string>;
  /** The same name as configured, for pure builders that write it into a spec (a ServiceMonitor's namespaceSelector). */
  public readonly configuredName: string;

  constructor(name: string, args: NodeNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("namespace", "NodeNamespace"), name, {}, withFormerTypes(opts, "bizra:node:Namespace"));
    const ns = new k8s.core.v1.Namespace(
      name,
      { metadata: { name: args.name, labels: namespaceLabels(args.labels) } },
      { parent: this },
    );
    this.name = ns.metadata.name;
    this.configuredName = args.name;
    this.registerOutputs({ name: this.name });
  }
}
