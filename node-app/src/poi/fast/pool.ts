/**
 * A worker_threads pool of signature verifiers: each worker loads the native addon (or, for benchmark baselines
 * only, sodium-native) and verifies whole batches; the main thread keeps decoding, hashing and the replay window.
 *
 * Transport: one ArrayBuffer per batch, laid out as [n*32 keys][n*64 signatures][n result bytes][messages], moved
 * to the worker and back with the transfer list (no copy in either direction; the worker writes the results in
 * place). Messages that are all 32-byte digests use the addon's concatenated fast path; otherwise an offsets table
 * travels in a second transferred buffer. A large `verifyMany` call is split across idle workers so both cores work
 * on it. Idle workers are unref'd, so an idle pool never keeps the process alive.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { nobleVerifier, type EncodedBatch, type EncodedResult, type SignatureItem, type SignatureVerifier } from "../signature";
import { NATIVE_LOADER, packEncoded, unpackEncoded, wellFormedIndex } from "./native";

export type PoolEngine = "native" | "sodium";

export interface VerifyPoolOptions {
  /** Worker count (default: os.availableParallelism()). */
  readonly threads?: number;
  /** "native" (default, the project's path) or "sodium" (sodium-native, benchmark baseline only: NOT ZIP-215). */
  readonly engine?: PoolEngine;
  /** Workers use the addon's batch equation (true, default) or one single verification per item (false). */
  readonly batch?: boolean;
  /** A call is split across workers only when every part gets at least this many items (default 64). */
  readonly minSplit?: number;
  /**
   * Split a call across busy workers too (default false: a call is split only across workers with nothing in
   * flight; when fewer than two are idle it goes whole to the least-loaded worker, so under load each batch is one
   * message and one batch equation, not two half-size ones).
   */
  readonly splitBusy?: boolean;
  /** Used for the synchronous `verifyOne` (default: noble). */
  readonly local?: SignatureVerifier;
  /** Absolute path of sodium-native, for engine "sodium" (default: require.resolve("sodium-native")). */
  readonly sodiumPath?: string;
}

const WORKER_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
let verifyOne, verifyBatch = null, verifyEncoded = null;
if (workerData.engine === "native") {
  const addon = require(workerData.loader).loadNative();
  if (!addon) throw new Error("native addon not available in worker (not built, or BIZRA_USE_RUST=false)");
  // Same layout as encodedLayout() in native.ts: [(n+1) u32 offsets][n*32 keys][n*64 sigs][n*32 digests][n verdicts][data].
  verifyEncoded = (buf, n, batch) => {
    const u8 = new Uint8Array(buf), offs = new Uint32Array(buf, 0, n + 1);
    const keys = 4 * (n + 1), sigs = keys + 32 * n, digests = sigs + 64 * n, verdicts = digests + 32 * n, data = verdicts + n;
    addon.verifyEncoded(u8.subarray(keys, sigs), u8.subarray(data), offs, u8.subarray(sigs, digests), u8.subarray(digests, verdicts), u8.subarray(verdicts, data), batch);
  };
  verifyOne = (p, m, s) => addon.verifyOne(p, m, s);
  verifyBatch = (p, m, s) => addon.verifyBatch(p, m, s);
} else if (workerData.engine === "sodium") {
  const sodium = require(workerData.sodiumPath);
  verifyOne = (p, m, s) => sodium.crypto_sign_verify_detached(Buffer.from(s.buffer, s.byteOffset, 64), Buffer.from(m.buffer, m.byteOffset, m.byteLength), Buffer.from(p.buffer, p.byteOffset, 32));
} else {
  throw new Error("unknown engine " + workerData.engine);
}
parentPort.on("message", (job) => {
  const { id, n, buf, offs, batch } = job;
  if (job.enc) {
    // Hash-and-verify batch (layout: see encodedLayout in native.ts): one addon call, results written in place.
    try {
      if (verifyEncoded === null) throw new Error("engine " + workerData.engine + " has no verifyEncoded");
      verifyEncoded(buf, n, batch);
      parentPort.postMessage({ id, buf }, [buf]);
    } catch (e) {
      parentPort.postMessage({ id, error: String((e && e.stack) || e) });
    }
    return;
  }
  try {
    const u8 = new Uint8Array(buf);
    const pks = u8.subarray(0, 32 * n), sigs = u8.subarray(32 * n, 96 * n), res = u8.subarray(96 * n, 97 * n);
    const base = 97 * n;
    let msgs, msgAt;
    if (offs === null) {
      msgs = u8.subarray(base, base + 32 * n);
      msgAt = (i) => msgs.subarray(32 * i, 32 * i + 32);
    } else {
      const o = new Uint32Array(offs);
      msgs = [];
      for (let i = 0; i < n; i++) msgs.push(u8.subarray(base + o[i], base + o[i + 1]));
      msgAt = (i) => msgs[i];
    }
    if (batch && verifyBatch !== null && n > 1) {
      res.set(verifyBatch(pks, msgs, sigs));
    } else {
      for (let i = 0; i < n; i++) res[i] = verifyOne(pks.subarray(32 * i, 32 * i + 32), msgAt(i), sigs.subarray(64 * i, 64 * i + 64)) ? 1 : 0;
    }
    parentPort.postMessage({ id, buf }, [buf]);
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.stack) || e) });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Job {
  /** Result bytes (verifyMany) or the whole returned buffer (verifyEncoded). */
  resolve(res: Uint8Array): void;
  reject(err: Error): void;
  slot: Slot;
  n: number;
  enc: boolean;
}

