import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { loadConfig, type NodeConfig } from "../../src/config";
import { signVote, type Vote } from "../../src/consensus";
import { ENV, METRICS, METRICS_PATH, ROUTES } from "@bizra/contract";
import { startNode, type RunningNode } from "../../src/main";
import { nobleVerifier, publicKeyOf, toHex, type SignatureVerifier } from "../../src/poi";
import { hex } from "../helpers";

const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PEER_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const PEER_PUB = toHex(publicKeyOf(hex(PEER_SEED)));
/** The wire body of `vote` signed with `seed` (hex): `{validatorId, slot, blockHash, signature}`. */
const signedVote = (seed: string, vote: Vote) => ({ ...vote, signature: toHex(signVote(vote, hex(seed)).signature) });

function testConfig(extra: Record<string, string> = {}): NodeConfig {
  const dir = mkdtempSync(join(tmpdir(), "bizra-"));
  const setFile = join(dir, "validators.json");
  writeFileSync(setFile, JSON.stringify([
    { id: "node0", weight: 6_700, publicKey: toHex(publicKeyOf(hex(SEED))) },
    { id: "peer1", weight: 3_300, publicKey: PEER_PUB },
  ]));
  return loadConfig({
    [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1",
    [ENV.signingKey]: SEED, [ENV.validatorSetFile]: setFile, [ENV.maxBatchSize]: "4", [ENV.bodyLimitBytes]: "4096",
    ...extra,
  });
}

async function call(node: RunningNode, method: string, path: string, body?: unknown, raw?: string) {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method,
    headers: body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {},
    body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.length > 0 ? JSON.parse(text) : undefined };
}

