/**
 * Observability of the real deployment, end to end on a single-node cluster this test starts (scripts/cluster.sh;
 * BIZRA_CLUSTER_NETNS / BIZRA_CLUSTER_DIR choose another namespace and state folder):
 *   a. the Prometheus Operator (built from the Go module proxy) reconciles the testnet stack's ServiceMonitors and
 *      PrometheusRule into a Prometheus (Debian's binary, in a pod): its targets are both node replicas on the metrics
 *      port and the signer pods, all up, and the PrometheusRule's rules are loaded;
 *   b. under healthy traffic from a client inside the namespace, `npm run validate -- testnet --prometheus <url>`
 *      prints GO with the report path, and no alert fires;
 *   c. with `bizra:faultInjection` the node answers 500 to a share of API requests: validate prints NO-GO naming
 *      apiErrorRate, and `APIErrorRateHigh` fires in Prometheus.
 * The stack is deployed with the committed Pulumi.testnet.yaml plus: the cluster settings (image built here), the
 * alerts' `for` shortened (`bizra:alerts.forOverride`, so an alert fires within the test) and latency bounds this
 * shared test machine can meet (LATENCY_SLOS); validate judges against exactly that config (`--config`), and is also
 * run against the committed table, whose verdict is printed, not asserted. Prints what it measured.
 *
 * Skipped (with the reason) only when the toolchains are not built; .ci/run sets BIZRA_REQUIRE_ENGINE=1, which turns
 * that into a failure. A cluster of this checkout that already runs is used and left running (the stack and the
 * monitoring stack are removed); one started here is stopped, leaving no namespace or mount.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { METRICS } from "@bizra/contract";
import { verifyEvidence } from "@bizra/evidence";
import { alertRuleConfig, alertRuleGroups } from "../components/alerts";
import { parseStackConfig } from "../components/config";
import { clusterEnv, clusterRunning, clusterStackSettings, CLUSTER_SCRIPT, kubectlGet, type ClusterEnv } from "../scripts/lib/cluster";
import { find, single } from "./support/stack";
import { DRILL_ALERT_FOR, TEST_MACHINE_LATENCY_SLOS } from "./support/cluster-stack";
import {
  deployMonitoring,
  promApi,
  PROMETHEUS_NAME,
  removeMonitoring,
  waitForPrometheus,
  type DeployedMonitoring,
} from "../scripts/lib/cluster-monitoring";
import { ensureNodeImage, prepareCluster } from "../scripts/engine-cluster";
import { engineEnv, ensurePackDeps, evidenceProblems, policyPackArgs, pulumi, toolchainBuilt, toolchainEnv, writeStackConfigFile, type PulumiRun } from "../scripts/lib/engine";
import { offlineStackConfig, readStackFile, REPO_ROOT } from "../scripts/lib/stack-config";
import { REPORT_ARTIFACT } from "../scripts/validate";
import type { SloRow } from "../scripts/lib/post-deploy";
import * as k8s from "@pulumi/kubernetes";

import K8s = k8s.types.output;
type List<T> = { items: T[] };
/** The answers of the Prometheus HTTP API endpoints this test reads (their `data`). */
type PromAlert = { labels: Record<string, string>; state: string; activeAt: string };
type PromTarget = { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string };
type PromRuleGroup = { name: string; file: string; rules: { name: string; type: string; query: string; duration: number; health: string }[] };
type PromVector = { result: { metric: Record<string, string>; value: [number, string] }[] };
/** The Prometheus object's status, as the operator writes it. */
type PrometheusStatus = { status?: { conditions?: { type: string; status: string }[] } };
/** The signed report's artifact, the fields read here. */
type ReportArtifact = { results: { verdict: string; prometheusUrl: string; slos: SloRow[] } };

