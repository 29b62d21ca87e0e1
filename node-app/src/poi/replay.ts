/**
 * Replay window: accepts an attestation's (validatorId, nonce) at most once.
 *
 * Rule, with `now` the local clock and `floor(v)` validator v's floor (below):
 *   stale    if timestampMs < now - windowMs, or timestampMs > now + maxClockSkewMs, or timestampMs <= floor(v)
 *   replayed if (validatorId, nonce) was accepted before and is still remembered
 *   ok       otherwise, and the pair is remembered until its timestamp leaves the window.
 *
 * Memory is bounded by `maxEntries` in all and `maxEntriesPerValidator` per validator. When a bound is reached, the
 * validator that holds the MOST entries (for the per-validator bound: the one admitting) forgets its OLDEST entry and
 * only ITS floor rises to that timestamp: under a flood the flooding validator's own window shrinks, but one
 * validator's traffic (or future-dated timestamps, which the skew bound keeps within maxClockSkewMs) never evicts
 * another's entries while it holds fewer, and a replay is never accepted.
 */

export interface ReplayWindowOptions {
  /** How far in the past a timestamp may lie (default 30 000 ms). */
  readonly windowMs?: number;
  /** How far in the future a timestamp may lie, for clock skew between nodes (default 2 000 ms). */
  readonly maxClockSkewMs?: number;
  /** Most (validatorId, nonce) pairs remembered at once (default 100 000). */
  readonly maxEntries?: number;
  /** Most pairs remembered for one validator (default: maxEntries). */
  readonly maxEntriesPerValidator?: number;
}

export type ReplayVerdict = "ok" | "stale" | "replayed";

interface Entry {
  /** The nonce as a 16-character binary (latin1) string. */
  readonly nonce: string;
  readonly timestampMs: number;
}

/** Binary min-heap by timestamp: the next entry to expire or to evict sits on top. */
class MinHeap {
  private readonly items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Entry | undefined {
    return this.items[0];
  }
  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as Entry).timestampMs <= e.timestampMs) break;
      a[i] = a[parent] as Entry;
      i = parent;
    }
    a[i] = e;
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mTs = last.timestampMs;
      if (l < a.length && (a[l] as Entry).timestampMs < mTs) {
        m = l;
        mTs = (a[l] as Entry).timestampMs;
      }
      if (r < a.length && (a[r] as Entry).timestampMs < mTs) m = r;
      if (m === i) break;
      a[i] = a[m] as Entry;
      i = m;
    }
    a[i] = last;
    return top;
  }
}

/** One item for `admitMany`. */
export interface ReplayItem {
  readonly validatorId: string;
  readonly nonce: Uint8Array;
  readonly timestampMs: number;
}

/** Replay protection as the verifier uses it: this process's window, or a store shared by all replicas. */
export interface ReplayGuard {
  readonly windowMs: number;
  readonly maxClockSkewMs: number;
  /** Classifies without remembering (may answer "ok" for what `admitMany` then refuses). */
  peek(validatorId: string, nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict;
  /** Classifies each item in order and remembers the "ok" ones (a duplicate later in the list is "replayed"). */
  admitMany(items: readonly ReplayItem[], now: number): ReplayVerdict[] | Promise<ReplayVerdict[]>;
}

interface PerValidator {
  /** nonce as a binary string -> timestamp */
  readonly seen: Map<string, number>;
  readonly byAge: MinHeap;
  floor: number;
}

export class ReplayWindow implements ReplayGuard {
  readonly windowMs: number;
  readonly maxClockSkewMs: number;
  readonly maxEntries: number;
  readonly maxEntriesPerValidator: number;
  /** Binary nonce keys: no hex encoding, no key concatenation. */
  private readonly validators = new Map<string, PerValidator>();
  private count = 0;
  private lastExpiry = -Infinity;

