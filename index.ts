/**
 * The BIZRA node on Kubernetes. Thin by design: load the validated stack config, build the components, export the
 * outputs dashboards and operators need. All logic lives in `components/`.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { ImageAdmission } from "./components/admission";
import { AlertRouting } from "./components/alertmanager";
import { alertRuleConfig, alertRuleSummary, NodeAlerts } from "./components/alerts";
import { NodeAutoscaler } from "./components/autoscaler";
import { CANARY_QUERIES, canarySummary, meshServiceName, NodeCanary, resolvedHoldGateUrl } from "./components/canary";
import { loadStackConfig } from "./components/config";
import { NodeImage } from "./components/image";
import { HoldGate } from "./components/hold-gate";
import { nodeLabels } from "./components/labels";
import { NodeNamespace } from "./components/namespace";
import { NodeNetworkPolicy } from "./components/network-policy";
import { BizraNode } from "./components/node";
import { NodeSigner } from "./components/signer";
import { effectiveValidatorSet, publicKeyOfSeed, validatorSetJson } from "./components/validator-set";
import { NodeDashboard, promqlQueries as dashboardQueries } from "./components/dashboard";
import { NodeServiceMonitor } from "./components/service-monitor";
import { SloConfigMap } from "./components/slo-configmap";
import { EvidenceValidator, readEvidenceBundle } from "./components/validator-job";
import { trustedKeysOrLocal } from "@bizra/evidence";

const config = loadStackConfig();
const labels = nodeLabels(config.appName, config.stack);

const namespace = new NodeNamespace("namespace", { name: config.namespace, labels });
const image = new NodeImage("image", config.image);
// The set every node pod mounts; the signing key's public key (not secret) checks or completes it.
const validatorSet = pulumi.unsecret(
  config.signingKey.apply((key) => validatorSetJson(effectiveValidatorSet(config.validators, config.validatorId, publicKeyOfSeed(key)))),
);
const node = new BizraNode(config.appName, {
  config,
  namespace: namespace.name,
  labels,
  image: image.reference,
  validatorSetJson: validatorSet,
});
// The only pods with the signing key: one active signer at a time through a Lease (docs/signing.md).
const signer = new NodeSigner(`${config.appName}-signer`, {
  config,
  namespace: namespace.name,
  nodeLabels: labels,
  image: image.reference,
  signingKey: config.signingKey,
  validatorSetConfigMapName: node.validatorSetConfigMapName,
  validatorSetDigest: node.validatorSetDigest,
  awaitTimeoutSeconds: config.awaitTimeoutSeconds,
});
new NodeNetworkPolicy("network", {
  namespace: namespace.name,
  appName: config.appName,
  apiPort: config.apiPort,
  metricsPort: config.metricsPort,
  signerPort: config.signer.port,
  ...(config.stateRedisUrl !== undefined ? { stateRedisPort: Number(new URL(config.stateRedisUrl).port || "6379") } : {}),
  monitoringNamespace: config.monitoringNamespace,
  meshNamespace: config.meshNamespace,
  ...(config.canary.loadTester ? { loadTesterNamespace: config.canary.flaggerNamespace } : {}),
  labels,
});
const autoscaler = new NodeAutoscaler("autoscaler", {
  namespace: namespace.name,
  deploymentName: node.deploymentName,
  appName: config.appName,
  labels,
  minReplicas: config.hpa.minReplicas,
  maxReplicas: config.hpa.maxReplicas,
  throughputSlo: config.slos.poiVerifyThroughput,
  targetShareOfThroughputSlo: config.hpa.targetShareOfThroughputSlo,
});

const sloConfigMap = new SloConfigMap("slo", {
  slos: config.slos,
  appName: config.appName,
  namespace: namespace.name,
  labels,
  ...(config.postDeployReport ? { postDeployReport: config.postDeployReport } : {}),
});
new NodeServiceMonitor("service-monitor", { appName: config.appName, namespace, labels });
const alerts = new NodeAlerts("alerts", { slos: config.slos, rules: alertRuleConfig(config), namespace: namespace.name, labels });
const routing = config.alerting
  ? new AlertRouting("alert-routing", { alerting: config.alerting, appName: config.appName, namespace, labels })
  : undefined;
const dashboard = new NodeDashboard("dashboard", {
  slos: config.slos,
  appName: config.appName,
  stack: config.stack,
  resources: config.resources,
  nodeNamespace: config.namespace,
  monitoringNamespace: config.monitoringNamespace,
  labels,
});
const admission = new ImageAdmission("admission", { config, labels });
const holdGate = new HoldGate(
  "hold-gate",
  {
    config,
    namespace: namespace.name,
    image: image.reference,
    serviceAccountName: node.serviceAccountName,
    flaggerNamespace: config.canary.flaggerNamespace,
    labels,
  },
  { dependsOn: [node] },
);
// The Canary's webhooks call the gate; create it first so Flagger never calls a missing Service.
new NodeCanary("canary", { config, namespace: namespace.name, labels }, { dependsOn: [node, autoscaler, holdGate] });
const validator = new EvidenceValidator(
  "evidence-verify",
  {
    config,
    bundle: readEvidenceBundle(path.resolve(__dirname, config.evidenceDir)),
    trustedKeys: trustedKeysOrLocal(config.evidenceTrustedKeys),
    namespace: namespace.name,
    image: image.reference,
    serviceAccountName: node.serviceAccountName,
    labels,
  },
  { dependsOn: [node] },
);

export const stack = config.stack;
export const namespaceName = namespace.name;
export const serviceDns = node.serviceDns;
export const apiPort = node.apiPort;
export const metricsPort = node.metricsPort;
/** Clients go through the mesh apex Flagger manages, so the canary weights apply to them. */
export const apiEndpoint = pulumi.interpolate`http://${meshServiceName(config.appName)}.${namespace.name}.svc.cluster.local:${config.apiPort}`;
export const metricsUrl = node.metricsUrl;
/** The signer (docs/signing.md): its Service, the Lease that elects it, and the Secret holding its callers' token. */
export const signerService = signer.serviceName;
export const signerLease = signer.leaseName;
export const signerTokenSecret = signer.tokenSecretName;
export const imageReference = image.reference;
export const imageDigest = image.reference.apply((ref) => ref.slice(ref.indexOf("@") + 1));
export const hpaName = autoscaler.name;
export const slos = Object.fromEntries(Object.values(config.slos).map((s) => [s.id, { value: s.value, unit: s.unit, severity: s.severity }]));
export const sloConfigMapName = sloConfigMap.name;
export const alertRules = alertRuleSummary(alerts.groups);
export const dashboardJson = dashboard.json;
export const dashboardUid = dashboard.uid;
/** The Prometheus the canary checks (and `npm run validate`, unless given --prometheus) ask. */
export const prometheusAddress = config.canary.prometheusAddress;
/** The PromQL of each Flagger MetricTemplate, with Flagger's `{{ namespace }}`, `{{ target }}`, `{{ interval }}` unfilled. */
export const canaryQueries = CANARY_QUERIES;
export const alertRouting = routing ? { alertmanagerConfig: routing.name, criticalTo: config.alerting?.criticalWebhookUrl, warningTo: config.alerting?.warningWebhookUrl } : "not configured (bizra:alerting)";
export const promqlQueries = dashboardQueries(config.slos, config);
export const kyvernoPolicy = { name: admission.policyName, mode: admission.mode };
export const canary = canarySummary(config.canary.stages, resolvedHoldGateUrl(config), config.canary.intervalSeconds);
export const validatorJob = validator.status;
