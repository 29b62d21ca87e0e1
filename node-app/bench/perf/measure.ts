/**
 * Performance bench of PoI verification through the FULL pipeline (AttestationVerifier.verifyBatch: decode, key
 * lookup, replay peek, BLAKE3 digest, signature backend, replay admit) for each signature backend, plus latency at
 * half of the measured peak, finality-check p99 and peak RSS. `npm run bench` prints the table and writes
 * evidence/perf-bench.json (then re-signs the bundle); `npm run evidence` runs the same measurement.
 *
 * "threads" = threads that verify signatures. 1 thread: everything on the main thread. 2 threads: two worker
 * threads verify signatures while the main thread runs the rest of the pipeline (the machine has 2 cores).
 */
import { Worker } from "node:worker_threads";
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { seededRandom } from "../../src/consensus/determinism";
import { ValidatorSet } from "../../src/consensus/validator-set";
import { VoteTally } from "../../src/consensus/vote-tally";
import { percentile } from "@bizra/evidence";
import { ATTESTATION_VERSION, attestationDigest, encodeAttestation, type Attestation } from "../../src/poi/attestation";
import { toHex } from "../../src/poi/bytes";
import { ReplayWindow } from "../../src/poi/replay";
import { nobleVerifier, type SignatureItem, type SignatureVerifier } from "../../src/poi/signature";
import { AttestationVerifier, signAttestation, type SignedAttestation } from "../../src/poi/verify";
import { BatchingVerifier, loadNativeVerifier, nativeVerifier, packEncoded, VerifyPool } from "../../src/poi/fast";
import type { Measured } from "../evidence/common";
import { attestationDigests } from "../../src/main";
import { blockHash } from "../evidence/finality";
import { zip215Agreement, type Agreement } from "./agreement";
import { measureHttp, type HttpResult, type HttpScenario } from "./http";

const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

interface Validator { id: string; seed: Uint8Array; publicKey: Uint8Array; key: KeyObject }

/** Keys from random 32-byte seeds imported as PKCS#8 (generateKeyPairSync in a loop can deadlock on Node 20.20.2). */
export function validators(n: number): Validator[] {
  return Array.from({ length: n }, (_, i) => {
    const seed = new Uint8Array(randomBytes(32));
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    return { id: `validator-${String(i).padStart(3, "0")}`, seed, publicKey: new Uint8Array(spki.subarray(12)), key };
  });
}

/** Attestations from the validator set, round robin, distinct random nonces; RFC 8032 signatures (OpenSSL, same bytes as noble). */
export function workload(set: Validator[], n: number, now: number): SignedAttestation[] {
  const out: SignedAttestation[] = [];
  for (let i = 0; i < n; i++) {
    const v = set[i % set.length] as Validator;
    const a: Attestation = {
      version: ATTESTATION_VERSION,
      validatorId: v.id,
      epoch: Math.floor(i / 32),
      slot: i,
      payloadDigest: new Uint8Array(randomBytes(32)),
      nonce: new Uint8Array(randomBytes(16)),
      timestampMs: now,
    };
    const encoding = encodeAttestation(a);
    out.push({ encoding, signature: new Uint8Array(nodeSign(null, attestationDigest(encoding), v.key)) });
  }
  return out;
}

/**
 * The same workload stored compactly, as a server sees request bodies: each encoding and signature is a view into a
 * shared 1 MiB slab (like Node's pooled Buffers) instead of its own ArrayBuffer; keeps the latency runs' tens of
 * thousands of fresh attestations from dominating the peak RSS.
 */
function compactWorkload(set: Validator[], n: number, now: number): SignedAttestation[] {
  const out: SignedAttestation[] = [];
  let slab = new Uint8Array(1 << 20);
  let at = 0;
  const keep = (u: Uint8Array): Uint8Array => {
    if (at + u.length > slab.length) {
      slab = new Uint8Array(1 << 20);
      at = 0;
    }
    const v = slab.subarray(at, at + u.length);
    v.set(u);
    at += u.length;
    return v;
  };
  for (let from = 0; from < n; from += 1024) {
    for (const it of workload(set, Math.min(1024, n - from), now)) out.push({ encoding: keep(it.encoding), signature: keep(it.signature) });
  }
  return out;
}

/** Node's crypto.verify (OpenSSL): baseline only, NOT the ZIP-215 rule. */
function cryptoVerifier(): SignatureVerifier {
  const keys = new Map<string, KeyObject>();
  const one = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => {
    const h = toHex(pk);
    let k = keys.get(h);
    if (k === undefined) {
      k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: "der", type: "spki" });
      keys.set(h, k);
    }
    return nodeVerify(null, msg, k, sig);
  };
  return { name: "node-crypto", verifyOne: one, verifyMany: (xs) => xs.map((x) => one(x.publicKey, x.message, x.signature)) };
}

/** sodium-native crypto_sign_verify_detached, in process: baseline only, NOT the ZIP-215 rule. */
function sodiumVerifier(): SignatureVerifier {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sodium = require("sodium-native") as { crypto_sign_verify_detached(sig: Buffer, msg: Buffer, pk: Buffer): boolean };
  const b = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const one = (pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => sodium.crypto_sign_verify_detached(b(sig), b(msg), b(pk));
  return { name: "sodium-native", verifyOne: one, verifyMany: (xs) => xs.map((x) => one(x.publicKey, x.message, x.signature)) };
}

interface Config {
  readonly label: string;
  readonly threads: number;
  readonly batching: boolean;
  readonly baseline: "noble" | "crypto" | "sodium" | "project";
  readonly items: number;
  make(): { backend: SignatureVerifier; ready: Promise<void>; close(): Promise<void> };
}

/** The row the ceiling is paired with (the full pipeline on 2 threads). */
const PIPELINE_VS_CEILING = "bizra pool, batching";

/** BLAKE3 as startNode chooses it (native when the addon is built), for backends that do not hash themselves. */
const DIGESTS = attestationDigests();

const inProc = (backend: SignatureVerifier) => ({ backend, ready: Promise.resolve(), close: () => Promise.resolve() });

/** Verified attestations per second through AttestationVerifier.verifyBatch, chunks of `chunk`, `depth` calls in flight. */
export async function throughput(backend: SignatureVerifier, set: Validator[], items: SignedAttestation[], now: number, chunk = 256, depth = 4): Promise<{ perSecond: number; ok: number }> {
  const keys = new Map(set.map((v) => [v.id, v.publicKey]));
  const verifier = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), replay: new ReplayWindow({ maxEntries: 1_000_000 }), backend, digests: DIGESTS, now: () => now });
  let ok = 0;
  let next = 0;
  const t0 = process.hrtime.bigint();
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const from = next;
      next += chunk;
      const res = await verifier.verifyBatch(items.slice(from, from + chunk));
      for (const r of res) if (r.ok) ok++;
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perSecond: items.length / secs, ok };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export type Arrivals = "poisson" | "fixed";


