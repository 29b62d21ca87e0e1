/**
 * Coalesces many small `verifyMany` calls (e.g. one per HTTP request, each from `AttestationVerifier.verify`) into
 * batches for an inner backend, with a bounded wait.
 *
 * A batch closes when the first of these happens:
 *   - it holds `maxItems` items (flushed synchronously, in the call that filled it);
 *   - `maxWaitMicros` have passed since its first item arrived;
 *   - adaptive window (`flushWhenIdle`, default on, with an inner backend that reports `idle()` and `onIdle()`, as
 *     `VerifyPool` does): when a worker is free the batch closes at the end of the current event-loop turn (a short
 *     queue waits only for the requests already read in this turn); when every worker is busy it closes the moment
 *     one runs out of work (in the pool's completion callback, no polling), so under load batches grow by
 *     themselves towards `maxItems`. `maxWaitMicros` does not apply here: a batch flushed to a busy worker would
 *     only wait in that worker's queue instead;
 *   - otherwise: `maxWaitMicros` have passed since its first item arrived, or (`flushWhenIdle`) `idle()` is not
 *     false at an event-loop turn. Deadlines below 2 ms are polled with setImmediate (timers have millisecond
 *     resolution); longer ones use a timer.
 * Every caller gets exactly its own results, in order; an invalid item costs honest items nothing but time, because
 * the inner backend answers per item.
 */
import type { EncodedBatch, EncodedResult, SignatureItem, SignatureVerifier } from "../signature";

export interface BatchingOptions {
  /** Close a batch at this many items (default 256). */
  readonly maxItems?: number;
  /** Close a batch this long after its first item arrived, in microseconds (default 200). */
  readonly maxWaitMicros?: number;
  /** Flush early when the inner backend has spare capacity (default true). */
  readonly flushWhenIdle?: boolean;
}

interface Waiter {
  readonly items: readonly SignatureItem[];
  resolve(out: boolean[]): void;
  reject(err: unknown): void;
}

interface EncodedWaiter {
  readonly batch: EncodedBatch;
  resolve(out: EncodedResult): void;
  reject(err: unknown): void;
}

