/**
 * The canary checks against real data, without a cluster: for each case a real node (child process) is scraped by
 * a real Prometheus configured from the rendered ServiceMonitor, with the rendered PrometheusRule loaded, and driven
 * by the load tester's traffic (its command, node-app/src/cli/traffic.ts: distinct attestations signed by a test
 * validator that this test's validator set lists, a share corrupted, finality polls). The nodes are verifier
 * replicas: no signing key, no signer listener. Then
 * every metric check of the rendered Canary is evaluated as Flagger evaluates it (its MetricTemplate query with
 * Flagger's variables substituted; no value = failed check; pass = inside `thresholdRange`), and the alerts are read.
 *
 * - healthy release: the error-rate and success-rate checks pass, the latency check yields a value (its bound is a
 *   speed: measured and printed, not asserted here; docs/canary.md has the figure), no critical alert is active;
 * - faulty release (`BIZRA_FAULT_ERROR_RATE`): the error-rate check fails;
 * - no traffic: every check fails with "no values" (Flagger counts a failed check; docs/canary.md).
 *
 * What it does not prove: Flagger itself acting on the checks (the cluster scenarios), and latency inside a pod.
 * Prometheus evaluates rules every second here; the canary's `{{ interval }}` window is the Canary's own (1m).
 */
import { strict as assert } from "node:assert";
import { stringify } from "yaml";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV, TRAFFIC_COMMAND } from "@bizra/contract";
import { kubernetesObjects, runProgram } from "../scripts/lib/mock-runtime";
import { REPO_ROOT } from "../scripts/lib/stack-config";
import { startNodeProcess, type NodeProcess } from "./support/node-process";
import { renderFlaggerQuery, requireBinary, scrapeConfigFor, startPrometheus, PROMETHEUS_BIN, type RunningPrometheus } from "./support/prometheus";
import { sleep, stopChild, track, waitFor } from "./support/process";
import { configOf, find, nodeServiceMonitor, nth, single, testStackConfig } from "./support/stack";
import { ofKind, type KubeObject } from "../scripts/lib/kube-kinds";
import type { Canary } from "../components/crds/flagger";
import { publicKeyOfSeed } from "../components/validator-set";

const STACK = "testnet";
const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/** The load tester's test validator: a fresh key, listed in this test's validator set beside node0. */
const LOAD_TEST_ID = "loadtest";
const LOAD_TEST_SEED = randomBytes(32).toString("hex");
/** Canary pods are `<target>-<rs hash>-<suffix>`; primary pods `<target>-primary-<rs hash>-<suffix>`. */
const canaryPod = (app: string) => `${app}-7c9d5b8f6-q4m2x`;
/** Traffic: the load tester's shape, at a rate a loaded 2-core machine sustains beside Prometheus. */
const ROUNDS_PER_SECOND = 8;
const TRAFFIC_MS = 40_000;
/** Share of corrupted signatures the load tester sends: half the success-rate SLO's error budget. */
const invalidEvery = () => Math.round(2 / (1 - configOf(STACK).slos.poiVerifySuccessRate.value));
const FAULT_SHARE = 0.05;

interface CheckResult {
  readonly name: string;
  readonly values: number[];
  readonly passed: boolean;
  readonly range: { min?: number; max?: number };
}

/** The counts the traffic CLI prints (node-app/src/canary/traffic.ts). */
interface TrafficStats {
  rounds: number;
  signed: number;
  valid: number;
  rejected: number;
  finalityChecks: number;
  status: Record<string, number>;
  transportErrors: number;
  wrongVerdicts: number;
  wrongSamples: unknown[];
}

