/**
 * End to end: the real node (node-app, child process on loopback) scraped by a real Prometheus (loopback, random
 * port) configured like the Prometheus Operator configures it from the ServiceMonitor the program renders, with the
 * PrometheusRule the program renders loaded as rules. The node is driven with real signed attestations, 20 % of
 * them with a corrupted signature; then every PromQL query of the dashboard and of the Flagger MetricTemplates is
 * asked through Prometheus's HTTP API and must answer in the expected range. Finally the node is stopped and
 * `MetricsEndpointDown` must go pending (or firing).
 *
 * Deviations from production, on purpose: `evaluation_interval` is 1 s (instead of Prometheus's default 1 m, so
 * alerts react within seconds); the scrape interval, timeout, path and keep-regex are the ServiceMonitor's own.
 * Every process started here is stopped in `after`, on every path; temp dirs are removed.
 */
import { find, nodeServiceMonitor, nth, single, testStackConfig } from "./support/stack";
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { signVote } from "../node-app/src/consensus/vote-encoding";
import { ENV, METRICS_PATH, ROUTES } from "@bizra/contract";
import { fillVariables } from "../components/dashboard";
import { objectsOfKind, runProgram, type ProgramRun } from "../scripts/lib/mock-runtime";
import { startNodeProcess, type NodeProcess } from "./support/node-process";
import { renderFlaggerQuery, requireBinary, scrapeConfigFor, startPrometheus, PROMETHEUS_BIN, type RunningPrometheus } from "./support/prometheus";
import { sleep, stopChild, waitFor } from "./support/process";

const STACK = "testnet";
/** RFC 8032 TEST 1 seed: a throwaway key for the test node. */
const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/** A pod name as a Deployment's ReplicaSet names it (`<deployment>-<rs hash>-<suffix>`). */
const podName = (app: string) => `${app}-5d8c7f9b4-x2x7q`;

/** Traffic mix per round: 16 good attestations verified once, 2 bad signatures verified twice (cache hits). */
const GOOD_PER_ROUND = 16;
const BAD_PER_ROUND = 2;
const EXPECTED_SUCCESS = GOOD_PER_ROUND / (GOOD_PER_ROUND + 2 * BAD_PER_ROUND); // 0.8

const SIGNER_TOKEN = "monitoring-e2e-".repeat(3);

