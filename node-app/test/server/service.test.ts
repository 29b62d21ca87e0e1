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
import { randomBytes } from "node:crypto";
import { ATTESTATION_VERSION, nobleVerifier, payloadDigest, publicKeyOf, signAttestation, toHex, type SignatureVerifier } from "../../src/poi";
import { hex } from "../helpers";

const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PEER_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const PEER_PUB = toHex(publicKeyOf(hex(PEER_SEED)));
/** The wire body of `vote` signed with `seed` (hex): `{validatorId, slot, blockHash, signature}`. */
const signedVote = (seed: string, vote: Vote) => ({ ...vote, signature: toHex(signVote(vote, hex(seed)).signature) });

const TOKEN = "k".repeat(40);

/** An attestation by node0 made here (not through the signer, whose high-water mark would refuse repeats). */
function mint(over: { slot?: number; timestampMs?: number } = {}) {
  const issued = signAttestation({
    version: ATTESTATION_VERSION, validatorId: "node0", epoch: 1, slot: over.slot ?? 2,
    payloadDigest: payloadDigest(hex("c0ffee")), nonce: new Uint8Array(randomBytes(16)), timestampMs: over.timestampMs ?? Date.now(),
  }, hex(SEED));
  return { encoding: toHex(issued.encoding), signature: toHex(issued.signature) };
}

function testConfig(extra: Record<string, string> = {}): NodeConfig {
  const dir = mkdtempSync(join(tmpdir(), "bizra-"));
  writeFileSync(join(dir, "token"), TOKEN);
  const setFile = join(dir, "validators.json");
  writeFileSync(setFile, JSON.stringify([
    { id: "node0", weight: 6_700, publicKey: toHex(publicKeyOf(hex(SEED))) },
    { id: "peer1", weight: 3_300, publicKey: PEER_PUB },
  ]));
  return loadConfig({
    [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1",
    [ENV.signingKey]: SEED, [ENV.validatorSetFile]: setFile, [ENV.maxBatchSize]: "4", [ENV.bodyLimitBytes]: "4096",
    [ENV.signerPort]: "0", [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerStateFile]: join(dir, "state.json"),
    ...extra,
  });
}

async function call(node: RunningNode, method: string, path: string, body?: unknown, raw?: string, port = node.apiPort, headers: Record<string, string> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.length > 0 ? JSON.parse(text) : undefined };
}

