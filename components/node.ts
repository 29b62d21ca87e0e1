import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import { ENV, METRICS_PATH, ROUTES } from "@bizra/contract";
import { awaitTimeoutMetadata, type StackConfig } from "./config";
import { componentLabels, selectorLabels, type NodeLabels } from "./labels";
import { hardenedContainerSecurity, hardenedPod, httpProbes, IMAGE_PULL_POLICY, TMP_MOUNT, tmpVolume } from "./pod-security";
import { VALIDATOR_SET_DIGEST_ANNOTATION, VALIDATOR_SET_DIR, VALIDATOR_SET_FILE, validatorSetDigest } from "./validator-set";
import { componentType } from "./component";

export { NODE_UID } from "./pod-security";

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
  | "validatorId"
  | "stateRedisUrl"
> &
  Partial<Pick<StackConfig, "awaitTimeoutSeconds" | "faultInjection">>;

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
    // every replica of this validator shares one id and one set (never the pod name)
    [ENV.validatorId]: cfg.validatorId,
    [ENV.validatorSetFile]: `${VALIDATOR_SET_DIR}/${VALIDATOR_SET_FILE}`,
    ...(cfg.stateRedisUrl !== undefined ? { [ENV.stateRedisUrl]: cfg.stateRedisUrl } : {}),
    // only when a drill asks for it (config refuses it for production): the node's default is off
    ...(cfg.faultInjection && cfg.faultInjection.errorRate > 0 ? { [ENV.faultErrorRate]: String(cfg.faultInjection.errorRate) } : {}),
  };
}

/** Pod template annotation carrying a digest of the runtime-flag ConfigMap's data. */
export const RUNTIME_FLAGS_DIGEST_ANNOTATION = "bizra.io/runtime-flags-sha256";

/**
 * The pods read the runtime flags once, at start (envFrom). A change of the flags therefore changes this digest in
 * the pod template, so the Deployment rolls the pods out instead of leaving them on the old values.
 */
export function runtimeFlagsDigest(cfg: NodeWorkloadConfig): string {
  const data = runtimeFlagData(cfg);
  const canonical = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
  return createHash("sha256").update(canonical).digest("hex");
}

/** The Kubernetes provider's annotation that forces a server-side apply over fields another manager owns. */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

/** Seconds a terminating node pod keeps serving before SIGTERM (preStop sleep), within the 30 s grace period. */
export const PRESTOP_DRAIN_SECONDS = 5;

/**
 * The pod template of the node (a verifier: no signing key, no signer listener; the signer is components/signer.ts):
 * hardened, probed, digest-pinned. Pure, so tests read it directly.
 */
export function nodePodSpec(
  cfg: NodeWorkloadConfig,
  refs: { image: pulumi.Input<string>; serviceAccountName: pulumi.Input<string>; configMapName: pulumi.Input<string>; validatorSetConfigMapName: pulumi.Input<string> },
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
          { name: "NODE_ENV", value: "production" },
        ],
        resources: { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } },
        ...httpProbes(API_PORT_NAME, { live: ROUTES.healthz, ready: ROUTES.readyz }),
        // A terminating pod keeps serving while the endpoint removal reaches every node's Service rules; only then
        // does it get SIGTERM (and drain). Without this pause a rollout drops the requests routed in that window.
        // An exec of the image's `sleep` (coreutils, in the Debian base), not the `sleep` handler: Flagger v1.36.1
        // (client-go v0.27) does not know that handler, drops it when it copies the pod template for the primary, and
        // the API server refuses the copy ("lifecycle.preStop: Required value: must specify a handler type").
        lifecycle: { preStop: { exec: { command: ["sleep", String(PRESTOP_DRAIN_SECONDS)] } } },
        securityContext: hardenedContainerSecurity(),
        volumeMounts: [{ name: "validator-set", mountPath: VALIDATOR_SET_DIR, readOnly: true }, TMP_MOUNT],
      },
    ],
    volumes: [
      { name: "validator-set", configMap: { name: refs.validatorSetConfigMapName, items: [{ key: VALIDATOR_SET_FILE, path: VALIDATOR_SET_FILE }] } },
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
  /** The validator set as the node reads it (`validatorSetJson`), for the ConfigMap every node pod mounts. */
  readonly validatorSetJson: pulumi.Input<string>;
  /** Labels of the node deployment (`nodeLabels`, computed once in index.ts), put on every object. */
  readonly labels: NodeLabels;
}

