/**
 * The signer: the only pods that hold the validator's signing key. A small Deployment (bizra:signer.replicas,
 * default 2) whose pods elect one active signer through a Kubernetes Lease that also holds the signer's high-water
 * mark (node-app/src/signer/lease-store.ts; docs/signing.md). The verifier Deployment (HPA, canary) mounts no key.
 *
 * Objects: ServiceAccount (token mounted: the Lease is read and written through the API server), Role + RoleBinding
 * (that one Lease, and the label of its own pod), the signing-key Secret, the signer-token Secret (callers present it
 * as a bearer token), Deployment, Service `<app>-signer` (the signer port of the active signer only: it selects the
 * pod label `SIGNER_ROLE_LABEL=active` that the Lease holder puts on its own pod), Service `<app>-signer-metrics`
 * (the metrics port of every signer pod, which its ServiceMonitor scrapes: PoI generation is measured only here),
 * PodDisruptionBudget.
 */
import { createHmac } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ENV, ROUTES, SIGNER_ROLE_ACTIVE, SIGNER_ROLE_LABEL } from "@bizra/contract";
import { awaitTimeoutMetadata, type StackConfig } from "./config";
import { METRICS_PORT_NAME } from "./node";
import { hardenedContainerSecurity, hardenedPod, httpProbes, IMAGE_PULL_POLICY, TMP_MOUNT, tmpVolume } from "./pod-security";
import { VALIDATOR_SET_DIGEST_ANNOTATION, VALIDATOR_SET_DIR, VALIDATOR_SET_FILE } from "./validator-set";
import { componentType, withFormerTypes } from "./component";
import type { NodeLabels } from "./labels";

export const SIGNING_KEY_DIR = "/var/run/secrets/bizra";
export const SIGNING_KEY_FILE = "signing-key";
export const SIGNER_TOKEN_DIR = "/var/run/secrets/bizra-signer-token";
export const SIGNER_TOKEN_FILE = "token";
export const SIGNER_PORT_NAME = "signer";
/** Pods with this label may call the signer port (NetworkPolicy `allow-signer-clients`). */
export const SIGNER_CLIENT_LABEL = { "bizra.io/signer-client": "true" } as const;

/** Selects the signer pods: part of bizra, but not the "node" component, so no HPA, Service, PDB or Canary of the verifiers selects them. */
export function signerComponentLabels(): Record<string, string> {
  return { "app.kubernetes.io/part-of": "bizra", "app.kubernetes.io/component": "signer" };
}

/** The node deployment's labels with the signer's name and component: same instance and manager, other pods. */
export function signerLabels(appName: string, nodeLabels: NodeLabels): Record<string, string> {
  return { ...nodeLabels, ...signerSelector(appName), ...signerComponentLabels() };
}
/** The label whose value names the signer (`<app>-signer`); its ServiceMonitor takes the `job` label from it. */
export const SIGNER_NAME_LABEL = "app.kubernetes.io/name";
export const signerSelector = (appName: string) => ({ [SIGNER_NAME_LABEL]: `${appName}-signer` });
/** Selects the active signer only: the Lease holder labels its own pod (node-app/src/signer/lease-store.ts). */
export const activeSignerSelector = (appName: string) => ({ ...signerSelector(appName), [SIGNER_ROLE_LABEL]: SIGNER_ROLE_ACTIVE });
/** Marks the Service that exposes every signer pod's metrics port (its ServiceMonitor selects it by this label). */
export const SIGNER_METRICS_SERVICE_LABEL = { "bizra.io/signer-service": "metrics" } as const;

/** The Lease that elects the active signer of this validator and holds its high-water mark. */
export const signerLeaseName = (appName: string) => `${appName}-signer`;

/**
 * The signer's API access. Lease: `create` cannot be limited to a name; `get`/`update` are limited to this validator's
 * Lease. Pods: `patch` only, for the role label on its own pod; it cannot be limited by name (the Deployment's pods
 * have generated names, and RBAC has no "own pod" rule), so any pod in the namespace could be patched with this
 * token: the namespace holds this validator's pods only.
 */
export function signerRoleRules(appName: string): k8s.types.input.rbac.v1.PolicyRule[] {
  return [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [signerLeaseName(appName)], verbs: ["get", "update"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["patch"] },
  ];
}

/**
 * The bearer token of the signer, derived from the signing key (HMAC-SHA256 under a fixed label), so it needs no
 * extra config and changes when the key does. It is a secret like the key.
 */
export function signerTokenOf(signingKeyHex: string): string {
  return createHmac("sha256", Buffer.from(signingKeyHex, "hex")).update("bizra signer bearer token v1").digest("hex");
}