describe("node service over HTTP", () => {
  let node: RunningNode;
  before(async () => { node = await startNode({ config: testConfig(), logger: false }); });
  after(async () => { await node.close(); });

  let slot = 100;
  /** Through the signer listener, with the token; each call a new slot. */
  const sign = async () => (await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: slot++, payload: "c0ffee" }, undefined, node.signerPort, { authorization: `Bearer ${TOKEN}` })).body;
  const signerCall = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    call(node, "POST", ROUTES.attestationsSign, body, undefined, node.signerPort, headers);

  it("binds three ports and answers health and readiness", async () => {
    assert.equal(new Set([node.apiPort, node.metricsPort, node.signerPort]).size, 3);
    assert.deepEqual((await call(node, "GET", ROUTES.healthz)).body, { status: "ok" });
    const ready = await call(node, "GET", ROUTES.readyz);
    assert.equal(ready.status, 200);
    assert.deepEqual([ready.body.checks, ready.body.reasons], [{ identityMatchesSet: true, verifierSelfTest: true, circuitClosed: true }, []]);
  });

  it("serves no sign route on the API port; the signer port answers 401 without and 403 with a wrong token, counted", async () => {
    const scrape = async () => (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
    const count = (text: string, reason: string) => Number(text.split("\n").find((l) => l.startsWith(`${METRICS.poiSignRefusedTotal}{reason="${reason}"} `))?.split(" ")[1]);
    const before = await scrape();
    const onApi = await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "" });
    assert.deepEqual([onApi.status, onApi.body.error], [404, "not_found"]);
    const none = await signerCall({ epoch: 1, slot: 1, payload: "" }, {});
    assert.deepEqual([none.status, none.body.error, none.headers.get("www-authenticate")], [401, "unauthenticated", 'Bearer realm="bizra-signer"']);
    const basic = await signerCall({ epoch: 1, slot: 1, payload: "" }, { authorization: `Basic ${TOKEN}` });
    assert.equal(basic.status, 401);
    const wrong = await signerCall({ epoch: 1, slot: 1, payload: "" }, { authorization: `Bearer ${"x".repeat(40)}` });
    assert.deepEqual([wrong.status, wrong.body.error], [403, "forbidden"]);
    const after = await scrape();
    assert.equal(count(after, "unauthenticated"), count(before, "unauthenticated") + 2);
    assert.equal(count(after, "forbidden"), count(before, "forbidden") + 1);
  });

  it("refuses a timestamp beyond the allowed clock skew (422) and counts it", async () => {
    const res = await signerCall({ epoch: 9, slot: 1, payload: "", timestampMs: Date.now() + 60_000 });
    assert.deepEqual([res.status, res.body.error], [422, "timestamp_out_of_range"]);
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
    const a = mint();
    const b = mint({ timestampMs: Date.now() - 120_000 });
    const c = mint();
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
      const res = path === ROUTES.attestationsSign ? await signerCall(body) : await call(node, method, path, body);
      assert.deepEqual([res.status, res.body.field, res.body.rule], [status, field, rule], `${method} ${path} ${String(JSON.stringify(body)).slice(0, 80)}`);
      assert.equal(res.body.error, "invalid_request");
    }
  });

  it("rejects malformed JSON, oversized bodies, wrong media types and unknown routes with 4xx", async () => {
    assert.equal((await call(node, "POST", ROUTES.attestationsVerify, undefined, "{not json")).status, 400);
    const big = await call(node, "POST", ROUTES.attestationsVerify, { encoding: "00".repeat(4_096), signature: "0".repeat(128) });
    assert.equal(big.status, 413);
    const item = JSON.stringify(mint());
    for (const type of ["text/xml", "text/plain", "application/json; charset=iso-8859-1", "application/json; charset=utf-16"]) {
      const media = await fetch(`http://127.0.0.1:${node.apiPort}${ROUTES.attestationsVerify}`, { method: "POST", headers: { "content-type": type }, body: item });
      const body = (await media.json()) as { error: string; field: string };
      assert.deepEqual([media.status, body.error, body.field], [415, "unsupported_media_type", "headers.content-type"], type);
    }
    const utf8 = await fetch(`http://127.0.0.1:${node.apiPort}${ROUTES.attestationsVerify}`, { method: "POST", headers: { "content-type": "application/json; charset=UTF-8" }, body: item });
    assert.equal(utf8.status, 200);
    const missing = await call(node, "GET", "/nope");
    assert.deepEqual([missing.status, missing.body.error], [404, "not_found"]);
  });

  it("verify of garbage bytes is a named rejection, not an error", async () => {
    const res = await call(node, "POST", ROUTES.attestationsVerify, { encoding: "01ff", signature: "0".repeat(128) });
    assert.deepEqual([res.status, res.body.valid, res.body.reason], [200, false, "malformed"]);
    const stranger = mint();
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
    const att = mint({ slot: 20 });
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
      ["POST", ROUTES.attestationsVerify], ["POST", ROUTES.attestationsVerifyBatch],
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
    const node = await startNode({ config: testConfig({ [ENV.maxInflightItems]: "4" }), logger: false, backend: gated });
    try {
      const batch = [mint(), mint(), mint(), mint()];
      const t = mint();
      blocked = true;
      const first = call(node, "POST", ROUTES.attestationsVerifyBatch, { items: batch });
      await Promise.race([inside, first.then((r) => { throw new Error(`the batch finished before the gate: ${r.status} ${JSON.stringify(r.body)}`); })]); // four items in flight: the whole budget
      const shed = await call(node, "POST", ROUTES.attestationsVerifyBatch, { items: [mint(), mint(), mint(), mint()] });
      assert.deepEqual([shed.status, shed.body.error], [503, "overloaded"], "a second batch does not fit the item budget");
      assert.ok(Number(shed.headers.get("retry-after")) >= 1);
      assert.equal((await call(node, "GET", ROUTES.healthz)).status, 200, "health is never admitted, so never shed");
      release();
      assert.deepEqual((await first).body.results.map((r: { valid: boolean }) => r.valid), [true, true, true, true]);
      const later = await call(node, "POST", ROUTES.attestationsVerify, t);
      assert.equal(later.body.valid, true);
      const metrics = await (await fetch(`http://127.0.0.1:${node.metricsPort}${METRICS_PATH}`)).text();
      assert.match(metrics, new RegExp(`${METRICS.httpShedTotal}\\{reason="overloaded"\\} 1\\n`));
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
      const s = mint();
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

  it("a verifier replica without a key is ready and has no signer listener", async () => {
    const node = await startNode({ config: loadConfig({ [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1" }), logger: false });
    try {
      assert.equal(node.signerPort, undefined);
      const ready = await call(node, "GET", ROUTES.readyz);
      assert.deepEqual([ready.status, ready.body.checks.identityMatchesSet], [200, true]);
      const s = await call(node, "POST", ROUTES.attestationsSign, { epoch: 1, slot: 1, payload: "" });
      assert.deepEqual([s.status, s.body.error], [404, "not_found"]);
      // the node is in its own set without a key: its votes cannot be verified, so they are refused
      const v = await call(node, "POST", ROUTES.votes, signedVote(SEED, { validatorId: "node0", slot: 1, blockHash: "ab".repeat(32) }));
      assert.deepEqual([v.status, v.body.error], [422, "unknown_validator"]);
      assert.match(v.body.message, /no registered public key/);
    } finally {
      await node.close();
    }
  });

  for (const [what, env, reason] of [
    ["its key is not its entry's key", { [ENV.signingKey]: PEER_SEED }, /the signing key's public key .* is not the key of node0 in the validator set/],
    ["its id is not in the set", { [ENV.validatorId]: "node9" }, /validator node9 is not in the validator set \(node0, peer1\)/],
  ] as const) {
    it(`is not ready, names the reason in /readyz and does not sign when ${what}`, async () => {
      const node = await startNode({ config: testConfig(env), logger: false });
      try {
        const ready = await call(node, "GET", ROUTES.readyz);
        assert.deepEqual([ready.status, ready.body.checks.identityMatchesSet], [503, false]);
        assert.match(ready.body.reasons[0], reason);
        assert.equal(node.signerPort, undefined);
      } finally {
        await node.close();
      }
    });
  }

  it("answers 503 with Retry-After and connection: close to a request that arrives while shutting down", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let entered: () => void = () => {};
    const inside = new Promise<void>((r) => (entered = r));
    let blocked = false;
    const gated: SignatureVerifier = {
      name: "gated",
      verifyOne: nobleVerifier.verifyOne,
      verifyMany: async (items) => {
        if (blocked) { entered(); await gate; }
        return nobleVerifier.verifyMany(items);
      },
    };
    const node = await startNode({ config: testConfig(), logger: false, backend: gated });
    const { connect } = await import("node:net");
    try {
      blocked = true;
      const body = JSON.stringify(mint());
      const sock = connect({ host: "127.0.0.1", port: node.apiPort });
      let answer = "";
      sock.on("data", (d: Buffer) => (answer += d.toString()));
      const ended = new Promise<void>((resolve) => sock.on("close", () => resolve()));
      // one connection: a verification held in the backend, then (after shutdown began) a health check
      sock.write(`POST ${ROUTES.attestationsVerify} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      await inside;
      const closing = node.close(); // shutdown begins while the first request is in flight
      await new Promise((r) => setTimeout(r, 50));
      sock.write(`GET ${ROUTES.healthz} HTTP/1.1\r\nhost: x\r\n\r\n`); // arrives during shutdown
      await new Promise((r) => setTimeout(r, 50));
      release();
      await closing;
      await ended;
      const responses = answer.split(/(?=HTTP\/1\.1 )/);
      assert.match(responses[0] ?? "", /^HTTP\/1\.1 200/, "the request in flight completes");
      assert.match(responses[1] ?? "", /^HTTP\/1\.1 503/, answer);
      assert.match(responses[1] ?? "", /\r\nretry-after: 5\r\n/i);
      assert.match(responses[1] ?? "", /\r\nconnection: close\r\n/i);
      assert.match(responses[1] ?? "", /"error":"shutting_down"/);
    } finally {
      release();
      await node.close();
    }
  });

  it("closes a request whose body trickles past the request timeout (408), and caps connections", async () => {
    const node = await startNode({ config: testConfig({ [ENV.requestTimeoutMs]: "500", [ENV.maxConnections]: "2" }), logger: false });
    const { connect } = await import("node:net");
    try {
      const slow = connect({ host: "127.0.0.1", port: node.apiPort });
      let answer = "";
      slow.on("data", (d: Buffer) => (answer += d.toString()));
      const closed = new Promise<void>((resolve) => slow.on("close", () => resolve()));
      slow.write(`POST ${ROUTES.attestationsVerify} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{`);
      const drip = setInterval(() => slow.write(" "), 100); // one byte every 100 ms: never complete within 500 ms
      await closed;
      clearInterval(drip);
      assert.match(answer, /^HTTP\/1\.1 408/);
      // two idle connections fill the cap; a third is dropped by the server
      const idle = [connect({ host: "127.0.0.1", port: node.apiPort }), connect({ host: "127.0.0.1", port: node.apiPort })];
      await Promise.all(idle.map((s) => new Promise((r) => s.once("connect", r))));
      await new Promise((r) => setTimeout(r, 50));
      const third = connect({ host: "127.0.0.1", port: node.apiPort });
      third.on("error", () => undefined);
      const thirdReply = await new Promise<string>((resolve) => {
        let got = "";
        third.on("data", (d: Buffer) => (got += d.toString()));
        third.on("close", () => resolve(got));
        third.write(`GET ${ROUTES.healthz} HTTP/1.1\r\nhost: x\r\n\r\n`);
      });
      assert.equal(thirdReply, "", "the connection over the cap got no answer");
      for (const s of idle) s.destroy();
    } finally {
      await node.close();
    }
  });
});

function signerFiles(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "bizra-"));
  writeFileSync(join(dir, "token"), TOKEN);
  return { [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerStateFile]: join(dir, "state.json") };
}

describe("process lifecycle", () => {
  it("exits 0 on SIGTERM after starting, and never logs the key", async function () {
    this.timeout(60_000);
    const child = spawn(process.execPath, ["-r", "ts-node/register", join(__dirname, "../../src/main.ts")], {
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1", [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.signerPort]: "0", [ENV.host]: "127.0.0.1", [ENV.signingKey]: SEED, ...signerFiles() },
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
    assert.ok(!out.includes(TOKEN));
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
