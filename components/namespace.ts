import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

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

export class NodeNamespace extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: NodeNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bizra:node:Namespace", name, {}, opts);
    const ns = new k8s.core.v1.Namespace(
      name,
      { metadata: { name: args.name, labels: namespaceLabels(args.labels) } },
      { parent: this },
    );
    this.name = ns.metadata.name;
    this.registerOutputs({ name: this.name });
  }
}