export type SignerConfig = Pick<
  StackConfig,
  "stack" | "appName" | "resources" | "apiPort" | "metricsPort" | "logLevel" | "validatorId" | "signer" | "runtimeFlags"
>;

/** The signer's pod template. Pure. */
export function signerPodSpec(
  cfg: SignerConfig,
  refs: {
    image: pulumi.Input<string>;
    serviceAccountName: pulumi.Input<string>;
    keySecretName: pulumi.Input<string>;
    tokenSecretName: pulumi.Input<string>;
    validatorSetConfigMapName: pulumi.Input<string>;
  },
): k8s.types.input.core.v1.PodSpec {
  return {
    ...hardenedPod(refs.serviceAccountName),
    // The Lease is read and written through the API server with this pod's own service-account token.
    automountServiceAccountToken: true,
    terminationGracePeriodSeconds: 30,
    containers: [
      {
        name: "signer",
        image: refs.image,
        imagePullPolicy: IMAGE_PULL_POLICY,
        ports: [
          { name: SIGNER_PORT_NAME, containerPort: cfg.signer.port, protocol: "TCP" },
          { name: "http", containerPort: cfg.apiPort, protocol: "TCP" },
          { name: METRICS_PORT_NAME, containerPort: cfg.metricsPort, protocol: "TCP" },
        ],
        env: [
          { name: ENV.host, value: "0.0.0.0" },
          { name: ENV.apiPort, value: String(cfg.apiPort) },
          { name: ENV.metricsPort, value: String(cfg.metricsPort) },
          { name: ENV.logLevel, value: cfg.logLevel },
          { name: ENV.useRust, value: String(cfg.runtimeFlags.BIZRA_USE_RUST) },
          { name: ENV.validatorId, value: cfg.validatorId },
          { name: ENV.validatorSetFile, value: `${VALIDATOR_SET_DIR}/${VALIDATOR_SET_FILE}` },
          { name: ENV.signingKeyFile, value: `${SIGNING_KEY_DIR}/${SIGNING_KEY_FILE}` },
          { name: ENV.signerPort, value: String(cfg.signer.port) },
          { name: ENV.signerTokenFile, value: `${SIGNER_TOKEN_DIR}/${SIGNER_TOKEN_FILE}` },
          { name: ENV.signerLease, value: signerLeaseName(cfg.appName) },
          { name: ENV.signerLeaseSeconds, value: String(cfg.signer.leaseSeconds) },
          { name: ENV.signerIdentity, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: ENV.signerPodName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "NODE_ENV", value: "production" },
        ],
        resources: { requests: { ...cfg.resources.requests }, limits: { ...cfg.resources.limits } },
        ...httpProbes("http", { live: ROUTES.healthz, ready: ROUTES.readyz }),
        securityContext: hardenedContainerSecurity(),
        volumeMounts: [
          { name: "signing-key", mountPath: SIGNING_KEY_DIR, readOnly: true },
          { name: "signer-token", mountPath: SIGNER_TOKEN_DIR, readOnly: true },
          { name: "validator-set", mountPath: VALIDATOR_SET_DIR, readOnly: true },
          TMP_MOUNT,
        ],
      },
    ],
    volumes: [
      { name: "signing-key", secret: { secretName: refs.keySecretName, defaultMode: 0o400, items: [{ key: SIGNING_KEY_FILE, path: SIGNING_KEY_FILE }] } },
      { name: "signer-token", secret: { secretName: refs.tokenSecretName, defaultMode: 0o400, items: [{ key: SIGNER_TOKEN_FILE, path: SIGNER_TOKEN_FILE }] } },
      { name: "validator-set", configMap: { name: refs.validatorSetConfigMapName, items: [{ key: VALIDATOR_SET_FILE, path: VALIDATOR_SET_FILE }] } },
      tmpVolume("64Mi"),
    ],
  };
}

export interface NodeSignerArgs {
  /** Validated stack config (the parts the signer uses). */
  readonly config: SignerConfig;
  /** Namespace to deploy into. */
  readonly namespace: pulumi.Input<string>;
  /** Digest-pinned image reference (the node image). */
  readonly image: pulumi.Input<string>;
  /** The node's Ed25519 signing seed (secret). */
  readonly signingKey: pulumi.Input<string>;
  /** The validator-set ConfigMap (BizraNode.validatorSetConfigMapName). */
  readonly validatorSetConfigMapName: pulumi.Input<string>;
  /** BizraNode.validatorSetDigest: the pods roll when the set changes (they read it once, at start). */
  readonly validatorSetDigest: pulumi.Input<string>;
  /** bizra:awaitTimeoutSeconds: how long `pulumi up` waits for the signer Deployment. */
  readonly awaitTimeoutSeconds?: number;
  /** Labels of the node deployment (`nodeLabels`); the signer's objects carry them with the signer's name and component. */
  readonly nodeLabels: NodeLabels;
}