const STACK = "testnet";
const AWAIT_TIMEOUT_S = 600;
const ALERT_FOR = DRILL_ALERT_FOR;
const LATENCY_SLOS = TEST_MACHINE_LATENCY_SLOS;
/** Share of node API requests answered 500 in the fault drill. */
const FAULT_ERROR_RATE = 0.3;
/** Healthy traffic before validating: several 5 s scrapes inside validate's 1m window. */
const HEALTHY_TRAFFIC_MS = 35_000;
const WINDOW = "1m";
const ALERT = "APIErrorRateHigh";

const log = (s: string): void => console.error(`      [cluster-observability] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

function missingToolchain(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0) return `Kubernetes components not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  if (!toolchainBuilt()) return "Pulumi engine toolchain not built (run bash toolchain/pulumi.sh)";
  const po = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "delivery-toolchain.sh"), "paths", "prometheus-operator"], { encoding: "utf8" });
  if (po.status !== 0) return "the Prometheus Operator is not built (run bash scripts/delivery-toolchain.sh build prometheus-operator)";
  for (const cmd of ["containerd", "runc", "ctr", "buildah", "skopeo", "mmdebstrap", "docker-registry", "prometheus", "go", "curl"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0) return `${cmd} is not installed (scripts/setup.sh installs it)`;
  }
  return undefined;
}

function failureLines(out: string): string {
  const lines = out.split("\n");
  const hits = lines.flatMap((l, i) => (/error|violat|mandatory|failed|timed out/i.test(l) ? lines.slice(i, i + 6) : []));
  return (hits.length ? hits.join("\n") : lines.slice(-60).join("\n")).slice(-8000);
}

interface ClientSummary {
  rounds: number;
  seconds: number;
  status: Record<string, number>;
  signed: number;
  verifiedValid: number;
  wrongVerdicts: number;
}

