/**
 * The monitoring stack of the local cluster (docs/cluster-monitoring.md): the Prometheus Operator, built from the Go
 * module proxy (scripts/delivery-toolchain.sh), running as a pod with the upstream release's RBAC, and one
 * `Prometheus` object it reconciles into a StatefulSet whose server is Debian's `prometheus` binary
 * (scripts/images.sh monitoring). That Prometheus selects every ServiceMonitor and PrometheusRule labelled
 * `app.kubernetes.io/part-of: bizra` in any namespace: the program's, exactly as rendered; the operator turns them into
 * the scrape config (Kubernetes service discovery of the Services' endpoints) and the rule files.
 *
 * `monitoringObjects` is pure; `deployMonitoring` applies it (with the operator's CRDs for the kinds the program does
 * not create) and `waitForPrometheus` waits until the server answers through its ClusterIP Service.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { clusterEnv, CLUSTER_SCRIPT, IMAGES_SCRIPT, inClusterNs, kubectl, kubectlGet, type ClusterEnv } from "./cluster";
import { goModuleDir, toolchainVersion } from "./go-module";
import { readStackFile, REPO_ROOT } from "./stack-config";

export const OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator";
/** The operator release the cluster runs (scripts/delivery-toolchain/versions.env). */
export const operatorVersion = (): string => toolchainVersion("PROMETHEUS_OPERATOR");
/** Where scripts/images.sh writes the three images (OCI archives, each with a `.name` file). */
export const MONITORING_IMAGES_DIR = path.join(REPO_ROOT, ".toolchain", "images", "monitoring");
/** The Prometheus object (and so its StatefulSet `prometheus-<name>`, its pods, its rule ConfigMaps). */
export const PROMETHEUS_NAME = "bizra";
/** The ClusterIP Service in front of the Prometheus pods; the operator's own `prometheus-operated` is headless. */
export const PROMETHEUS_SERVICE = "prometheus";
export const PROMETHEUS_PORT = 9090;
export const OPERATOR_NAME = "prometheus-operator";
/** Which ServiceMonitors and PrometheusRules this Prometheus takes: the program's (components/labels.ts). */
export const SELECTED_LABELS = { "app.kubernetes.io/part-of": "bizra" } as const;
/**
 * Rule evaluation and the default scrape interval. The ServiceMonitors set their own interval (5 s); the rules are
 * evaluated as often, so an alert's `for` is what decides how fast it fires (Prometheus' default is 1m).
 */
export const EVALUATION_INTERVAL = "5s";
/**
 * The operator's CRDs for the kinds the program does not create: the Prometheus object itself, and PodMonitor and
 * Probe, which its Prometheus controller watches. ServiceMonitor, PrometheusRule and AlertmanagerConfig come from
 * scripts/crds.sh (the versions the schema tests validate against), installed by scripts/engine-cluster.ts.
 */
export const OPERATOR_CRDS = ["prometheuses", "podmonitors", "probes"] as const;

export interface MonitoringImages {
  /** docker.io/local/prometheus:v<Debian package version> */
  readonly prometheus: string;
  /** That version, which the Prometheus object declares (the operator writes flags and config for it). */
  readonly prometheusVersion: string;
  readonly operator: string;
  readonly reloader: string;
  /** archive path -> image name, for the import into the node's containerd. */
  readonly archives: Readonly<Record<string, string>>;
}

/** The images scripts/images.sh built; builds them when missing or stale (seconds when the binaries are built). */
export function ensureMonitoringImages(log: (s: string) => void = console.error): MonitoringImages {
  const b = spawnSync("bash", [IMAGES_SCRIPT, "monitoring"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 15 * 60_000 });
  if (b.status !== 0) throw new Error(`scripts/images.sh monitoring failed:\n${b.stderr.trim().split("\n").slice(-15).join("\n")}`);
  if (/monitoring: docker\.io/.test(b.stderr)) log(b.stderr.trim().split("\n").filter((l) => l.includes("monitoring:")).join("\n"));
  const archives: Record<string, string> = {};
  for (const stem of ["prometheus", "prometheus-operator", "prometheus-config-reloader"]) {
    const archive = path.join(MONITORING_IMAGES_DIR, `${stem}.oci.tar`);
    archives[archive] = fs.readFileSync(`${archive}.name`, "utf8").trim();
  }
  const [prometheus, operator, reloader] = Object.values(archives) as [string, string, string];
  return { prometheus, prometheusVersion: prometheus.slice(prometheus.lastIndexOf(":") + 1), operator, reloader, archives };
}

