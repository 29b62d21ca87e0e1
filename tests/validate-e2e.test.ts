/**
 * `npm run validate` end to end: real node-app processes scraped by a real Prometheus configured from the rendered
 * ServiceMonitor (as tests/monitoring-e2e.test.ts does), and the validate command run as a user runs it (a child
 * process, its exit code and output):
 * - a Prometheus that scraped nothing yet: 2 (could not judge), naming the SLOs without data;
 * - a healthy node under healthy traffic: 0 (go), the report signed and the page showing its charts in Chromium;
 * - the same with `BIZRA_FAULT_ERROR_RATE` injecting 500s: 1 (no-go), naming `apiErrorRate`;
 * - an unreachable Prometheus: 2, naming the address.
 * Every process started here is stopped in `after`; temp dirs are removed.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { ENV } from "@bizra/contract";
import { verifyEvidence } from "@bizra/evidence";
import { objectsOfKind, runProgram } from "../scripts/lib/mock-runtime";
import { nodeServiceMonitor, nth } from "./support/stack";
import type { ServiceMonitor } from "../components/crds/monitoring";
import { offlineStackConfig, REPO_ROOT } from "../scripts/lib/stack-config";
import { REPORT_ARTIFACT, REPORT_HTML } from "../scripts/validate";
import { chromiumScreenshot, pngSize, requireChromium } from "./support/chromium";
import { driveHealthyTraffic, loopbackNodeEnv, startNodeProcess, type NodeProcess } from "./support/node-app";
import { freePort, sleep, stopChild, waitFor } from "./support/process";
import { PROMETHEUS_BIN, requireBinary, scrapeConfigFor, startPrometheus, type RunningPrometheus } from "./support/prometheus";

const STACK = "testnet";
const WINDOW = "1m";
/** Seconds of traffic before validating: several 5 s scrapes inside the 1m window. */
const TRAFFIC_MS = 30_000;

interface ValidateRun {
  readonly status: number | null;
  readonly output: string;
  readonly dir: string;
}

/**
 * Latency bounds for a node under ts-node on a shared 2-core test machine (the stack's own bounds are for the built
 * image on its cluster): the latency SLOs are judged, against bounds this machine can meet whatever else runs on it.
 * Every other SLO keeps the stack's value.
 */
const LOOPBACK_LATENCY_SLOS = { finalityCheckP99: 0.25, poiGenerateP99: 0.25, poiVerifyP99: 0.25, apiP99Latency: 0.5 };

/** `npm run validate -- testnet --window 1m --prometheus <url> --out <dir> --config <loopback SLOs>` as a child process. */
function runValidate(prometheusUrl: string, dir: string, configFile: string): ValidateRun {
  const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/validate.ts", STACK, "--window", WINDOW, "--prometheus", prometheusUrl, "--out", dir, "--config", configFile], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 180_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`, dir };
}

const readReport = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, REPORT_ARTIFACT), "utf8")) as { results: { verdict: string; slos: { id: string; verdict: string }[] } };

