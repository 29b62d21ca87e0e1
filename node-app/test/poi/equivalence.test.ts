/**
 * Every signature path gives the same accept/reject on the shared vector suite:
 * noble single (the reference rule), native single, native batch, worker pool (single and batch), and the batcher
 * in front of the pool with concurrent one-item calls. Native paths are skipped only when the addon is not built.
 */
import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import {
  AttestationVerifier,
  nobleVerifier,
  publicKeyOf,
  signAttestation,
  signMessage,
  type SignatureItem,
  type SignatureVerifier,
} from "../../src/poi";
import { BatchingVerifier, loadNativeVerifier, nativeVerifier, VerifyPool, type NativeAddon } from "../../src/poi/fast";
import { hex, readVectors, skipWithoutNative } from "../helpers";

interface RfcVector { name: string; secretKey: string; publicKey: string; msg: string; sig: string }
interface EdgeCase { name: string; pubkey: string; msg: string; sig: string; valid: boolean }

interface Case { name: string; item: SignatureItem; valid: boolean }

function honest(n: number, tag: string): Case[] {
  return Array.from({ length: n }, (_, i) => {
    const seed = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(32));
    return { name: `${tag}-honest-${i}`, item: { publicKey: publicKeyOf(seed), message, signature: signMessage(seed, message) }, valid: true };
  });
}

function suite(): Case[] {
  const edge = readVectors<EdgeCase[]>("ed25519-edge-cases.json").map((c) => ({
    name: `edge ${c.name}`,
    item: { publicKey: hex(c.pubkey), message: hex(c.msg), signature: hex(c.sig) },
    valid: c.valid,
  }));
  const rfc = readVectors<{ vectors: RfcVector[] }>("rfc8032.json").vectors.flatMap((v) => {
    const item = { publicKey: hex(v.publicKey), message: hex(v.msg), signature: hex(v.sig) };
    const flipped = Uint8Array.from(item.signature);
    flipped[5] = (flipped[5] as number) ^ 0x10;
    return [
      { name: `rfc ${v.name}`, item, valid: true },
      { name: `rfc ${v.name} (bit flipped)`, item: { ...item, signature: flipped }, valid: false },
    ];
  });
  // Malformed lengths: every path answers false, none throws.
  const h = honest(1, "len")[0] as Case;
  const malformed: Case[] = [
    { name: "short signature", item: { ...h.item, signature: h.item.signature.subarray(0, 63) }, valid: false },
    { name: "short public key", item: { ...h.item, publicKey: h.item.publicKey.subarray(0, 31) }, valid: false },
  ];
  return [...edge, ...rfc, ...malformed];
}

/** A malicious batch: honest items with a forged, an S-malleated (S + L) and a wrong-key item among them. */
function maliciousBatch(): Case[] {
  const cases = honest(61, "mal");
  const victim = cases[10] as Case;
  const forged = Uint8Array.from(victim.item.signature);
  forged[0] = (forged[0] as number) ^ 1;
  // S + L: same point equation, non-canonical S; ZIP-215 requires S < L.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const sBytes = victim.item.signature.slice(32);
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sBytes[i] as number);
  let sl = s + L;
  const malleated = Uint8Array.from(victim.item.signature);
  for (let i = 0; i < 32; i++) {
    malleated[32 + i] = Number(sl & 0xffn);
    sl >>= 8n;
  }
  const other = (cases[20] as Case).item.publicKey;
  cases.splice(5, 0, { name: "forged", item: { ...victim.item, signature: forged }, valid: false });
  cases.splice(30, 0, { name: "S + L malleated", item: { ...victim.item, signature: malleated }, valid: false });
  cases.splice(50, 0, { name: "wrong key", item: { ...victim.item, publicKey: other }, valid: false });
  return cases;
}

async function answers(v: SignatureVerifier, cases: Case[]): Promise<boolean[]> {
  return v.verifyMany(cases.map((c) => c.item));
}

function assertSame(got: boolean[], cases: Case[], path: string): void {
  assert.equal(got.length, cases.length, `${path}: result count`);
  const diff = cases.filter((c, i) => got[i] !== c.valid).map((c) => c.name);
  assert.deepEqual(diff, [], `${path} disagrees with the ZIP-215 reference on: ${diff.join(", ")}`);
}

