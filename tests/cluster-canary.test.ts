/**
 * Flagger acting on the real deployment, end to end on a single-node cluster this test starts (scripts/cluster.sh;
 * BIZRA_CLUSTER_NETNS / BIZRA_CLUSTER_DIR choose another namespace and state folder). Flagger v1.36.1's controller
 * (`-mesh-provider=istio`, the VirtualService/DestinationRule CRDs of scripts/crds.sh, no Istio data plane) and its
 * load tester run as processes in the cluster's network namespace (scripts/lib/flagger.ts); the MetricTemplates query
 * the cluster's Prometheus that the Prometheus Operator reconciles (scripts/lib/cluster-monitoring.ts); the hold gate
 * is the program's own Deployment. The testnet stack is deployed with the committed file plus: two stages held one
 * minute each, checks every INTERVAL_S seconds (`bizra:canary.intervalSeconds`; production keeps 60/120/180 minutes
 * at one-minute checks), the load tester (`bizra:canary.loadTester`, signing as a test validator the stack's set
 * lists), one replica, and the test machine's latency bounds and alert `for` (tests/support/cluster-stack.ts).
 *
 *   A. a healthy revision (log level changed: a new pod template) walks 0 -> 10 -> 50 %, each stage held its minute
 *      by the hold gate, and is promoted; no alert fires in the namespace meanwhile;
 *   B. a faulty revision (`bizra:faultInjection`: half the canary's API requests answered 500) is rolled back after
 *      `failedChecksBeforeRollback` failed checks, the primary untouched, and `APIErrorRateHigh` fires;
 *   C. a revision without traffic (no load tester) is rolled back after `failedChecksBeforeRollback` intervals
 *      ("no values found"), as docs/canary.md promises.
 * Each scenario's timeline (phase, weight, failed checks, seconds since its `pulumi up` returned) is read from the
 * Canary's status and printed as `measured:` lines, with Flagger's events.
 *
 * Skipped (with the reason) only when the toolchains are not built; .ci/run sets BIZRA_REQUIRE_ENGINE=1, which turns
 * that into a failure. A cluster of this checkout that already runs is used and left running (the stack, Flagger and
 * the monitoring stack are removed); one started here is stopped, leaving no namespace or mount.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV } from "@bizra/contract";
import { publicKeyOfSeed } from "../components/validator-set";
import { clusterEnv, clusterRunning, clusterStackSettings, CLUSTER_SCRIPT, kubectl, kubectlGet, type ClusterEnv } from "../scripts/lib/cluster";
import { deployMonitoring, promApi, removeMonitoring, waitForPrometheus, type DeployedMonitoring } from "../scripts/lib/cluster-monitoring";
import { flaggerBinaries, loadTesterUrl, startFlagger, stopFlagger } from "../scripts/lib/flagger";
import { processLog } from "../scripts/lib/processes";
import { ensureNodeImage, prepareCluster } from "../scripts/engine-cluster";
import { engineEnv, ensurePackDeps, evidenceProblems, policyPackArgs, pulumi, toolchainBuilt, toolchainEnv, writeStackConfigFile, type PulumiRun } from "../scripts/lib/engine";
import { readStackFile, REPO_ROOT } from "../scripts/lib/stack-config";
import { DRILL_ALERT_FOR, TEST_MACHINE_LATENCY_SLOS } from "./support/cluster-stack";

const STACK = "testnet";
const AWAIT_TIMEOUT_S = 600;
/** Seconds between Flagger's checks on the test stack. */
const INTERVAL_S = 20;
/** Two stages of one minute: the gate holds each for 60 / INTERVAL_S checks. */
const STAGES = [
  { weight: 10, holdMinutes: 1 },
  { weight: 50, holdMinutes: 1 },
];
/** Share of the faulty canary's API requests answered 500. */
const FAULT_ERROR_RATE = 0.5;
const LOAD_TEST_ID = "loadtest";
/**
 * Traffic rounds per second (canary and primary in turn): enough that one window of the success-rate check holds
 * some 200 canary verifications, so its one corrupted attestation in 200 (invalidEvery) keeps the rate above 99 %.
 */