describe("npm run validate: post-deploy SLA validation against a real Prometheus", function () {
  this.timeout(600_000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-validate-"));
  let sm: ServiceMonitor;
  let ns: string;
  let app: string;
  let node: NodeProcess | undefined;
  let prom: RunningPrometheus | undefined;

  async function startScrapedNode(extraEnv: Record<string, string>): Promise<void> {
    node = await startNodeProcess(loopbackNodeEnv(extraEnv));
    prom = await startPrometheus({
      config: {
        global: { scrape_interval: nth(sm.spec.endpoints, 0, "ServiceMonitor endpoint").interval, evaluation_interval: "5s" },
        scrape_configs: [scrapeConfigFor(sm, `127.0.0.1:${node.metricsPort}`, { namespace: ns, pod: `${app}-5d8c7f9b4-x2x7q`, service: app })],
      },
    });
    const p = prom;
    await waitFor("the node target to be scraped (health up)", async () => ((await p.targets()).some((t) => t.health === "up") ? true : undefined), 90_000);
  }

  async function stopAll(): Promise<void> {
    if (node) await stopChild(node.child);
    if (prom) await prom.stop();
    node = undefined;
    prom = undefined;
  }

  const configFile = path.join(tmp, "loopback.yaml");
  before(async () => {
    requireBinary(PROMETHEUS_BIN);
    fs.writeFileSync(configFile, stringify({ config: { "bizra:slo": LOOPBACK_LATENCY_SLOS } }));
    const run = await runProgram(STACK, offlineStackConfig(STACK));
    sm = nodeServiceMonitor(objectsOfKind(run, "ServiceMonitor"));
    ns = sm.metadata.namespace ?? assert.fail("the ServiceMonitor has a namespace");
    app = sm.metadata.name;
  });

  after(async () => {
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("exits 2 (could not judge) when Prometheus has no data, naming the SLOs without data", async () => {
    prom = await startPrometheus({ config: { global: { scrape_interval: "5s" }, scrape_configs: [] } });
    const r = runValidate(prom.url, path.join(tmp, "empty"), configFile);
    assert.equal(r.status, 2, r.output);
    assert.match(r.output, /COULD NOT JUDGE: testnet/);
    assert.match(r.output, /finalityCheckP99: no series in the window/);
    assert.equal(readReport(r.dir).results.verdict, "could-not-judge");
    await stopAll();
  });

  it("exits 0 (go) on a healthy node under healthy traffic; the report is signed and carries the page's digest", async () => {
    await startScrapedNode({});
    const statuses = await driveHealthyTraffic(node as NodeProcess, TRAFFIC_MS);
    assert.deepEqual(Object.keys(statuses).filter((s) => !/^2/.test(s)), [], JSON.stringify(statuses));
    await sleep(7_000); // one more scrape
    const dir = path.join(tmp, "healthy");
    const r = runValidate((prom as RunningPrometheus).url, dir, configFile);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /^GO: testnet$/m);
    assert.match(r.output, new RegExp(`report: ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/${REPORT_HTML}`));
    const report = readReport(dir);
    assert.equal(report.results.verdict, "go");
    const judged = report.results.slos.filter((s) => s.verdict === "pass").map((s) => s.id);
    for (const id of ["finalityCheckP99", "poiGenerateP99", "poiVerifyP99", "poiVerifySuccessRate", "apiP99Latency", "apiErrorRate", "fastFinalityBp"]) {
      assert.ok(judged.includes(id), `${id} judged and passed: ${JSON.stringify(report.results.slos)}`);
    }
    const verified = verifyEvidence(dir, { trustedKeys: "any" });
    assert.deepEqual(verified.problems, [], "the report bundle verifies");
    fs.cpSync(dir, path.join(tmp, "healthy-copy"), { recursive: true });
  });

  it("the report page renders in headless Chromium: verdict, SLO table and the charts as SVG", function () {
    requireChromium();
    const html = path.join(tmp, "healthy-copy", REPORT_HTML);
    const png = path.join(tmp, "report.png");
    const dom = chromiumScreenshot(html, png, { width: 1280, height: 1500 });
    assert.match(dom, /class="verdict">GO</);
    assert.ok((dom.match(/<svg/g) ?? []).length >= 4, "at least four charts drawn");
    assert.deepEqual(pngSize(fs.readFileSync(png)), { width: 1280, height: 1500 });
    if (process.env.BIZRA_UPDATE_SCREENSHOT === "1") fs.copyFileSync(png, path.join(REPO_ROOT, "docs", "post-deploy-report.png"));
  });

  it("exits 1 (no-go) naming apiErrorRate when a fault injects 500s", async () => {
    await stopAll();
    await startScrapedNode({ [ENV.faultErrorRate]: "0.2" });
    const statuses = await driveHealthyTraffic(node as NodeProcess, TRAFFIC_MS);
    assert.ok((statuses["500"] ?? 0) > 0, JSON.stringify(statuses));
    await sleep(7_000);
    const r = runValidate((prom as RunningPrometheus).url, path.join(tmp, "fault"), configFile);
    assert.equal(r.status, 1, r.output);
    assert.match(r.output, /^NO-GO: testnet$/m);
    assert.match(r.output, /apiErrorRate: measured [0-9.]+%, the SLO requires <= 1%/);
    assert.equal(readReport(r.dir).results.verdict, "no-go");
  });

  it("exits 2 naming the address when Prometheus is unreachable", async () => {
    const port = await freePort(); // nothing listens there
    const r = runValidate(`http://127.0.0.1:${port}`, path.join(tmp, "unreachable"), configFile);
    assert.equal(r.status, 2, r.output);
    assert.match(r.output, new RegExp(`Prometheus at http://127\\.0\\.0\\.1:${port} could not be reached: ECONNREFUSED`));
  });

  it("exits 64 on a bad command line, saying what is allowed", () => {
    const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/validate.ts", STACK, "--window", "soon"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 64, r.stderr);
    assert.match(r.stderr, /--window: found "soon"; allowed: a duration such as 15m/);
    const unknown = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "scripts/validate.ts", "staging"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(unknown.status, 64, unknown.stderr);
    assert.match(unknown.stderr, /no stack file Pulumi\.staging\.yaml; stacks: production, testnet/);
  });
});