/** Imports the images the node's containerd does not have yet (scripts/cluster.sh import-image). */
export function importMonitoringImages(cluster: ClusterEnv, images: MonitoringImages, log: (s: string) => void = console.error): void {
  const have = inClusterNs(cluster, "ctr", ["-a", cluster["CTR_ADDRESS"]!, "-n", "k8s.io", "images", "ls", "-q"]).stdout.split("\n");
  for (const [archive, name] of Object.entries(images.archives)) {
    if (have.includes(name)) continue;
    log(`importing ${name} into the cluster's containerd`);
    const r = spawnSync("bash", [CLUSTER_SCRIPT, "import-image", archive, name], { encoding: "utf8", timeout: 10 * 60_000 });
    if (r.status !== 0) throw new Error(`scripts/cluster.sh import-image ${archive} failed:\n${r.stderr}`);
  }
}

/** The monitoring namespace of the stack the cluster runs (`bizra:monitoringNamespace`, the dashboard's too). */
export function monitoringNamespace(stack = "testnet"): string {
  return String((readStackFile(stack)["bizra:monitoringNamespace"] as string | undefined) ?? "monitoring");
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };
/** The fields of the release's operator Deployment that are replaced here. */
type OperatorDeployment = K8sObject & { spec: { template: { spec: { containers: { image?: string; imagePullPolicy?: string; args?: string[] }[] } } } };

/** The upstream release's example manifests (one folder of example/rbac/). */
function upstreamManifests(moduleDir: string, folder: string): K8sObject[] {
  const dir = path.join(moduleDir, "example", "rbac", folder);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS() as K8sObject))
    .filter((o) => o && o.kind);
}

export interface MonitoringObjectsInput {
  readonly namespace: string;
  readonly images: Pick<MonitoringImages, "prometheus" | "prometheusVersion" | "operator" | "reloader">;
  /** The operator module's folder (its example/rbac manifests). */
  readonly moduleDir: string;
}

/**
 * Everything the stack applies, in order. From the release: the operator's ServiceAccount, ClusterRole and
 * ClusterRoleBinding and its Deployment (image and arguments replaced: the local image, the local config reloader,
 * no kubelet Service), Prometheus' ServiceAccount, ClusterRole and ClusterRoleBinding. Then the Prometheus object
 * and a ClusterIP Service in front of its pods. Pure.
 */
