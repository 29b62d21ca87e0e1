/**
 * The BIZRA node on Kubernetes. Thin by design: load the validated stack config, build the components, export the
 * outputs dashboards and operators need. All logic lives in `components/`.
 */
import { NodeAutoscaler } from "./components/autoscaler";
import { loadStackConfig } from "./components/config";
import { NodeImage } from "./components/image";
import { nodeLabels } from "./components/labels";
import { NodeNamespace } from "./components/namespace";
import { NodeNetworkPolicy } from "./components/network-policy";
import { BizraNode } from "./components/node";

const config = loadStackConfig();
const labels = nodeLabels(config.appName, config.stack);

const namespace = new NodeNamespace("namespace", { name: config.namespace, labels });
const image = new NodeImage("image", config.image);
const node = new BizraNode(config.appName, {
  config,
  namespace: namespace.name,
  image: image.reference,
  signingKey: config.signingKey,
});
new NodeNetworkPolicy("network", {
  namespace: namespace.name,
  appName: config.appName,
  apiPort: config.apiPort,
  metricsPort: config.metricsPort,
  monitoringNamespace: config.monitoringNamespace,
  meshNamespace: config.meshNamespace,
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

export const stack = config.stack;
export const namespaceName = namespace.name;
export const serviceDns = node.serviceDns;
export const apiPort = node.apiPort;
export const metricsPort = node.metricsPort;
export const apiEndpoint = node.serviceDns.apply((dns) => `http://${dns}:${config.apiPort}`);
export const metricsUrl = node.metricsUrl;
export const imageReference = image.reference;
export const imageDigest = image.reference.apply((ref) => ref.slice(ref.indexOf("@") + 1));
export const hpaName = autoscaler.name;
export const slos = Object.fromEntries(Object.values(config.slos).map((s) => [s.id, { value: s.value, unit: s.unit, severity: s.severity }]));
