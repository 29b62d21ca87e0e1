/**
 * A worker_threads pool of signature verifiers: each worker loads the native addon (or, for benchmark baselines
 * only, sodium-native) and verifies whole batches; the main thread keeps decoding, the key lookup and the replay
 * window.
 *
 * Hand-off through shared memory, not messages: each worker owns a SharedArrayBuffer of `SLOTS` job slots and a
 * small control array. The main thread packs a job straight into the next free slot (keys, signatures, messages or
 * encodings; see `slotLayout`), writes its descriptor, bumps the request counter and wakes the worker with
 * `Atomics.notify`; the worker, blocked in `Atomics.wait`, runs the addon over the slot in place (verdicts and
 * digests written into the slot), bumps the done counter and notifies. The main thread learns of completions through
 * `Atomics.waitAsync` on the done counter and reads the results out of the slot. No structured clone, no transfer,
 * no message event in the worker. Jobs beyond the free slots wait in a per-worker FIFO on the main thread; calls
 * larger than one slot are split into slot-sized parts.
 *
 * A call is split across workers only when they are idle; otherwise it goes whole to the least-loaded worker.
 * Listeners registered with `onIdle` hear when a worker runs out of work (the batcher closes its batch then). Idle
 * workers are unref'd, so an idle pool never keeps the process alive; a crashed worker's jobs are rejected and the
 * worker is respawned.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { nobleVerifier, type EncodedBatch, type EncodedResult, type SignatureItem, type SignatureVerifier } from "../signature";
import { encodedLayout, NATIVE_LOADER, wellFormedIndex } from "./native";

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
   * job and one batch equation, not two half-size ones).
   */
  readonly splitBusy?: boolean;
  /** Used for the synchronous `verifyOne` and for a single item too large for a slot (default: noble). */
  readonly local?: SignatureVerifier;
  /** Absolute path of sodium-native, for engine "sodium" (default: require.resolve("sodium-native")). */
  readonly sodiumPath?: string;
  /** Bytes per job slot (default 256 KiB: 256 attestations take about 70 KB). */
  readonly slotBytes?: number;
}

/** Job slots per worker (jobs beyond them wait on the main thread). */
export const SLOTS = 8;
/** Control words: [0] requests posted, [1] requests done, then per slot [n, data bytes, kind, status]. */
const REQ = 0;
const DONE = 1;
const DESC = 2;
const DESC_WORDS = 4;
/** Job kinds in a slot descriptor. */
const KIND_ENCODED = 1;
const KIND_MANY32 = 2;
const KIND_MANY = 3;
const KIND_BATCH_FLAG = 8;

/**
 * A job in a slot uses the hash-and-verify layout of `encodedLayout` (native.ts), offsets first so the Uint32Array
 * view is aligned: [(n+1) u32 offsets into data][n*32 keys][n*64 signatures][n*32 digests][n verdicts][data].
 * Encoded jobs: data = the attestation encodings; the worker writes BLAKE3 digests and verdicts. verifyMany jobs:
 * data = the messages (the digests region is unused); the worker writes verdicts.
 */
const slotLayout = encodedLayout;

