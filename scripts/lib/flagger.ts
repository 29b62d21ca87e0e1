/**
 * Flagger v1.36.1 (scripts/delivery-toolchain.sh) acting on the local cluster (docs/canary.md, "On the local
 * cluster"): the controller and its load tester run as processes inside the cluster's network namespace (like the
 * Kyverno admission controller, scripts/lib/admission.ts), each with a resolv.conf that points at the cluster DNS, so
 * the Canary's URLs (the hold gate's `<svc>.<ns>.svc.cluster.local`, the MetricTemplates' Prometheus
 * `prometheus-operated.monitoring`, the traffic's `<svc>.<ns>`) resolve as they do in a pod.
 *
 * The controller: `-mesh-provider=istio` (the program's provider) against the VirtualService and DestinationRule
 * CRDs that scripts/crds.sh fetched from `istio.io/api` (no Istio data plane), its own Canary/MetricTemplate/
 * AlertProvider CRDs from the release's module (`artifacts/flagger/crd.yaml`), `-metrics-server` the cluster's
 * Prometheus. The load tester runs the Canary's `rollout` webhook commands (`node dist/cli/traffic.js ...`) with `sh -c`
 * in node-app/, whose dist/ is the node's built code.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { kubectl, kubectlGet, inClusterNs, type ClusterEnv } from "./cluster";
import { goModuleDir, toolchainVersion } from "./go-module";
import { processLog, runningPid, startInNs, stopByPid, tail, waitUntil } from "./processes";
import { REPO_ROOT } from "./stack-config";

export const FLAGGER_MODULE = "github.com/fluxcd/flagger";
/** The release the cluster runs (scripts/delivery-toolchain/versions.env). */
export const flaggerVersion = (): string => toolchainVersion("FLAGGER");
/** Port of the controller's HTTP server (metrics, /healthz) inside the namespace. */
export const FLAGGER_PORT = 10080;
/** Port of the load tester inside the namespace (its webhook URL: `http://<node IP>:<port>/`). */
export const LOADTESTER_PORT = 10090;
/** The mesh provider: the program's (bizra:canary.provider), whose CRDs scripts/crds.sh fetches. */
export const MESH_PROVIDER = "istio";

/** `<cluster state>/flagger/`: pid files and the resolv.conf of the processes. */
export function flaggerDir(cluster: ClusterEnv): string {
  return path.join(cluster.STATE, "flagger");
}

/** Paths of the two binaries, or what is missing (the command that builds them). */
export function flaggerBinaries(): { flagger: string; loadtester: string } | { missing: string } {
  const r = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "delivery-toolchain.sh"), "paths", "flagger"], { encoding: "utf8" });
  const flagger = /^FLAGGER_FLAGGER_BIN=(.+)$/m.exec(r.stdout ?? "")?.[1];
  const loadtester = /^FLAGGER_LOADTESTER_BIN=(.+)$/m.exec(r.stdout ?? "")?.[1];
  if (r.status !== 0 || !flagger || !loadtester) return { missing: `Flagger v${flaggerVersion()} is not built (run \`bash scripts/delivery-toolchain.sh build flagger\`)` };
  return { flagger, loadtester };
}

/** The release's own CRDs (Canary, MetricTemplate, AlertProvider) in the Go module cache. */
export function flaggerCrdFile(): string {
  const file = path.join(goModuleDir(FLAGGER_MODULE, flaggerVersion()), "artifacts", "flagger", "crd.yaml");
  if (!fs.existsSync(file)) throw new Error(`${file} is missing`);
  return file;
}

/** A resolv.conf for processes in the namespace: the cluster DNS and the pods' search list. */
export function clusterResolvConf(cluster: ClusterEnv): string {
  const file = path.join(flaggerDir(cluster), "resolv.conf");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const domain = cluster["CLUSTER_DOMAIN"] ?? "cluster.local";
  fs.writeFileSync(file, `search svc.${domain} ${domain}\nnameserver ${cluster["DNS_IP"] ?? cluster.NODE_IP}\noptions ndots:5\n`);
  return file;
}