describe("cluster observability: the Prometheus Operator scrapes the deployment, validate and alerts judge it", function () {
  this.timeout(30 * 60_000);
  let cluster: ClusterEnv;
  let startedHere = false;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  let configFile: string;
  let image: string;
  let namespace: string;
  let appName: string;
  let deployed = false;
  let monitoring: DeployedMonitoring | undefined;
  let monitoringApplied = 0;
  let promUrl: string;
  let nodeUrl: string;
  let signerUrl: string;
  let tokenFile: string;
  const measured: string[] = [];
  const t0All = Date.now();

  const writeConfig = (extra: Record<string, unknown> = {}): void => {
    writeStackConfigFile(
      STACK,
      {
        ...clusterStackSettings(cluster, image, STACK),
        "bizra:awaitTimeoutSeconds": AWAIT_TIMEOUT_S,
        "bizra:alerts": { forOverride: ALERT_FOR },
        "bizra:slo": LATENCY_SLOS,
        ...extra,
      },
      configFile,
    );
  };
  const engine = (args: string[]): PulumiRun =>
    pulumi([...args, "--stack", STACK, "--config-file", configFile, "--non-interactive"], env, { capture: true, netns: cluster.NETNS_FILE, timeoutMs: 20 * 60_000 });
  const up = (what: string): void => {
    const t0 = Date.now();
    const r = engine(["up", "--yes", "--skip-preview", ...policyPackArgs()]);
    assert.equal(r.status, 0, `pulumi up (${what}) failed (exit ${r.status}):\n${failureLines(r.output)}`);
    measured.push(`pulumi up (${what}): ${seconds(t0)} s`);
  };
  const prom = <T>(q: string): T => promApi<T>(cluster, promUrl, q);
  /** A live object or list, read as the provider's output type of its kind; fails naming the query when absent. */
  const live = <T>(args: string[]): T => kubectlGet<T>(cluster, args) ?? assert.fail(`kubectl get ${args.join(" ")}: not found`);

  /** The client inside the namespace, until `stop()`; resolves to its summary. */
  const startClient = (name: string, maxSeconds: number): { stop: () => Promise<ClientSummary> } => {
    const stopFile = path.join(tmp, `${name}.stop`);
    const outFile = path.join(tmp, `${name}.json`);
    const child = spawn(
      "nsenter",
      [`--net=${cluster.NETNS_FILE}`, "--", process.execPath, path.join(REPO_ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only",
        path.join(REPO_ROOT, "tests", "support", "cluster-client.ts"), nodeUrl, signerUrl, tokenFile, stopFile, String(maxSeconds), outFile],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return {
      async stop() {
        fs.writeFileSync(stopFile, "");
        const code = await exited;
        assert.equal(code, 0, `the client failed (exit ${code}): ${stderr.slice(-2000)}`);
        return JSON.parse(fs.readFileSync(outFile, "utf8")) as ClientSummary;
      },
    };
  };

  /** `npm run validate -- testnet ...` inside the namespace, as an operator runs it there. */
  const validate = (outDir: string, extra: string[]): { status: number | null; output: string } => {
    const r = spawnSync(
      "nsenter",
      [`--net=${cluster.NETNS_FILE}`, "--", "npm", "run", "--silent", "validate", "--", STACK, "--window", WINDOW, "--prometheus", promUrl, "--out", outDir, ...extra],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 300_000 },
    );
    if (r.error) throw r.error;
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };

  const firing = (): PromAlert[] =>
    prom<{ alerts: PromAlert[] }>("/api/v1/alerts").alerts.filter((a) => a.labels["namespace"] === namespace);

  before(async function () {
    const missing = missingToolchain();
    if (missing) {
      if (process.env["BIZRA_REQUIRE_ENGINE"] === "1") throw new Error(`BIZRA_REQUIRE_ENGINE=1 (set by .ci/run) but ${missing}`);
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    const t0 = Date.now();
    if (clusterRunning()) {
      log("a cluster of this checkout already runs: using it (and leaving it running)");
    } else {
      const r = spawnSync("bash", [CLUSTER_SCRIPT, "up"], { stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60_000 });
      assert.equal(r.status, 0, "scripts/cluster.sh up failed (see its messages above)");
      startedHere = true;
      measured.push(`cluster up: ${seconds(t0)} s`);
    }
    cluster = clusterEnv();
    log(`cluster in network namespace ${cluster.NETNS}, state ${cluster.STATE}`);
    const t1 = Date.now();
    image = ensureNodeImage(cluster, log);
    ensurePackDeps(log);
    if (evidenceProblems().length > 0) {
      const r = spawnSync("npm", ["run", "evidence"], { cwd: REPO_ROOT, stdio: ["ignore", "ignore", "inherit"], timeout: 15 * 60_000 });
      assert.equal(r.status, 0, "npm run evidence failed");
    }
    prepareCluster(cluster, STACK);
    measured.push(`node image, CRDs, policy packs ready: ${seconds(t1)} s`);
    // The monitoring stack starts while the stack deploys.
    const t2 = Date.now();
    monitoring = deployMonitoring(cluster, { log });
    monitoringApplied = Date.now();
    measured.push(`monitoring images built/imported and applied: ${seconds(t2)} s`);
    const file = readStackFile(STACK);
    namespace = String(file["bizra:namespace"]);
    appName = String(file["bizra:appName"]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-cluster-observability-"));
    configFile = path.join(tmp, `Pulumi.${STACK}.yaml`);
    writeConfig();
    env = engineEnv(toolchainEnv(), path.join(tmp, "backend"));
    const select = pulumi(["stack", "select", "--create", STACK, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
    assert.equal(select.status, 0, select.output);
  });

  after(async function () {
    if (!startedHere && cluster) {
      // a cluster that was running before: leave it as it was
      if (deployed) {
        const d = engine(["destroy", "--yes", "--skip-preview"]);
        if (d.status !== 0) log(`cleanup destroy failed:\n${failureLines(d.output)}`);
      }
      if (monitoring) removeMonitoring(cluster, monitoring.namespace);
    }
    if (startedHere) {
      const t0 = Date.now();
      const down = spawnSync("bash", [CLUSTER_SCRIPT, "down"], { stdio: ["ignore", "ignore", "inherit"], timeout: 5 * 60_000 });
      assert.equal(down.status, 0, "scripts/cluster.sh down failed");
      const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      assert.doesNotMatch(netns, new RegExp(`^${cluster.NETNS}\\b`, "m"), `network namespace ${cluster.NETNS} left behind`);
      const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").filter((l) => l.includes(cluster.STATE));
      assert.deepEqual(mounts, [], "mounts left behind under the cluster state folder");
      measured.push(`cluster down: ${seconds(t0)} s; no namespace ${cluster.NETNS}, no mount under ${cluster.STATE}`);
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    measured.push(`whole file: ${seconds(t0All)} s`);
    if (measured.length) console.log(`    measured:\n${measured.map((m) => `      ${m}`).join("\n")}`);
  });

  it("a. Prometheus, reconciled by the operator from the stack's ServiceMonitors, scrapes both node replicas on the metrics port and the signer; the PrometheusRule's rules are loaded", async function () {
    deployed = true;
    up("first, both policy packs");
    const t0 = Date.now();
    promUrl = await waitForPrometheus(cluster, monitoring!.namespace);
    const promObject = live<PrometheusStatus>(["prometheus", PROMETHEUS_NAME, "-n", monitoring!.namespace]);
    const reconciled = (promObject.status?.conditions ?? []).find((c) => c.type === "Reconciled");
    assert.equal(reconciled?.status, "True", `the operator reconciled the Prometheus object: ${JSON.stringify(promObject.status)}`);
    const promPod = single(live<List<K8s.core.v1.Pod>>(["pods", "-n", monitoring!.namespace, "-l", `operator.prometheus.io/name=${PROMETHEUS_NAME}`]).items, "Prometheus pod");
    const readyAt = Date.parse(find(promPod.status.conditions, (c) => c.type === "Ready", "Ready condition").lastTransitionTime);
    measured.push(`Prometheus pod ${promPod.metadata.name} Ready ${((readyAt - monitoringApplied) / 1000).toFixed(0)} s after the apply (condition time, 1 s resolution); answering at ${promUrl} ${seconds(t0)} s after up returned`);

    const svc = (name: string) => live<K8s.core.v1.Service>(["service", name, "-n", namespace]);
    const cfg = parseStackConfig(STACK, offlineStackConfig(STACK, { "bizra:slo": LATENCY_SLOS, "bizra:alerts": { forOverride: ALERT_FOR } }).values, ["bizra:signingKey"]);
    const nodeSvc = svc(appName);
    const signerSvc = svc(`${appName}-signer`);
    nodeUrl = `http://${nodeSvc.spec.clusterIP}:${cfg.apiPort}`;
    signerUrl = `http://${signerSvc.spec.clusterIP}:${cfg.signer.port}`;

    // The scrape config is the operator's, generated from the ServiceMonitors (one job per ServiceMonitor endpoint).
    const config = prom<{ yaml: string }>("/api/v1/status/config").yaml;
    for (const job of [appName, `${appName}-signer`]) assert.ok(config.includes(`job_name: serviceMonitor/${namespace}/${job}/0`), `no operator job for ServiceMonitor ${namespace}/${job}:\n${config.slice(0, 3000)}`);
    assert.match(config, /kubernetes_sd_configs:/);

    // Targets: exactly the Ready node pods on the metrics port, and the signer pods; all up.
    const podsOf = (selector: Record<string, string>) =>
      live<List<K8s.core.v1.Pod>>(["pods", "-n", namespace, "-l", Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",")])
        .items.filter((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    const nodePods = podsOf(nodeSvc.spec.selector);
    // every signer pod through <app>-signer-metrics; <app>-signer itself selects the active signer only
    const signerPods = podsOf(svc(`${appName}-signer-metrics`).spec.selector);
    assert.equal(signerPods.length, cfg.signer.replicas, `Ready signer pods: ${signerPods.length}`);
    const activePods = podsOf(signerSvc.spec.selector);
    assert.equal(activePods.length, 1, `pods the sign Service selects: ${activePods.map((p) => p.metadata.name).join(", ")}`);
    assert.equal(nodePods.length, cfg.replicas, `Ready node pods: ${nodePods.length}`);
    const t1 = Date.now();
    let targets: { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }[] = [];
    const upFor = (job: string) => targets.filter((t) => t.labels["job"] === job && t.labels["namespace"] === namespace && t.health === "up");
    while (Date.now() - t1 < 120_000) {
      targets = prom<{ activeTargets: PromTarget[] }>("/api/v1/targets?state=active").activeTargets;
      if (upFor(appName).length === nodePods.length && upFor(`${appName}-signer`).length === signerPods.length) break;
      await sleep(2000);
    }
    const nodeTargets = upFor(appName);
    assert.deepEqual(
      nodeTargets.map((t) => t.labels["pod"]).sort(),
      nodePods.map((p) => p.metadata.name).sort(),
      `node targets up: ${JSON.stringify(targets.filter((t) => t.labels["namespace"] === namespace).map((t) => [t.labels["pod"], t.health, t.lastError]))}`,
    );
    for (const t of nodeTargets) {
      const pod = find(nodePods, (p) => p.metadata.name === t.labels["pod"], `node pod ${t.labels["pod"]}`);
      assert.equal(t.scrapeUrl, `http://${pod.status.podIP}:${cfg.metricsPort}/metrics`, "scraped at the pod's address on the metrics port");
      assert.equal(t.labels["endpoint"], "metrics");
      assert.equal(t.labels["service"], appName);
    }
    assert.deepEqual(upFor(`${appName}-signer`).map((t) => t.labels["pod"]).sort(), signerPods.map((p) => p.metadata.name).sort(), "signer targets up");
    measured.push(
      `targets up ${seconds(t1)} s after Prometheus was ready: ${nodeTargets.map((t) => t.scrapeUrl).join(", ")} (job ${appName}); ${signerPods.length} signer pods (job ${appName}-signer), ` +
        `the sign Service selects ${activePods.map((p) => p.metadata.name).join(", ")}`,
    );

    // Rules: the PrometheusRule read back from the API server, loaded as the operator's rule file.
    const rule = live<{ spec: { groups: unknown } }>(["prometheusrule", appName, "-n", namespace]);
    const expected = alertRuleGroups(cfg.slos, alertRuleConfig(cfg));
    assert.deepEqual(rule.spec.groups, JSON.parse(JSON.stringify(expected)), "the PrometheusRule in the cluster is the one the program renders for this config");
    const t2 = Date.now();
    let groups: { name: string; file: string; rules: { name: string; type: string; query: string; duration: number; health: string }[] }[] = [];
    while (Date.now() - t2 < 120_000) {
      groups = prom<{ groups: PromRuleGroup[] }>("/api/v1/rules?type=alert").groups.filter((g) => g.file.includes(`${namespace}-${appName}`));
      if (groups.length === expected.length) break;
      await sleep(2000);
    }
    // Prometheus lists the groups of a file by name
    const byName = <T extends { name: string }>(xs: readonly T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(byName(groups).map((g) => g.name), byName(expected).map((g) => g.name), "rule groups loaded from the PrometheusRule");
    const loaded = byName(groups).flatMap((g) => g.rules);
    const wanted = byName(expected).flatMap((g) => g.rules);
    assert.deepEqual(loaded.map((r) => r.name), wanted.map((r) => r.alert));
    for (const [i, r] of loaded.entries()) {
      assert.equal(r.duration, wanted[i]!.for === undefined ? 0 : 15, `${r.name}: for`);
      assert.notEqual(r.health, "err", `${r.name} evaluates`);
    }
    measured.push(`rules loaded ${seconds(t2)} s after the targets: ${loaded.length} alerts in ${groups.length} groups from ${groups[0]?.file}`);
  });

  it("b. under healthy traffic from inside the namespace, `npm run validate -- testnet --prometheus <url>` prints GO with the report path; no alert fires", async function () {
    assert.ok(promUrl, "Prometheus is up (test a)");
    const secret = live<K8s.core.v1.Secret>(["secret", `${appName}-signer-token`, "-n", namespace]);
    tokenFile = path.join(tmp, "signer-token");
    fs.writeFileSync(tokenFile, Buffer.from(secret.data["token"] ?? assert.fail("the signer token Secret has no key token"), "base64").toString("utf8"), { mode: 0o600 });

    // One signer holds the Lease (bizra_poi_signer_active) and is the sign Service's one endpoint
    const signerActive = `sum(${METRICS.poiSignerActive}{namespace="${namespace}"})`;
    const t0s = Date.now();
    while (Date.now() - t0s < 120_000 && Number(prom<PromVector>(`/api/v1/query?query=${encodeURIComponent(signerActive)}`).result[0]?.value[1] ?? 0) !== 1) await sleep(2000);
    measured.push(`an active signer seen in Prometheus ${seconds(t0s)} s after the targets and rules check`);

    const client = startClient("healthy", 600);
    await sleep(HEALTHY_TRAFFIC_MS);
    const summary = await client.stop();
    measured.push(`healthy client: ${summary.rounds} rounds in ${summary.seconds.toFixed(1)} s, ${summary.verifiedValid} verified valid; ${JSON.stringify(summary.status)}`);
    const activeShare = prom<PromVector>(`/api/v1/query?query=${encodeURIComponent(`avg_over_time(${signerActive}[${Math.ceil(summary.seconds)}s:5s])`)}`).result[0]?.value[1];
    measured.push(`share of the healthy traffic's scrapes with an active signer: ${activeShare ?? "no data"}`);
    assert.ok(summary.verifiedValid > 10, `the client verified ${summary.verifiedValid} attestations: ${JSON.stringify(summary)}`);
    assert.equal(summary.wrongVerdicts, 0);
    await sleep(6000); // one more scrape after the last request
    // every node replica served verifications (one connection per request: the Service spreads them), as Prometheus saw it
    const perPod = prom<PromVector>(
      `/api/v1/query?query=${encodeURIComponent(`sum by (pod) (increase(${METRICS.poiVerifyTotal}{namespace="${namespace}", job="${appName}"}[1m]))`)}`,
    ).result.map((r) => [r.metric["pod"], Number(r.value[1])] as const);
    measured.push(`verifications per node pod over the last minute (Prometheus): ${perPod.map(([p, v]) => `${p} ${v.toFixed(0)}`).join(", ")}`);
    const replicas = live<K8s.apps.v1.Deployment>(["deployment", appName, "-n", namespace]).spec.replicas;
    assert.equal(perPod.filter(([, v]) => v > 0).length, replicas, `every node replica verified: ${JSON.stringify(perPod)}`);

    const dir = path.join(tmp, "report-go");
    const t0 = Date.now();
    const r = validate(dir, ["--config", configFile]);
    measured.push(`validate (deployed config): exit ${r.status} in ${seconds(t0)} s`);
    assert.equal(r.status, 0, `validate did not say GO:\n${r.output}`);
    assert.match(r.output, /^GO: testnet$/m);
    const report = /^report: (\S+)$/m.exec(r.output)?.[1];
    assert.ok(report && fs.existsSync(report) && report.startsWith(dir), `the report path is printed and the page exists:\n${r.output}`);
    const artifact = JSON.parse(fs.readFileSync(path.join(dir, REPORT_ARTIFACT), "utf8")) as ReportArtifact;
    assert.equal(artifact.results.verdict, "go");
    assert.equal(artifact.results.prometheusUrl, promUrl);
    assert.ok(artifact.results.slos.every((s) => s.verdict === "pass" || s.verdict === "info"), JSON.stringify(artifact.results.slos));
    assert.deepEqual(verifyEvidence(dir, { trustedKeys: "any" }).problems, [], "the report bundle verifies (signature, digests)");
    measured.push(
      `GO report ${report}: ${artifact.results.slos.map((s) => `${s.id} ${s.measured === undefined ? "-" : Number(s.measured).toPrecision(3)}`).join(", ")}`,
    );

    // The committed table (production-grade latency bounds) on this machine: printed, not asserted.
    const strict = validate(path.join(tmp, "report-committed"), []);
    measured.push(`validate (committed Pulumi.testnet.yaml table): exit ${strict.status}; ${strict.output.split("\n").filter((l) => /^ {2}- /.test(l)).join(" ") || "no failing SLO"}`);

    const alerts = firing();
    assert.deepEqual(alerts.filter((a) => a.state === "firing").map((a) => a.labels["alertname"]), [], "no alert fires on the healthy deployment");
    measured.push(`alerts on the healthy deployment: none firing (${alerts.length} pending)`);
  });

  it(`c. with bizra:faultInjection (${FAULT_ERROR_RATE} of API requests answered 500), validate prints NO-GO naming apiErrorRate and ${ALERT} fires`, async function () {
    assert.ok(tokenFile, "the healthy phase ran (test b)");
    writeConfig({ "bizra:faultInjection": { errorRate: FAULT_ERROR_RATE } });
    up("fault injection on: the flags ConfigMap changes, the node pods roll");
    const flags = live<K8s.core.v1.ConfigMap>(["configmap", `${appName}-flags`, "-n", namespace]);
    assert.equal(flags.data.BIZRA_FAULT_ERROR_RATE, String(FAULT_ERROR_RATE));

    const t0 = Date.now();
    const client = startClient("faulty", 600);
    let alert: { labels: Record<string, string>; state: string; activeAt: string } | undefined;
    let pendingAt: number | undefined;
    while (Date.now() - t0 < 240_000) {
      const a = firing().find((x) => x.labels["alertname"] === ALERT);
      if (a && pendingAt === undefined) pendingAt = Date.now();
      if (a?.state === "firing") {
        alert = a;
        break;
      }
      await sleep(2000);
    }
    const firedAfter = seconds(t0);
    // validate's window ends now: at least 30 s of faulty traffic in it
    while (Date.now() - t0 < 30_000) await sleep(1000);
    const summary = await client.stop();
    measured.push(`faulty client: ${summary.rounds} rounds in ${summary.seconds.toFixed(1)} s; ${JSON.stringify(summary.status)}`);
    assert.ok(alert, `${ALERT} did not fire within 240 s; alerts: ${JSON.stringify(firing())}`);
    assert.equal(alert.labels["severity"], "warning");
    assert.equal(alert.labels["slo"], "apiErrorRate");
    assert.equal(alert.labels["namespace"], namespace);
    const pendingAfter = pendingAt !== undefined ? ((pendingAt - t0) / 1000).toFixed(1) : "?";
    measured.push(`${ALERT}: pending ${pendingAfter} s, firing ${firedAfter} s after the faulty traffic started (for ${ALERT_FOR}, evaluation every 5 s)`);
    const others = firing().filter((a) => a.state === "firing" && a.labels["alertname"] !== ALERT).map((a) => a.labels["alertname"]);
    measured.push(`other alerts firing during the drill: ${others.length ? others.join(", ") : "none"}`);

    await sleep(6000);
    const dir = path.join(tmp, "report-no-go");
    const t1 = Date.now();
    const r = validate(dir, ["--config", configFile]);
    measured.push(`validate (fault on): exit ${r.status} in ${seconds(t1)} s; ${r.output.split("\n").filter((l) => /^ {2}- /.test(l)).join(" ")}`);
    assert.equal(r.status, 1, `validate did not say NO-GO:\n${r.output}`);
    assert.match(r.output, /^NO-GO: testnet$/m);
    assert.match(r.output, /^ {2}- apiErrorRate: measured [0-9.]+%, the SLO requires <= 1%$/m);
    assert.match(r.output, /^report: \S+$/m);
    const artifact = JSON.parse(fs.readFileSync(path.join(dir, REPORT_ARTIFACT), "utf8")) as ReportArtifact;
    assert.deepEqual(artifact.results.slos.filter((s) => s.verdict === "fail").map((s) => s.id), ["apiErrorRate"], "only the API error rate fails");
  });
});
