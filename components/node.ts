import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ENV, METRICS_PATH, ROUTES } from "@bizra/contract";
import { skipAwaitMetadata, type StackConfig } from "./config";
import { componentLabels, nodeLabels, selectorLabels } from "./labels";
import { hardenedContainerSecurity, hardenedPod, httpProbes, IMAGE_PULL_POLICY, TMP_MOUNT, tmpVolume } from "./pod-security";

export { NODE_UID } from "./pod-security";

/** Where the signing-key Secret is mounted, read-only. */
export const SIGNING_KEY_DIR = "/var/run/secrets/bizra";
export const SIGNING_KEY_FILE = "signing-key";
export const API_PORT_NAME = "http";
export const METRICS_PORT_NAME = "metrics";

type Input = k8s.types.input.core.v1.PodSpec;

/** The parts of the stack config that shape the node workload. */
export type NodeWorkloadConfig = Pick<
  StackConfig,
  | "stack"
  | "appName"
  | "replicas"
  | "resources"
  | "apiPort"
  | "metricsPort"
  | "runtimeFlags"
  | "logLevel"
  | "topologySpread"
  | "slos"
> &
  Partial<Pick<StackConfig, "skipAwait">>;

/** Runtime flags and consensus thresholds the node reads from its environment (ConfigMap data). */
export function runtimeFlagData(cfg: NodeWorkloadConfig): Record<string, string> {
  return {
    [ENV.batchVerify]: String(cfg.runtimeFlags.POI_BATCH_VERIFY),
    [ENV.useRust]: String(cfg.runtimeFlags.BIZRA_USE_RUST),
    [ENV.apiPort]: String(cfg.apiPort),
    [ENV.metricsPort]: String(cfg.metricsPort),
    [ENV.logLevel]: cfg.logLevel,
    [ENV.fastFinalityBp]: String(cfg.slos.fastFinalityBp.value),
    [ENV.economicFinalityBp]: String(cfg.slos.economicFinalityBp.value),
  };
}

/** The pod template of the node: hardened, probed, digest-pinned. Pure, so tests read it directly. */
export function nodePodSpec(
  cfg: NodeWorkloadConfig,
  refs: { image: pulumi.Input<string>; serviceAccountName: pulumi.Input<string>; configMapName: pulumi.Input<string>; secretName: pulumi.Input<string> },
): Input {
  return {
    ...hardenedPod(refs.serviceAccountName),
    terminationGracePeriodSeconds: 30,
    containers: [
      {
        name: "node",
        image: refs.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        ports: [
          { name: API_PORT_NAME, containerPort: cfg.apiPort, protocol: "TCP" },
          { name: METRICS_PORT_NAME, containerPort: cfg.metricsPort, protocol: "TCP" },
        ],
        envFrom: [{ configMapRef: { name: refs.configMapName } }],
        env: [
          { name: ENV.host, value: "0.0.0.0" },
          { name: ENV.signingKeyFile, value: `${SIGNING_KEY_DIR}/${SIGNING_KEY_FILE}` },
          { name: ENV.validatorId, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "NODE_ENV", value: "production" },
        ],
        resources: { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } },
        ...httpProbes(API_PORT_NAME, { live: ROUTES.healthz, ready: ROUTES.readyz }),
        securityContext: hardenedContainerSecurity(),
        volumeMounts: [{ name: "signing-key", mountPath: SIGNING_KEY_DIR, readOnly: true }, TMP_MOUNT],
      },
    ],
    volumes: [
      {
        name: "signing-key",
        secret: { secretName: refs.secretName, defaultMode: 0o400, items: [{ key: SIGNING_KEY_FILE, path: SIGNING_KEY_FILE }] },
      },
      tmpVolume("64Mi"),
    ],
    topologySpreadConstraints: cfg.topologySpread
      ? [
          {
            maxSkew: 1,
            topologyKey: "topology.kubernetes.io/zone",
            whenUnsatisfiable: "ScheduleAnyway",
            labelSelector: { matchLabels: selectorLabels(cfg.appName) },
          },
          {
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: { matchLabels: selectorLabels(cfg.appName) },
          },
        ]
      : undefined,
  };
}