/** POSTs JSON and returns the parsed answer, typed by the caller as the route's response (the node's own tests check it). */
async function post<Response>(port: number, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${route} -> ${res.status} ${text}`);
  return JSON.parse(text) as Response;
}

interface SignedAttestation {
  readonly encoding: string;
  readonly signature: string;
}
interface VerifyAnswer {
  readonly valid: boolean;
  readonly reason?: string;
}

const flip = (sig: string) => sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");

describe("monitoring end to end: node-app -> Prometheus -> dashboard, canary and alert queries", function () {
  this.timeout(300_000);
  let run: ProgramRun;
  let node: NodeProcess | undefined;
  let prom: RunningPrometheus | undefined;
  const sent = { good: 0, bad: 0, finality: 0 };

  let ns: string;
  let app: string;
  let pod: string;

  before(async function () {
    requireBinary(PROMETHEUS_BIN);
    run = await runProgram(STACK, testStackConfig(STACK));
    const sm = nodeServiceMonitor(objectsOfKind(run, "ServiceMonitor"));
    const rule = single(objectsOfKind(run, "PrometheusRule"), "PrometheusRule");
    ns = sm.metadata.namespace ?? assert.fail("the ServiceMonitor has a namespace");
    app = sm.metadata.name;
    pod = podName(app);
    const endpoint = nth(sm.spec.endpoints, 0, "ServiceMonitor endpoint");
    assert.equal(endpoint.path, METRICS_PATH);

    const signerDir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-monitoring-signer-"));
    fs.writeFileSync(path.join(signerDir, "token"), SIGNER_TOKEN);
    node = await startNodeProcess({
      [ENV.apiPort]: "0",
      [ENV.metricsPort]: "0",
      [ENV.signerPort]: "0",
      [ENV.host]: "127.0.0.1",
      [ENV.signingKey]: SEED,
      [ENV.signerTokenFile]: path.join(signerDir, "token"),
      [ENV.signerStateFile]: path.join(signerDir, "state.json"),
      [ENV.logLevel]: "info", // the "node started" line carries the ephemeral ports
    });
    prom = await startPrometheus({
      config: {
        global: { scrape_interval: endpoint.interval, evaluation_interval: "1s" },
        scrape_configs: [scrapeConfigFor(sm, `127.0.0.1:${node.metricsPort}`, { namespace: ns, pod, service: app })],
      },
      ruleFiles: { "prometheus-rules.yaml": stringify(rule.spec) },
    });
    const p = prom;
    await waitFor("the node target to be scraped (health up)", async () => ((await p.targets()).some((t) => t.health === "up") ? true : undefined), 90_000);
  });

  after(async () => {
    if (node) await stopChild(node.child);
    if (prom) await prom.stop();
  });

  it("scrapes the node with the ServiceMonitor's keep-regex: node and process series kept, others dropped", async () => {
    const p = prom as RunningPrometheus;
    const names = new Set((await p.query(`{namespace="${ns}", job="${app}"}`)).map((s) => s.metric.__name__));
    assert.ok(names.has("bizra_poi_verify_total") && names.has("process_resident_memory_bytes") && names.has("up"), [...names].join(","));
    assert.ok(!names.has("nodejs_heap_size_total_bytes") && !names.has("process_open_fds"), "dropped by the keep-regex");
  });

  it("drives the node: real signed attestations, 20 % with a bad signature, votes and finality checks", async () => {
    const n = node as NodeProcess;
    const interval = nth(nodeServiceMonitor(objectsOfKind(run, "ServiceMonitor")).spec.endpoints, 0, "ServiceMonitor endpoint").interval;
    const scrapeSeconds = Number(/^(\d+)s$/.exec(interval ?? "")?.[1]);
    assert.ok(scrapeSeconds > 0, `scrape interval ${interval}`);
    const block = "ab".repeat(32);
    // votes must be signed by the validator's key (here the node's own: node0 holds SEED)
    const vote = { validatorId: "node0", slot: 1, blockHash: block };
    const signature = Buffer.from(signVote(vote, Buffer.from(SEED, "hex")).signature).toString("hex");
    await post<unknown>(n.apiPort, ROUTES.votes, { ...vote, signature });
    const until = Date.now() + 3.5 * scrapeSeconds * 1000;
    let slot = 0;
    while (Date.now() < until || sent.good === 0) {
      const signed: SignedAttestation[] = [];
      // one slot per signature: the signer's high-water mark answers a repeat with the same attestation
      for (let i = 0; i < GOOD_PER_ROUND + BAD_PER_ROUND; i++) {
        slot++;
        signed.push(await post<SignedAttestation>(n.signerPort as number, ROUTES.attestationsSign, { epoch: 1, slot, payload: "c0ffee" }, { authorization: `Bearer ${SIGNER_TOKEN}` }));
      }
      for (const s of signed.slice(0, GOOD_PER_ROUND)) {
        const r = await post<VerifyAnswer>(n.apiPort, ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature });
        assert.equal(r.valid, true, JSON.stringify(r));
        sent.good++;
      }
      for (const s of signed.slice(GOOD_PER_ROUND)) {
        for (let k = 0; k < 2; k++) {
          const r = await post<VerifyAnswer>(n.apiPort, ROUTES.attestationsVerify, { encoding: s.encoding, signature: flip(s.signature) });
          assert.deepEqual([r.valid, r.reason], [false, "bad_signature"]);
          sent.bad++;
        }
      }
      const fin = await fetch(`http://127.0.0.1:${n.apiPort}/v1/consensus/finality/${block}`);
      assert.equal(fin.status, 200);
      sent.finality++;
    }
    // let the last counters be scraped (one full interval plus slack)
    await sleep((scrapeSeconds + 2) * 1000);
    assert.ok(sent.good > 0 && sent.bad > 0);
  });

  it("answers every dashboard query: node series with finite data in range, cluster-only series valid PromQL", async () => {
    const p = prom as RunningPrometheus;
    const queries = run.outputs.promqlQueries as { panel: string; legend: string; query: string; source: string }[];
    const dashboard = JSON.parse(run.outputs.dashboardJson as string) as {
      panels: { title: string; targets: { expr: string; legendFormat: string }[] }[];
      annotations: { list: { expr: string }[] };
    };
    const fromJson = dashboard.panels.flatMap((pn) => pn.targets.map((t) => ({ panel: pn.title, legend: t.legendFormat, query: t.expr })));
    assert.deepEqual(fromJson, queries.map(({ panel, legend, query }) => ({ panel, legend, query })), "the promqlQueries output lists exactly the dashboard's queries");
    assert.ok(queries.length >= 25, `${queries.length} queries`);
    // what Grafana sends with the variables at their defaults: this namespace, every pod
    const fill = (expr: string) => fillVariables(expr, { namespace: ns, pod: ".*" });
    const problems: string[] = [];
    for (const q of queries) {
      const result = await p.query(fill(q.query));
      const values = result.map((s) => Number(s.value[1]));
      const finite = values.filter(Number.isFinite);
      const check = (ok: boolean, want: string) => {
        if (!ok) problems.push(`${q.panel} / ${q.legend} (${q.source}): want ${want}, got ${JSON.stringify(values)}\n  ${fill(q.query)}`);
      };
      if (q.source !== "node") {
        check(values.length === 0, "no series off-cluster (the query is valid PromQL: Prometheus accepted it)");
        continue;
      }
      check(finite.length > 0, "at least one finite sample");
      const v = finite[0] as number;
      if (/latency/i.test(q.panel) && !/5xx/.test(q.legend)) check(finite.every((x) => x > 0 && x < 1), "latencies in (0, 1) s");
      else if (/success/i.test(q.panel)) check(Math.abs(v - EXPECTED_SUCCESS) < 0.05, `about ${EXPECTED_SUCCESS}`);
      else if (q.legend === "verify/s" || q.legend === "checks/s" || q.legend === "generate/s") check(v > 0, "a positive rate");
      else if (q.legend === "pods scraped") check(v === 1, "1 (one node)");
      else if (q.panel === "Verifier circuit breaker") check(v === 0, "0 (closed)");
      else if (q.panel === "Memory against the limit") check(v > 0, "resident bytes > 0");
    }
    // the restart annotation is valid PromQL too (no restart while the test runs: empty)
    for (const a of dashboard.annotations.list) assert.deepEqual(await p.query(fill(a.expr)), []);
    assert.deepEqual(problems, []);
  });

  it("answers every Flagger MetricTemplate query for the canary pod in range", async () => {
    const p = prom as RunningPrometheus;
    const templates = objectsOfKind(run, "MetricTemplate");
    const canary = single(objectsOfKind(run, "Canary"), "Canary");
    const metrics = canary.spec.analysis.metrics ?? [];
    assert.equal(templates.length, metrics.length);
    const problems: string[] = [];
    for (const t of templates) {
      const check = find(metrics, (m) => m.templateRef?.name === t.metadata.name, `the Canary's check using ${t.metadata.name}`);
      const query = renderFlaggerQuery(t.spec.query, { namespace: ns, target: canary.spec.targetRef.name, interval: check.interval ?? assert.fail(`${check.name} has no interval`) });
      assert.ok(!query.includes("{{"), query);
      const values = (await p.query(query)).map((s) => Number(s.value[1]));
      const v = values[0] ?? NaN; // no sample: every check below fails, naming the empty result
      const want = (ok: boolean, what: string) => {
        if (!ok) problems.push(`${t.metadata.name}: want ${what}, got ${JSON.stringify(values)}\n  ${query}`);
      };
      want(values.length === 1 && Number.isFinite(v), "exactly one finite sample");
      switch (check.name) {
        case "api-p99-latency":
          want(v > 0 && v < 1, "a latency in (0, 1) s");
          break;
        case "api-error-rate":
          // no 5xx was served: there is no status_code="5xx" series, and the ratio must still be 0, not empty
          // (Flagger fails a check whose query returns no values)
          want(v === 0, "0 (no 5xx answers were sent)");
          break;
        case "poi-success-rate":
          want(Math.abs(v - EXPECTED_SUCCESS) < 0.05, `about ${EXPECTED_SUCCESS}`);
          break;
        default:
          want(false, `a known check name (${check.name})`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it("the rendered alerts evaluate on real data: success-rate alert pending, no replay alert", async () => {
    const p = prom as RunningPrometheus;
    const alerts = await waitFor(
      "PoISuccessRateCritical to become active",
      async () => {
        const a = await p.alerts();
        return a.some((x) => x.labels.alertname === "PoISuccessRateCritical") ? a : undefined;
      },
      60_000,
    );
    const names = alerts.map((a) => a.labels.alertname);
    assert.ok(!names.includes("ReplayAttackDetected"), names.join(","));
    assert.ok(!names.includes("MetricsEndpointDown"), names.join(","));
  });

  it("stopping the node makes MetricsEndpointDown go pending (or firing) for its target", async () => {
    const n = node as NodeProcess;
    const p = prom as RunningPrometheus;
    await stopChild(n.child);
    const alert = await waitFor(
      "MetricsEndpointDown pending/firing",
      async () => (await p.alerts()).find((a) => a.labels.alertname === "MetricsEndpointDown" && (a.state === "pending" || a.state === "firing")),
      90_000,
    );
    assert.equal(alert.labels.severity, "critical");
    assert.equal(alert.labels.namespace, ns);
    assert.equal(alert.labels.job, app);
    assert.equal(alert.labels.pod, pod);
    assert.equal(alert.annotations.runbook_url?.endsWith("#metricsendpointdown"), true);
    // `{{ $value }}` rendered by Prometheus itself (the promtool tests render it as a placeholder)
    assert.match(alert.annotations.description ?? "", /Value: [0-9.e+-]+\.$/);
  });
});