describe("node service over HTTP", () => {
  let node: RunningNode;
  before(async () => { node = await startNode({ config: testConfig(), logger: false }); });
  after(async () => { await node.close(); });

  const sign = async (over: Record<string, unknown> = {}) => (await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 2, payload: "c0ffee", ...over })).body;

  it("binds two ports and answers health and readiness", async () => {
    assert.notEqual(node.apiPort, node.metricsPort);
    assert.deepEqual((await call(node, "GET", ROUTES.healthz)).body, { status: "ok" });
    const ready = await call(node, "GET", ROUTES.readyz);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { signingKeyLoaded: true, verifierSelfTest: true, circuitClosed: true });
  });

  it("signs, verifies, then refuses the replay", async () => {
    const s = await sign();
    assert.equal(s.attestation.validatorId, "node0");
    assert.equal(s.publicKey, toHex(publicKeyOf(hex(SEED))));
    const item = { encoding: s.encoding, signature: s.signature };
    const first = await call(node, "POST", ROUTES.attestationsVerify, item);
    assert.deepEqual([first.status, first.body.valid, first.body.digest], [200, true, s.digest]);
    const again = await call(node, "POST", ROUTES.attestationsVerify, item);
    assert.deepEqual([again.body.valid, again.body.reason], [false, "replayed"]);
  });

  it("verifies a batch with per-item reasons", async () => {
    const a = await sign();
    const b = await sign({ timestampMs: Date.now() - 120_000 });
    const c = await sign();
    const badSig = c.signature.slice(0, 127) + (c.signature.endsWith("0") ? "1" : "0");
    const otherVersion = "02" + a.encoding.slice(2);
    const res = await call(node, "POST", ROUTES.attestationsVerifyBatch, {
      items: [
        { encoding: a.encoding, signature: a.signature },
        { encoding: b.encoding, signature: b.signature },
        { encoding: c.encoding, signature: badSig },
        { encoding: otherVersion, signature: a.signature },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.results.map((r: { valid: boolean; reason?: string }) => r.reason ?? "ok"), ["ok", "stale", "bad_signature", "unsupported_version"]);
  });

  it("names the field and rule of bad input", async () => {
    const cases: [string, string, unknown, number, string, string][] = [
      ["POST", ROUTES.attestationsSign, { epoch: -1, slot: 1, payload: "" }, 400, "body.epoch", "minimum"],
      ["POST", ROUTES.attestationsSign, { epoch: 1, slot: 1 }, 400, "body.payload", "required"],
      ["POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "ABC" }, 400, "body.payload", "pattern"],
      ["POST", ROUTES.attestationsSign, { epoch: "1", slot: 1, payload: "" }, 400, "body.epoch", "type"],
      ["POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "", extra: 1 }, 400, "body.extra", "additionalProperties"],
      ["POST", ROUTES.attestationsVerify, { encoding: "00", signature: "ab" }, 400, "body.signature", "pattern"],
      ["POST", ROUTES.attestationsVerifyBatch, { items: [] }, 400, "body.items", "minItems"],
      ["POST", ROUTES.attestationsVerifyBatch, { items: Array(5).fill({ encoding: "00", signature: "0".repeat(128) }) }, 400, "body.items", "maxItems"],
      ["POST", ROUTES.attestationsVerifyBatch, { items: [{ encoding: "0", signature: "0".repeat(128) }] }, 400, "body.items[0].encoding", "minLength"],
      ["POST", ROUTES.votes, { validatorId: "node0", slot: 1, blockHash: "nothex", signature: "0".repeat(128) }, 400, "body.blockHash", "pattern"],
      ["POST", ROUTES.votes, { validatorId: "node0", slot: 1, blockHash: "ab".repeat(32) }, 400, "body.signature", "required"],
      ["POST", ROUTES.votes, { validatorId: "node0", slot: 1, blockHash: "ab".repeat(32), signature: "AB".repeat(64) }, 400, "body.signature", "pattern"],
      ["POST", ROUTES.votes, { validatorId: "node0", slot: 1, blockHash: "ab".repeat(32), signature: "ab".repeat(63) }, 400, "body.signature", "pattern"],
      ["POST", ROUTES.votes, { validatorId: "node 0", slot: 1, blockHash: "ab".repeat(32), signature: "ab".repeat(64) }, 400, "body.validatorId", "pattern"],
      ["POST", ROUTES.votes, { validatorId: "node0", slot: -1, blockHash: "ab".repeat(32), signature: "ab".repeat(64) }, 400, "body.slot", "minimum"],
      ["GET", "/v1/consensus/finality/xyz", undefined, 400, "params.blockHash", "pattern"],
    ];
    for (const [method, path, body, status, field, rule] of cases) {
      const res = await call(node, method, path, body);
      assert.deepEqual([res.status, res.body.field, res.body.rule], [status, field, rule], `${method} ${path} ${String(JSON.stringify(body)).slice(0, 80)}`);
      assert.equal(res.body.error, "invalid_request");
    }
  });

  it("rejects malformed JSON, oversized bodies, wrong media types and unknown routes with 4xx", async () => {
    assert.equal((await call(node, "POST", ROUTES.attestationsVerify, undefined, "{not json")).status, 400);
    const big = await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "00".repeat(4_096) });
    assert.equal(big.status, 413);
    const media = await fetch(`http://127.0.0.1:${node.apiPort}${ROUTES.attestationsVerify}`, { method: "POST", headers: { "content-type": "text/xml" }, body: "<a/>" });
    assert.equal(media.status, 415);
    const missing = await call(node, "GET", "/nope");
    assert.deepEqual([missing.status, missing.body.error], [404, "not_found"]);
  });

  it("verify of garbage bytes is a named rejection, not an error", async () => {
    const res = await call(node, "POST", ROUTES.attestationsVerify, { encoding: "01ff", signature: "0".repeat(128) });
    assert.deepEqual([res.status, res.body.valid, res.body.reason], [200, false, "malformed"]);
    const stranger = await sign();
    const enc = "01057065657232" + stranger.encoding.slice(14); // validator id "peer2": not registered
    const r2 = await call(node, "POST", ROUTES.attestationsVerify, { encoding: enc, signature: stranger.signature });
    assert.equal(r2.body.reason, "unknown_validator");
  });

  it("takes signed votes, reports finality and head, and rejects equivocation (409) and unknown validators (422)", async () => {
    const block = "ab".repeat(32);
    const v1 = await call(node, "POST", ROUTES.votes, signedVote(PEER_SEED, { validatorId: "peer1", slot: 10, blockHash: block }));
    assert.deepEqual([v1.status, v1.body.finality.supportBp, v1.body.finality.fast], [202, 3_300, false]);
    const v2 = await call(node, "POST", ROUTES.votes, signedVote(SEED, { validatorId: "node0", slot: 10, blockHash: block }));
    assert.deepEqual([v2.body.finality.supportBp, v2.body.finality.fast, v2.body.finality.economic], [10_000, true, true]);
    const dup = await call(node, "POST", ROUTES.votes, signedVote(SEED, { validatorId: "node0", slot: 10, blockHash: block }));
    assert.deepEqual([dup.status, dup.body.duplicate], [202, true]);
    const eq = await call(node, "POST", ROUTES.votes, signedVote(PEER_SEED, { validatorId: "peer1", slot: 10, blockHash: "cd".repeat(32) }));
    assert.deepEqual([eq.status, eq.body.error], [409, "equivocation"]);
    const unk = await call(node, "POST", ROUTES.votes, signedVote(PEER_SEED, { validatorId: "ghost", slot: 10, blockHash: block }));
    assert.deepEqual([unk.status, unk.body.error], [422, "unknown_validator"]);
    const fin = await call(node, "GET", `/v1/consensus/finality/${block}`);
    assert.deepEqual([fin.status, fin.body.finality.supportWeight], [200, 6_700]); // peer1's support withdrawn
    assert.equal((await call(node, "GET", `/v1/consensus/finality/${"ee".repeat(32)}`)).status, 404);
    const head = await call(node, "GET", ROUTES.head);
    assert.equal(head.body.head.blockHash, block);
  });

  it("refuses unsigned, forged and replayed-elsewhere votes with 403 bad_signature before tallying, and counts them", async () => {
    const scrape = async () => (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
    const count = (text: string, reason: string) => {
      const series = `${METRICS.consensusVoteRejectedTotal}{reason="${reason}"} `;
      const line = text.split("\n").find((l) => l.startsWith(series));
      return line === undefined ? undefined : Number(line.slice(series.length));
    };
    const before = await scrape();
    assert.equal(typeof count(before, "bad_signature"), "number", "the series exists before any rejection");
    const block = "5e".repeat(32);
    const good = signedVote(PEER_SEED, { validatorId: "peer1", slot: 20, blockHash: block });
    const forged: Record<string, unknown>[] = [
      { ...good, signature: "0".repeat(128) }, // garbage signature
      { ...good, signature: good.signature.slice(0, 127) + (good.signature.endsWith("0") ? "1" : "0") }, // one bit flipped
      signedVote(SEED, { validatorId: "peer1", slot: 20, blockHash: block }), // node0's key voting as peer1
      { ...good, slot: 21 }, // peer1's signature moved to another slot
      { ...good, blockHash: "5f".repeat(32) }, // ... or to another block
      { ...good, validatorId: "node0" }, // ... or to another validator
    ];
    const att = await sign({ slot: 20 });
    forged.push({ validatorId: "node0", slot: 20, blockHash: block, signature: att.signature }); // an attestation signature
    for (const body of forged) {
      const res = await call(node, "POST", ROUTES.votes, body);
      assert.deepEqual(
        [res.status, res.body.error, res.body.field, res.body.rule],
        [403, "bad_signature", "body.signature", "bad_signature"],
        JSON.stringify(body),
      );
    }
    assert.equal((await call(node, "GET", `/v1/consensus/finality/${block}`)).status, 404, "no forged vote was tallied");
    assert.equal((await call(node, "GET", `/v1/consensus/finality/${"5f".repeat(32)}`)).status, 404);
    const ok = await call(node, "POST", ROUTES.votes, good);
    assert.deepEqual([ok.status, ok.body.accepted, ok.body.finality.supportWeight], [202, true, 3_300]);
    await call(node, "POST", ROUTES.votes, { ...good, signature: "zz" });
    await call(node, "POST", ROUTES.votes, signedVote(SEED, { validatorId: "ghost", slot: 20, blockHash: block }));
    const after = await scrape();
    assert.equal(count(after, "bad_signature"), (count(before, "bad_signature") ?? 0) + forged.length);
    assert.equal(count(after, "malformed"), (count(before, "malformed") ?? 0) + 1);
    assert.equal(count(after, "unknown_validator"), (count(before, "unknown_validator") ?? 0) + 1);
    assert.ok(after.includes(`${METRICS.consensusVotesTotal}{outcome="bad_signature"}`));
  });

  it("exports the contract metrics on the metrics port, and counters move", async () => {
    const scrape = async () => (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
    const value = (text: string, series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(series + " "));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const before = await scrape();
    for (const name of Object.values(METRICS)) assert.ok(before.includes(`# TYPE ${name} `), `missing ${name}`);
    for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total"]) assert.ok(before.includes(name), name);
    assert.ok(before.includes(`${METRICS.poiVerifySeconds}_bucket{le="0.0002"}`) && before.includes(`${METRICS.poiVerifySeconds}_bucket{le="0.0004"}`) && before.includes(`${METRICS.poiVerifySeconds}_bucket{le="0.001"}`));
    const ok0 = value(before, METRICS.poiVerifyTotal) ?? 0;
    const badSig0 = value(before, `${METRICS.poiVerifyFailTotal}{reason="bad_signature"}`) ?? 0;
    const s = await sign();
    await call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature });
    await call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: "0".repeat(128) });
    await call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature });
    const after = await scrape();
    assert.equal(value(after, METRICS.poiVerifyTotal), ok0 + 1);
    assert.equal(value(after, `${METRICS.poiVerifyFailTotal}{reason="bad_signature"}`), badSig0 + 1);
    assert.ok((value(after, METRICS.poiCacheHitsTotal) ?? 0) >= 1, "the third call hits the cache");
    assert.ok((value(after, METRICS.poiCacheLookupsTotal) ?? 0) > (value(after, METRICS.poiCacheHitsTotal) ?? 0));
    assert.ok((value(after, METRICS.consensusReplayRejectedTotal) ?? 0) >= 1);
    assert.ok(after.includes(`${METRICS.httpRequestsTotal}{route="${ROUTES.attestationsVerify}",method="POST",status_code="200"}`));
    assert.ok((value(after, `${METRICS.poiGenerateSeconds}_count`) ?? 0) >= 1);
  });

  it("survives route fuzzing: no input yields a 5xx (fast-check)", async () => {
    const routes = [
      ["POST", ROUTES.attestationsSign], ["POST", ROUTES.attestationsVerify], ["POST", ROUTES.attestationsVerifyBatch],
      ["POST", ROUTES.votes], ["GET", ROUTES.head], ["GET", ROUTES.healthz], ["GET", "/v1/consensus/finality/"],
    ] as const;
    const hexStr = fc.stringMatching(/^[0-9a-f]{0,200}$/);
    const body = fc.oneof(
      fc.anything(),
      fc.record({ encoding: hexStr, signature: hexStr }, { requiredKeys: [] }),
      fc.record({ items: fc.array(fc.record({ encoding: hexStr, signature: fc.constant("0".repeat(128)) }), { maxLength: 5 }) }),
      fc.record({ epoch: fc.oneof(fc.integer(), fc.double()), slot: fc.nat(), payload: hexStr, nonce: hexStr, timestampMs: fc.integer() }, { requiredKeys: [] }),
      fc.record({ validatorId: fc.string(), slot: fc.integer(), blockHash: hexStr, signature: hexStr }, { requiredKeys: [] }),
      // well-formed votes with arbitrary signatures: they reach the signature check
      fc.record({
        validatorId: fc.constantFrom("node0", "peer1", "ghost"),
        slot: fc.nat(),
        blockHash: fc.stringMatching(/^[0-9a-f]{64}$/),
        signature: fc.oneof(fc.stringMatching(/^[0-9a-f]{128}$/), fc.constant("f".repeat(128)), fc.constant("0".repeat(128))),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, fc.string({ maxLength: 70 }), async ([method, path], b, suffix) => {
        const res = await node.api.inject({
          method,
          url: path.endsWith("/") ? path + encodeURIComponent(suffix) : path,
          ...(method === "POST" ? { payload: JSON.stringify(b) ?? "null", headers: { "content-type": "application/json" } } : {}),
        });
        assert.ok(res.statusCode < 500, `${method} ${path} -> ${res.statusCode} ${res.body}`);
      }),
      { numRuns: 250 },
    );
    assert.equal((await call(node, "GET", ROUTES.healthz)).status, 200);
  });
});