describe("signature path equivalence (ZIP-215 on the shared vector suite)", function () {
  this.timeout(60_000);
  const cases = suite();
  const malicious = maliciousBatch();
  let addon: NativeAddon | null = null;
  let poolBatch: VerifyPool | undefined;
  let poolSingle: VerifyPool | undefined;

  before(async () => {
    addon = loadNativeVerifier(true);
    if (addon !== null) {
      poolBatch = new VerifyPool({ threads: 2, batch: true, minSplit: 8 });
      poolSingle = new VerifyPool({ threads: 2, batch: false, minSplit: 8 });
      await Promise.all([poolBatch.ready, poolSingle.ready]);
    }
  });
  after(async () => {
    await poolBatch?.close();
    await poolSingle?.close();
  });

  const needNative = (ctx: Mocha.Context): NativeAddon => {
    skipWithoutNative(ctx);
    return addon as NativeAddon;
  };

  it(`the suite covers accept and reject cases (${cases.length} vectors)`, () => {
    assert.ok(cases.length > 20 && cases.some((c) => c.valid) && cases.some((c) => !c.valid));
  });

  it("noble single (reference) matches the recorded verdicts", () => {
    assertSame(cases.map((c) => nobleVerifier.verifyOne(c.item.publicKey, c.item.message, c.item.signature)), cases, "noble single");
    assertSame(malicious.map((c) => nobleVerifier.verifyOne(c.item.publicKey, c.item.message, c.item.signature)), malicious, "noble single (malicious)");
  });

  it("native single (verifyOne per item)", async function () {
    skipWithoutNative(this);
    const v = nativeVerifier(needNative(this), { batch: false });
    assertSame(await answers(v, cases), cases, "native single");
    assertSame(await answers(v, malicious), malicious, "native single (malicious)");
  });

  it("native batch: the whole suite as one batch, each vector inside a batch of honest items, and the malicious batch", async function () {
    skipWithoutNative(this);
    const v = nativeVerifier(needNative(this), { batch: true });
    assertSame(await answers(v, cases), cases, "native batch (whole suite)");
    const filler = honest(7, "fill");
    for (const c of cases) {
      const mixed = [...filler.slice(0, 3), c, ...filler.slice(3)];
      assertSame(await answers(v, mixed), mixed, `native batch (${c.name} among honest)`);
    }
    assertSame(await answers(v, malicious), malicious, "native batch (malicious)");
  });

  it("worker pool, batching off (workers verify item by item)", async function () {
    skipWithoutNative(this);
    assertSame(await answers(poolSingle as VerifyPool, cases), cases, "pool single");
    assertSame(await answers(poolSingle as VerifyPool, malicious), malicious, "pool single (malicious)");
  });

  it("worker pool, batching on (batch equation in workers, split across both)", async function () {
    skipWithoutNative(this);
    assertSame(await answers(poolBatch as VerifyPool, cases), cases, "pool batch");
    assertSame(await answers(poolBatch as VerifyPool, malicious), malicious, "pool batch (malicious)");
  });

  it("batcher in front of the pool: concurrent one-item calls coalesce and each caller gets its own verdict", async function () {
    skipWithoutNative(this);
    const b = new BatchingVerifier(poolBatch as VerifyPool, { maxItems: 16, maxWaitMicros: 500, flushWhenIdle: false });
    const all = [...cases, ...malicious];
    const got = await Promise.all(all.map((c) => b.verifyMany([c.item]).then((r) => r[0] as boolean)));
    assertSame(got, all, "batcher + pool");
    assert.ok(b.batches < all.length / 4, `expected coalescing, got ${b.batches} batches for ${all.length} calls`);
  });

  it("worker pool with small slots: a call larger than a slot is split into slot-sized jobs, an item larger than a slot is verified in process; verdicts unchanged", async function () {
    const a = needNative(this);
    const pool = new VerifyPool({ threads: 2, batch: true, slotBytes: 64 * 1024, local: nativeVerifier(a, { batch: true }) });
    try {
      await pool.ready;
      // ~600 items of ~165 bytes (about 100 KB) plus the suite: at least two slots' worth per worker.
      const big = [...honest(300, "slot"), ...cases, ...malicious, ...honest(300, "slot2")];
      assertSame(await answers(pool, big), big, "pool, 64 KiB slots");
      const h = honest(1, "huge")[0] as Case;
      const seed = new Uint8Array(randomBytes(32));
      const message = new Uint8Array(randomBytes(70 * 1024));
      const signature = signMessage(seed, message);
      const flipped = Uint8Array.from(signature);
      flipped[1] = (flipped[1] as number) ^ 2;
      const huge: Case[] = [
        { name: "70 KiB message", item: { publicKey: publicKeyOf(seed), message, signature }, valid: true },
        h,
        { name: "70 KiB message, forged", item: { publicKey: publicKeyOf(seed), message, signature: flipped }, valid: false },
      ];
      assertSame(await answers(pool, huge), huge, "pool, items larger than a slot");
    } finally {
      await pool.close();
    }
  });

  it("worker pool: close() with jobs in flight rejects them and returns; onIdle fires when the work drains", async function () {
    needNative(this);
    const pool = new VerifyPool({ threads: 1, batch: true });
    await pool.ready;
    let idles = 0;
    const off = pool.onIdle(() => idles++);
    assertSame(await answers(pool, malicious), malicious, "pool before close");
    assert.ok(idles >= 1, "onIdle fired after the job");
    off();
    const inFlight = pool.verifyMany(honest(200, "close").map((c) => c.item));
    await pool.close();
    await assert.rejects(inFlight, /closed/);
    await assert.rejects(pool.verifyMany(cases.map((c) => c.item)), /closed/);
  });

  it("worker pool: a worker that dies mid-job has its jobs rejected and is replaced; a batcher waiting on it is released", async function () {
    needNative(this);
    const pool = new VerifyPool({ threads: 1, batch: true });
    try {
      await pool.ready;
      const worker = (pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }).slots[0]!.worker;
      const some = honest(100, "crash").map((c) => c.item);
      const inFlight = pool.verifyMany(Array.from({ length: 30 }, () => some).flat()); // two slot-sized jobs: the second cannot be done
      const batcher = new BatchingVerifier(pool, { maxItems: 1000, maxWaitMicros: 100 });
      const waiting = batcher.verifyMany(malicious.map((c) => c.item)); // worker busy: waits for an idle signal
      await worker.terminate();
      await assert.rejects(inFlight, /exited with code/);
      assertSame(await waiting, malicious, "batcher released by the replacement worker");
      assertSame(await answers(pool, cases), cases, "pool after respawn");
    } finally {
      await pool.close();
    }
  });

  it("Rust-only ceiling (benchCeiling) counts exactly the items the reference accepts, on 1 and 2 threads", async function () {
    const a = needNative(this);
    const mixed = [...honest(40, "ceil"), ...malicious, ...cases.filter((c) => c.item.message.length === 32 && c.item.publicKey.length === 32 && c.item.signature.length === 64)];
    const cat = (f: (x: SignatureItem) => Uint8Array) => Buffer.concat(mixed.map((c) => f(c.item)));
    const expected = mixed.filter((c) => c.valid).length;
    assert.ok(expected < mixed.length && expected > 0);
    for (const threads of [1, 2]) {
      const r = a.benchCeiling(cat((x) => x.publicKey), cat((x) => x.message), cat((x) => x.signature), threads, 16, 3);
      assert.equal(r.items, 3 * mixed.length, `threads ${threads}: items`);
      assert.equal(r.valid, 3 * expected, `threads ${threads}: valid count`);
      assert.ok(r.seconds > 0);
    }
    assert.throws(() => a.benchCeiling(new Uint8Array(32), new Uint8Array(32), new Uint8Array(64), 0, 16, 1), /threads must be a positive integer/);
    assert.throws(() => a.benchCeiling(new Uint8Array(32), new Uint8Array(31), new Uint8Array(64), 1, 16, 1), /msgs length 31/);
  });

  it("full pipeline: a malicious attestation among honest ones fails alone on every backend", async function () {
    const seeds = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(32)));
    const keys = new Map(seeds.map((s, i) => [`v${i}`, publicKeyOf(s)]));
    const now = Date.now();
    const items = Array.from({ length: 24 }, (_, i) =>
      signAttestation(
        { version: 1, validatorId: `v${i % 8}`, epoch: 1, slot: i, payloadDigest: new Uint8Array(32).fill(i), nonce: new Uint8Array(randomBytes(16)), timestampMs: now },
        seeds[i % 8] as Uint8Array,
      ),
    );
    const bad = Uint8Array.from(items[7]!.signature);
    bad[40] = (bad[40] as number) ^ 4;
    const submitted = items.map((it, i) => (i === 7 ? { encoding: it.encoding, signature: bad } : it));
    const backends: SignatureVerifier[] = [nobleVerifier];
    if (addon !== null) {
      backends.push(nativeVerifier(addon, { batch: false }), nativeVerifier(addon, { batch: true }), poolSingle as VerifyPool, poolBatch as VerifyPool);
      backends.push(new BatchingVerifier(poolBatch as VerifyPool, { maxItems: 8, maxWaitMicros: 300 }));
    }
    for (const backend of backends) {
      const v = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), backend, now: () => now });
      const res = await v.verifyBatch(submitted);
      const verdicts = res.map((r) => (r.ok ? "ok" : r.reason));
      assert.deepEqual(verdicts, submitted.map((_, i) => (i === 7 ? "bad_signature" : "ok")), backend.name);
      const single = await Promise.all(submitted.map((s) => new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), backend, now: () => now }).verify(s)));
      assert.deepEqual(single.map((r) => (r.ok ? "ok" : r.reason)), verdicts, `${backend.name} (one at a time)`);
    }
  });

  it("hash-and-verify path (verifyEncoded, packed buffer, in the workers): same verdicts and digests as noble, edge keys included", async function () {
    skipWithoutNative(this);
    const seeds = Array.from({ length: 6 }, () => new Uint8Array(randomBytes(32)));
    const keys = new Map<string, Uint8Array>(seeds.map((s, i) => [`v${i}`, publicKeyOf(s)]));
    // ZIP-215 edge keys: the identity point (small order) and a non-canonical encoding of it (y = p + 1). With
    // R = identity and S = 0 the cofactored equation holds for ANY message; S = L (non-canonical) must fail.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const nonCanonical = hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    keys.set("small", identity);
    keys.set("noncanon", nonCanonical);
    const sZero = new Uint8Array(64);
    sZero.set(identity, 0);
    const sIsL = Uint8Array.from(sZero);
    sIsL.set(hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"), 32);
    const now = Date.now();
    const att = (id: string, i: number) => ({ version: 1 as const, validatorId: id, epoch: 2, slot: i, payloadDigest: new Uint8Array(32).fill(i & 255), nonce: new Uint8Array(randomBytes(16)), timestampMs: now });
    const submitted: Array<{ encoding: Uint8Array; signature: Uint8Array }> = [];
    for (let i = 0; i < 150; i++) {
      if (i % 37 === 5) submitted.push({ encoding: signAttestation(att("small", i), seeds[0] as Uint8Array).encoding, signature: sZero });
      else if (i % 37 === 6) submitted.push({ encoding: signAttestation(att("noncanon", i), seeds[0] as Uint8Array).encoding, signature: sZero });
      else if (i % 37 === 7) submitted.push({ encoding: signAttestation(att("small", i), seeds[0] as Uint8Array).encoding, signature: sIsL });
      else if (i % 37 === 8) {
        const it = signAttestation(att(`v${i % 6}`, i), seeds[i % 6] as Uint8Array);
        const forged = Uint8Array.from(it.signature);
        forged[3] = (forged[3] as number) ^ 1;
        submitted.push({ encoding: it.encoding, signature: forged });
      } else submitted.push(signAttestation(att(`v${i % 6}`, i), seeds[i % 6] as Uint8Array));
    }
    submitted.push(submitted[0] as { encoding: Uint8Array; signature: Uint8Array }); // replay of an honest item
    const run = async (backend: SignatureVerifier, oneAtATime: boolean) => {
      const v = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), backend, now: () => now });
      const res = oneAtATime ? await Promise.all(submitted.map((s) => v.verify(s))) : await v.verifyBatch(submitted);
      return { encoded: v.encoded, res: res.map((r) => (r.ok ? `ok ${Buffer.from(r.digest).toString("hex")}` : r.reason)) };
    };
    const ref = await run(nobleVerifier, false);
    assert.equal(ref.encoded, false);
    assert.equal(ref.res.filter((r) => r === "bad_signature").length, 8, "reference: the S = L and forged items fail");
    assert.equal(ref.res.filter((r) => r.startsWith("ok")).length, 142, "reference: small-order and non-canonical keys with R = identity, S = 0 pass (ZIP-215)");
    const backends: SignatureVerifier[] = [
      nativeVerifier(addon as NativeAddon, { batch: false }),
      nativeVerifier(addon as NativeAddon, { batch: true }),
      poolSingle as VerifyPool,
      poolBatch as VerifyPool,
      new BatchingVerifier(poolBatch as VerifyPool, { maxItems: 32, maxWaitMicros: 300 }),
      new BatchingVerifier(nativeVerifier(addon as NativeAddon, { batch: true }), { maxItems: 32, maxWaitMicros: 300 }),
    ];
    for (const backend of backends) {
      for (const oneAtATime of [false, true]) {
        const got = await run(backend, oneAtATime);
        assert.equal(got.encoded, true, backend.name);
        // One at a time, the replayed copy may be admitted first, so compare only the first 150 then.
        if (oneAtATime) assert.deepEqual(got.res.slice(0, 150).filter((r, i) => i !== 0), ref.res.slice(0, 150).filter((r, i) => i !== 0), `${backend.name} (one at a time)`);
        else assert.deepEqual(got.res, ref.res, backend.name);
      }
    }
  });
});