const LOAD_RATE = 20;
const ALERT = "APIErrorRateHigh";

const log = (s: string): void => console.error(`      [cluster-canary] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (t0: number) => ((Date.now() - t0) / 1000).toFixed(1);

/** The Canary's status as Flagger v1.36.1 writes it (the fields read here). */
interface CanaryStatus {
  phase?: string;
  canaryWeight?: number;
  failedChecks?: number;
  iterations?: number;
  lastAppliedSpec?: string;
  lastTransitionTime?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}
interface TimelineRow {
  t: number;
  phase: string;
  weight: number;
  failedChecks: number;
}
type PromAlert = { labels: Record<string, string>; state: string; activeAt: string };
type K8sEvent = { reason: string; message: string; lastTimestamp?: string; eventTime?: string; firstTimestamp?: string; count?: number; source?: { component?: string } };

function missingToolchain(): string | undefined {
  const k8s = spawnSync("bash", [path.join(REPO_ROOT, "toolchain", "kubernetes.sh"), "paths"], { encoding: "utf8" });
  if (k8s.status !== 0) return `Kubernetes components not built (run bash toolchain/kubernetes.sh): ${k8s.stdout.trim().replace(/\n/g, ", ")}`;
  if (!toolchainBuilt()) return "Pulumi engine toolchain not built (run bash toolchain/pulumi.sh)";
  for (const tool of ["prometheus-operator", "flagger"]) {
    const r = spawnSync("bash", [path.join(REPO_ROOT, "scripts", "delivery-toolchain.sh"), "paths", tool], { encoding: "utf8" });
    if (r.status !== 0) return `${tool} is not built (run bash scripts/delivery-toolchain.sh build ${tool})`;
  }
  const flagger = flaggerBinaries();
  if ("missing" in flagger) return flagger.missing;
  for (const cmd of ["containerd", "runc", "ctr", "buildah", "skopeo", "mmdebstrap", "go", "curl", "unshare", "nsenter"]) {
    if (spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status !== 0) return `${cmd} is not installed (scripts/setup.sh installs it)`;
  }
  return undefined;
}

function failureLines(out: string): string {
  const lines = out.split("\n");
  const hits = lines.flatMap((l, i) => (/error|violat|mandatory|failed|timed out/i.test(l) ? lines.slice(i, i + 6) : []));
  return (hits.length ? hits.join("\n") : lines.slice(-60).join("\n")).slice(-8000);
}

describe("cluster canary: Flagger promotes a healthy revision, rolls back a faulty one and an idle one", function () {
  this.timeout(40 * 60_000);
  let cluster: ClusterEnv;
  let startedHere = false;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  let configFile: string;
  let image: string;
  let namespace: string;
  let appName: string;
  let deployed = false;
  let flaggerStarted = false;
  let monitoring: DeployedMonitoring | undefined;
  let promUrl: string;
  let keyFile: string;
  let validators: { id: string; weight: number; publicKey: string }[];
  const measured: string[] = [];
  const t0All = Date.now();

  const writeConfig = (extra: Record<string, unknown> = {}, opts: { loadTester?: boolean } = {}): void => {
    const canary = readStackFile(STACK)["bizra:canary"] as Record<string, unknown>;
    writeStackConfigFile(
      STACK,
      {
        ...clusterStackSettings(cluster, image, STACK),
        "bizra:awaitTimeoutSeconds": AWAIT_TIMEOUT_S,
        "bizra:alerts": { forOverride: DRILL_ALERT_FOR },
        "bizra:slo": TEST_MACHINE_LATENCY_SLOS,
        "bizra:replicas": 1,
        "bizra:hpa": { minReplicas: 1, maxReplicas: 2 },
        "bizra:validators": validators,
        "bizra:canary": {
          ...canary,
          stages: STAGES,
          intervalSeconds: INTERVAL_S,
          ...(opts.loadTester === false ? {} : { loadTester: { url: loadTesterUrl(cluster), validatorId: LOAD_TEST_ID, keyFile, ratePerSecond: LOAD_RATE } }),
        },
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
  const canaryStatus = (): CanaryStatus => kubectlGet<{ status?: CanaryStatus }>(cluster, ["canary", appName, "-n", namespace])?.status ?? {};
  const firing = (): PromAlert[] =>
    promApi<{ alerts: PromAlert[] }>(cluster, promUrl, "/api/v1/alerts").alerts.filter((a) => a.labels["namespace"] === namespace && a.state === "firing");
  /** The pod template of the primary Deployment and the data of the ConfigMaps Flagger copied for it. */
  const primaryState = (): string => {
    const d = kubectlGet<{ spec: { template: unknown } }>(cluster, ["deployment", `${appName}-primary`, "-n", namespace]);
    const flags = kubectlGet<{ data?: Record<string, string> }>(cluster, ["configmap", `${appName}-flags-primary`, "-n", namespace]);
    return JSON.stringify({ template: d?.spec.template, flags: flags?.data });
  };
  const primaryFlags = (): Record<string, string> =>
    kubectlGet<{ data?: Record<string, string> }>(cluster, ["configmap", `${appName}-flags-primary`, "-n", namespace])?.data ?? assert.fail(`no ConfigMap ${appName}-flags-primary`);
  /** Flagger's own log lines (JSON, `.cluster/logs/flagger.log`) since `since`: Kubernetes Events get aggregated. */
  const flaggerLog = (since: number): string[] =>
    (fs.existsSync(processLog(cluster, "flagger")) ? fs.readFileSync(processLog(cluster, "flagger"), "utf8").split("\n") : [])
      .flatMap((l) => {
        try {
          const e = JSON.parse(l) as { ts: string; msg: string };
          return Date.parse(e.ts) >= since - 1000 ? [`+${((Date.parse(e.ts) - since) / 1000).toFixed(0)} s ${e.msg}`] : [];
        } catch {
          return [];
        }
      });
  const events = (since: number): string[] => {
    const list = kubectlGet<{ items: K8sEvent[] }>(cluster, ["events", "-n", namespace, "--field-selector", `involvedObject.kind=Canary,involvedObject.name=${appName}`]);
    return (list?.items ?? [])
      .map((e) => ({ at: Date.parse(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? ""), e }))
      .filter((x) => x.at >= since - 1000)
      .sort((a, b) => a.at - b.at)
      .map((x) => `+${((x.at - since) / 1000).toFixed(0)} s ${x.e.reason}: ${x.e.message}${(x.e.count ?? 1) > 1 ? ` (x${x.e.count})` : ""}`);
  };

  /**
   * Polls the Canary until its phase is one of `until` (after it left them, once the new revision was seen), recording
   * each change of (phase, weight, failedChecks) and the alerts firing meanwhile.
   */
  const follow = async (scenario: string, t0: number, until: string[], timeoutMs: number): Promise<{ rows: TimelineRow[]; final: CanaryStatus; alerts: Set<string> }> => {
    const rows: TimelineRow[] = [];
    const alerts = new Set<string>();
    let started = false;
    let final: CanaryStatus = {};
    let lastAlertPoll = 0;
    while (Date.now() - t0 < timeoutMs) {
      const s = canaryStatus();
      const row = { t: (Date.now() - t0) / 1000, phase: s.phase ?? "-", weight: s.canaryWeight ?? 0, failedChecks: s.failedChecks ?? 0 };
      const last = rows[rows.length - 1];
      if (!last || last.phase !== row.phase || last.weight !== row.weight || last.failedChecks !== row.failedChecks) {
        rows.push(row);
        measured.push(`${scenario} +${row.t.toFixed(0)} s: ${row.phase}, weight ${row.weight} %, failed checks ${row.failedChecks}`);
      }
      if (["Progressing", "Promoting", "Finalising", "Waiting", "WaitingPromotion"].includes(row.phase)) started = true;
      if (Date.now() - lastAlertPoll > 5000) {
        lastAlertPoll = Date.now();
        for (const a of firing()) alerts.add(a.labels["alertname"] ?? "?");
      }
      if (started && until.includes(row.phase)) {
        final = s;
        break;
      }
      await sleep(1000);
    }
    assert.ok(started && until.includes(final.phase ?? ""), `${scenario}: the Canary did not reach ${until.join(" or ")} within ${timeoutMs / 1000} s; timeline: ${JSON.stringify(rows)}\nevents:\n${events(t0).join("\n")}`);
    return { rows, final, alerts };
  };

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
    // the load tester runs the traffic command from node-app/dist (the node's built code)
    for (const script of ["build:packages", "build"]) {
      const b = spawnSync("npm", ["--prefix", "node-app", "run", script], { cwd: REPO_ROOT, encoding: "utf8" });
      assert.equal(b.status, 0, `npm --prefix node-app run ${script}: ${b.stdout}${b.stderr}`);
    }
    prepareCluster(cluster, STACK);
    measured.push(`node image, CRDs, policy packs, node-app dist ready: ${seconds(t1)} s`);
    const t2 = Date.now();
    monitoring = deployMonitoring(cluster, { log });
    measured.push(`monitoring applied: ${seconds(t2)} s`);
    const file = readStackFile(STACK);
    namespace = String(file["bizra:namespace"]);
    appName = String(file["bizra:appName"]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-cluster-canary-"));
    configFile = path.join(tmp, `Pulumi.${STACK}.yaml`);
    keyFile = path.join(tmp, `${LOAD_TEST_ID}.seed`);
    const seed = randomBytes(32).toString("hex");
    fs.writeFileSync(keyFile, `${seed}\n`, { mode: 0o600 });
    env = engineEnv(toolchainEnv(), path.join(tmp, "backend"));
    const select = pulumi(["stack", "select", "--create", STACK, "--secrets-provider", "passphrase", "--non-interactive"], env, { capture: true });
    assert.equal(select.status, 0, select.output);
    // node0's public key: of the committed (encrypted) signing key, as the engine decrypts it
    const key = pulumi(["config", "get", "bizra:signingKey", "--stack", STACK, "--config-file", path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`)], env, { capture: true });
    const nodeSeed = /\b[0-9a-f]{64}\b/.exec(key.output)?.[0] ?? assert.fail(`pulumi config get bizra:signingKey: ${key.output}`);
    validators = [
      { id: "node0", weight: 3, publicKey: publicKeyOfSeed(nodeSeed) },
      { id: LOAD_TEST_ID, weight: 1, publicKey: publicKeyOfSeed(seed) },
    ];
    writeConfig();
  });

  after(async function () {
    if (cluster && flaggerStarted) measured.push(`Flagger stopped: ${(await stopFlagger(cluster)).join(", ") || "nothing was running"}`);
    if (!startedHere && cluster) {
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
      measured.push(`cluster down: ${seconds(t0)} s`);
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    measured.push(`whole file: ${seconds(t0All)} s; load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    if (measured.length) console.log(`    measured:\n${measured.map((m) => `      ${m}`).join("\n")}`);
  });

  it("Flagger initializes the Canary: primary Deployment, its ConfigMap copies, the mesh Services and the VirtualService", async function () {
    deployed = true;
    up("first: the stack with the Canary, hold gate and load tester webhook");
    promUrl = await waitForPrometheus(cluster, monitoring!.namespace);
    const started = await startFlagger(cluster, { metricsServer: promUrl });
    flaggerStarted = true;
    measured.push(`Flagger v1.36.1 and its load tester answering /healthz ${started.readySeconds.toFixed(1)} s after the start`);
    const t0 = Date.now();
    while (Date.now() - t0 < 300_000 && canaryStatus().phase !== "Initialized") await sleep(1000);
    assert.equal(canaryStatus().phase, "Initialized", `the Canary was not initialized within 300 s; events:\n${events(t0 - 60_000).join("\n")}`);
    measured.push(`Canary Initialized ${seconds(t0)} s after Flagger started`);
    const target = kubectlGet<{ spec: { replicas: number } }>(cluster, ["deployment", appName, "-n", namespace]);
    assert.equal(target?.spec.replicas, 0, "Flagger scaled the target Deployment to 0");
    assert.ok(kubectlGet(cluster, ["deployment", `${appName}-primary`, "-n", namespace]), "the primary Deployment exists");
    for (const svc of ["-mesh", "-mesh-primary", "-mesh-canary"]) assert.ok(kubectlGet(cluster, ["service", `${appName}${svc}`, "-n", namespace]), `Service ${appName}${svc}`);
    const vs = kubectlGet<{ spec: { http: { route: { destination: { host: string }; weight: number }[] }[] } }>(cluster, ["virtualservice", `${appName}-mesh`, "-n", namespace]);
    assert.deepEqual(vs?.spec.http[0]?.route.map((r) => [r.destination.host, r.weight]), [[`${appName}-mesh-primary`, 100], [`${appName}-mesh-canary`, 0]]);
    assert.equal(primaryFlags()[ENV.logLevel], "info");
  });

  it("A. a healthy revision advances stage by stage, each held its minute by the hold gate, and is promoted; no alert fires", async function () {
    assert.ok(flaggerStarted, "Flagger runs (previous test)");
    writeConfig({ "bizra:logLevel": "warn" });
    up("A: log level warn, a new pod template");
    const t0 = Date.now();
    const { rows, final, alerts } = await follow("A", t0, ["Succeeded", "Failed"], 12 * 60_000);
    for (const e of events(t0)) measured.push(`A event ${e}`);
    assert.equal(final.phase, "Succeeded", `A was not promoted: ${JSON.stringify(rows)}`);
    const weights = rows.map((r) => r.weight).filter((w, i, a) => w > 0 && w !== a[i - 1]);
    assert.deepEqual(weights.slice(0, STAGES.length), STAGES.map((s) => s.weight), `weights in order: ${JSON.stringify(rows)}`);
    // each stage held: from reaching a weight to leaving it, at least its hold less one interval (1 s polling)
    for (const [i, s] of STAGES.entries()) {
      const at = rows.find((r) => r.weight === s.weight);
      const next = rows.find((r) => r.t > (at?.t ?? Infinity) && r.weight !== s.weight);
      assert.ok(at && next, `stage ${s.weight} %: reached and left`);
      const held = next.t - at.t;
      measured.push(`A stage ${i + 1} (${s.weight} %) held ${held.toFixed(0)} s (hold ${s.holdMinutes * 60} s, checks every ${INTERVAL_S} s)`);
      assert.ok(held >= s.holdMinutes * 60 - INTERVAL_S, `stage ${s.weight} % held ${held} s, less than its hold`);
    }
    assert.equal(Math.max(...rows.map((r) => r.failedChecks)), 0, "no failed check");
    assert.equal(primaryFlags()[ENV.logLevel], "warn", "the primary runs the promoted revision's flags");
    assert.deepEqual([...alerts], [], "no alert fired in the namespace during A");
    measured.push(`A: promoted ${rows[rows.length - 1]!.t.toFixed(0)} s after pulumi up returned; alerts firing meanwhile: none`);
  });

  it(`B. a faulty revision (${FAULT_ERROR_RATE} of the canary's API requests answered 500) is rolled back after failedChecksBeforeRollback failed checks, the primary untouched; ${ALERT} fires`, async function () {
    assert.equal(canaryStatus().phase, "Succeeded", "A promoted");
    const threshold = Number((readStackFile(STACK)["bizra:canary"] as { failedChecksBeforeRollback: number }).failedChecksBeforeRollback);
    const before = primaryState();
    writeConfig({ "bizra:logLevel": "warn", "bizra:faultInjection": { errorRate: FAULT_ERROR_RATE } });
    up("B: fault injection on, a new pod template");
    const t0 = Date.now();
    const { rows, final, alerts } = await follow("B", t0, ["Failed", "Succeeded"], 10 * 60_000);
    for (const e of flaggerLog(t0).filter((x) => !/uses HTTP service/.test(x))) measured.push(`B flagger ${e}`);
    assert.equal(final.phase, "Failed", `B was not rolled back: ${JSON.stringify(rows)}`);
    const maxFailed = Math.max(...rows.map((r) => r.failedChecks));
    assert.equal(maxFailed, threshold, `rolled back at failedChecks = threshold (${threshold})`);
    assert.ok(rows.every((r) => r.weight <= STAGES[0]!.weight), `never past the first stage: ${JSON.stringify(rows)}`);
    assert.equal(final.canaryWeight ?? 0, 0, "all traffic back on the primary");
    assert.ok(flaggerLog(t0).some((e) => /Rolling back .* failed checks threshold reached/.test(e)), `Flagger's rollback: ${flaggerLog(t0).join("\n")}`);
    assert.equal(primaryState(), before, "the primary Deployment and its ConfigMap copy are untouched");
    assert.equal(primaryFlags()[ENV.faultErrorRate], undefined, "the primary never got the fault setting");
    // the alert: seen while following, or within two minutes after the rollback
    const t1 = Date.now();
    while (!alerts.has(ALERT) && Date.now() - t1 < 120_000) {
      for (const a of firing()) alerts.add(a.labels["alertname"] ?? "?");
      if (!alerts.has(ALERT)) await sleep(2000);
    }
    assert.ok(alerts.has(ALERT), `${ALERT} did not fire; firing: ${[...alerts].join(", ") || "none"}`);
    measured.push(`B: rolled back ${rows[rows.length - 1]!.t.toFixed(0)} s after pulumi up returned; alerts firing: ${[...alerts].join(", ")}`);
  });

  it("C. a revision without traffic is rolled back after failedChecksBeforeRollback intervals with no values, the primary untouched", async function () {
    assert.equal(canaryStatus().phase, "Failed", "B rolled back");
    const threshold = Number((readStackFile(STACK)["bizra:canary"] as { failedChecksBeforeRollback: number }).failedChecksBeforeRollback);
    // first the Canary without the load tester's webhook (no new revision: Flagger tracks the pod template), then the revision
    writeConfig({ "bizra:logLevel": "warn", "bizra:faultInjection": { errorRate: FAULT_ERROR_RATE } }, { loadTester: false });
    up("C: the Canary without the load tester");
    const hooks = kubectlGet<{ spec: { analysis: { webhooks: { type: string }[] } } }>(cluster, ["canary", appName, "-n", namespace])?.spec.analysis.webhooks ?? [];
    assert.ok(!hooks.some((h) => h.type === "rollout"), "no rollout webhook");
    const before = primaryState();
    writeConfig({ "bizra:logLevel": "error" }, { loadTester: false });
    up("C: log level error, no traffic");
    const t0 = Date.now();
    const { rows, final } = await follow("C", t0, ["Failed", "Succeeded"], 10 * 60_000);
    const ev = flaggerLog(t0).filter((e) => !/uses HTTP service/.test(e));
    for (const e of ev) measured.push(`C flagger ${e}`);
    assert.equal(final.phase, "Failed", `C was not rolled back: ${JSON.stringify(rows)}`);
    assert.equal(Math.max(...rows.map((r) => r.failedChecks)), threshold);
    assert.ok(ev.some((e) => /no values found/.test(e)), `Flagger reports no values: ${ev.join("\n")}`);
    assert.equal(primaryState(), before, "the primary is untouched");
    measured.push(`C: rolled back ${rows[rows.length - 1]!.t.toFixed(0)} s after pulumi up returned`);
    kubectl(cluster, ["get", "canary", appName, "-n", namespace]);
  });
});