describe("overload and readiness", () => {
  it("sheds load with 503 + Retry-After when verifications saturate, then recovers", async () => {
    let blocked = false;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let entered: () => void = () => {};
    const inside = new Promise<void>((r) => (entered = r));
    const gated: SignatureVerifier = {
      name: "gated",
      verifyOne: nobleVerifier.verifyOne,
      verifyMany: async (items) => {
        if (blocked) { entered(); await gate; }
        return nobleVerifier.verifyMany(items);
      },
    };
    const node = await startNode({ config: testConfig({ [ENV.maxConcurrentVerifications]: "1" }), logger: false, backend: gated });
    try {
      const s = (await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "" })).body;
      const t = (await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 2, payload: "" })).body;
      blocked = true;
      const first = call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature });
      await inside; // the one allowed verification is now in flight
      const shed = await call(node, "POST", ROUTES.attestationsVerify, { encoding: t.encoding, signature: t.signature });
      assert.deepEqual([shed.status, shed.body.error], [503, "overloaded"]);
      assert.ok(Number(shed.headers.get("retry-after")) >= 1);
      release();
      assert.equal((await first).body.valid, true);
      const later = await call(node, "POST", ROUTES.attestationsVerify, { encoding: t.encoding, signature: t.signature });
      assert.equal(later.body.valid, true);
    } finally {
      release();
      await node.close();
    }
  });

  it("opens the circuit after repeated backend failures: 503, Retry-After, not ready", async () => {
    let failing = false;
    const flaky: SignatureVerifier = { name: "flaky", verifyOne: () => true, verifyMany: (items) => { if (failing) throw new Error("backend down"); return items.map((_, i) => i === 0); } };
    const node = await startNode({ config: testConfig(), logger: false, backend: flaky });
    try {
      const s = (await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "" })).body;
      failing = true;
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature })).status);
      assert.ok(statuses.every((st) => st === 500 || st === 503));
      const open = await call(node, "POST", ROUTES.attestationsVerify, { encoding: s.encoding, signature: s.signature });
      assert.deepEqual([open.status, open.body.error], [503, "verifier_unavailable"]);
      assert.ok(Number(open.headers.get("retry-after")) >= 1);
      const ready = await call(node, "GET", ROUTES.readyz);
      assert.deepEqual([ready.status, ready.body.checks.circuitClosed], [503, false]);
    } finally {
      await node.close();
    }
  });

  it("is live but not ready without a signing key; sign answers 503 key_not_loaded", async () => {
    const node = await startNode({ config: loadConfig({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1" }), logger: false });
    try {
      assert.equal((await call(node, "GET", ROUTES.healthz)).status, 200);
      const ready = await call(node, "GET", ROUTES.readyz);
      assert.deepEqual([ready.status, ready.body.checks.signingKeyLoaded], [503, false]);
      const s = await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "" });
      assert.deepEqual([s.status, s.body.error], [503, "key_not_loaded"]);
      // the node is in its own set without a key: its votes cannot be verified, so they are refused
      const v = await call(node, "POST", ROUTES.votes, signedVote(SEED, { validatorId: "node0", slot: 1, blockHash: "ab".repeat(32) }));
      assert.deepEqual([v.status, v.body.error], [422, "unknown_validator"]);
      assert.match(v.body.message, /no registered public key/);
    } finally {
      await node.close();
    }
  });
});

describe("process lifecycle", () => {
  it("exits 0 on SIGTERM after starting, and never logs the key", async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, ["-r", "ts-node/register", join(__dirname, "../../src/main.ts")], {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1", [ENV.signingKey]: SEED },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => { if (out.includes("node started")) { clearInterval(timer); resolve(); } }, 50);
      child.once("exit", (code) => { clearInterval(timer); reject(new Error(`exited early (${code}): ${out}`)); });
    });
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, out);
    assert.ok(!out.includes(SEED));
  });

  it("refuses to start on bad config with a message naming the variable (exit 2)", async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, ["-r", "ts-node/register", join(__dirname, "../../src/main.ts")], {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", [ENV.apiPort]: "eighty" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 2);
    assert.match(err, /BIZRA_API_PORT: must be a whole number in \[0, 65535\]/);
  });
});