/**
 * Scheduled arrival offsets (seconds from the start) of `count` arrivals at mean `rate`/s: "poisson" = exponential
 * inter-arrival times (seeded), "fixed" = exactly 1/rate apart.
 */
export function arrivalSchedule(count: number, rate: number, kind: Arrivals, seed = 6): Float64Array {
  const at = new Float64Array(count);
  const u = seededRandom(seed); // reproducible Poisson schedule for a given seed
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += kind === "fixed" ? 1 / rate : -Math.log(1 - u()) / rate;
    at[i] = t;
  }
  return at;
}

export interface OpenLoopResult {
  /** Per-call latency in seconds, from the moment the generator sent the arrival to the call's result (hrtime). */
  readonly latency: number[];
  /** How late the generator sent each arrival after its scheduled time (its own wake-up slack), seconds. */
  readonly sendLag: number[];
  /** How long each arrival waited in the main thread's event loop before its call started, seconds. */
  readonly queueDelay: number[];
  /** Achieved arrival rate: calls / (last send - first send). */
  readonly offeredPerSecond: number;
}

/**
 * The load generator runs in its own thread, like a client on the other end of a socket: it sleeps until the next
 * scheduled arrival (Atomics.wait, sub-millisecond), then posts every arrival that is due, with its send time. So the
 * main thread sleeps in the event loop between arrivals (as a server does) instead of polling, and is never asked
 * whether it is ready: arrivals keep coming while calls are in flight (open loop).
 */