function splitPlan(slots: readonly Slot[], n: number, minSplit: number, splitBusy: boolean): Slot[] {
  const live = slots.filter((s) => !s.dead);
  if (live.length === 0) throw new Error("verify pool has no live worker");
  live.sort((a, b) => a.load - b.load);
  const idle = splitBusy ? live : live.filter((s) => s.inflight === 0);
  const parts = Math.max(1, Math.min(idle.length, Math.floor(n / minSplit)));
  return parts === 1 ? [live[0] as Slot] : idle.slice(0, parts);
}

interface Slot {
  worker: Worker;
  inflight: number;
  /** Items in flight (least-loaded choice). */
  load: number;
  dead: boolean;
}

/** Packs well-formed items into one transferable buffer (and an offsets buffer unless all messages are 32 bytes). */
function packTransfer(items: readonly SignatureItem[]): { buf: ArrayBuffer; offs: ArrayBuffer | null; n: number } {
  const n = items.length;
  const all32 = items.every((i) => i.message.length === 32);
  let msgBytes = 0;
  for (const i of items) msgBytes += i.message.length;
  const buf = new ArrayBuffer(97 * n + msgBytes);
  const u8 = new Uint8Array(buf);
  const offs = all32 ? null : new Uint32Array(n + 1);
  let at = 97 * n;
  for (let k = 0; k < n; k++) {
    const it = items[k] as SignatureItem;
    u8.set(it.publicKey, 32 * k);
    u8.set(it.signature, 32 * n + 64 * k);
    if (offs) offs[k] = at - 97 * n;
    u8.set(it.message, at);
    at += it.message.length;
  }
  if (offs) offs[n] = at - 97 * n;
  return { buf, offs: offs ? (offs.buffer as ArrayBuffer) : null, n };
}

export class VerifyPool implements SignatureVerifier {
  readonly name: string;
  readonly threads: number;
  readonly batch: boolean;
  private readonly engine: PoolEngine;
  private readonly minSplit: number;
  private readonly splitBusy: boolean;
  private readonly local: SignatureVerifier;
  private readonly sodiumPath: string | undefined;
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private closed = false;
  /** Hash-and-verify in the workers; present for the native engine only (see `encodedMany`). */
  readonly verifyEncoded?: (batch: EncodedBatch) => Promise<EncodedResult>;
  /** Resolves when every worker has loaded its engine (rejects if one cannot). */
  readonly ready: Promise<void>;

  constructor(options: VerifyPoolOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
    this.engine = options.engine ?? "native";
    this.batch = options.batch ?? true;
    this.minSplit = Math.max(1, options.minSplit ?? 64);
    this.splitBusy = options.splitBusy ?? false;
    this.local = options.local ?? nobleVerifier;
    this.sodiumPath = options.engine === "sodium" ? (options.sodiumPath ?? require.resolve("sodium-native")) : undefined;
    this.name = `pool-${this.engine}${this.engine === "native" ? (this.batch ? "-batch" : "-single") : ""}x${this.threads}`;
    if (this.engine === "native") this.verifyEncoded = (b) => this.encodedMany(b);
    const readies: Promise<void>[] = [];
    for (let i = 0; i < this.threads; i++) readies.push(this.spawn());
    this.ready = Promise.all(readies).then(() => undefined);
    this.ready.catch(() => undefined); // surfaced through verifyMany / explicit awaits
  }