type Inner = SignatureVerifier & { idle?(): boolean; onIdle?(listener: () => void): () => void };

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export class BatchingVerifier implements SignatureVerifier {
  readonly name: string;
  readonly maxItems: number;
  readonly maxWaitMicros: number;
  readonly flushWhenIdle: boolean;
  private queue: Waiter[] = [];
  private encQueue: EncodedWaiter[] = [];
  private count = 0;
  /**
   * Hash-and-verify, coalesced like verifyMany (present only when the inner backend has it): the batch's parallel
   * arrays are concatenated (references only) and the inner backend packs them once.
   */
  readonly verifyEncoded?: (batch: EncodedBatch) => Promise<EncodedResult>;
  private deadline = 0;
  private scheduled = false;
  /** Removes the pending idle subscription (adaptive window), when there is one. */
  private unsubscribe: (() => void) | undefined;
  /** Batches handed to the inner backend, and items in them (for tests and metrics). */
  batches = 0;
  batchedItems = 0;

  constructor(
    readonly inner: Inner,
    options: BatchingOptions = {},
  ) {
    this.maxItems = Math.max(1, Math.floor(options.maxItems ?? 256));
    this.maxWaitMicros = Math.max(0, options.maxWaitMicros ?? 200);
    this.flushWhenIdle = options.flushWhenIdle ?? true;
    this.name = `batched(${inner.name}, ${this.maxItems} items / ${this.maxWaitMicros} us)`;
    if (typeof inner.verifyEncoded === "function") {
      this.verifyEncoded = (batch) => {
        if (batch.keys.length === 0) return Promise.resolve({ digests: [], verdicts: new Uint8Array(0) });
        return new Promise<EncodedResult>((resolve, reject) => {
          this.enqueued();
          this.encQueue.push({ batch, resolve, reject });
          this.added(batch.keys.length);
        });
      };
    }
  }

  private enqueued(): void {
    if (this.queue.length === 0 && this.encQueue.length === 0) this.deadline = nowMicros() + this.maxWaitMicros;
  }

  private added(n: number): void {
    this.count += n;
    if (this.count >= this.maxItems) this.flush();
    else this.schedule();
  }

  verifyOne(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    return this.inner.verifyOne(publicKey, message, signature);
  }

  verifyMany(items: readonly SignatureItem[]): Promise<boolean[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<boolean[]>((resolve, reject) => {
      this.enqueued();
      this.queue.push({ items, resolve, reject });
      this.added(items.length);
    });
  }

  /** Closes the open batch now. */
  flush(): void {
    this.count = 0;
    if (this.unsubscribe !== undefined) {
      this.unsubscribe();
      this.unsubscribe = undefined;
      this.scheduled = false;
    }
    if (this.encQueue.length > 0) this.flushEncoded();
    if (this.queue.length === 0) return;
    const waiters = this.queue;
    this.queue = [];
    const all: SignatureItem[] = waiters.length === 1 ? (waiters[0] as Waiter).items.slice() : [];
    if (waiters.length > 1) for (const w of waiters) for (const it of w.items) all.push(it);
    this.batches++;
    this.batchedItems += all.length;
    let result: boolean[] | Promise<boolean[]>;
    try {
      result = this.inner.verifyMany(all);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    Promise.resolve(result).then(
      (out) => {
        if (out.length !== all.length) {
          const err = new Error("inner backend returned the wrong number of results");
          for (const w of waiters) w.reject(err);
          return;
        }
        let at = 0;
        for (const w of waiters) {
          w.resolve(out.slice(at, at + w.items.length));
          at += w.items.length;
        }
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }

  private flushEncoded(): void {
    const waiters = this.encQueue;
    this.encQueue = [];
    let all: EncodedBatch;
    if (waiters.length === 1) all = (waiters[0] as EncodedWaiter).batch;
    else {
      const keys: Uint8Array[] = [];
      const signatures: Uint8Array[] = [];
      const encodings: Uint8Array[] = [];
      for (const w of waiters) {
        const b = w.batch;
        for (let i = 0; i < b.keys.length; i++) {
          keys.push(b.keys[i] as Uint8Array);
          signatures.push(b.signatures[i] as Uint8Array);
          encodings.push(b.encodings[i] as Uint8Array);
        }
      }
      all = { keys, signatures, encodings };
    }
    const n = all.keys.length;
    this.batches++;
    this.batchedItems += n;
    let result: EncodedResult | Promise<EncodedResult>;
    try {
      result = (this.inner.verifyEncoded as (b: EncodedBatch) => EncodedResult | Promise<EncodedResult>)(all);
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    Promise.resolve(result).then(
      (out) => {
        if (out.digests.length !== n || out.verdicts.length !== n) {
          const err = new Error("inner backend returned the wrong number of results");
          for (const w of waiters) w.reject(err);
          return;
        }
        if (waiters.length === 1) return (waiters[0] as EncodedWaiter).resolve(out);
        let at = 0;
        for (const w of waiters) {
          const m = w.batch.keys.length;
          w.resolve({ digests: out.digests.slice(at, at + m), verdicts: out.verdicts.subarray(at, at + m) });
          at += m;
        }
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const inner = this.inner;
    if (this.flushWhenIdle && typeof inner.onIdle === "function" && typeof inner.idle === "function") {
      const fire = (): void => {
        this.scheduled = false;
        this.unsubscribe?.();
        this.unsubscribe = undefined;
        if (this.queue.length > 0 || this.encQueue.length > 0) this.flush();
      };
      if (inner.idle()) setImmediate(fire);
      else this.unsubscribe = inner.onIdle(fire);
      return;
    }
    if (this.maxWaitMicros >= 2000 && !this.flushWhenIdle) {
      setTimeout(() => {
        this.scheduled = false;
        this.flush();
      }, Math.floor(this.maxWaitMicros / 1000));
      return;
    }
    const check = (): void => {
      if (this.queue.length === 0 && this.encQueue.length === 0) {
        this.scheduled = false;
        return;
      }
      if (nowMicros() >= this.deadline || (this.flushWhenIdle && this.inner.idle?.() !== false)) {
        this.scheduled = false;
        this.flush();
        return;
      }
      setImmediate(check);
    };
    setImmediate(check);
  }
}