/** The URL the Canary's `rollout` webhook calls (`bizra:canary.loadTester.url`). */
export function loadTesterUrl(cluster: ClusterEnv): string {
  return `http://${cluster.NODE_IP}:${LOADTESTER_PORT}/`;
}

function httpOk(cluster: ClusterEnv, url: string): boolean {
  const r = inClusterNs(cluster, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url], { timeoutMs: 10_000 });
  return r.stdout === "200";
}

export interface StartedFlagger {
  readonly flaggerPid: number;
  readonly loadtesterPid: number;
  /** Seconds from the start until both answered /healthz. */
  readonly readySeconds: number;
}

/**
 * Installs Flagger's CRDs (the release's), then starts the load tester and the controller inside the namespace;
 * resolves when both answer /healthz. `metricsServer`: the cluster's Prometheus.
 */
export async function startFlagger(cluster: ClusterEnv, opts: { metricsServer: string; logLevel?: string }): Promise<StartedFlagger> {
  const bins = flaggerBinaries();
  if ("missing" in bins) throw new Error(bins.missing);
  const dir = flaggerDir(cluster);
  for (const name of ["flagger", "flagger-loadtester"]) {
    const pid = runningPid(dir, name);
    if (pid !== undefined) throw new Error(`${name} already runs for this cluster (pid ${pid}); stop it first`);
  }
  const out = kubectl(cluster, ["apply", "--server-side", "--force-conflicts", "-o", "name", "-f", flaggerCrdFile()], { timeoutMs: 300_000 });
  const names = out.split("\n").filter((l) => l.startsWith("customresourcedefinition")).map((l) => l.replace(/^[^/]+\//, ""));
  await waitUntil("Flagger's CRDs Established", 120_000, () => {
    const pending = names.filter((n) => !kubectlGet<{ status?: { conditions?: { type: string; status: string }[] } }>(cluster, ["crd", n])?.status?.conditions?.some((c) => c.type === "Established" && c.status === "True"));
    return pending.length === 0 ? true : undefined;
  });
  const resolvConf = clusterResolvConf(cluster);
  const t0 = Date.now();
  const loadtesterPid = startInNs(cluster, "flagger-loadtester", bins.loadtester, ["-port", String(LOADTESTER_PORT), "-timeout", "10m", "-log-level", "info"], {
    dir,
    resolvConf,
    // the webhook commands run with `sh -c` here: node-app/, whose dist/ is the node's built code
    cwd: path.join(REPO_ROOT, "node-app"),
  });
  const flaggerPid = startInNs(
    cluster,
    "flagger",
    bins.flagger,
    [
      `-kubeconfig=${cluster.KUBECONFIG}`,
      `-mesh-provider=${MESH_PROVIDER}`,
      `-metrics-server=${opts.metricsServer}`,
      `-port=${FLAGGER_PORT}`,
      `-log-level=${opts.logLevel ?? "info"}`,
      "-enable-leader-election=false",
    ],
    { dir, resolvConf, env: { ...process.env, KUBECONFIG: cluster.KUBECONFIG } },
  );
  for (const [name, port] of [["flagger-loadtester", LOADTESTER_PORT], ["flagger", FLAGGER_PORT]] as const) {
    await waitUntil(
      `${name} /healthz`,
      120_000,
      () => (httpOk(cluster, `http://127.0.0.1:${port}/healthz`) ? true : undefined),
      () => (runningPid(dir, name) === undefined ? `${name} exited:\n${tail(processLog(cluster, name))}` : undefined),
    );
  }
  return { flaggerPid, loadtesterPid, readySeconds: (Date.now() - t0) / 1000 };
}

/** True while both processes run. */
export function flaggerRunning(cluster: ClusterEnv): boolean {
  return ["flagger", "flagger-loadtester"].every((n) => runningPid(flaggerDir(cluster), n) !== undefined);
}

/** Stops the controller and the load tester; returns which were running. */
export async function stopFlagger(cluster: ClusterEnv): Promise<string[]> {
  const stopped: string[] = [];
  for (const name of ["flagger", "flagger-loadtester"]) if (await stopByPid(flaggerDir(cluster), name)) stopped.push(name);
  return stopped;
}
