import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config";
import { DEFAULT_API_PORT, DEFAULT_METRICS_PORT, ENV } from "@bizra/contract";
import { BreakerOpenError, CircuitBreaker } from "../../src/server/circuit-breaker";
import { LruCache } from "../../src/server/lru-cache";
import { manualClock } from "../helpers";

const SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

describe("config", () => {
  it("has the documented defaults", () => {
    const c = loadConfig({});
    assert.deepEqual([c.apiPort, c.metricsPort, c.replayWindowMs, c.fastFinalityBp, c.economicFinalityBp, c.signingKey], [DEFAULT_API_PORT, DEFAULT_METRICS_PORT, 30_000, 6_700, 8_000, undefined]);
  });
  const bad: [Record<string, string>, RegExp][] = [
    [{ [ENV.apiPort]: "70000" }, /BIZRA_API_PORT: must be <= 65535/],
    [{ [ENV.metricsPort]: "x" }, /BIZRA_METRICS_PORT: must be a whole number/],
    [{ [ENV.signingKey]: "abc" }, /BIZRA_SIGNING_KEY: must be 64 lower-case hex digits/],
    [{ [ENV.batchVerify]: "yes" }, /POI_BATCH_VERIFY: must be one of/],
    [{ [ENV.logLevel]: "loud" }, /BIZRA_LOG_LEVEL/],
    [{ [ENV.fastFinalityBp]: "9000" }, /economicFinalityBp must be >= fastFinalityBp/],
    [{ [ENV.signingKeyFile]: "/nonexistent/key" }, /BIZRA_SIGNING_KEY_FILE: cannot read/],
    [{ [ENV.signingKeyFile]: "/x", [ENV.signingKey]: SEED }, /set only one/],
    [{ [ENV.validatorId]: "bad id" }, /BIZRA_VALIDATOR_ID/],
  ];
  for (const [env, msg] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && msg.test(e.message));
    });
  }
  it("reads the key and the signer token from files, and never prints either", () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-key-"));
    const file = join(dir, "key");
    writeFileSync(file, SEED + "\n");
    const token = "s3cret-".repeat(6);
    writeFileSync(join(dir, "token"), token);
    const signer = { [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerStateFile]: join(dir, "state.json") };
    const c = loadConfig({ [ENV.signingKeyFile]: file, ...signer });
    assert.ok(c.signingKey);
    assert.equal(c.signer?.token.reveal(), token);
    for (const text of [JSON.stringify(c), inspect(c, { depth: 5 }), String(c.signingKey)]) {
      assert.ok(!text.includes(SEED), text);
      assert.ok(!text.includes(token), text);
    }
    writeFileSync(file, "not a key");
    assert.throws(() => loadConfig({ [ENV.signingKeyFile]: file, ...signer }), /BIZRA_SIGNING_KEY_FILE: file content must be 64/);
  });
  it("refuses a signing key without a token, a short token, no or two places for the high-water mark", () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-signer-"));
    writeFileSync(join(dir, "short"), "abc");
    writeFileSync(join(dir, "token"), "t".repeat(40));
    const cases: [Record<string, string>, RegExp][] = [
      [{ [ENV.signingKey]: SEED }, /BIZRA_SIGNER_TOKEN_FILE: required with a signing key/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "short"), [ENV.signerStateFile]: "/x" }, /at least 32 printable ASCII/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token") }, /set exactly one of BIZRA_SIGNER_STATE_FILE .* and BIZRA_SIGNER_LEASE/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerStateFile]: "/x", [ENV.signerLease]: "l" }, /set exactly one of/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerLease]: "Bad_Name" }, /BIZRA_SIGNER_LEASE: must be a Kubernetes object name/],
      [{ [ENV.signerStateFile]: "/x" }, /BIZRA_SIGNER_STATE_FILE is set but no signing key is/],
      [{ [ENV.signerPodName]: "signer-0" }, /BIZRA_SIGNER_POD_NAME is set but no signing key is/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerStateFile]: "/x", [ENV.signerPodName]: "signer-0" }, /BIZRA_SIGNER_POD_NAME: only with BIZRA_SIGNER_LEASE/],
      [{ [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerLease]: "l", [ENV.signerLeaseNamespace]: "ns", [ENV.signerPodName]: "Signer_0" }, /BIZRA_SIGNER_POD_NAME: must be a Kubernetes pod name/],
      [{ [ENV.maxInflightItems]: "10", [ENV.maxBatchSize]: "256" }, /BIZRA_MAX_INFLIGHT_ITEMS: must be >= BIZRA_MAX_BATCH_SIZE/],
      [{ [ENV.stateRedisUrl]: "http://x" }, /BIZRA_STATE_REDIS_URL: must be a redis:\/\//],
    ];
    for (const [env, msg] of cases) assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && msg.test(e.message), JSON.stringify(env));
  });
  it("passes the signer's pod name to the Lease store, and none without it", () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-signer-"));
    writeFileSync(join(dir, "token"), "t".repeat(40));
    const base = { [ENV.signingKey]: SEED, [ENV.signerTokenFile]: join(dir, "token"), [ENV.signerLease]: "l", [ENV.signerLeaseNamespace]: "ns" };
    const podOf = (env: Record<string, string>) => {
      const state = loadConfig(env).signer?.state;
      return state?.kind === "lease" ? state.podName : assert.fail("a Lease-backed signer");
    };
    assert.equal(podOf({ ...base, [ENV.signerPodName]: "node0-signer-7d9f-x2x4q" }), "node0-signer-7d9f-x2x4q");
    assert.equal(podOf(base), undefined);
  });
  it("validates the validator set file", () => {
    const dir = mkdtempSync(join(tmpdir(), "bizra-set-"));
    const file = join(dir, "set.json");
    writeFileSync(file, JSON.stringify([{ id: "a", weight: 0, publicKey: SEED }]));
    assert.throws(() => loadConfig({ [ENV.validatorSetFile]: file }), /BIZRA_VALIDATOR_SET_FILE\[0\]\.weight: must be a positive integer/);
  });
});