export function monitoringObjects(input: MonitoringObjectsInput): K8sObject[] {
  const ns = input.namespace;
  const placed = (o: K8sObject): K8sObject => {
    const copy = structuredClone(o);
    if (!["ClusterRole", "ClusterRoleBinding"].includes(copy.kind)) copy.metadata.namespace = ns;
    if (copy.kind === "ClusterRoleBinding") for (const s of copy["subjects"] as { namespace?: string }[]) s.namespace = ns;
    return copy;
  };
  const operator = upstreamManifests(input.moduleDir, "prometheus-operator")
    // the release's own Service and ServiceMonitor scrape the operator itself: not needed here
    .filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"].includes(o.kind))
    .map(placed);
  const deployment = operator.find((o) => o.kind === "Deployment") as OperatorDeployment | undefined;
  const container = deployment?.spec.template.spec.containers[0];
  if (!container) throw new Error(`no operator Deployment in ${input.moduleDir}/example/rbac/prometheus-operator`);
  container.image = input.images.operator;
  container.imagePullPolicy = "IfNotPresent";
  container.args = [
    `--prometheus-config-reloader=${input.images.reloader}`,
    // containers of a pod reach each other on the loopback address (the reloader tells Prometheus to reload)
    "--localhost=127.0.0.1",
    "--log-level=info",
  ];
  const prometheusRbac = upstreamManifests(input.moduleDir, "prometheus")
    .filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].includes(o.kind))
    .map(placed);
  const serviceAccount = prometheusRbac.find((o) => o.kind === "ServiceAccount");
  if (!serviceAccount) throw new Error(`no Prometheus ServiceAccount in ${input.moduleDir}/example/rbac/prometheus`);
  const podLabels = { "operator.prometheus.io/name": PROMETHEUS_NAME };
  const prometheus: K8sObject = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "Prometheus",
    metadata: { name: PROMETHEUS_NAME, namespace: ns },
    spec: {
      image: input.images.prometheus,
      version: input.images.prometheusVersion,
      replicas: 1,
      serviceAccountName: serviceAccount.metadata.name,
      serviceMonitorSelector: { matchLabels: { ...SELECTED_LABELS } },
      serviceMonitorNamespaceSelector: {},
      ruleSelector: { matchLabels: { ...SELECTED_LABELS } },
      ruleNamespaceSelector: {},
      scrapeInterval: EVALUATION_INTERVAL,
      evaluationInterval: EVALUATION_INTERVAL,
      retention: "6h",
      resources: { requests: { cpu: "100m", memory: "200Mi" }, limits: { memory: "1Gi" } },
      securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
    },
  };
  const service: K8sObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: PROMETHEUS_SERVICE, namespace: ns },
    spec: { type: "ClusterIP", selector: podLabels, ports: [{ name: "web", port: PROMETHEUS_PORT, targetPort: "web", protocol: "TCP" }] },
  };
  return [...operator, ...prometheusRbac, prometheus, service];
}

/** The operator's CRD files for OPERATOR_CRDS, from its module. */
export function operatorCrdFiles(moduleDir: string): string[] {
  return OPERATOR_CRDS.map((plural) => path.join(moduleDir, "example", "prometheus-operator-crd", `monitoring.coreos.com_${plural}.yaml`));
}

export interface DeployedMonitoring {
  readonly namespace: string;
  readonly images: MonitoringImages;
  readonly objects: readonly K8sObject[];
}

/**
 * Builds/imports the images, installs the operator's CRDs and applies the objects; returns at once (the pods start in
 * the background: `waitForPrometheus`). The namespace is created when missing.
 */
export function deployMonitoring(cluster: ClusterEnv, opts: { namespace?: string; log?: (s: string) => void } = {}): DeployedMonitoring {
  const log = opts.log ?? console.error;
  const namespace = opts.namespace ?? monitoringNamespace();
  const images = ensureMonitoringImages(log);
  importMonitoringImages(cluster, images, log);
  const moduleDir = goModuleDir(OPERATOR_MODULE, operatorVersion());
  const crds = operatorCrdFiles(moduleDir);
  const out = kubectl(cluster, ["apply", "--server-side", "--force-conflicts", "-o", "name", ...crds.flatMap((f) => ["-f", f])], { timeoutMs: 300_000 });
  const names = out.split("\n").filter((l) => l.startsWith("customresourcedefinition")).map((l) => l.replace(/^[^/]+\//, ""));
  // right after the apply a CRD may have no status yet, which `kubectl wait` reports as an error: ask again
  for (let attempt = 1; ; attempt++) {
    try {
      kubectl(cluster, ["wait", "--for=condition=Established", "--timeout=120s", ...names.map((n) => `crd/${n}`)], { timeoutMs: 180_000 });
      break;
    } catch (err) {
      if (attempt >= 10 || !/status\.conditions accessor error/.test((err as Error).message)) throw err;
      spawnSync("sleep", ["1"]);
    }
  }
  kubectl(cluster, ["apply", "--server-side", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }) });
  const objects = monitoringObjects({ namespace, images, moduleDir });
  kubectl(cluster, ["apply", "--server-side", "--force-conflicts", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }), timeoutMs: 180_000 });
  log(`monitoring: operator ${images.operator}, Prometheus ${images.prometheus} (object ${namespace}/${PROMETHEUS_NAME}) applied`);
  return { namespace, images, objects };
}