const WORKER_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { ctl: ctlSab, data: dataSab, slots, slotBytes, engine } = workerData;
const ctl = new Int32Array(ctlSab);
const mem = new Uint8Array(dataSab);
let verifyOne, verifyBatch = null, verifyEncoded = null;
if (engine === "native") {
  const addon = require(workerData.loader).loadNative();
  if (!addon) throw new Error("native addon not available in worker (not built, or BIZRA_USE_RUST=false)");
  verifyEncoded = (...a) => addon.verifyEncoded(...a);
  verifyOne = (p, m, s) => addon.verifyOne(p, m, s);
  verifyBatch = (p, m, s) => addon.verifyBatch(p, m, s);
} else if (engine === "sodium") {
  const sodium = require(workerData.sodiumPath);
  // sodium-native does not read SharedArrayBuffer-backed memory (it returns undefined): copy each argument out.
  const B = (x) => Buffer.from(x);
  verifyOne = (p, m, s) => sodium.crypto_sign_verify_detached(B(s), B(m), B(p));
} else {
  throw new Error("unknown engine " + engine);
}
function run(slot) {
  const d = ${DESC} + slot * ${DESC_WORDS};
  const n = ctl[d], bytes = ctl[d + 1], kind = ctl[d + 2] & 7, batch = (ctl[d + 2] & ${KIND_BATCH_FLAG}) !== 0;
  const base = slot * slotBytes;
  const offs = new Uint32Array(dataSab, base, n + 1);
  const keys = base + 4 * (n + 1), sigs = keys + 32 * n, digests = sigs + 64 * n, verdicts = digests + 32 * n, data = verdicts + n;
  const pks = mem.subarray(keys, sigs), sg = mem.subarray(sigs, digests), res = mem.subarray(verdicts, data);
  if (kind === ${KIND_ENCODED}) {
    if (verifyEncoded === null) throw new Error("engine " + engine + " has no verifyEncoded");
    verifyEncoded(pks, mem.subarray(data, data + bytes), offs, sg, mem.subarray(digests, verdicts), res, batch);
    return;
  }
  let msgs, msgAt;
  if (kind === ${KIND_MANY32}) {
    msgs = mem.subarray(data, data + 32 * n);
    msgAt = (i) => msgs.subarray(32 * i, 32 * i + 32);
  } else {
    msgs = [];
    for (let i = 0; i < n; i++) msgs.push(mem.subarray(data + offs[i], data + offs[i + 1]));
    msgAt = (i) => msgs[i];
  }
  if (batch && verifyBatch !== null && n > 1) {
    res.set(verifyBatch(pks, msgs, sg));
  } else {
    for (let i = 0; i < n; i++) res[i] = verifyOne(pks.subarray(32 * i, 32 * i + 32), msgAt(i), sg.subarray(64 * i, 64 * i + 64)) ? 1 : 0;
  }
}
parentPort.postMessage({ ready: true });
let seen = 0;
for (;;) {
  if (Atomics.load(ctl, ${REQ}) === seen) {
    Atomics.wait(ctl, ${REQ}, seen);
    continue;
  }
  const slot = seen % slots, d = ${DESC} + slot * ${DESC_WORDS};
  try {
    run(slot);
    ctl[d + 3] = 0;
  } catch (e) {
    const msg = Buffer.from(String((e && e.stack) || e)).subarray(0, slotBytes);
    mem.set(msg, slot * slotBytes);
    ctl[d + 1] = msg.length;
    ctl[d + 3] = 1;
  }
  seen = (seen + 1) | 0;
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface Job {
  /** Items in this job (load accounting). */
  readonly n: number;
  /** Bytes the job needs in a slot. */
  readonly bytes: number;
  /** Writes the job into a slot (u8 view of the whole data buffer, slot base) and returns the descriptor kind. */
  write(mem: Uint8Array, base: number): { kind: number; dataBytes: number };
  /** Reads results out of the slot (copying what the caller keeps). */
  finish(mem: Uint8Array, base: number): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  ctl: Int32Array;
  mem: Uint8Array;
  /** Jobs written into slots, oldest first (job k of the worker sits in slot k % SLOTS). */
  posted: Job[];
  /** Jobs waiting for a free slot. */
  queued: Job[];
  /** Requests written / completions read, as the control words count them (wrapping int32). */
  reqSeq: number;
  doneSeq: number;
  armed: boolean;
  /** Items in flight (least-loaded choice). */
  load: number;
  dead: boolean;
}

const inflightOf = (s: Slot): number => s.posted.length + s.queued.length;

function splitPlan(slots: readonly Slot[], n: number, minSplit: number, splitBusy: boolean): Slot[] {
  const live = slots.filter((s) => !s.dead);
  if (live.length === 0) throw new Error("verify pool has no live worker");
  live.sort((a, b) => a.load - b.load);
  const idle = splitBusy ? live : live.filter((s) => inflightOf(s) === 0);
  const parts = Math.max(1, Math.min(idle.length, Math.floor(n / minSplit)));
  return parts === 1 ? [live[0] as Slot] : idle.slice(0, parts);
}

/** Splits [0, n) into consecutive ranges whose packed size (`bytesOf(from, to)`) fits `limit`. */
function fitRanges(n: number, itemBytes: (i: number) => number, fixed: number, limit: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let from = 0;
  let size = fixed;
  for (let i = 0; i < n; i++) {
    const b = itemBytes(i);
    if (i > from && size + b > limit) {
      out.push([from, i]);
      from = i;
      size = fixed;
    }
    size += b;
  }
  if (from < n) out.push([from, n]);
  return out;
}

export class VerifyPool implements SignatureVerifier {
  readonly name: string;
  readonly threads: number;
  readonly batch: boolean;
  readonly slotBytes: number;
  private readonly engine: PoolEngine;
  private readonly minSplit: number;
  private readonly splitBusy: boolean;
  private readonly local: SignatureVerifier;
  private readonly sodiumPath: string | undefined;
  private readonly slots: Slot[] = [];
  private readonly idleListeners = new Set<() => void>();
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
    this.slotBytes = Math.max(64 * 1024, Math.ceil((options.slotBytes ?? 256 * 1024) / 8) * 8);
    this.sodiumPath = options.engine === "sodium" ? (options.sodiumPath ?? require.resolve("sodium-native")) : undefined;
    this.name = `pool-${this.engine}${this.engine === "native" ? (this.batch ? "-batch" : "-single") : ""}x${this.threads}`;
    if (this.engine === "native") this.verifyEncoded = (b) => this.encodedMany(b);
    const readies: Promise<void>[] = [];
    for (let i = 0; i < this.threads; i++) readies.push(this.spawn());
    this.ready = Promise.all(readies).then(() => undefined);
    this.ready.catch(() => undefined); // surfaced through verifyMany / explicit awaits
  }

  private spawn(at?: number): Promise<void> {
    const ctlSab = new SharedArrayBuffer(4 * (DESC + SLOTS * DESC_WORDS));
    const dataSab = new SharedArrayBuffer(SLOTS * this.slotBytes);
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { engine: this.engine, loader: NATIVE_LOADER, sodiumPath: this.sodiumPath, ctl: ctlSab, data: dataSab, slots: SLOTS, slotBytes: this.slotBytes },
    });
    const slot: Slot = { worker, ctl: new Int32Array(ctlSab), mem: new Uint8Array(dataSab), posted: [], queued: [], reqSeq: 0, doneSeq: 0, armed: false, load: 0, dead: false };
    if (at === undefined) this.slots.push(slot);
    else this.slots[at] = slot;
    worker.unref();
    const ready = new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("message", () => resolve());
    });
    worker.on("error", (err) => this.fail(slot, err));
    worker.on("exit", (code) => this.fail(slot, new Error(`verify worker exited with code ${code}`)));
    return ready;
  }

  /** Writes queued jobs into free slots and wakes the worker. */
  private pump(slot: Slot): void {
    let wrote = false;
    while (slot.queued.length > 0 && slot.posted.length < SLOTS) {
      const job = slot.queued.shift() as Job;
      const k = ((slot.reqSeq % SLOTS) + SLOTS) % SLOTS;
      const base = k * this.slotBytes;
      const { kind, dataBytes } = job.write(slot.mem, base);
      const d = DESC + k * DESC_WORDS;
      slot.ctl[d] = job.n;
      slot.ctl[d + 1] = dataBytes;
      slot.ctl[d + 2] = kind | (this.batch ? KIND_BATCH_FLAG : 0);
      slot.posted.push(job);
      slot.reqSeq = (slot.reqSeq + 1) | 0;
      Atomics.store(slot.ctl, REQ, slot.reqSeq);
      wrote = true;
    }
    if (wrote) {
      Atomics.notify(slot.ctl, REQ);
      this.arm(slot);
    }
  }

  /** Waits (asynchronously) for the worker's next completion. */
  private arm(slot: Slot): void {
    if (slot.armed || slot.dead || slot.posted.length === 0) return;
    slot.armed = true;
    const w = waitAsync(slot.ctl, DONE, slot.doneSeq);
    const after = (): void => {
      slot.armed = false;
      this.drain(slot);
    };
    if (w.async) (w.value as Promise<string>).then(after, after);
    else queueMicrotask(after);
  }

  /** Settles every job the worker has finished, then refills its slots. */
  private drain(slot: Slot): void {
    if (slot.dead) return;
    const done = Atomics.load(slot.ctl, DONE);
    while (slot.doneSeq !== done && slot.posted.length > 0) {
      const job = slot.posted.shift() as Job;
      const k = ((slot.doneSeq % SLOTS) + SLOTS) % SLOTS;
      const base = k * this.slotBytes;
      const d = DESC + k * DESC_WORDS;
      slot.doneSeq = (slot.doneSeq + 1) | 0;
      slot.load -= job.n;
      if (slot.ctl[d + 3] !== 0) {
        const msg = Buffer.from(slot.mem.subarray(base, base + (slot.ctl[d + 1] as number))).toString();
        job.reject(new Error(`verify worker failed: ${msg}`));
      } else {
        try {
          job.finish(slot.mem, base);
        } catch (err) {
          job.reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    }
    this.pump(slot);
    this.arm(slot);
    if (inflightOf(slot) === 0) {
      slot.worker.unref();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    for (const f of this.idleListeners) f();
  }

  /** A dead worker's jobs are rejected and the worker is replaced (unless the pool is closing). */
  private fail(slot: Slot, err: Error): void {
    if (slot.dead) return;
    slot.dead = true;
    const jobs = [...slot.posted, ...slot.queued];
    slot.posted = [];
    slot.queued = [];
    slot.load = 0;
    for (const job of jobs) job.reject(err);
    const at = this.slots.indexOf(slot);
    // The replacement is a free worker: tell waiting batchers once it is up.
    if (!this.closed && at >= 0) this.spawn(at).then(() => this.notifyIdle(), () => undefined);
  }

  private submit(slot: Slot, job: Job): void {
    if (inflightOf(slot) === 0) slot.worker.ref();
    slot.queued.push(job);
    slot.load += job.n;
    this.pump(slot);
  }

  /** True when some worker has nothing in flight (a batcher may then close its batch at once). */
  idle(): boolean {
    return this.slots.some((s) => !s.dead && inflightOf(s) === 0);
  }

  /** Calls `listener` whenever a worker runs out of work; returns a function that removes it. */
  onIdle(listener: () => void): () => void {
    this.idleListeners.add(listener);
    return () => this.idleListeners.delete(listener);
  }

  /** Jobs currently in flight across workers. */
  get inflight(): number {
    return this.slots.reduce((a, s) => a + inflightOf(s), 0);
  }

  verifyOne(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return this.local.verifyOne(publicKey, message, signature);
  }

  /** Splits `n` items across workers (idle ones only, unless splitBusy) and each part into slot-sized jobs. */
  private dispatch(n: number, itemBytes: (i: number) => number, makeJob: (from: number, to: number, done: () => void, fail: (e: Error) => void) => Job): Promise<void> {
    if (this.closed) return Promise.reject(new Error("verify pool is closed"));
    if (n === 0) return Promise.resolve();
    const order = splitPlan(this.slots, n, this.minSplit, this.splitBusy);
    const size = Math.ceil(n / order.length);
    const limit = this.slotBytes - 8;
    const fixed = 4;
    return new Promise<void>((resolve, reject) => {
      let open = 0;
      let failed = false;
      const done = (): void => {
        if (--open === 0 && !failed) resolve();
      };
      const fail = (e: Error): void => {
        if (!failed) {
          failed = true;
          reject(e);
        }
      };
      const parts: Array<[Slot, number, number]> = [];
      for (let p = 0; p < order.length; p++) {
        const from = p * size;
        const to = Math.min(n, from + size);
        if (to <= from) break;
        for (const [a, b] of fitRanges(to - from, (i) => itemBytes(from + i), fixed, limit)) parts.push([order[p] as Slot, from + a, from + b]);
      }
      open = parts.length;
      for (const [slot, a, b] of parts) this.submit(slot, makeJob(a, b, done, fail));
    });
  }

  async verifyMany(items: readonly SignatureItem[]): Promise<boolean[]> {
    if (this.closed) throw new Error("verify pool is closed");
    const out = new Array<boolean>(items.length).fill(false);
    const index = wellFormedIndex(items);
    const itemBytes = (i: number): number => 4 + 32 + 64 + 32 + 1 + (items[index[i] as number] as SignatureItem).message.length;
    // An item that cannot share a slot with anything is verified on this thread (same rule through `local`).
    const big = index.filter((_, k) => itemBytes(k) + 8 > this.slotBytes - 8);
    for (const i of big) {
      const it = items[i] as SignatureItem;
      out[i] = this.local.verifyOne(it.publicKey, it.message, it.signature);
    }
    const good = big.length === 0 ? index : index.filter((i) => !big.includes(i));
    await this.dispatch(good.length, (k) => 4 + 32 + 64 + 32 + 1 + (items[good[k] as number] as SignatureItem).message.length, (from, to, done, fail) => {
      const n = to - from;
      let msgBytes = 0;
      let all32 = true;
      for (let k = from; k < to; k++) {
        const len = (items[good[k] as number] as SignatureItem).message.length;
        msgBytes += len;
        if (len !== 32) all32 = false;
      }
      return {
        n,
        bytes: slotLayout(n, msgBytes).total,
        write(mem, base) {
          const L = slotLayout(n, msgBytes);
          const offs = new Uint32Array(mem.buffer, base, n + 1);
          let at = 0;
          for (let k = 0; k < n; k++) {
            const it = items[good[from + k] as number] as SignatureItem;
            mem.set(it.publicKey, base + L.keys + 32 * k);
            mem.set(it.signature, base + L.sigs + 64 * k);
            offs[k] = at;
            mem.set(it.message, base + L.data + at);
            at += it.message.length;
          }
          offs[n] = at;
          return { kind: all32 ? KIND_MANY32 : KIND_MANY, dataBytes: msgBytes };
        },
        finish(mem, base) {
          const v = base + slotLayout(n, 0).verdicts;
          for (let k = 0; k < n; k++) out[good[from + k] as number] = mem[v + k] === 1;
          done();
        },
        reject: fail,
      };
    });
    return out;
  }

  /**
   * Hash-and-verify (native engine only): each part of the batch is packed straight into a worker's slot (keys,
   * signatures, encodings); the worker computes BLAKE3 digests and ZIP-215 verdicts in one addon call in place.
   */
  private async encodedMany(b: EncodedBatch): Promise<EncodedResult> {
    if (this.closed) throw new Error("verify pool is closed");
    const n = b.keys.length;
    const digests: Uint8Array[] = new Array<Uint8Array>(n);
    const verdicts = new Uint8Array(n);
    if (n === 0) return { digests, verdicts };
    const digestBytes = new Uint8Array(32 * n);
    await this.dispatch(n, (i) => 4 + 32 + 64 + 32 + 1 + (b.encodings[i] as Uint8Array).length, (from, to, done, fail) => {
      const m = to - from;
      let dataBytes = 0;
      for (let i = from; i < to; i++) dataBytes += (b.encodings[i] as Uint8Array).length;
      return {
        n: m,
        bytes: slotLayout(m, dataBytes).total,
        write(mem, base) {
          const L = slotLayout(m, dataBytes);
          const offs = new Uint32Array(mem.buffer, base, m + 1);
          let at = 0;
          for (let k = 0; k < m; k++) {
            const i = from + k;
            mem.set(b.keys[i] as Uint8Array, base + L.keys + 32 * k);
            mem.set(b.signatures[i] as Uint8Array, base + L.sigs + 64 * k);
            const e = b.encodings[i] as Uint8Array;
            offs[k] = at;
            mem.set(e, base + L.data + at);
            at += e.length;
          }
          offs[m] = at;
          return { kind: KIND_ENCODED, dataBytes };
        },
        finish(mem, base) {
          const L = slotLayout(m, 0);
          digestBytes.set(mem.subarray(base + L.digests, base + L.digests + 32 * m), 32 * from);
          verdicts.set(mem.subarray(base + L.verdicts, base + L.verdicts + m), from);
          done();
        },
        reject: fail,
      };
    });
    for (let i = 0; i < n; i++) digests[i] = digestBytes.subarray(32 * i, 32 * i + 32);
    return { digests, verdicts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const jobs = this.slots.flatMap((s) => [...s.posted, ...s.queued]);
    for (const s of this.slots) {
      s.dead = true;
      s.posted = [];
      s.queued = [];
    }
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    for (const job of jobs) job.reject(new Error("verify pool closed"));
  }
}