describe("circuit breaker", () => {
  it("opens after the failure threshold, half-opens after the cooldown, closes on success", async () => {
    const clock = manualClock();
    const b = new CircuitBreaker({ maxConcurrent: 10, failureThreshold: 2, cooldownMs: 5_000, now: clock.now });
    const fail = () => b.run(async () => { throw new Error("x"); });
    await assert.rejects(fail, /x/);
    assert.equal(b.state, "closed");
    await assert.rejects(fail, /x/);
    assert.equal(b.state, "open");
    await assert.rejects(b.run(async () => 1), (e: unknown) => e instanceof BreakerOpenError && e.kind === "open" && e.retryAfterSeconds === 5);
    clock.advance(5_000);
    assert.equal(b.state, "half_open");
    await assert.rejects(fail, /x/);
    assert.equal(b.state, "open");
    clock.advance(5_000);
    assert.equal(await b.run(async () => 42), 42);
    assert.equal(b.state, "closed");
  });
  it("sheds calls above the concurrency cap", async () => {
    const b = new CircuitBreaker({ maxConcurrent: 1 });
    let release: () => void = () => {};
    const running = b.run(() => new Promise<void>((r) => (release = r)));
    await assert.rejects(b.run(async () => 1), (e: unknown) => e instanceof BreakerOpenError && e.kind === "overloaded");
    release();
    await running;
    assert.equal(await b.run(async () => 2), 2);
  });
});

describe("LRU cache", () => {
  it("evicts the least recently used entry at capacity", () => {
    const c = new LruCache<string, number>(2);
    c.set("a", 1);
    c.set("b", 2);
    assert.equal(c.get("a"), 1); // a is now most recent
    c.set("c", 3);
    assert.deepEqual([c.get("a"), c.get("b"), c.get("c"), c.size], [1, undefined, 3, 2]);
  });
});