/** The node workload (verifiers): ServiceAccount, runtime-flag and validator-set ConfigMaps, Deployment, Service, PDB. */
export class BizraNode extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  /** The node's ServiceAccount; the hold gate and the validator Job run as it too (no token is mounted). */
  public readonly serviceAccountName: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly serviceDns: pulumi.Output<string>;
  /** The validator-set ConfigMap, mounted by the verifiers here and by the signer. */
  public readonly validatorSetConfigMapName: pulumi.Output<string>;
  /** VALIDATOR_SET_DIGEST_ANNOTATION's value, for every pod template that mounts the set. */
  public readonly validatorSetDigest: pulumi.Output<string>;
  public readonly apiPort: number;
  public readonly metricsPort: number;
  public readonly metricsUrl: pulumi.Output<string>;
  public readonly labels: Record<string, string>;

  constructor(name: string, args: BizraNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("node", "BizraNode"), name, {}, opts);
    const cfg = args.config;
    const labels = args.labels;
    const metadata = (suffix = "") => ({ name: `${cfg.appName}${suffix}`, namespace: args.namespace, labels });
    const child = { parent: this };

    const sa = new k8s.core.v1.ServiceAccount(name, { metadata: metadata(), automountServiceAccountToken: false }, child);
    const flags = new k8s.core.v1.ConfigMap(`${name}-flags`, { metadata: metadata("-flags"), data: runtimeFlagData(cfg) }, child);
    const validatorSet = new k8s.core.v1.ConfigMap(
      `${name}-validator-set`,
      { metadata: metadata("-validator-set"), data: { [VALIDATOR_SET_FILE]: args.validatorSetJson } },
      child,
    );

    const setDigest = pulumi.output(args.validatorSetJson).apply(validatorSetDigest);
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        // `pulumi up` waits for the rollout (available replicas) at most bizra:awaitTimeoutSeconds when set.
        // `spec.replicas` is also written by Flagger (it scales the target to 0 after a promotion or rollback, and up
        // for the next analysis) and by the HPA: without patchForce the next `pulumi up` fails with a server-side
        // apply conflict on `.spec.replicas` (conflict with "flagger"). Forced, the apply takes the field back; Flagger
        // then scales the target as its analysis needs.
        metadata: { ...metadata(), annotations: { ...awaitTimeoutMetadata(cfg.awaitTimeoutSeconds).annotations, [PATCH_FORCE_ANNOTATION]: "true" } },
        spec: {
          replicas: cfg.replicas,
          revisionHistoryLimit: 5,
          selector: { matchLabels: selectorLabels(cfg.appName) },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels, annotations: { [RUNTIME_FLAGS_DIGEST_ANNOTATION]: runtimeFlagsDigest(cfg), [VALIDATOR_SET_DIGEST_ANNOTATION]: setDigest } },
            spec: nodePodSpec(cfg, {
              image: args.image,
              serviceAccountName: sa.metadata.name,
              configMapName: flags.metadata.name,
              validatorSetConfigMapName: validatorSet.metadata.name,
            }),
          },
        },
      },
      child,
    );

    const service = new k8s.core.v1.Service(
      name,
      {
        metadata: metadata(),
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
    this.validatorSetConfigMapName = validatorSet.metadata.name;
    this.validatorSetDigest = setDigest;
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