export interface BizraNodeArgs {
  /** Validated stack config (the parts the workload uses). */
  readonly config: NodeWorkloadConfig;
  /** Namespace to deploy into. */
  readonly namespace: pulumi.Input<string>;
  /** Digest-pinned image reference. */
  readonly image: pulumi.Input<string>;
  /** The node's Ed25519 signing seed (secret). */
  readonly signingKey: pulumi.Input<string>;
}

/** The node workload: ServiceAccount, runtime-flag ConfigMap, signing-key Secret, Deployment, Service, PDB. */
export class BizraNode extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  /** The node's ServiceAccount; the hold gate and the validator Job run as it too (no token is mounted). */
  public readonly serviceAccountName: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly serviceDns: pulumi.Output<string>;
  public readonly apiPort: number;
  public readonly metricsPort: number;
  public readonly metricsUrl: pulumi.Output<string>;
  public readonly labels: Record<string, string>;

  constructor(name: string, args: BizraNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bizra:node:BizraNode", name, {}, opts);
    const cfg = args.config;
    const labels = nodeLabels(cfg.appName, cfg.stack);
    const metadata = (suffix = "") => ({ name: `${cfg.appName}${suffix}`, namespace: args.namespace, labels });
    const child = { parent: this };

    const sa = new k8s.core.v1.ServiceAccount(name, { metadata: metadata(), automountServiceAccountToken: false }, child);
    const flags = new k8s.core.v1.ConfigMap(`${name}-flags`, { metadata: metadata("-flags"), data: runtimeFlagData(cfg) }, child);
    const secret = new k8s.core.v1.Secret(
      `${name}-signing-key`,
      {
        metadata: metadata("-signing-key"),
        type: "Opaque",
        immutable: false,
        stringData: { [SIGNING_KEY_FILE]: pulumi.secret(args.signingKey) },
      },
      { ...child, additionalSecretOutputs: ["data", "stringData"] },
    );

    // Test mode only (bizra:skipAwait): the provider does not wait for readiness of the kinds it awaits.
    const awaited = () => ({ ...metadata(), ...skipAwaitMetadata(cfg.skipAwait) });
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: awaited(),
        spec: {
          replicas: cfg.replicas,
          revisionHistoryLimit: 5,
          selector: { matchLabels: selectorLabels(cfg.appName) },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels },
            spec: nodePodSpec(cfg, {
              image: args.image,
              serviceAccountName: sa.metadata.name,
              configMapName: flags.metadata.name,
              secretName: secret.metadata.name,
            }),
          },
        },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      name,
      {
        metadata: awaited(),
        spec: {
          type: "ClusterIP",
          // Flagger rewrites the name label on primary pods; these labels reach primary and canary pods alike.
          selector: { ...componentLabels(), "app.kubernetes.io/instance": labels["app.kubernetes.io/instance"] },
          ports: [
            { name: API_PORT_NAME, port: cfg.apiPort, targetPort: API_PORT_NAME, protocol: "TCP" },
            { name: METRICS_PORT_NAME, port: cfg.metricsPort, targetPort: METRICS_PORT_NAME, protocol: "TCP" },
          ],
        },
      },
      child,
    );

    new k8s.policy.v1.PodDisruptionBudget(
      name,
      {
        metadata: metadata(),
        spec: { maxUnavailable: 1, selector: { matchLabels: componentLabels() } },
      },
      child,
    );

    this.labels = labels;
    this.apiPort = cfg.apiPort;
    this.metricsPort = cfg.metricsPort;
    this.deploymentName = deployment.metadata.name;
    this.serviceAccountName = sa.metadata.name;
    this.serviceName = service.metadata.name;
    this.serviceDns = pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    this.metricsUrl = pulumi.interpolate`http://${this.serviceDns}:${cfg.metricsPort}${METRICS_PATH}`;
    this.registerOutputs({
      deploymentName: this.deploymentName,
      serviceAccountName: this.serviceAccountName,
      serviceName: this.serviceName,
      serviceDns: this.serviceDns,
      metricsUrl: this.metricsUrl,
    });
  }
}
