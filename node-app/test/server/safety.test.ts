/**
 * Validator safety over HTTP: no double-sign (also across a restart), and one replay and vote state whichever
 * replica answers (also across a restart). Each case starts real nodes on loopback.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type NodeConfig } from "../../src/config";
import { signVote } from "../../src/consensus";
import { ENV, ROUTES } from "@bizra/contract";
import { startNode, type RunningNode } from "../../src/main";
import { publicKeyOf, toHex } from "../../src/poi";
import { hex } from "../helpers";
import { startRedis, type TestRedis } from "../support/redis";

const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PEER_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const TOKEN = "t".repeat(48);

function config(dir: string, extra: Record<string, string> = {}): NodeConfig {
  const setFile = join(dir, "validators.json");
  writeFileSync(setFile, JSON.stringify([
    { id: "node0", weight: 6_700, publicKey: toHex(publicKeyOf(hex(SEED))) },
    { id: "peer1", weight: 3_300, publicKey: toHex(publicKeyOf(hex(PEER_SEED))) },
  ]));
  const tokenFile = join(dir, "signer-token");
  writeFileSync(tokenFile, TOKEN);
  const signing = extra[ENV.signingKey] !== undefined
    ? { [ENV.signerPort]: "0", [ENV.signerTokenFile]: tokenFile, [ENV.signerStateFile]: join(dir, "signer-state.json") }
    : {};
  return loadConfig({
    [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1", [ENV.validatorSetFile]: setFile,
    ...signing,
    ...extra,
  });
}

/** The signer listener (its own port); the public API port serves no signing route. */
function signerPort(node: RunningNode): number {
  assert.ok(node.signerPort !== undefined, "a node with a signing key runs the signer listener");
  return node.signerPort;
}

async function post(port: number, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined };
}
const sign = (node: RunningNode, body: Record<string, unknown>) =>
  post(signerPort(node), ROUTES.attestationsSign, body, { authorization: `Bearer ${TOKEN}` });

describe("validator safety: double-sign, restart, replicas", function () {
  this.timeout(60_000);
  const nodes: RunningNode[] = [];
  let redis: TestRedis | undefined;
  const start = async (cfg: NodeConfig) => {
    const node = await startNode({ config: cfg, logger: false });
    nodes.push(node);
    return node;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.close();
  });
  after(async () => {
    await redis?.stop();
  });

  it("refuses a second, different payload for a signed (epoch, slot) and returns the same signature for the same one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-safety-"));
    const node = await start(config(dir, { [ENV.signingKey]: SEED }));
    const first = await sign(node, { epoch: 3, slot: 7, payload: "aa" });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await sign(node, { epoch: 3, slot: 7, payload: "aa" });
    assert.deepEqual([again.status, again.body.repeated, again.body.signature, again.body.encoding], [200, true, first.body.signature, first.body.encoding]);
    const conflicting = await sign(node, { epoch: 3, slot: 7, payload: "bb" });
    assert.deepEqual([conflicting.status, conflicting.body.error], [409, "double_sign"], JSON.stringify(conflicting.body));
    const older = await sign(node, { epoch: 3, slot: 6, payload: "cc" });
    assert.deepEqual([older.status, older.body.error], [409, "slot_regression"], JSON.stringify(older.body));
  });

  it("remembers what it signed across a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-safety-"));
    const cfg = config(dir, { [ENV.signingKey]: SEED });
    const before = await start(cfg);
    assert.equal((await sign(before, { epoch: 1, slot: 2, payload: "aa" })).status, 201);
    await before.close();
    nodes.splice(nodes.indexOf(before), 1);
    const after = await start(cfg);
    const conflicting = await sign(after, { epoch: 1, slot: 2, payload: "bb" });
    assert.deepEqual([conflicting.status, conflicting.body.error], [409, "double_sign"], JSON.stringify(conflicting.body));
  });

  it("refuses an attestation replayed to another replica, and to the same replica after a restart", async () => {
    redis ??= await startRedis();
    const dir = mkdtempSync(join(tmpdir(), "bizra-safety-"));
    const signer = await start(config(dir, { [ENV.signingKey]: SEED, [ENV.stateRedisUrl]: redis.url }));
    const verifierCfg = config(mkdtempSync(join(tmpdir(), "bizra-safety-")), { [ENV.stateRedisUrl]: redis.url });
    const a = await start(verifierCfg);
    const b = await start(verifierCfg);
    const s = (await sign(signer, { epoch: 1, slot: 100, payload: "aa" })).body;
    const item = { encoding: s.encoding, signature: s.signature };
    const onA = await post(a.apiPort, ROUTES.attestationsVerify, item);
    assert.deepEqual([onA.status, onA.body.valid], [200, true], JSON.stringify(onA.body));
    const onB = await post(b.apiPort, ROUTES.attestationsVerify, item);
    assert.deepEqual([onB.body.valid, onB.body.reason], [false, "replayed"], "replica B accepted what replica A accepted");
    await a.close();
    nodes.splice(nodes.indexOf(a), 1);
    const aAgain = await start(verifierCfg);
    const afterRestart = await post(aAgain.apiPort, ROUTES.attestationsVerify, item);
    assert.deepEqual([afterRestart.body.valid, afterRestart.body.reason], [false, "replayed"], "accepted again after a restart");
  });

  it("tallies votes once for all replicas: finality is the same on each", async () => {
    redis ??= await startRedis();
    const cfg = config(mkdtempSync(join(tmpdir(), "bizra-safety-")), { [ENV.stateRedisUrl]: redis.url });
    const a = await start(cfg);
    const b = await start(cfg);
    const block = "ab".repeat(32);
    const vote = (seed: string, validatorId: string) => {
      const v = { validatorId, slot: 40, blockHash: block };
      return { ...v, signature: toHex(signVote(v, hex(seed)).signature) };
    };
    assert.equal((await post(a.apiPort, ROUTES.votes, vote(SEED, "node0"))).status, 202);
    assert.equal((await post(b.apiPort, ROUTES.votes, vote(PEER_SEED, "peer1"))).status, 202);
    for (const node of [a, b]) {
      const res = await fetch(`http://127.0.0.1:${node.apiPort}/v1/consensus/finality/${block}`);
      const body = (await res.json()) as { finality: { supportBp: number; economic: boolean } };
      assert.deepEqual([body.finality.supportBp, body.finality.economic], [10_000, true], `replica on port ${node.apiPort}`);
    }
  });
});