  private spawn(at?: number): Promise<void> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { engine: this.engine, loader: NATIVE_LOADER, sodiumPath: this.sodiumPath },
    });
    const slot: Slot = { worker, inflight: 0, load: 0, dead: false };
    if (at === undefined) this.slots.push(slot);
    else this.slots[at] = slot;
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: { ready?: true; id?: number; buf?: ArrayBuffer; error?: string }) => {
        if (m.ready) return resolve();
        const job = this.jobs.get(m.id as number);
        if (job === undefined) return;
        this.jobs.delete(m.id as number);
        this.settle(slot, job.n);
        if (m.error !== undefined || m.buf === undefined) job.reject(new Error(`verify worker failed: ${m.error ?? "no result"}`));
        else job.resolve(job.enc ? new Uint8Array(m.buf) : new Uint8Array(m.buf, 96 * job.n, job.n));
      });
    });
    worker.on("error", (err) => this.fail(slot, err));
    worker.on("exit", (code) => this.fail(slot, new Error(`verify worker exited with code ${code}`)));
    return ready;
  }

  private settle(slot: Slot, n: number): void {
    slot.inflight--;
    slot.load -= n;
    if (slot.inflight === 0) slot.worker.unref();
  }

  /** A dead worker's jobs are rejected and the worker is replaced (unless the pool is closing). */
  private fail(slot: Slot, err: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    for (const [id, job] of this.jobs) {
      if (job.slot === slot) {
        this.jobs.delete(id);
        job.reject(err);
      }
    }
    const at = this.slots.indexOf(slot);
    if (!this.closed && at >= 0) this.spawn(at).catch(() => undefined);
  }

  /** True when some worker has nothing in flight (a batcher may then flush early). */
  idle(): boolean {
    return this.slots.some((s) => !s.dead && s.inflight === 0);
  }

  /** Items currently in flight across workers. */
  get inflight(): number {
    return this.slots.reduce((a, s) => a + s.inflight, 0);
  }

  verifyOne(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return this.local.verifyOne(publicKey, message, signature);
  }

  async verifyMany(items: readonly SignatureItem[]): Promise<boolean[]> {
    if (this.closed) throw new Error("verify pool is closed");
    const out = new Array<boolean>(items.length).fill(false);
    const index = wellFormedIndex(items);
    if (index.length === 0) return out;
    const good = index.map((i) => items[i] as SignatureItem);
    const order = splitPlan(this.slots, good.length, this.minSplit, this.splitBusy);
    const parts = order.length;
    const size = Math.ceil(good.length / parts);
    const runs: Promise<void>[] = [];
    for (let p = 0; p < parts; p++) {
      const from = p * size;
      const chunk = good.slice(from, from + size);
      if (chunk.length === 0) break;
      runs.push(
        this.send(order[p] as Slot, chunk).then((res) => {
          for (let k = 0; k < chunk.length; k++) out[index[from + k] as number] = res[k] === 1;
        }),
      );
    }
    await Promise.all(runs);
    return out;
  }

  private send(slot: Slot, items: readonly SignatureItem[]): Promise<Uint8Array> {
    const { buf, offs, n } = packTransfer(items);
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, slot, n, enc: false });
      if (slot.inflight === 0) slot.worker.ref();
      slot.inflight++;
      slot.load += n;
      const transfer: ArrayBuffer[] = offs ? [buf, offs] : [buf];
      slot.worker.postMessage({ id, n, buf, offs, batch: this.batch }, transfer);
    });
  }

  /**
   * Hash-and-verify (native engine only): each part of the batch is packed straight into one transferable buffer
   * (keys, signatures, encodings); the worker computes BLAKE3 digests and ZIP-215 verdicts in one addon call.
   */
  private async encodedMany(b: EncodedBatch): Promise<EncodedResult> {
    if (this.closed) throw new Error("verify pool is closed");
    const n = b.keys.length;
    const digests: Uint8Array[] = new Array<Uint8Array>(n);
    const verdicts = new Uint8Array(n);
    if (n === 0) return { digests, verdicts };
    const order = splitPlan(this.slots, n, this.minSplit, this.splitBusy);
    const parts = order.length;
    const size = Math.ceil(n / parts);
    const runs: Promise<void>[] = [];
    for (let p = 0; p < parts; p++) {
      const from = p * size;
      const to = Math.min(n, from + size);
      if (to <= from) break;
      const buf = packEncoded(b, from, to);
      runs.push(this.post(order[p] as Slot, buf, to - from).then((u8) => unpackEncoded(u8.buffer as ArrayBuffer, to - from, digests, verdicts, from)));
    }
    await Promise.all(runs);
    return { digests, verdicts };
  }

  private post(slot: Slot, buf: ArrayBuffer, n: number): Promise<Uint8Array> {
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, slot, n, enc: true });
      if (slot.inflight === 0) slot.worker.ref();
      slot.inflight++;
      slot.load += n;
      slot.worker.postMessage({ id, n, buf, enc: true, batch: this.batch }, [buf]);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const job of this.jobs.values()) job.reject(new Error("verify pool closed"));
    this.jobs.clear();
  }
}
