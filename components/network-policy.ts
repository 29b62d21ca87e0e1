import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { componentLabels } from "./labels";
import { SIGNER_CLIENT_LABEL, signerComponentLabels } from "./signer";
import { componentType, withFormerTypes } from "./component";

type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

export interface NodeNetworkPolicyArgs {
  /** Namespace the policies live in (and protect). */
  readonly namespace: pulumi.Input<string>;
  /** The node's name (`bizra:appName`); names and selects its objects. */
  readonly appName: string;
  /** API port (`bizra:apiPort`). */
  readonly apiPort: number;
  /** Metrics port (`bizra:metricsPort`). */
  readonly metricsPort: number;
  /** Signer port (`bizra:signer.port`): reachable only from pods labelled `SIGNER_CLIENT_LABEL`. */
  readonly signerPort: number;
  /** Port of the shared state (`bizra:stateRedisUrl`), when configured: the verifiers' one extra egress. */
  readonly stateRedisPort?: number;
  /** Namespace whose Prometheus scrapes the metrics port. */
  readonly monitoringNamespace: string;
  /** Namespace of the service mesh ingress that may call the API. */
  readonly meshNamespace: string;
  /** Namespace of Flagger's load tester, when the Canary drives traffic with it (`bizra:canary.loadTester`). */
  readonly loadTesterNamespace?: string;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

const namespaceSelector = (name: string) => ({ matchLabels: { "kubernetes.io/metadata.name": name } });

/** Default deny in both directions, then one policy per explicit allow. Pure: name -> spec. */
export function networkPolicySpecs(args: Omit<NodeNetworkPolicyArgs, "namespace" | "labels">): Record<string, NetworkPolicySpec> {
  const nodePods = { matchLabels: componentLabels() };
  const signerPods = { matchLabels: signerComponentLabels() };
  const tcp = (port: number) => ({ protocol: "TCP", port });
  return {
    "default-deny": { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
    "allow-dns-egress": {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ namespaceSelector: namespaceSelector("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    },
    "allow-metrics-scrape": {
      podSelector: nodePods,
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: namespaceSelector(args.monitoringNamespace) }], ports: [tcp(args.metricsPort)] }],
    },
    "allow-api-from-mesh": {
      podSelector: nodePods,
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: namespaceSelector(args.meshNamespace) }], ports: [tcp(args.apiPort)] }],
    },
    "allow-signer-clients": {
      podSelector: signerPods,
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { ...SIGNER_CLIENT_LABEL } } }], ports: [tcp(args.signerPort)] }],
    },
    "allow-signer-metrics-scrape": {
      podSelector: signerPods,
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: namespaceSelector(args.monitoringNamespace) }], ports: [tcp(args.metricsPort)] }],
    },
    // the Lease lives in the API server; its address is the cluster's, so only the ports are named
    "allow-signer-apiserver-egress": {
      podSelector: signerPods,
      policyTypes: ["Egress"],
      egress: [{ ports: [tcp(443), tcp(6443)] }],
    },
    ...(args.stateRedisPort !== undefined
      ? {
          "allow-shared-state-egress": {
            podSelector: nodePods,
            policyTypes: ["Egress"],
            egress: [{ ports: [tcp(args.stateRedisPort)] }],
          },
        }
      : {}),
    ...(args.loadTesterNamespace
      ? {
          "allow-api-from-load-tester": {
            podSelector: nodePods,
            policyTypes: ["Ingress"],
            ingress: [{ from: [{ namespaceSelector: namespaceSelector(args.loadTesterNamespace) }], ports: [tcp(args.apiPort)] }],
          },
        }
      : {}),
    "allow-peer-traffic": {
      podSelector: nodePods,
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: nodePods }], ports: [tcp(args.apiPort)] }],
      egress: [{ to: [{ podSelector: nodePods }], ports: [tcp(args.apiPort)] }],
    },
  };
}

/** Default-deny NetworkPolicy for the namespace plus the explicit allows the node needs. */
export class NodeNetworkPolicy extends pulumi.ComponentResource {
  public readonly policyNames: string[];

  constructor(name: string, args: NodeNetworkPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("networkPolicy", "NodeNetworkPolicy"), name, {}, withFormerTypes(opts, "bizra:node:NetworkPolicy"));
    const specs = networkPolicySpecs(args);
    this.policyNames = Object.keys(specs).map((n) => `${args.appName}-${n}`);
    for (const [suffix, spec] of Object.entries(specs)) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${suffix}`,
        { metadata: { name: `${args.appName}-${suffix}`, namespace: args.namespace, labels: args.labels }, spec },
        { parent: this },
      );
    }
    this.registerOutputs({ policyNames: this.policyNames });
  }
}
