/**
 * The canary hold gate (docs/canary.md): the node image's `HOLD_GATE_COMMAND` (node-app/src/cli/hold-gate.ts) as a
 * one-replica Deployment, a Service `<app>-hold-gate` (port 80 → the gate's port, named `http`) and a NetworkPolicy
 * that lets only the Flagger namespace reach it. Flagger calls it as the Canary's `pre-rollout`,
 * `confirm-traffic-increase` and `confirm-promotion` webhooks; it approves a step only after the current stage's
 * holdMinutes one-minute checks.
 *
 * The gate needs no egress: the namespace's default-deny stays in force for it (DNS egress is allowed to every pod by
 * `allow-dns-egress`, which it does not use). Its state is in memory, so it runs one replica with the `Recreate`
 * strategy: two pods would split the counts. A restart only lengthens holds (node-app/src/canary/hold.ts).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_HOLD_GATE_PORT, ENV, HOLD_GATE_COMMAND, HOLD_GATE_ROUTE, ROUTES } from "@bizra/contract";
import { awaitTimeoutMetadata } from "./config";
import { API_PORT_NAME, type NodeWorkloadConfig } from "./node";
import { hardenedContainerSecurity, hardenedPod, httpProbes, IMAGE_PULL_POLICY, TMP_MOUNT, tmpVolume } from "./pod-security";
import { componentType, withFormerTypes } from "./component";

export const HOLD_GATE_SERVICE_PORT = 80;

export function holdGateName(appName: string): string {
  return `${appName}-hold-gate`;
}

/**
 * The in-cluster URL Flagger calls: `http://<app>-hold-gate.<namespace>.svc.cluster.local/gate`. Fully qualified:
 * the Canary CRD declares webhook urls `format: url`, which wants a letters-only top-level label.
 */
export function holdGateUrl(appName: string, namespace: string): string {
  return `http://${holdGateName(appName)}.${namespace}.svc.cluster.local${HOLD_GATE_ROUTE}`;
}

/** Pod labels: deliberately NOT the node's component labels, so no node policy or Service selects the gate. */
export function holdGateLabels(appName: string, stackLabels: Record<string, string>): Record<string, string> {
  return {
    "app.kubernetes.io/name": holdGateName(appName),
    "app.kubernetes.io/part-of": "bizra",
    "app.kubernetes.io/component": "hold-gate",
    ...(stackLabels["app.kubernetes.io/instance"] ? { "app.kubernetes.io/instance": stackLabels["app.kubernetes.io/instance"] } : {}),
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

export function holdGateSelector(appName: string): Record<string, string> {
  return { "app.kubernetes.io/name": holdGateName(appName), "app.kubernetes.io/component": "hold-gate" };
}

/** The gate's pod spec: the node's pod and container security settings, its own command, port, probes, resources. Pure. */
export function holdGatePodSpec(
  cfg: NodeWorkloadConfig,
  refs: { image: pulumi.Input<string>; serviceAccountName: pulumi.Input<string> },
): k8s.types.input.core.v1.PodSpec {
  return {
    ...hardenedPod(refs.serviceAccountName),
    terminationGracePeriodSeconds: 10,
    containers: [
      {
        name: "hold-gate",
        image: refs.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        command: [...HOLD_GATE_COMMAND],
        ports: [{ name: API_PORT_NAME, containerPort: DEFAULT_HOLD_GATE_PORT, protocol: "TCP" }],
        env: [
          { name: "NODE_ENV", value: "production" },
          { name: ENV.holdGatePort, value: String(DEFAULT_HOLD_GATE_PORT) },
          { name: ENV.host, value: "0.0.0.0" },
          { name: ENV.logLevel, value: cfg.logLevel },
        ],
        resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
        // The gate answers on /healthz only; it is ready as soon as it is live.
        ...httpProbes(API_PORT_NAME, { live: ROUTES.healthz, ready: ROUTES.healthz }),
        securityContext: hardenedContainerSecurity(),
        volumeMounts: [TMP_MOUNT],
      },
    ],
    volumes: [tmpVolume("16Mi")],
  };
}

/** Ingress to the gate from Flagger's namespace only. Pure. */
export function holdGateNetworkPolicySpec(appName: string, flaggerNamespace: string): k8s.types.input.networking.v1.NetworkPolicySpec {
  return {
    podSelector: { matchLabels: holdGateSelector(appName) },
    policyTypes: ["Ingress"],
    ingress: [
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": flaggerNamespace } } }],
        ports: [{ protocol: "TCP", port: DEFAULT_HOLD_GATE_PORT }],
      },
    ],
  };
}

export interface HoldGateArgs {
  /** Validated stack config (the parts the workload uses). */
  readonly config: NodeWorkloadConfig;
  /** The Namespace resource's name (orders the namespace first). */
  readonly namespace: pulumi.Input<string>;
  /** Digest-pinned image reference of the node. */
  readonly image: pulumi.Input<string>;
  /** The node's ServiceAccount (no token is mounted). */
  readonly serviceAccountName: pulumi.Input<string>;
  /** Flagger's namespace: the only one allowed to call the gate. */
  readonly flaggerNamespace: string;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class HoldGate extends pulumi.ComponentResource {
  public readonly serviceName: pulumi.Output<string>;
  /** The URL the Canary's webhooks call. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: HoldGateArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("holdGate", "HoldGate"), name, {}, withFormerTypes(opts, "bizra:delivery:HoldGate"));
    const cfg = args.config;
    const gateName = holdGateName(cfg.appName);
    const labels = holdGateLabels(cfg.appName, args.labels);
    const metadata = { name: gateName, namespace: args.namespace, labels };
    const awaited = { ...metadata, ...awaitTimeoutMetadata(cfg.awaitTimeoutSeconds) };
    const child = { parent: this };

    new k8s.apps.v1.Deployment(
      name,
      {
        metadata: awaited,
        spec: {
          replicas: 1,
          revisionHistoryLimit: 3,
          selector: { matchLabels: holdGateSelector(cfg.appName) },
          // In-memory counts: never two pods at once.
          strategy: { type: "Recreate" },
          template: { metadata: { labels }, spec: holdGatePodSpec(cfg, { image: args.image, serviceAccountName: args.serviceAccountName }) },
        },
      },
      child,
    );
    const service = new k8s.core.v1.Service(
      name,
      {
        metadata,
        spec: {
          type: "ClusterIP",
          selector: holdGateSelector(cfg.appName),
          ports: [{ name: API_PORT_NAME, port: HOLD_GATE_SERVICE_PORT, targetPort: API_PORT_NAME, protocol: "TCP" }],
        },
      },
      child,
    );
    new k8s.networking.v1.NetworkPolicy(
      name,
      { metadata: { ...metadata, name: `${gateName}-from-flagger` }, spec: holdGateNetworkPolicySpec(cfg.appName, args.flaggerNamespace) },
      child,
    );
    this.serviceName = service.metadata.name;
    this.url = pulumi.output(args.namespace).apply((ns) => holdGateUrl(cfg.appName, ns));
    this.registerOutputs({ serviceName: this.serviceName, url: this.url });
  }
}