/** `http://<ClusterIP>:9090`: reachable inside the cluster's network namespace (kube-proxy's rules). */
export function prometheusUrl(cluster: ClusterEnv, namespace = monitoringNamespace()): string {
  const svc = kubectlGet<{ spec?: { clusterIP?: string } }>(cluster, ["service", PROMETHEUS_SERVICE, "-n", namespace]);
  if (!svc?.spec?.clusterIP) throw new Error(`no Service ${namespace}/${PROMETHEUS_SERVICE}: deploy the monitoring stack first (npm run cluster:monitoring -- up)`);
  return `http://${svc.spec.clusterIP}:${PROMETHEUS_PORT}`;
}

/** GET url inside the namespace (curl); the body, or undefined when the request failed. */
export function getInNs(cluster: ClusterEnv, url: string, timeoutS = 10): string | undefined {
  const r = inClusterNs(cluster, "curl", ["-sf", "--max-time", String(timeoutS), url], { timeoutMs: (timeoutS + 5) * 1000 });
  return r.status === 0 ? r.stdout : undefined;
}

/**
 * A Prometheus HTTP API call inside the namespace: its `data`, typed by the caller as the endpoint's answer; throws
 * when it does not answer `success`.
 */
export function promApi<T>(cluster: ClusterEnv, base: string, pathAndQuery: string): T {
  const body = getInNs(cluster, `${base}${pathAndQuery}`);
  if (body === undefined) throw new Error(`${base}${pathAndQuery}: no answer`);
  const parsed = JSON.parse(body) as { status: string; data: T; error?: string };
  if (parsed.status !== "success") throw new Error(`${pathAndQuery}: ${parsed.error}`);
  return parsed.data;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the operator has created the StatefulSet, its pod is Ready and the server answers `/-/ready` through
 * the Service. On timeout the error carries the operator's log and the pod's state.
 */
export async function waitForPrometheus(cluster: ClusterEnv, namespace = monitoringNamespace(), timeoutMs = 300_000): Promise<string> {
  const t0 = Date.now();
  let url: string | undefined;
  while (Date.now() - t0 < timeoutMs) {
    url ??= (() => {
      try {
        return prometheusUrl(cluster, namespace);
      } catch {
        return undefined;
      }
    })();
    if (url !== undefined && getInNs(cluster, `${url}/-/ready`, 5) !== undefined) return url;
    await sleep(2000);
  }
  const r = (args: string[]) => inClusterNs(cluster, cluster.KUBECTL, args).stdout + inClusterNs(cluster, cluster.KUBECTL, args).stderr;
  throw new Error(
    `Prometheus not ready after ${timeoutMs / 1000} s\n` +
      `pods:\n${r(["get", "pods,statefulsets", "-n", namespace, "-o", "wide"])}\n` +
      `operator log (tail):\n${r(["logs", `deployment/${OPERATOR_NAME}`, "-n", namespace, "--tail=40"])}\n` +
      `events:\n${r(["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"]).split("\n").slice(-25).join("\n")}`,
  );
}

/** Removes what deployMonitoring applied (the CRDs stay: other objects may use them). */
export function removeMonitoring(cluster: ClusterEnv, namespace = monitoringNamespace()): void {
  const moduleDir = goModuleDir(OPERATOR_MODULE, operatorVersion());
  const images = { prometheus: "x", prometheusVersion: "v0.0.0", operator: "x", reloader: "x" };
  const objects = monitoringObjects({ namespace, images, moduleDir });
  kubectl(cluster, ["delete", "--ignore-not-found", "--wait=true", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: [...objects].reverse() }), timeoutMs: 300_000 });
  // what the operator created for the Prometheus object (it deletes the StatefulSet with the object; the rest here)
  kubectl(cluster, ["delete", "--ignore-not-found", "service", "prometheus-operated", "-n", namespace]);
}

export { clusterEnv };