const GENERATOR_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const at = workerData.at;
const startN = workerData.startN;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const n = at.length;
let i = 0;
while (i < n) {
  const nowN = Number(process.hrtime.bigint());
  const dueN = startN + at[i] * 1e9;
  if (dueN > nowN) { Atomics.wait(sleeper, 0, 0, (dueN - nowN) / 1e6); continue; }
  let j = i + 1;
  while (j < n && startN + at[j] * 1e9 <= nowN) j++;
  parentPort.postMessage([i, j, Number(process.hrtime.bigint())]);
  i = j;
}
`;

/** Open loop: `op(i)` at each scheduled arrival `at[i]` (seconds from the start), sent by the generator thread. */
async function openLoop(at: Float64Array, op: (i: number) => Promise<unknown> | unknown): Promise<OpenLoopResult> {
  const count = at.length;
  const lat: number[] = new Array<number>(count);
  const sendLag: number[] = new Array<number>(count);
  const queueDelay: number[] = new Array<number>(count);
  const startN = Number(process.hrtime.bigint()) + 20e6; // first arrival 20 ms from now (generator thread start-up)
  let firstSent = 0;
  let lastSent = 0;
  let done = 0;
  const gen = new Worker(GENERATOR_SOURCE, { eval: true, workerData: { at, startN }, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 } });
  try {
    await new Promise<void>((resolve, reject) => {
      gen.once("error", reject);
      gen.on("message", (m: [number, number, number]) => {
        const [from, to, sentN] = m;
        if (from === 0) firstSent = sentN;
        lastSent = sentN;
        for (let i = from; i < to; i++) {
          const startedN = Number(process.hrtime.bigint());
          sendLag[i] = (sentN - (startN + (at[i] as number) * 1e9)) / 1e9;
          queueDelay[i] = (startedN - sentN) / 1e9;
          const r = op(i);
          if (r instanceof Promise) {
            r.then(() => {
              lat[i] = (Number(process.hrtime.bigint()) - sentN) / 1e9;
              if (++done === count) resolve();
            }, reject);
          } else {
            lat[i] = (Number(process.hrtime.bigint()) - sentN) / 1e9;
            if (++done === count) resolve();
          }
        }
      });
    });
  } finally {
    await gen.terminate();
  }
  return { latency: lat, sendLag, queueDelay, offeredPerSecond: count / Math.max(1e-9, (lastSent - firstSent) / 1e9) };
}

/** Closed loop: `concurrency` clients, each awaiting its call before making the next, until `count` calls; calls/s. */
async function closedLoop(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const client = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, client));
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const summary = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    samples: s.length,
    minSeconds: s[0] as number,
    p50Seconds: percentile(s, 50),
    p90Seconds: percentile(s, 90),
    p99Seconds: percentile(s, 99),
    p999Seconds: percentile(s, 99.9),
    maxSeconds: s[s.length - 1] as number,
  };
};

/** Stability check of an open-loop run: p50 of the first and the last fifth of the calls (a growing queue shows here). */
const drift = (xs: number[]) => {
  const k = Math.max(1, Math.floor(xs.length / 5));
  const p50 = (ys: number[]) => percentile([...ys].sort((a, b) => a - b), 50);
  return { firstFifthP50Seconds: p50(xs.slice(0, k)), lastFifthP50Seconds: p50(xs.slice(xs.length - k)) };
};

/** Raw samples for the artifact, compact: microseconds at 0.1 µs resolution, comma-separated, in arrival order. */
const rawMicros = (xs: number[]): string => xs.map((x) => (Math.round(x * 1e7) / 10).toString()).join(",");

export interface PerfOptions {
  readonly runs?: number;
  readonly validators?: number;
  readonly scale?: number;
  /** Arrival process of the latency runs (default "poisson"). */
  readonly arrivals?: Arrivals;
  /** Seconds of arrivals per measured latency run (default 2 × scale, at least 0.5). */
  readonly latencySeconds?: number;
  /** Development only: skip the throughput table and stage profile (the artifact then lacks the gate field). */
  readonly latencyOnly?: boolean;
  readonly log?: (line: string) => void;
}

/** The measured figures; the return type keeps the shape of `results` for the report in run.ts. */
export async function measurePerf(options: PerfOptions = {}) {
  const runs = Math.max(5, options.runs ?? 5);
  const scale = options.scale ?? 0.5;
  const log0 = options.log ?? (() => undefined);
  // Each phase's garbage is collected before the next starts (`npm run bench` passes --expose-gc), so the peak RSS
  // is the largest phase's working set, not the sum of leftovers.
  const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const log = (line: string): void => {
    collect();
    log0(`${line}  [max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB]`);
  };
  const set = validators(options.validators ?? 128);
  const addon = loadNativeVerifier(true);
  if (addon === null) log("native addon not built: project rows fall back to noble (run: bash node-app/native/build.sh)");
  else {
    const info = addon.backendInfo();
    log(`native backend: curve25519-dalek ${info.curveBackend} (chosen at run time; AVX-512 IFMA compiled in: ${info.avx512Compiled}; CPU avx2 ${info.cpuAvx2}, avx512ifma+vl ${info.cpuAvx512Ifma})`);
  }
  const sz = (n: number): number => Math.max(256, Math.round(n * scale));
  const configs: Config[] = [
    { label: "@noble/ed25519 single", threads: 1, batching: false, baseline: "noble", items: sz(512), make: () => inProc(nobleVerifier) },
    { label: "node crypto.verify single", threads: 1, batching: false, baseline: "crypto", items: sz(4096), make: () => inProc(cryptoVerifier()) },
    { label: "sodium-native single", threads: 1, batching: false, baseline: "sodium", items: sz(8192), make: () => inProc(sodiumVerifier()) },
    { label: "sodium-native single", threads: 2, batching: false, baseline: "sodium", items: sz(16384), make: () => { const p = new VerifyPool({ threads: 2, engine: "sodium" }); return { backend: p, ready: p.ready, close: () => p.close() }; } },
  ];
  if (addon !== null) {
    configs.push(
      { label: "bizra native, no batching", threads: 1, batching: false, baseline: "project", items: sz(16384), make: () => inProc(nativeVerifier(addon, { batch: false })) },
      { label: "bizra native, batching", threads: 1, batching: true, baseline: "project", items: sz(16384), make: () => inProc(nativeVerifier(addon, { batch: true })) },
      { label: "bizra pool, no batching", threads: 2, batching: false, baseline: "project", items: sz(32768), make: () => { const p = new VerifyPool({ threads: 2, batch: false }); return { backend: p, ready: p.ready, close: () => p.close() }; } },
      { label: PIPELINE_VS_CEILING, threads: 2, batching: true, baseline: "project", items: sz(32768), make: () => { const p = new VerifyPool({ threads: 2, batch: true }); return { backend: new BatchingVerifier(p, { maxItems: 256, maxWaitMicros: 200 }), ready: p.ready, close: () => p.close() }; } },
    );
  }
  const now = Date.now();
  const maxItems = Math.max(...configs.map((c) => c.items));
  log(`signing a workload of ${maxItems} attestations from ${set.length} validators ...`);
  const items = workload(set, maxItems, now);
  // The ceiling's input: the same attestations the 2-thread pipeline rows verify, pre-decoded (key, BLAKE3 digest,
  // signature), concatenated for the addon. Its runs are interleaved with the "bizra pool, batching" runs (one
  // ceiling run right after each pipeline run), so both see the same machine load; the ratio is the median of the
  // per-pair ratios.
  const CEILING_ROUNDS = 4;
  const ceilingWith = PIPELINE_VS_CEILING;
  const ceilingInput = (() => {
    if (addon === null) return null;
    const n = configs.find((c) => c.label === ceilingWith)?.items ?? 0;
    const byId = new Map(set.map((v) => [v.id, v.publicKey]));
    const pk: Uint8Array[] = [];
    const dg: Uint8Array[] = [];
    const sg: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const it = items[i] as SignedAttestation;
      pk.push(byId.get((set[i % set.length] as Validator).id) as Uint8Array);
      dg.push(attestationDigest(it.encoding));
      sg.push(it.signature);
    }
    return { n, pk: Buffer.concat(pk), dg: Buffer.concat(dg), sg: Buffer.concat(sg) };
  })();
  const ceilingRun = (): number => {
    const c = ceilingInput as NonNullable<typeof ceilingInput>;
    const r = (addon as NonNullable<typeof addon>).benchCeiling(c.pk, c.dg, c.sg, 2, 256, CEILING_ROUNDS);
    if (r.valid !== r.items || r.items !== CEILING_ROUNDS * c.n) throw new Error(`ceiling: ${r.valid} of ${r.items} valid`);
    return r.items / r.seconds;
  };
  const ceilingRuns: number[] = [];
  const pairRatios: number[] = [];

  const rows: Array<{ label: string; threads: number; batching: boolean; baseline: string; backend: string; items: number; runs: number[]; medianPerSecond: number; ok: number }> = [];
  for (const c of options.latencyOnly ? [] : configs) {
    const made = c.make();
    await made.ready;
    const work = items.slice(0, c.items);
    await throughput(made.backend, set, work.slice(0, Math.min(2048, c.items)), now); // warm-up
    const perRun: number[] = [];
    let ok = 0;
    const paired = c.label === ceilingWith && ceilingInput !== null;
    if (paired) ceilingRun(); // warm-up (key caches, page faults)
    for (let r = 0; r < runs; r++) {
      const t = await throughput(made.backend, set, work, now);
      perRun.push(t.perSecond);
      ok = t.ok;
      if (paired) {
        const z = ceilingRun();
        ceilingRuns.push(z);
        pairRatios.push(t.perSecond / z);
      }
    }
    await made.close();
    if (ok !== c.items) throw new Error(`${c.label}: only ${ok} of ${c.items} valid attestations verified`);
    rows.push({ label: c.label, threads: c.threads, batching: c.batching, baseline: c.baseline, backend: made.backend.name, items: c.items, runs: perRun, medianPerSecond: median(perRun), ok });
    log(`  ${c.label} (${c.threads} thr): median ${Math.round(median(perRun))}/s over ${runs} runs`);
  }
  const sodiumAt = (t: number) => rows.find((r) => r.baseline === "sodium" && r.threads === t)?.medianPerSecond;
  const table = rows.map((r) => ({
    label: r.label,
    threads: r.threads,
    batching: r.batching,
    backend: r.backend,
    medianPerSecond: r.medianPerSecond,
    runsPerSecond: r.runs,
    ratioToSodiumSameThreads: r.medianPerSecond / (sodiumAt(r.threads) ?? NaN),
    itemsPerRun: r.items,
  }));
  const best2 = rows.filter((r) => r.baseline === "project" && r.threads === 2).reduce<typeof rows[number] | undefined>((a, b) => (a === undefined || b.medianPerSecond > a.medianPerSecond ? b : a), undefined);

  // Stage profile: the pipeline with a no-op signature backend, and the signature backend alone.
  const nullBackend: SignatureVerifier = { name: "null", verifyOne: () => true, verifyMany: (xs) => xs.map(() => true) };
  const pipelineRuns: number[] = [];
  for (let r = 0; r < runs; r++) pipelineRuns.push((await throughput(nullBackend, set, items.slice(0, sz(16384)), now)).perSecond);
  const pipelineOnly = median(pipelineRuns);
  // The same with the hash-and-verify path: the no-op backend still packs each batch into its transfer buffer.
  const zero32 = new Uint8Array(32);
  const nullEncoded: SignatureVerifier = {
    ...nullBackend,
    name: "null-encoded",
    verifyEncoded: (b) => {
      packEncoded(b, 0, b.keys.length);
      return { digests: b.keys.map(() => zero32), verdicts: new Uint8Array(b.keys.length).fill(1) };
    },
  };
  const pipelineOnlyEncodedRuns: number[] = [];
  for (let r = 0; r < runs; r++) pipelineOnlyEncodedRuns.push((await throughput(nullEncoded, set, items.slice(0, sz(16384)), now)).perSecond);
  const pipelineOnlyEncoded = median(pipelineOnlyEncodedRuns);
  let signatureOnly2: number | undefined;
  let hashVerifyOnly2: number | undefined;
  let ceiling2: { perSecond: number; runsPerSecond: number[]; items: number; pairRatios: number[]; pipelineOverCeiling: number } | undefined;
  if (addon !== null && !options.latencyOnly) {
    const p = new VerifyPool({ threads: 2, batch: true });
    await p.ready;
    const keys = new Map(set.map((v) => [v.id, v.publicKey]));
    const sigItems: SignatureItem[] = items.slice(0, sz(32768)).map((it, i) => ({ publicKey: keys.get((set[i % set.length] as Validator).id) as Uint8Array, message: attestationDigest(it.encoding), signature: it.signature }));
    const xs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      const lanes: Promise<boolean[]>[] = [];
      for (let i = 0; i < sigItems.length; i += 1024) lanes.push(p.verifyMany(sigItems.slice(i, i + 1024)));
      await Promise.all(lanes);
      xs.push(sigItems.length / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    signatureOnly2 = median(xs);
    // Hash + verify alone (verifyEncoded on prepared parallel arrays), 2 workers.
    const enc = { keys: sigItems.map((s) => s.publicKey), signatures: sigItems.map((s) => s.signature), encodings: items.slice(0, sigItems.length).map((it) => it.encoding) };
    const ys: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      const lanes: Promise<unknown>[] = [];
      for (let i = 0; i < enc.keys.length; i += 1024) {
        lanes.push((p.verifyEncoded as NonNullable<VerifyPool["verifyEncoded"]>)({ keys: enc.keys.slice(i, i + 1024), signatures: enc.signatures.slice(i, i + 1024), encodings: enc.encodings.slice(i, i + 1024) }));
      }
      await Promise.all(lanes);
      ys.push(enc.keys.length / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    hashVerifyOnly2 = median(ys);
    await p.close();
    ceiling2 = { perSecond: median(ceilingRuns), runsPerSecond: ceilingRuns, items: CEILING_ROUNDS * (ceilingInput?.n ?? 0), pairRatios, pipelineOverCeiling: median(pairRatios) };
    log(`  ceiling (Rust only, 2 threads, batches of 256, interleaved with the pipeline runs): median ${Math.round(ceiling2.perSecond)}/s; pipeline / ceiling per pair ${pairRatios.map((x) => x.toFixed(2)).join(" ")}; signatures alone through the pool ${Math.round(signatureOnly2)}/s`);
  }

  // Latency at 50 % of the measured peak, on ONE path: single AttestationVerifier.verify() calls (one per request, as
  // the HTTP handler makes them) through the production backend (createSignatureBackend: BatchingVerifier in front of
  // a VerifyPool of 2 native workers, POI_BATCH_MAX_ITEMS / POI_BATCH_MAX_WAIT_US defaults). Peak = closed loop on
  // that path at several concurrencies (best median); latency = open loop at half that peak, per-call hrtime samples.
  const arrivals: Arrivals = options.arrivals ?? "poisson";
  const latSeconds = options.latencySeconds ?? Math.max(0.5, 2 * scale);
  const warmSeconds = 0.25;
  const keys = new Map(set.map((v) => [v.id, v.publicKey]));
  const DEFAULT_WAIT_US = 200;
  // ONE pool for every latency run (peak, open loops, instrumented run), built exactly as createSignatureBackend builds
  // it for startNode; each run puts its own BatchingVerifier in front (worker churn would inflate the peak RSS).
  const latPool = addon !== null ? new VerifyPool({ threads: 2, engine: "native", batch: true, local: nativeVerifier(addon, { batch: true }) }) : undefined;
  await latPool?.ready;
  // adaptive = the production batcher (closes at the end of the turn when a worker is free, else when one frees up);
  // fixed = the same pool seen without its idle signal, so the batcher falls back to the bounded window (200 us,
  // setImmediate polling, early close when idle() at a turn): the A/B of the adaptive window in the same run.
  const batchedPath = (window: "adaptive" | "fixed"): SignatureVerifier => {
    if (latPool === undefined) return nobleVerifier;
    if (window === "adaptive") return new BatchingVerifier(latPool, { maxItems: 256, maxWaitMicros: DEFAULT_WAIT_US });
    const p = latPool;
    const noSignal: SignatureVerifier & { idle(): boolean } = {
      name: p.name,
      verifyOne: (a, b, c) => p.verifyOne(a, b, c),
      verifyMany: (xs) => p.verifyMany(xs),
      verifyEncoded: (b) => (p.verifyEncoded as NonNullable<VerifyPool["verifyEncoded"]>)(b),
      idle: () => p.idle(),
    };
    return new BatchingVerifier(noSignal, { maxItems: 256, maxWaitMicros: DEFAULT_WAIT_US });
  };
  const verifierOn = (backend: SignatureVerifier, clock?: () => number) =>
    new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), replay: new ReplayWindow({ maxEntries: 1_000_000 }), backend, digests: DIGESTS, ...(clock ? { now: clock } : {}) });

  const peakItems = items.slice(0, sz(32768));
  const concurrencies = [16, 64, 256, 1024];
  const verifyPeakPath = batchedPath("adaptive");
  {
    const v = verifierOn(verifyPeakPath, () => now);
    await closedLoop(Math.min(4096, peakItems.length), 256, (i) => v.verify(peakItems[i] as SignedAttestation)); // warm-up
  }
  const verifyPeakByConcurrency: Array<{ concurrency: number; runsPerSecond: number[]; medianPerSecond: number }> = [];
  for (const c of concurrencies) {
    const xs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const v = verifierOn(verifyPeakPath, () => now);
      let okPeak = 0;
      xs.push(await closedLoop(peakItems.length, c, (i) => v.verify(peakItems[i] as SignedAttestation).then((res) => { if (res.ok) okPeak++; })));
      if (okPeak !== peakItems.length) throw new Error(`verify peak: only ${okPeak} of ${peakItems.length} valid attestations verified`);
    }
    verifyPeakByConcurrency.push({ concurrency: c, runsPerSecond: xs, medianPerSecond: median(xs) });
    log(`  verify() closed loop, concurrency ${c}: median ${Math.round(median(xs))}/s over ${runs} runs`);
  }
  const bestConc = verifyPeakByConcurrency.reduce((x, y) => (y.medianPerSecond > x.medianPerSecond ? y : x));
  const verifyPeak = bestConc.medianPerSecond;
  const rate = verifyPeak / 2;

  // One set of fresh attestations (timestamped now, real clock in the verifier) for all open-loop verify runs; each
  // run gets a fresh replay window, so no item is a replay.
  const warmN = Math.max(100, Math.round(rate * warmSeconds));
  const n = Math.round(rate * latSeconds);
  const signed = compactWorkload(set, warmN + n, Date.now());
  /** One open-loop verify run at `rate` through a fresh production backend (adaptive) or the fixed-window variant. */
  const verifyOpenLoop = async (window: "adaptive" | "fixed") => {
    const backend = batchedPath(window);
    const v = verifierOn(backend);
    await openLoop(arrivalSchedule(warmN, rate, arrivals, 1), (i) => v.verify(signed[i] as SignedAttestation)); // warm-up, discarded
    const batcher = backend instanceof BatchingVerifier ? backend : undefined;
    const b0 = batcher?.batches ?? 0;
    const i0 = batcher?.batchedItems ?? 0;
    let okN = 0;
    const res = await openLoop(arrivalSchedule(n, rate, arrivals, 2), (i) => v.verify(signed[warmN + i] as SignedAttestation).then((r) => { if (r.ok) okN++; }));
    const batches = (batcher?.batches ?? 0) - b0;
    const batchStats = batcher ? { batches, meanBatchItems: ((batcher.batchedItems ?? 0) - i0) / Math.max(1, batches) } : null;
    const backendName = backend.name;
    if (okN !== n) throw new Error(`verify latency: only ${okN} of ${n} valid attestations verified`);
    return { res, ok: okN, batchStats, backendName };
  };
  const vl = await verifyOpenLoop("adaptive");
  const verifyLat = vl.res.latency;
  const olLog = (what: string, r: Awaited<ReturnType<typeof verifyOpenLoop>>): void => {
    const s1 = summary(r.res.latency);
    const d = drift(r.res.latency);
    log(`  ${what}: p50 ${(s1.p50Seconds * 1e6).toFixed(1)} µs, p99 ${(s1.p99Seconds * 1e6).toFixed(1)} µs; first/last fifth p50 ${(d.firstFifthP50Seconds * 1e6).toFixed(1)} / ${(d.lastFifthP50Seconds * 1e6).toFixed(1)} µs; batches ${r.batchStats?.batches ?? 0}, mean ${(r.batchStats?.meanBatchItems ?? 0).toFixed(1)} items; send lag p99 ${(summary(r.res.sendLag).p99Seconds * 1e6).toFixed(1)} µs, event-loop queue p99 ${(summary(r.res.queueDelay).p99Seconds * 1e6).toFixed(1)} µs, offered ${Math.round(r.res.offeredPerSecond)}/s`);
  };
  olLog(`verify() open loop at ${Math.round(rate)}/s (${arrivals}), adaptive window`, vl);
  // A/B in the same run: the same open loop with the fixed bounded window (200 us, polled) instead.
  const vl0 = await verifyOpenLoop("fixed");
  olLog(`verify() open loop at ${Math.round(rate)}/s (${arrivals}), fixed ${DEFAULT_WAIT_US} us window`, vl0);

  // Where a call's time goes at that rate: the same open loop on the same stack (batcher 256 / default wait in front of
  // a pool of 2 native workers, built as createSignatureBackend builds it) with timestamps taken by thin pass-through
  // wrappers around the batcher and the pool (a separate run, so the headline figures carry no instrumentation).
  let breakdown: Record<string, { p50Seconds: number; p99Seconds: number }> | null = null;
  if (latPool !== undefined) {
    const pool = latPool;
    const tEnq = new Float64Array(warmN + n);
    const tFlush = new Float64Array(warmN + n);
    const tDone = new Float64Array(warmN + n);
    const tStart = new Float64Array(warmN + n);
    let current = -1;
    let pending: number[] = [];
    const hr = (): number => Number(process.hrtime.bigint());
    const poolEnc = pool.verifyEncoded as NonNullable<VerifyPool["verifyEncoded"]>;
    const inner: SignatureVerifier & { idle(): boolean; onIdle(f: () => void): () => void } = {
      name: pool.name,
      verifyOne: (a, b, c) => pool.verifyOne(a, b, c),
      verifyMany: (xs) => pool.verifyMany(xs),
      idle: () => pool.idle(),
      onIdle: (f) => pool.onIdle(f),
      verifyEncoded: (b) => {
        const t = hr();
        const calls = pending;
        pending = [];
        for (const c of calls) tFlush[c] = t;
        const out = poolEnc(b);
        out.then(() => {
          const d = hr();
          for (const c of calls) tDone[c] = d;
        }, () => undefined);
        return out;
      },
    };
    const batcher = new BatchingVerifier(inner, { maxItems: 256, maxWaitMicros: DEFAULT_WAIT_US });
    const batchEnc = batcher.verifyEncoded as NonNullable<BatchingVerifier["verifyEncoded"]>;
    const outer: SignatureVerifier = {
      name: batcher.name,
      verifyOne: (a, b, c) => batcher.verifyOne(a, b, c),
      verifyMany: (xs) => batcher.verifyMany(xs),
      verifyEncoded: (b) => {
        tEnq[current] = hr();
        pending.push(current);
        return batchEnc(b);
      },
    };
    const v = verifierOn(outer);
    const op = (i: number) => {
      current = i;
      tStart[i] = hr();
      return v.verify(signed[i] as SignedAttestation);
    };
    await openLoop(arrivalSchedule(warmN, rate, arrivals, 1), op);
    const r = await openLoop(arrivalSchedule(n, rate, arrivals, 2), (i) => op(warmN + i));
    const comp = (f: (i: number) => number) => {
      const xs: number[] = [];
      for (let i = 0; i < n; i++) xs.push(f(warmN + i) / 1e9);
      const t = summary(xs);
      return { p50Seconds: t.p50Seconds, p99Seconds: t.p99Seconds };
    };
    breakdown = {
      total: comp((i) => (r.latency[i - warmN] as number) * 1e9),
      eventLoopQueue: comp((i) => (r.queueDelay[i - warmN] as number) * 1e9),
      decodeToBatcher: comp((i) => (tEnq[i] as number) - (tStart[i] as number)),
      batcherWait: comp((i) => (tFlush[i] as number) - (tEnq[i] as number)),
      poolRoundTrip: comp((i) => (tDone[i] as number) - (tFlush[i] as number)),
      afterPool: comp((i) => (tStart[i] as number) + ((r.latency[i - warmN] as number) - (r.queueDelay[i - warmN] as number)) * 1e9 - (tDone[i] as number)),
    };
    const f = (k: string) => `${k} ${((breakdown?.[k]?.p50Seconds ?? 0) * 1e6).toFixed(1)}/${((breakdown?.[k]?.p99Seconds ?? 0) * 1e6).toFixed(1)}`;
    log(`  verify() breakdown (instrumented run, p50/p99 µs): ${Object.keys(breakdown).map(f).join(", ")}`);
  }

  // ZIP-215 agreement of every path measured here, on this binary (vector suite; see agreement.ts).
  let agreement: Agreement | null = null;
  if (addon !== null && latPool !== undefined) {
    agreement = await zip215Agreement(addon, latPool);
    log(`  ZIP-215 agreement on ${agreement.vectors} vectors: ${Object.entries(agreement.paths).map(([k, v]) => `${k} ${v.length === 0 ? "agrees" : `DIFFERS on ${v.join(", ")}`}`).join("; ")}`);
  }
  await latPool?.close();

  // Generate (encode + BLAKE3 + Ed25519 sign with the project's signAttestation): synchronous on the calling thread, so
  // its closed-loop peak is back-to-back calls; then open loop at half that peak with the same arrival process.
  const signer = set[0] as Validator;
  const genAtt = (i: number): Attestation => ({ version: 1, validatorId: signer.id, epoch: 0, slot: i, payloadDigest: new Uint8Array(32).fill(i & 255), nonce: new Uint8Array(randomBytes(16)), timestampMs: now });
  const genOp = (i: number) => signAttestation(genAtt(i), signer.seed, DIGESTS);
  for (let i = 0; i < 2000; i++) genOp(i); // warm-up
  const genPeakN = Math.max(1000, Math.round(8000 * scale));
  const genPeakRuns: number[] = [];
  for (let r = 0; r < runs; r++) {
    const g0 = process.hrtime.bigint();
    for (let i = 0; i < genPeakN; i++) genOp(i);
    genPeakRuns.push(genPeakN / (Number(process.hrtime.bigint() - g0) / 1e9));
  }
  const genPeak = median(genPeakRuns);
  const genRate = genPeak / 2;
  await openLoop(arrivalSchedule(Math.max(100, Math.round(genRate * warmSeconds)), genRate, arrivals, 3), genOp); // warm-up, discarded
  const gl = await openLoop(arrivalSchedule(Math.round(genRate * latSeconds), genRate, arrivals, 4), genOp);
  const genLat = gl.latency;
  log(`  generate open loop at ${Math.round(genRate)}/s (${arrivals}): p50 ${(summary(genLat).p50Seconds * 1e6).toFixed(1)} µs, p99 ${(summary(genLat).p99Seconds * 1e6).toFixed(1)} µs; send lag p99 ${(summary(gl.sendLag).p99Seconds * 1e6).toFixed(1)} µs, offered ${Math.round(gl.offeredPerSecond)}/s`);
  // The same work with OpenSSL's Ed25519 called directly (same RFC 8032 signature bytes), closed loop.
  const nodeGen: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t = process.hrtime.bigint();
    nodeSign(null, attestationDigest(encodeAttestation(genAtt(i))), signer.key);
    nodeGen.push(Number(process.hrtime.bigint() - t) / 1e9);
  }

  // Finality check p99 (VoteTally.finalityOf, 100 validators, 200 slots).
  const vset = new ValidatorSet(Array.from({ length: 100 }, (_, i) => ({ id: `v${i}`, weight: 1 + (i % 7) })));
  const tally = new VoteTally(vset);
  const hashes: string[] = [];
  for (let slot = 0; slot < 200; slot++) {
    const main = blockHash(slot * 2);
    const fork = blockHash(slot * 2 + 1);
    hashes.push(main, fork);
    for (let v = 0; v < 100; v++) tally.addVote({ validatorId: `v${v}`, slot, blockHash: v % 10 === 9 ? fork : main });
  }
  for (let i = 0; i < 1000; i++) tally.finalityOf(hashes[i % hashes.length] as string);
  const fin: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = process.hrtime.bigint();
    tally.finalityOf(hashes[(i * 7919) % hashes.length] as string);
    fin.push(Number(process.hrtime.bigint() - t) / 1e9);
  }

  // HTTP: what a client sees (http.ts), a load generator in its own process against startNode on loopback.
  let http: HttpResult[] | null = null;
  let httpServerMaxRss = 0;
  if (addon !== null && !options.latencyOnly) {
    const scenarios: HttpScenario[] = [
      { route: "verify-batch", batch: 64, connections: 8 },
      { route: "verify-batch", batch: 256, connections: 4 },
      { route: "verify", batch: 1, connections: 32 },
    ];
    const measured = await measureHttp({
      validators: set,
      sign: (k) => compactWorkload(set, k, Date.now()),
      scenarios,
      items: (sc) => (sc.route === "verify" ? sz(16384) : sz(32768)),
      runs: Math.min(runs, 3),
      log,
    });
    http = measured.scenarios;
    httpServerMaxRss = measured.serverMaxRssBytes;
  }
  const httpBatch = http?.filter((h) => h.route === "verify-batch").reduce<HttpResult | undefined>((a, b) => (a === undefined || b.median.itemsPerSecond > a.median.itemsPerSecond ? b : a), undefined);

  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  const two = best2?.medianPerSecond ?? 0;
  const overCeiling = ceiling2?.pipelineOverCeiling ?? NaN;
  const httpRatio = (httpBatch?.median.itemsPerSecond ?? NaN) / two;
  const results = {
    workload: {
      validators: set.length,
      attestations: maxItems,
      nonces: "distinct, 16 random bytes each",
      pipeline: "AttestationVerifier.verifyBatch: decode, key lookup, replay peek, BLAKE3 digest + signature (native backends: verifyEncoded, keys/signatures/encodings packed into one buffer per batch, BLAKE3 + ZIP-215 in one addon call, in the workers for the pool; baselines: native blake3 on the main thread, then the signature backend), replay admit; no signature cache (no cache key computed)",
      chunk: 256,
      callsInFlight: 4,
      runsPerConfig: runs,
    },
    throughput: table,
    best2Threads: best2 ? { label: best2.label, medianPerSecond: best2.medianPerSecond, ratioToSodium2Threads: two / (sodiumAt(2) ?? NaN) } : null,
    profile: {
      pipelineOnlyPerSecond: pipelineOnly,
      pipelineOnlyMicrosPerItem: 1e6 / pipelineOnly,
      pipelineOnlyEncodedPerSecond: pipelineOnlyEncoded,
      pipelineOnlyEncodedMicrosPerItem: 1e6 / pipelineOnlyEncoded,
      signatureOnly2ThreadsPerSecond: signatureOnly2 ?? null,
      ceiling2ThreadsPerSecond: ceiling2?.perSecond ?? null,
      ceiling2ThreadsRunsPerSecond: ceiling2?.runsPerSecond ?? null,
      ceilingItemsPerRun: ceiling2?.items ?? null,
      pipelineOverCeiling: overCeiling,
      pipelineOverCeilingPairRatios: ceiling2?.pairRatios ?? null,
      hashVerifyOnly2ThreadsPerSecond: hashVerifyOnly2 ?? null,
      note: "pipelineOnly = the same verifyBatch loop with a no-op signature backend (main-thread cost per item, digests on the main thread); pipelineOnlyEncoded = the same with a no-op verifyEncoded backend that still packs the transfer buffer (main-thread cost of the hash-and-verify path); signatureOnly = VerifyPool.verifyMany on prepared (key, digest, signature) items, 2 workers; ceiling = the addon's benchCeiling: its batch routine (ZIP-215 batch equation) over the same attestations pre-decoded, on 2 Rust threads, chunks of 256, no JavaScript in the loop, one run right after each run of the bizra pool, batching row; pipelineOverCeiling = median of those per-pair ratios; hashVerifyOnly = VerifyPool.verifyEncoded on prepared (key, signature, encoding) arrays, 2 workers",
    },
    latencyAtHalfPeak: {
      arrivals,
      arrivalsNote: arrivals === "poisson" ? "Poisson arrivals: exponential inter-arrival times at the stated mean rate (seeded mulberry32)" : "fixed-interval arrivals, exactly 1/rate apart",
      secondsPerRun: latSeconds,
      warmUpSeconds: warmSeconds,
      verify: {
        path: "AttestationVerifier.verify(), one call per arrival (as the HTTP handler calls it), through the stack createSignatureBackend({threads: 2, batchVerify: true}) builds: BatchingVerifier (256 items / POI_BATCH_MAX_WAIT_US) in front of a VerifyPool of 2 native workers (batch equation); one pool shared by the peak and latency runs",
        peakPerSecond: verifyPeak,
        peakMethod: `closed loop on the same path: N clients each awaiting its verify() before the next, ${peakItems.length} calls per run, median of ${runs} runs per N; peak = best N`,
        peakConcurrency: bestConc.concurrency,
        peakByConcurrency: verifyPeakByConcurrency,
        rate,
        offeredPerSecond: vl.res.offeredPerSecond,
        maxBatchWaitMicros: DEFAULT_WAIT_US,
        ...summary(verifyLat),
        sendLag: summary(vl.res.sendLag),
        queueDelay: summary(vl.res.queueDelay),
        drift: drift(verifyLat),
        ok: vl.ok,
        backend: vl.backendName,
        batcher: vl.batchStats,
        samplesMicrosCsv: rawMicros(verifyLat),
      },
      verifyFixedWindow: {
        note: "the same open-loop run (same rate and arrival process) with the batcher's fixed bounded window (pool seen without its idle signal: 200 us, setImmediate polling, early close when a worker is idle at a turn) instead of the adaptive one: the A/B of the adaptive window",
        rate,
        maxBatchWaitMicros: DEFAULT_WAIT_US,
        ...summary(vl0.res.latency),
        sendLag: summary(vl0.res.sendLag),
        queueDelay: summary(vl0.res.queueDelay),
        drift: drift(vl0.res.latency),
        ok: vl0.ok,
        backend: vl0.backendName,
        batcher: vl0.batchStats,
      },
      verifyBreakdown: breakdown === null ? null : {
        note: "a separate instrumented open-loop run at the same rate: total = send -> result; eventLoopQueue = send -> call start; decodeToBatcher = call start -> batcher (decode, key lookup, replay peek); batcherWait = -> batch handed to the pool; poolRoundTrip = -> pool result on the main thread (pack, postMessage, worker BLAKE3 + ZIP-215, message back, event loop); afterPool = -> verify() resolved (replay admit, promise chain)",
        ...breakdown,
      },
      generate: {
        path: "signAttestation (encode + BLAKE3 + node:crypto / OpenSSL Ed25519, seed imported once as PKCS#8; same RFC 8032 bytes as @noble/ed25519), synchronous on the main thread",
        peakPerSecond: genPeak,
        peakMethod: `closed loop: ${genPeakN} back-to-back calls per run (a synchronous call cannot overlap another), median of ${runs} runs`,
        peakRunsPerSecond: genPeakRuns,
        rate: genRate,
        offeredPerSecond: gl.offeredPerSecond,
        ...summary(genLat),
        sendLag: summary(gl.sendLag),
        queueDelay: summary(gl.queueDelay),
        drift: drift(genLat),
        samplesMicrosCsv: rawMicros(genLat),
      },
      generateNodeCryptoSigner: { ...summary(nodeGen), note: "encode + BLAKE3 + node:crypto Ed25519 sign (identical RFC 8032 bytes), closed loop, per-call hrtime" },
    },
    finality: { ...summary(fin), validators: 100, blocks: hashes.length },
    maxRssBytes,
    nativeBackend: addon?.backendInfo() ?? null,
    zip215Agreement: agreement,
    http: http === null ? null : {
      method: "http-client.js (autocannon 9, keep-alive, one request in flight per connection, closed loop) in its own process on loopback against http-server.ts in another (startNode configured from the environment: fastify, JSON bodies of hex fields, AttestationVerifier with its signature cache, batcher + pool of 2 native workers), every body distinct and sent once, every verdict checked valid; median of the runs by attestations/s; latency = per request, write to response; CPU = process.cpuUsage() / wall time, each process its own (server: main thread + workers); serverMaxRssBytes = the server process's peak RSS (not part of this process's maxRssBytes)",
      scenarios: http,
      serverMaxRssBytes: httpServerMaxRss,
      bestVerifyBatch: httpBatch ? { route: httpBatch.path, batch: httpBatch.batch, itemsPerSecond: httpBatch.median.itemsPerSecond, ratioToInProcessPipeline: httpRatio } : null,
    },
    targets: {
      pipelineOverCeiling: { target: 0.8, measured: overCeiling, met: overCeiling >= 0.8 },
      verifyP50Seconds: { target: 0.0003, measured: summary(verifyLat).p50Seconds, met: summary(verifyLat).p50Seconds <= 0.0003 },
      verifyP99Seconds: { target: 0.001, measured: summary(verifyLat).p99Seconds, met: summary(verifyLat).p99Seconds <= 0.001 },
      generateP99Seconds: { target: 0.0005, measured: summary(genLat).p99Seconds, met: summary(genLat).p99Seconds <= 0.0005 },
      httpVerifyBatchOverPipeline: { target: 0.5, measured: httpRatio, met: httpRatio >= 0.5 },
      throughput2Threads: { target: 100_000, measured: two, met: two >= 100_000 },
      ratioToSodium2Threads: { target: 3, measured: two / (sodiumAt(2) ?? NaN), met: two / (sodiumAt(2) ?? NaN) >= 3 },
      finalityP99Seconds: { target: 0.00001, measured: summary(fin).p99Seconds, met: summary(fin).p99Seconds < 0.00001 },
      maxRssBytes: { target: 300 * 1024 * 1024, measured: maxRssBytes, met: maxRssBytes < 300 * 1024 * 1024 },
      zip215Agreement: { target: 1, measured: agreement === null ? NaN : agreement.agree ? 1 : 0, met: agreement?.agree === true },
    },
  };
  return {
    kind: "perf-bench",
    title: "PoI verification throughput and latency by signature backend (full pipeline)",
    method:
      `${set.length} validators (random seeds imported as PKCS#8), attestations signed round robin with distinct random nonces. ` +
      `Each configuration verifies its items through AttestationVerifier.verifyBatch (chunks of 256, 4 calls in flight, a fresh replay window per run) ` +
      `${runs} times after a warm-up; the figure is the median of the runs (items / wall time). "threads" counts threads verifying signatures: ` +
      `1 = all on the main thread, 2 = two worker threads (the main thread runs the rest of the pipeline). Ratios are to sodium-native on the same ` +
      `number of threads in the same run. Latency: peak and latency on ONE path, single AttestationVerifier.verify() calls through the production ` +
      `backend (batcher 256 items / ${DEFAULT_WAIT_US} us in front of a pool of 2 native workers); peak = closed loop (concurrency ${concurrencies.join("/")}, best median); ` +
      `then ${arrivals === "poisson" ? "Poisson" : "fixed-interval"} open-loop arrivals at 50 % of that peak for ${latSeconds} s after a ${warmSeconds} s warm-up, ` +
      `latency per call from its scheduled arrival to its result (hrtime, raw samples, nearest-rank percentiles); repeated with a 0 us batch wait. ` +
      `Generate: signAttestation, peak = back-to-back calls, then the same open loop at 50 % of it. ` +
      `Finality: 20000 VoteTally.finalityOf calls (100 validators, 400 blocks). Peak RSS: process.resourceUsage().maxRSS (workers included).`,
    // The one throughput gate: the best 2-thread full-pipeline median (poi.json measures single verify() calls only).
    gates: [{ gate: "poi-verify-throughput", slo: "poiVerifyThroughput", field: "results.best2Threads.medianPerSecond" }],
    results,
  } satisfies Measured;
}