/** Runs the load tester's command (TRAFFIC_COMMAND, from source under ts-node) and returns the counts it prints. */
async function runTrafficCli(args: string[]): Promise<TrafficStats> {
  const appDir = path.join(REPO_ROOT, "node-app");
  const script = path.join("src", path.relative("dist", TRAFFIC_COMMAND[1]).replace(/\.js$/, ".ts"));
  let out = "";
  const child = track(
    spawn(process.execPath, ["-r", "ts-node/register/transpile-only", script, ...args], {
      cwd: appDir,
      env: { ...process.env, TS_NODE_PROJECT: path.join(appDir, "tsconfig.json") },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", (c) => r(c)));
  const line = out.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`traffic CLI exited ${code} without counts:\n${out}`);
  return JSON.parse(line) as TrafficStats;
}

interface Case {
  node?: NodeProcess;
  prom?: RunningPrometheus;
  traffic?: TrafficStats;
}

describe("canary checks on real data: healthy, faulty and idle releases", function () {
  this.timeout(600_000);
  let objs: KubeObject[];
  let canary: Canary;
  const serviceMonitor = () => nodeServiceMonitor(ofKind(objs, "ServiceMonitor"));
  const scrapeInterval = () => nth(serviceMonitor().spec.endpoints, 0, "ServiceMonitor endpoint").interval;
  let ns: string;
  let app: string;
  const cases: Record<"healthy" | "faulty" | "idle", Case> = { healthy: {}, faulty: {}, idle: {} };
  const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-canary-checks-"));
  const setFile = path.join(keysDir, "validators.json");
  const keyFile = path.join(keysDir, `${LOAD_TEST_ID}.seed`);

  async function start(c: Case, env: Record<string, string>): Promise<void> {
    const sm = serviceMonitor();
    const rule = single(ofKind(objs, "PrometheusRule"), "PrometheusRule");
    c.node = await startNodeProcess({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1", [ENV.validatorSetFile]: setFile, [ENV.logLevel]: "info", ...env });
    c.prom = await startPrometheus({
      config: {
        global: { scrape_interval: scrapeInterval(), evaluation_interval: "1s" },
        scrape_configs: [scrapeConfigFor(sm, `127.0.0.1:${c.node.metricsPort}`, { namespace: ns, pod: canaryPod(app), service: app })],
      },
      ruleFiles: { "prometheus-rules.yaml": stringify(rule.spec) },
    });
    const p = c.prom;
    await waitFor("the node target to be scraped", async () => ((await p.targets()).some((t) => t.health === "up") ? true : undefined), 90_000);
  }

  /** Every metric check of the Canary, evaluated as Flagger does. */
  async function evaluate(p: RunningPrometheus): Promise<CheckResult[]> {
    const templates = ofKind(objs, "MetricTemplate");
    const out: CheckResult[] = [];
    for (const m of canary.spec.analysis.metrics ?? []) {
      const t = find(templates, (x) => x.metadata.name === m.templateRef?.name, `MetricTemplate of check ${m.name}`);
      const query = renderFlaggerQuery(t.spec.query, { namespace: ns, target: canary.spec.targetRef.name, interval: m.interval ?? assert.fail(`${m.name} has no interval`) });
      const values = (await p.query(query)).map((s) => Number(s.value[1]));
      const v = values[0];
      const range = m.thresholdRange ?? {};
      const inRange = v !== undefined && Number.isFinite(v) && (range.min === undefined || v >= range.min) && (range.max === undefined || v <= range.max);
      out.push({ name: m.name, values, passed: values.length === 1 && inRange, range });
    }
    return out;
  }

  before(async function () {
    requireBinary(PROMETHEUS_BIN);
    objs = kubernetesObjects(await runProgram(STACK, testStackConfig(STACK)));
    canary = single(ofKind(objs, "Canary"), "Canary");
    ns = canary.metadata.namespace ?? assert.fail("the Canary has a namespace");
    app = canary.spec.targetRef.name;
    fs.writeFileSync(
      setFile,
      JSON.stringify([
        { id: "node0", weight: 3, publicKey: publicKeyOfSeed(SEED) },
        { id: LOAD_TEST_ID, weight: 1, publicKey: publicKeyOfSeed(LOAD_TEST_SEED) },
      ]),
    );
    fs.writeFileSync(keyFile, `${LOAD_TEST_SEED}\n`, { mode: 0o600 });
    await Promise.all([start(cases.healthy, {}), start(cases.faulty, { BIZRA_FAULT_ERROR_RATE: String(FAULT_SHARE) }), start(cases.idle, {})]);
    const drive = (c: Case) =>
      runTrafficCli([
        "--target", `http://127.0.0.1:${(c.node as NodeProcess).apiPort}`,
        "--validator-id", LOAD_TEST_ID,
        "--key-file", keyFile,
        "--rate", String(ROUNDS_PER_SECOND),
        "--duration", `${TRAFFIC_MS / 1000}s`,
        "--invalid-every", String(invalidEvery()),
        "--request-timeout", "30s",
      ]);
    [cases.healthy.traffic, cases.faulty.traffic] = await Promise.all([drive(cases.healthy), drive(cases.faulty)]);
    const scrape = Number(/^(\d+)s$/.exec(scrapeInterval() ?? "")?.[1]);
    await sleep((scrape + 2) * 1000); // the last counters scraped
  });

  after(async () => {
    for (const c of Object.values(cases)) {
      if (c.node) await stopChild(c.node.child);
      if (c.prom) await c.prom.stop();
    }
    fs.rmSync(keysDir, { recursive: true, force: true });
  });

  it("the load tester's traffic is realistic: distinct attestations, under 1 % corrupted, all verdicts right", () => {
    const t = cases.healthy.traffic as TrafficStats;
    assert.deepEqual([t.wrongVerdicts, t.transportErrors, t.wrongSamples], [0, 0, []]);
    assert.equal(t.finalityChecks, t.rounds);
    assert.equal(t.signed, t.rounds);
    assert.equal(t.status["201"], undefined, "the load tester signs locally: no sign route call");
    assert.ok(t.rounds >= (ROUNDS_PER_SECOND * TRAFFIC_MS) / 1000 / 2, `${t.rounds} rounds`);
    assert.ok(t.rejected > 0 && t.rejected / t.rounds < 1 - configOf(STACK).slos.poiVerifySuccessRate.value, `${t.rejected}/${t.rounds} corrupted`);
  });

  it("healthy release: every traffic-shaped check passes; the latency check yields one value (printed)", async () => {
    const results = await evaluate(cases.healthy.prom as RunningPrometheus);
    assert.deepEqual(results.map((r) => r.name), (canary.spec.analysis.metrics ?? []).map((m) => m.name));
    for (const r of results) console.log(`      ${r.name}: ${r.values.join(",")} (bound ${JSON.stringify(r.range)}) ${r.passed ? "passed" : "FAILED"}`);
    const speed = new Set(["api-p99-latency"]);
    assert.deepEqual(results.filter((r) => !speed.has(r.name) && !r.passed), [], JSON.stringify(results));
    for (const r of results.filter((x) => speed.has(x.name))) assert.ok(r.values.length === 1 && r.values[0]! > 0 && Number.isFinite(r.values[0]), JSON.stringify(r));
  });

  it("healthy release: no critical alert pending or firing, no replay alert", async () => {
    const alerts = await (cases.healthy.prom as RunningPrometheus).alerts();
    assert.deepEqual(alerts.filter((a) => a.labels.severity === "critical" || a.labels.alertname === "ReplayAttackDetected"), []);
  });

  it("faulty release: the error-rate check fails, the success-rate check does not", async () => {
    const results = await evaluate(cases.faulty.prom as RunningPrometheus);
    const failed = results.filter((r) => !r.passed).map((r) => r.name);
    assert.ok(failed.includes("api-error-rate"), JSON.stringify(results));
    assert.ok(!failed.includes("poi-success-rate"), "a 500 before the route does not touch the verification ratio");
    const errorRate = results.find((r) => r.name === "api-error-rate")?.values[0] as number;
    assert.ok(errorRate > 0.01 && errorRate < 0.2, `error rate ${errorRate} for an injected share of ${FAULT_SHARE}`);
  });

  it("idle release: every check fails for lack of values (Flagger counts each as a failed check)", async () => {
    const results = await evaluate(cases.idle.prom as RunningPrometheus);
    assert.deepEqual(results.map((r) => [r.name, r.passed]), results.map((r) => [r.name, false]));
    assert.ok(results.every((r) => r.values.length === 0 || r.values.every((v) => Number.isNaN(v))), JSON.stringify(results));
  });
});
