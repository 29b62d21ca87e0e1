import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig, type NodeConfig } from "../../src/config";
import { ENV, METRICS } from "@bizra/contract";
import { runTraffic, trafficProblem } from "../../src/canary/traffic";
import { parseTrafficArgs } from "../../src/cli/traffic";

import { startNode, type RunningNode } from "../../src/main";
import { publicKeyOf } from "../../src/poi/signature";

const SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
/** The load tester's test validator: a fresh key, listed in this test's validator set only. */
const LOAD_TEST = { id: "loadtest", secretKey: randomBytes(32) };
/** A verifier replica (no signing key) whose validator set lists node0 and the load tester's test validator. */
const config = (): NodeConfig => ({
  ...loadConfig({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1" }),
  validators: [
    { id: "node0", weight: 3, publicKey: publicKeyOf(SEED) },
    { id: LOAD_TEST.id, weight: 1, publicKey: publicKeyOf(LOAD_TEST.secretKey) },
  ],
});

async function metric(node: RunningNode, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .filter((l) => l.includes(labels))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
}

describe("canary traffic (realistic load: distinct attestations, a few invalid)", () => {
  let node: RunningNode | undefined;
  afterEach(async () => {
    await node?.close();
    node = undefined;
  });

  it("a healthy node: every attestation verified once, the corrupted ones rejected, no replay, no cache hit, no 5xx", async () => {
    node = await startNode({ config: config(), logger: false });
    const s = await runTraffic({ targets: [`http://127.0.0.1:${node.apiPort}`], ratePerSecond: 25, durationMs: 2_000, invalidEvery: 10, validator: LOAD_TEST, requestTimeoutMs: 30_000 });
    assert.ok(s.rounds >= 40, `${s.rounds} rounds`);
    assert.deepEqual([s.wrongVerdicts, s.transportErrors, s.wrongSamples], [0, 0, []]);
    assert.equal(s.valid + s.rejected, s.rounds);
    assert.equal(s.signed, s.rounds);
    assert.equal(s.rejected, Math.floor(s.rounds / 10));
    assert.deepEqual(Object.keys(s.status).sort(), ["200", "404"], "verify and finality only: the load tester never calls the sign route");
    assert.equal(s.finalityChecks, s.rounds);
    assert.equal(await metric(node, METRICS.poiVerifyTotal), s.valid);
    assert.equal(await metric(node, METRICS.poiVerifyFailTotal, 'reason="bad_signature"'), s.rejected);
    assert.equal(await metric(node, METRICS.poiVerifyFailTotal, 'reason="replayed"'), 0);
    assert.equal(await metric(node, METRICS.poiCacheHitsTotal), 0);
  });

  it("two targets (canary and primary): each gets every N-th of its own verifications corrupted, also with an even N", async () => {
    node = await startNode({ config: config(), logger: false });
    const other = await startNode({ config: config(), logger: false });
    try {
      const s = await runTraffic({ targets: [`http://127.0.0.1:${node.apiPort}`, `http://127.0.0.1:${other.apiPort}`], ratePerSecond: 40, durationMs: 1_500, invalidEvery: 4, validator: LOAD_TEST, requestTimeoutMs: 30_000 });
      assert.deepEqual([s.wrongVerdicts, s.transportErrors], [0, 0]);
      const perTarget = [Math.ceil(s.rounds / 2), Math.floor(s.rounds / 2)];
      for (const [i, n] of [node, other].entries()) {
        const verifications = (await metric(n, METRICS.poiVerifyTotal)) + (await metric(n, METRICS.poiVerifyFailTotal, 'reason="bad_signature"'));
        assert.equal(verifications, perTarget[i], `target ${i} verified its share`);
        assert.equal(await metric(n, METRICS.poiVerifyFailTotal, 'reason="bad_signature"'), Math.floor((perTarget[i] as number) / 4), `target ${i}: every 4th corrupted`);
      }
    } finally {
      await other.close();
    }
  });
  it("a validator set without the test validator (as production's) refuses every attestation of the load tester", async () => {
    node = await startNode({ config: { ...config(), validators: config().validators.slice(0, 1) }, logger: false });
    const s = await runTraffic({ targets: [`http://127.0.0.1:${node.apiPort}`], ratePerSecond: 20, durationMs: 500, invalidEvery: 10, validator: LOAD_TEST, requestTimeoutMs: 30_000 });
    assert.ok(s.rounds >= 5, `${s.rounds} rounds`);
    assert.equal(s.valid, 0);
    assert.equal(s.wrongVerdicts + s.rejected, s.rounds);
    assert.ok(s.wrongVerdicts >= 1);
    assert.equal(await metric(node, METRICS.poiVerifyFailTotal, 'reason="unknown_validator"'), s.rounds);
  });

  it("a node with fault injection answers about that share of /v1 requests 500, health and metrics untouched", async () => {
    node = await startNode({ config: config(), logger: false, faultErrorRate: 0.5 });
    const s = await runTraffic({ targets: [`http://127.0.0.1:${node.apiPort}`], ratePerSecond: 25, durationMs: 2_000, invalidEvery: 10, validator: LOAD_TEST, requestTimeoutMs: 30_000 });
    const five = s.status["500"] ?? 0;
    const total = Object.values(s.status).reduce((a, b) => a + b, 0);
    assert.ok(five / total > 0.25 && five / total < 0.75, `${five}/${total} answered 500`);
    const res = await fetch(`http://127.0.0.1:${node.apiPort}/v1/consensus/head`);
    if (res.status === 500) assert.equal(((await res.json()) as { error: string }).error, "fault_injected");
    for (let i = 0; i < 20; i++) assert.equal((await fetch(`http://127.0.0.1:${node.apiPort}/healthz`)).status, 200);
    assert.ok((await metric(node, "bizra_http_requests_total", 'status_code="500"')) >= five);
  });


  it("refuses bad traffic options, naming the field", () => {
    const ok = { targets: ["http://x"], ratePerSecond: 1, durationMs: 1, invalidEvery: 2, validator: LOAD_TEST };
    assert.equal(trafficProblem(ok), undefined);
    assert.equal(trafficProblem({ ...ok, targets: [] }), "targets: at least one URL");
    assert.match(trafficProblem({ ...ok, targets: ["ftp://x"] }) ?? "", /^targets: ftp:\/\/x is not an http/);
    assert.match(trafficProblem({ ...ok, ratePerSecond: 0 }) ?? "", /^ratePerSecond: got 0/);
    assert.match(trafficProblem({ ...ok, invalidEvery: 1 }) ?? "", /^invalidEvery: got 1/);
    assert.match(trafficProblem({ ...ok, validator: { id: "bad id", secretKey: LOAD_TEST.secretKey } }) ?? "", /^validator\.id: got "bad id", allowed/);
    assert.match(trafficProblem({ ...ok, validator: { id: "loadtest", secretKey: new Uint8Array(31) } }) ?? "", /^validator\.secretKey: got 31 bytes, allowed: a 32-byte/);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-traffic-args-"));
    try {
      const keyFile = path.join(dir, "loadtest.seed");
      fs.writeFileSync(keyFile, `${Buffer.from(LOAD_TEST.secretKey).toString("hex")}\n`);
      const key = ["--validator-id", "loadtest", "--key-file", keyFile];
      const parsed = parseTrafficArgs(["--target", "http://a:1", ...key, "--rate", "5", "--duration", "2m", "--invalid-every", "50"]);
      assert.deepEqual({ ...parsed, validator: { id: parsed.validator.id, secretKey: Buffer.from(parsed.validator.secretKey).toString("hex") } }, {
        targets: ["http://a:1"], ratePerSecond: 5, durationMs: 120_000, invalidEvery: 50, requestTimeoutMs: 5_000,
        validator: { id: "loadtest", secretKey: Buffer.from(LOAD_TEST.secretKey).toString("hex") },
      });
      assert.equal(parseTrafficArgs(["--target", "http://a:1", ...key, "--request-timeout", "30s"]).requestTimeoutMs, 30_000);
      assert.throws(() => parseTrafficArgs(["--target", "http://a:1", ...key, "--duration", "90"]), /^RangeError: --duration: got "90", allowed/);
      assert.throws(() => parseTrafficArgs(["--targte", "http://a:1"]), /^RangeError: --targte: unknown flag/);
      assert.throws(() => parseTrafficArgs([...key]), /^RangeError: targets: at least one URL/);
      assert.throws(() => parseTrafficArgs(["--target", "http://a:1", "--key-file", keyFile]), /^RangeError: --validator-id: required/);
      assert.throws(() => parseTrafficArgs(["--target", "http://a:1", "--validator-id", "loadtest"]), /^RangeError: --key-file: required/);
      assert.throws(() => parseTrafficArgs(["--target", "http://a:1", "--validator-id", "loadtest", "--key-file", path.join(dir, "none")]), /^RangeError: --key-file: cannot read/);
      fs.writeFileSync(keyFile, "not a key\n");
      assert.throws(() => parseTrafficArgs(["--target", "http://a:1", ...key]), /^RangeError: --key-file: .* does not hold a key, allowed: an Ed25519 seed as 64 hex digits/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
