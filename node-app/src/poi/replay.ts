/**
 * Replay window: accepts an attestation's (validatorId, nonce) at most once.
 *
 * Rule, with `now` the local clock:
 *   stale    if timestampMs < now - windowMs, or timestampMs > now + maxClockSkewMs, or timestampMs <= floorMs
 *   replayed if (validatorId, nonce) was accepted before and is still remembered
 *   ok       otherwise, and the pair is remembered until its timestamp leaves the window.
 *
 * Memory is bounded by `maxEntries`. When full, the entry with the OLDEST timestamp is forgotten and `floorMs`
 * rises to that timestamp, so anything as old as a forgotten entry is refused as stale: under a flood of unique
 * nonces the effective window shrinks, but a replay is never accepted.
 */

export interface ReplayWindowOptions {
  /** How far in the past a timestamp may lie (default 30 000 ms). */
  readonly windowMs?: number;
  /** How far in the future a timestamp may lie, for clock skew between nodes (default 2 000 ms). */
  readonly maxClockSkewMs?: number;
  /** Most (validatorId, nonce) pairs remembered at once (default 100 000). */
  readonly maxEntries?: number;
}

export type ReplayVerdict = "ok" | "stale" | "replayed";

interface Entry {
  readonly validatorId: string;
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

export class ReplayWindow {
  readonly windowMs: number;
  readonly maxClockSkewMs: number;
  readonly maxEntries: number;
  /** validatorId -> (nonce as a binary string -> timestamp). Binary keys: no hex encoding, no key concatenation. */
  private readonly seen = new Map<string, Map<string, number>>();
  private count = 0;
  private readonly byAge = new MinHeap();
  private floor = -1;

  constructor(options: ReplayWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 30_000;
    this.maxClockSkewMs = options.maxClockSkewMs ?? 2_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    for (const [k, v] of Object.entries({ windowMs: this.windowMs, maxClockSkewMs: this.maxClockSkewMs })) {
      if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${k} must be a non-negative integer`);
    }
    if (!Number.isSafeInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new RangeError("maxEntries must be a positive integer");
    }
  }

  /** Number of remembered pairs (never above maxEntries). */
  get size(): number {
    return this.count;
  }

  /** Timestamps at or below this are refused as stale because evidence about them was dropped. */
  get floorMs(): number {
    return this.floor;
  }

  /** Classifies without remembering anything. */
  peek(validatorId: string, nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict {
    this.expire(now);
    if (timestampMs < now - this.windowMs || timestampMs > now + this.maxClockSkewMs || timestampMs <= this.floor) {
      return "stale";
    }
    return this.seen.get(validatorId)?.has(nonceKey(nonce)) === true ? "replayed" : "ok";
  }

  /** Classifies and, when the verdict is "ok", remembers the pair. */
  admit(validatorId: string, nonce: Uint8Array, timestampMs: number, now: number): ReplayVerdict {
    const verdict = this.peek(validatorId, nonce, timestampMs, now);
    if (verdict !== "ok") return verdict;
    while (this.count >= this.maxEntries) {
      const evicted = this.byAge.pop();
      if (evicted === undefined) break;
      this.forget(evicted);
      this.floor = Math.max(this.floor, evicted.timestampMs);
    }
    if (timestampMs <= this.floor) return "stale"; // evicting just now may have raised the floor past us
    const key = nonceKey(nonce);
    let forValidator = this.seen.get(validatorId);
    if (forValidator === undefined) {
      forValidator = new Map<string, number>();
      this.seen.set(validatorId, forValidator);
    }
    forValidator.set(key, timestampMs);
    this.count++;
    this.byAge.push({ validatorId, nonce: key, timestampMs });
    return "ok";
  }

  /** Forgets pairs whose timestamp left the window: they would be refused as stale anyway. */
  private expire(now: number): void {
    const oldest = now - this.windowMs;
    for (let top = this.byAge.peek(); top !== undefined && top.timestampMs < oldest; top = this.byAge.peek()) {
      this.byAge.pop();
      this.forget(top);
    }
  }

  private forget(e: Entry): void {
    const forValidator = this.seen.get(e.validatorId);
    if (forValidator === undefined || !forValidator.delete(e.nonce)) return;
    this.count--;
    if (forValidator.size === 0) this.seen.delete(e.validatorId);
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
