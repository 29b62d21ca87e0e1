/**
 * Flagger's real load tester (`cmd/loadtester` of Flagger v1.36.1, scripts/delivery-toolchain.sh) receiving the
 * `rollout` webhook of the rendered Canary (`bizra:canary.loadTester`) as Flagger posts it, and running the canary
 * traffic command from the node's built `dist/` (built as the image builds it: the local packages, then the app)
 * against a real node. Two substitutions, both for loopback: the
 * Services' cluster DNS names in the command become the node's 127.0.0.1 address, and the 60 s duration (one analysis
 * interval) becomes 10 s. The traffic signs as a test validator (a fresh key in a temp file) that the node's validator
 * set lists, as the test stack's does. What it does not show: Flagger calling the webhook on schedule (the cluster scenarios).
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ENV } from "@bizra/contract";
import { meshServiceName } from "../../components/canary";
import { publicKeyOfSeed } from "../../components/validator-set";
import { objectsOfKind, runProgram } from "../../scripts/lib/mock-runtime";
import { REPO_ROOT } from "../../scripts/lib/stack-config";
import { deliveryTool } from "../support/delivery-tools";
import { startNodeProcess, type NodeProcess } from "../support/node-process";
import { freePort, stopChild, track, waitFor } from "../support/process";
import { find, single, stackWithLoadTester } from "../support/stack";
import { parseStackConfig } from "../../components/config";

const STACK = "testnet";
const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const LOAD_TEST = { id: "loadtest", seed: randomBytes(32).toString("hex") };

describe("Flagger load tester runs the Canary's rollout webhook against a real node", function () {
  this.timeout(600_000);
  let node: NodeProcess | undefined;
  let loadtester: ReturnType<typeof spawn> | undefined;
  let ltLog = "";
  let ltUrl: string;
  /** The local packages compile to .js beside their sources (as in the image); the ones this test made are removed. */
  const packageDirs = ["contract", "evidence"].map((p) => path.join(REPO_ROOT, "node-app", p));
  const jsFiles = () => packageDirs.flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".js")).map((f) => path.join(d, f)));
  let jsBefore = new Set<string>();
  const keysDir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-flagger-loadtester-"));
  const keyFile = path.join(keysDir, `${LOAD_TEST.id}.seed`);
  const setFile = path.join(keysDir, "validators.json");

  before(async () => {
    const bin = deliveryTool("flagger", "loadtester");
    jsBefore = new Set(jsFiles());
    for (const script of ["build:packages", "build"]) {
      const build = spawnSync("npm", ["--prefix", "node-app", "run", script], { cwd: REPO_ROOT, encoding: "utf8" });
      assert.equal(build.status, 0, `npm --prefix node-app run ${script}: ${build.stdout}${build.stderr}`);
    }
    fs.writeFileSync(keyFile, `${LOAD_TEST.seed}\n`, { mode: 0o600 });
    fs.writeFileSync(
      setFile,
      JSON.stringify([
        { id: "node0", weight: 3, publicKey: publicKeyOfSeed(SEED) },
        { id: LOAD_TEST.id, weight: 1, publicKey: publicKeyOfSeed(LOAD_TEST.seed) },
      ]),
    );
    // a verifier replica (no signing key): the load tester never asks the node to sign
    node = await startNodeProcess({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1", [ENV.validatorSetFile]: setFile, [ENV.logLevel]: "info" });
    const port = await freePort();
    ltUrl = `http://127.0.0.1:${port}/`;
    // the load tester runs commands with `sh -c` in its working directory: the node app's, as in an image with dist/
    loadtester = track(spawn(bin, ["-port", String(port), "-timeout", "2m", "-log-level", "info"], { cwd: path.join(REPO_ROOT, "node-app"), stdio: ["ignore", "pipe", "pipe"] }));
    loadtester.stdout?.on("data", (d: Buffer) => (ltLog += d.toString()));
    loadtester.stderr?.on("data", (d: Buffer) => (ltLog += d.toString()));
    await waitFor("the load tester's /healthz", async () => ((await fetch(`${ltUrl}healthz`).catch(() => undefined))?.ok ? true : undefined), 60_000, 250);
  });

  after(async () => {
    if (loadtester) await stopChild(loadtester);
    if (node) await stopChild(node.child);
    for (const f of jsFiles()) if (!jsBefore.has(f)) fs.rmSync(f);
    fs.rmSync(keysDir, { recursive: true, force: true });
  });

  it("accepts the webhook and the traffic reaches the node: distinct attestations verified, corrupted ones rejected", async () => {
    const lt = { url: ltUrl, ratePerSecond: 5, validatorId: LOAD_TEST.id, keyFile };
    const raw = stackWithLoadTester(STACK, lt, [{ id: LOAD_TEST.id, publicKey: publicKeyOfSeed(LOAD_TEST.seed) }]);
    const cfg = parseStackConfig(STACK, raw.values, raw.secretKeys);
    const canary = single(objectsOfKind(await runProgram(STACK, raw), "Canary"), "Canary");
    const hook = find(canary.spec.analysis.webhooks, (w) => w.type === "rollout", "the Canary's rollout webhook");
    const n = node as NodeProcess;
    const svc = meshServiceName(cfg.appName);
    let cmd = String(hook.metadata?.cmd);
    for (const s of ["canary", "primary"]) cmd = cmd.replace(`http://${svc}-${s}.${cfg.namespace}:${cfg.apiPort}`, `http://127.0.0.1:${n.apiPort}`);
    cmd = cmd.replace("--duration 54s", "--duration 10s");
    assert.ok(!cmd.includes(cfg.namespace), cmd);
    // Flagger's webhook payload (pkg/controller/webhook.go): name, namespace, phase, checksum, metadata
    const res = await fetch(hook.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: canary.metadata.name, namespace: canary.metadata.namespace, phase: "Progressing", checksum: "test", metadata: { ...hook.metadata, cmd } }),
    });
    // 202: the task runs in the background; Flagger counts any answer up to 202 as success (pkg/controller/webhook.go)
    assert.equal(res.status, 202, await res.text());
    const line = await waitFor(
      "the traffic command's counts in the load tester's log",
      async () => ltLog.replace(/\\"/g, '"').split("\n").map((l) => /\{"rounds":[^{}]*(\{[^{}]*\}[^{}]*)*\}/.exec(l)?.[0]).find((x) => x !== undefined),
      120_000,
      1_000,
    ).catch((err: Error) => assert.fail(`${err.message}\nload tester log:\n${ltLog.slice(-3000)}`));
    const stats = JSON.parse(line) as { rounds: number; valid: number; rejected: number; wrongVerdicts: number; transportErrors: number };
    assert.ok(stats.rounds > 0 && stats.valid > 0, line);
    assert.deepEqual([stats.wrongVerdicts, stats.transportErrors], [0, 0], line);
    const metrics = await (await fetch(`http://127.0.0.1:${n.metricsPort}/metrics`)).text();
    const verified = Number(/^bizra_poi_verify_total (\S+)$/m.exec(metrics)?.[1]);
    assert.equal(verified, stats.valid, "the node counted the load tester's verifications");
  });
});