export class NodeSigner extends pulumi.ComponentResource {
  public readonly deploymentName: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  public readonly metricsServiceName: pulumi.Output<string>;
  public readonly tokenSecretName: pulumi.Output<string>;
  public readonly leaseName: string;
  public readonly labels: Record<string, string>;

  constructor(name: string, args: NodeSignerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(componentType("signer", "NodeSigner"), name, {}, withFormerTypes(opts, "bizra:node:Signer"));
    const cfg = args.config;
    const labels = signerLabels(cfg.appName, args.nodeLabels);
    const base = `${cfg.appName}-signer`;
    const metadata = (suffix = "") => ({ name: `${base}${suffix}`, namespace: args.namespace, labels });
    const awaited = () => ({ ...metadata(), ...awaitTimeoutMetadata(args.awaitTimeoutSeconds) });
    const child = { parent: this };
    const secretOpts = { ...child, additionalSecretOutputs: ["data", "stringData"] };

    const sa = new k8s.core.v1.ServiceAccount(name, { metadata: metadata(), automountServiceAccountToken: false }, child);
    const role = new k8s.rbac.v1.Role(
      name,
      {
        metadata: metadata(),
        rules: signerRoleRules(cfg.appName),
      },
      child,
    );
    new k8s.rbac.v1.RoleBinding(
      name,
      {
        metadata: metadata(),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
      },
      child,
    );
    const key = new k8s.core.v1.Secret(
      `${name}-signing-key`,
      { metadata: metadata("-signing-key"), type: "Opaque", stringData: { [SIGNING_KEY_FILE]: pulumi.secret(args.signingKey) } },
      secretOpts,
    );
    const token = new k8s.core.v1.Secret(
      `${name}-token`,
      {
        metadata: metadata("-token"),
        type: "Opaque",
        stringData: { [SIGNER_TOKEN_FILE]: pulumi.secret(pulumi.output(args.signingKey).apply(signerTokenOf)) },
      },
      secretOpts,
    );
    const deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: awaited(),
        spec: {
          replicas: cfg.signer.replicas,
          revisionHistoryLimit: 5,
          selector: { matchLabels: signerSelector(cfg.appName) },
          // one new pod at a time; the old one releases the Lease when it stops (graceful handover)
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: {
            metadata: { labels, annotations: { [VALIDATOR_SET_DIGEST_ANNOTATION]: args.validatorSetDigest } },
            spec: signerPodSpec(cfg, {
              image: args.image,
              serviceAccountName: sa.metadata.name,
              keySecretName: key.metadata.name,
              tokenSecretName: token.metadata.name,
              validatorSetConfigMapName: args.validatorSetConfigMapName,
            }),
          },
        },
      },
      child,
    );
    // Sign requests: the active signer only (both pods stay Ready, so the Deployment's rollout and availability are
    // unchanged). Pulumi awaits an endpoint, i.e. an elected signer that labelled its pod.
    const service = new k8s.core.v1.Service(
      name,
      {
        metadata: metadata(),
        spec: {
          type: "ClusterIP",
          selector: activeSignerSelector(cfg.appName),
          ports: [{ name: SIGNER_PORT_NAME, port: cfg.signer.port, targetPort: SIGNER_PORT_NAME, protocol: "TCP" }],
        },
      },
      child,
    );
    // Metrics: every signer pod, standby included (bizra_poi_signer_active sums to 1 over them).
    const metricsService = new k8s.core.v1.Service(
      `${name}-metrics`,
      {
        metadata: { ...metadata("-metrics"), labels: { ...labels, ...SIGNER_METRICS_SERVICE_LABEL } },
        spec: {
          type: "ClusterIP",
          selector: signerSelector(cfg.appName),
          ports: [{ name: METRICS_PORT_NAME, port: cfg.metricsPort, targetPort: METRICS_PORT_NAME, protocol: "TCP" }],
        },
      },
      child,
    );
    new k8s.policy.v1.PodDisruptionBudget(name, { metadata: metadata(), spec: { maxUnavailable: 1, selector: { matchLabels: signerSelector(cfg.appName) } } }, child);

    this.labels = labels;
    this.leaseName = signerLeaseName(cfg.appName);
    this.deploymentName = deployment.metadata.name;
    this.serviceName = service.metadata.name;
    this.metricsServiceName = metricsService.metadata.name;
    this.tokenSecretName = token.metadata.name;
    this.registerOutputs({ deploymentName: this.deploymentName, serviceName: this.serviceName, metricsServiceName: this.metricsServiceName, tokenSecretName: this.tokenSecretName, leaseName: this.leaseName });
  }
}
