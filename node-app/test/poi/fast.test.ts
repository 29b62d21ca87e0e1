/** The batcher's closing rules and the backend factory's fallbacks (no native addon needed for most of these). */
import { strict as assert } from "node:assert";
import { loadConfig } from "../../src/config";
import { ENV } from "@bizra/contract";
import { selfTestBackend } from "../../src/main";
import { nobleVerifier, type SignatureItem, type SignatureVerifier } from "../../src/poi";
import { BatchingVerifier, createSignatureBackend } from "../../src/poi/fast";
import { skipWithoutNative } from "../helpers";

function recorder(idle = false): SignatureVerifier & { calls: number[]; idle(): boolean } {
  const calls: number[] = [];
  return {
    name: "rec",
    calls,
    idle: () => idle,
    verifyOne: () => true,
    verifyMany: (xs: readonly SignatureItem[]) => {
      calls.push(xs.length);
      return Promise.resolve(xs.map((x) => x.message[0] === 1));
    },
  };
}
const item = (ok: boolean): SignatureItem => ({ publicKey: new Uint8Array(32), message: Uint8Array.of(ok ? 1 : 0), signature: new Uint8Array(64) });

describe("fast path: batcher", () => {
  it("closes a batch at maxItems, synchronously", async () => {
    const inner = recorder();
    const b = new BatchingVerifier(inner, { maxItems: 4, maxWaitMicros: 1_000_000, flushWhenIdle: false });
    const ps = [true, false, true, true].map((v) => b.verifyMany([item(v)]));
    assert.deepEqual(inner.calls, [4]);
    assert.deepEqual(await Promise.all(ps), [[true], [false], [true], [true]]);
  });
  it("closes a batch after maxWaitMicros, and each caller gets only its own results", async () => {
    const inner = recorder();
    const b = new BatchingVerifier(inner, { maxItems: 1000, maxWaitMicros: 300, flushWhenIdle: false });
    const t0 = process.hrtime.bigint();
    const [a, c] = await Promise.all([b.verifyMany([item(true), item(false)]), b.verifyMany([item(false)])]);
    const waitedUs = Number(process.hrtime.bigint() - t0) / 1000;
    assert.deepEqual([a, c], [[true, false], [false]]);
    assert.deepEqual(inner.calls, [3]);
    assert.ok(waitedUs >= 300, `closed after ${waitedUs} us, before maxWaitMicros`);
  });
  it("flushes at the next event-loop turn when the inner backend is idle", async () => {
    const inner = recorder(true);
    const b = new BatchingVerifier(inner, { maxItems: 1000, maxWaitMicros: 10_000_000 });
    assert.deepEqual(await b.verifyMany([item(true)]), [true]);
  });
  it("adaptive window: while every worker is busy, calls wait (past maxWaitMicros) and go out as one batch when one frees up", async () => {
    const inner = recorder(false) as ReturnType<typeof recorder> & { onIdle(f: () => void): () => void; listeners: Set<() => void> };
    inner.listeners = new Set();
    inner.onIdle = (f) => {
      inner.listeners.add(f);
      return () => inner.listeners.delete(f);
    };
    const b = new BatchingVerifier(inner, { maxItems: 1000, maxWaitMicros: 50 });
    const ps = [true, false, true].map((v) => b.verifyMany([item(v)]));
    await new Promise((r) => setTimeout(r, 20)); // 400x the bounded wait: nothing is flushed while busy
    assert.deepEqual(inner.calls, []);
    assert.equal(inner.listeners.size, 1, "one idle subscription per open batch");
    for (const f of [...inner.listeners]) f();
    assert.deepEqual(inner.calls, [3], "flushed synchronously in the idle callback");
    assert.equal(inner.listeners.size, 0, "the subscription is dropped once the batch is out");
    assert.deepEqual(await Promise.all(ps), [[true], [false], [true]]);
  });
  it("adaptive window: when a worker is free, calls made in the same turn close as one batch at the end of that turn", async () => {
    const inner = recorder(true) as ReturnType<typeof recorder> & { onIdle(f: () => void): () => void };
    inner.onIdle = () => () => undefined;
    const b = new BatchingVerifier(inner, { maxItems: 1000, maxWaitMicros: 10_000_000 });
    const ps = [b.verifyMany([item(true)]), b.verifyMany([item(false), item(true)])];
    assert.deepEqual(inner.calls, [], "not flushed inside the turn");
    assert.deepEqual(await Promise.all(ps), [[true], [false, true]]);
    assert.deepEqual(inner.calls, [3]);
  });
  it("passes an inner failure to every waiter of the batch", async () => {
    const inner: SignatureVerifier = { name: "boom", verifyOne: () => false, verifyMany: () => Promise.reject(new Error("boom")) };
    const b = new BatchingVerifier(inner, { maxItems: 2 });
    const r = await Promise.allSettled([b.verifyMany([item(true)]), b.verifyMany([item(true)])]);
    assert.deepEqual(r.map((x) => x.status), ["rejected", "rejected"]);
  });
});

describe("fast path: backend selection", () => {
  it("BIZRA_USE_RUST=false selects the TypeScript (noble) path", async () => {
    const fb = createSignatureBackend({ useRust: false });
    assert.equal(fb.kind, "noble");
    assert.equal(fb.backend, nobleVerifier);
    assert.match(fb.fallbackReason ?? "", /BIZRA_USE_RUST=false/);
    await fb.close();
  });
  it("config: BIZRA_USE_RUST defaults to true; threads and batch bounds come from the environment", () => {
    const d = loadConfig({});
    assert.deepEqual([d.useRust, d.verifyThreads, d.batchMaxItems, d.batchMaxWaitMicros], [true, undefined, 256, 200]);
    const c = loadConfig({ [ENV.useRust]: "false", [ENV.verifyThreads]: "0", [ENV.batchMaxItems]: "64", [ENV.batchMaxWaitMicros]: "500" });
    assert.deepEqual([c.useRust, c.verifyThreads, c.batchMaxItems, c.batchMaxWaitMicros], [false, 0, 64, 500]);
    assert.throws(() => loadConfig({ [ENV.verifyThreads]: "-1" }), /BIZRA_VERIFY_THREADS/);
  });
  it("with the addon built: a pool backend (threads > 0) and an in-process one (threads = 0) both pass the RFC 8032 self-test", async function () {
    skipWithoutNative(this);
    for (const threads of [0, 2]) {
      const fb = createSignatureBackend({ threads, batchVerify: true });
      await fb.ready;
      assert.equal(fb.kind, threads === 0 ? "native" : "pool");
      assert.equal(await selfTestBackend(fb.backend), true, fb.backend.name);
      await fb.close();
    }
  });
});