  constructor(options: ReplayWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 30_000;
    this.maxClockSkewMs = options.maxClockSkewMs ?? 2_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxEntriesPerValidator = options.maxEntriesPerValidator ?? this.maxEntries;
    for (const [k, v] of Object.entries({ windowMs: this.windowMs, maxClockSkewMs: this.maxClockSkewMs })) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${k} must be a non-negative integer`);
    }
    for (const [k, v] of Object.entries({ maxEntries: this.maxEntries, maxEntriesPerValidator: this.maxEntriesPerValidator })) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer`);
    }
  }

  /** Number of remembered pairs (never above maxEntries). */
  get size(): number {
    return this.count;
  }

  /** Validator v's timestamps at or below this are refused as stale because evidence about them was dropped. */
  floorOf(validatorId: string): number {
    return this.validators.get(validatorId)?.floor ?? -1;
  }

  /** Pairs remembered for one validator. */
  sizeOf(validatorId: string): number {
    return this.validators.get(validatorId)?.seen.size ?? 0;
  }

  /** Classifies without remembering anything. */
  peek(validatorId: string, nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict {
    this.expire(now);
    const v = this.validators.get(validatorId);
    if (timestampMs < now - this.windowMs || timestampMs > now + this.maxClockSkewMs || timestampMs <= (v?.floor ?? -1)) {
      return "stale";
    }
    return v?.seen.has(nonceKey(nonce)) === true ? "replayed" : "ok";
  }

  admitMany(items: readonly ReplayItem[], now: number): ReplayVerdict[] {
    return items.map((i) => this.admit(i.validatorId, i.nonce, i.timestampMs, now));
  }

  /** Classifies and, when the verdict is "ok", remembers the pair. */
  admit(validatorId: string, nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict {
    const verdict = this.peek(validatorId, nonce, timestampMs, now);
    if (verdict !== "ok") return verdict;
    let own = this.validators.get(validatorId);
    if (own === undefined) {
      own = { seen: new Map(), byAge: new MinHeap(), floor: -1 };
      this.validators.set(validatorId, own);
    }
    while (own.seen.size >= this.maxEntriesPerValidator && this.evictOldest(own)) {
      /* the admitting validator pays for its own quota */
    }
    while (this.count >= this.maxEntries) {
      const largest = this.largest();
      if (largest === undefined || !this.evictOldest(largest)) break;
    }
    if (timestampMs <= own.floor) return "stale"; // evicting just now may have raised the floor past us
    const key = nonceKey(nonce);
    own.seen.set(key, timestampMs);
    this.count++;
    own.byAge.push({ nonce: key, timestampMs });
    return "ok";
  }

  /** The validator holding the most entries (ties: the first found). */
  private largest(): PerValidator | undefined {
    let best: PerValidator | undefined;
    for (const v of this.validators.values()) if (best === undefined || v.seen.size > best.seen.size) best = v;
    return best;
  }

  private evictOldest(v: PerValidator): boolean {
    const evicted = v.byAge.pop();
    if (evicted === undefined) return false;
    if (v.seen.delete(evicted.nonce)) this.count--;
    v.floor = Math.max(v.floor, evicted.timestampMs);
    return true;
  }

  /** Forgets pairs whose timestamp left the window: they would be refused as stale anyway. */
  private expire(now: number): void {
    if (now === this.lastExpiry) return;
    this.lastExpiry = now;
    const oldest = now - this.windowMs;
    for (const [id, v] of this.validators) {
      for (let top = v.byAge.peek(); top !== undefined && top.timestampMs < oldest; top = v.byAge.peek()) {
        v.byAge.pop();
        if (v.seen.delete(top.nonce)) this.count--;
      }
      if (v.seen.size === 0 && v.floor < oldest) this.validators.delete(id);
    }
  }
}

/** The nonce as a binary string, one char per byte (16 chars for the 16-byte nonces of attestations). */
function nonceKey(nonce: Uint8Array): string {
  if (nonce.length === 16) {
    const n = nonce as unknown as number[];
    return String.fromCharCode(n[0]!, n[1]!, n[2]!, n[3]!, n[4]!, n[5]!, n[6]!, n[7]!, n[8]!, n[9]!, n[10]!, n[11]!, n[12]!, n[13]!, n[14]!, n[15]!);
  }
  return Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString("latin1");
}
