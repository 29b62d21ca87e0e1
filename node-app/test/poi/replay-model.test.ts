/**
 * The replay window against a model of its documented rule (replay.ts header): a plain list of remembered
 * (validator, nonce, timestamp) entries and a floor per validator. Under either bound the validator that pays forgets
 * its OLDEST entry and only its floor rises to that timestamp; entries leave when their timestamp leaves the window.
 */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ReplayWindow, type ReplayVerdict } from "../../src/poi";

const T = 1_700_000_000_000;
const nonce = (n: number) => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(12, n);
  return b;
};

/** The rule written out plainly: O(n) lists instead of heaps. */
class Model {
  readonly entries = new Map<string, { nonce: number; ts: number }[]>();
  readonly floors = new Map<string, number>();
  constructor(
    private readonly o: { windowMs: number; maxClockSkewMs: number; maxEntries: number; maxEntriesPerValidator: number },
  ) {}
  private total(): number {
    let n = 0;
    for (const list of this.entries.values()) n += list.length;
    return n;
  }
  private floor(v: string): number {
    return this.floors.get(v) ?? -1;
  }
  private evictOldest(v: string): boolean {
    const list = this.entries.get(v) ?? [];
    if (list.length === 0) return false;
    let at = 0;
    for (let i = 1; i < list.length; i++) if (list[i]!.ts < list[at]!.ts) at = i;
    const [gone] = list.splice(at, 1);
    this.floors.set(v, Math.max(this.floor(v), gone!.ts));
    return true;
  }
  private expire(now: number): void {
    const oldest = now - this.o.windowMs;
    for (const [v, list] of this.entries) {
      this.entries.set(v, list.filter((e) => e.ts >= oldest));
      if (this.entries.get(v)!.length === 0 && this.floor(v) < oldest) {
        this.entries.delete(v);
        this.floors.delete(v);
      }
    }
  }
  admit(v: string, n: number, ts: number, now: number): ReplayVerdict {
    this.expire(now);
    if (ts < now - this.o.windowMs || ts > now + this.o.maxClockSkewMs || ts <= this.floor(v)) return "stale";
    if ((this.entries.get(v) ?? []).some((e) => e.nonce === n)) return "replayed";
    if (!this.entries.has(v)) this.entries.set(v, []);
    while (this.entries.get(v)!.length >= this.o.maxEntriesPerValidator && this.evictOldest(v)) {
      /* the admitting validator pays */
    }
    while (this.total() >= this.o.maxEntries) {
      let largest: string | undefined;
      for (const [id, list] of this.entries) if (largest === undefined || list.length > this.entries.get(largest)!.length) largest = id;
      if (largest === undefined || !this.evictOldest(largest)) break;
    }
    if (ts <= this.floor(v)) return "stale";
    this.entries.get(v)!.push({ nonce: n, ts });
    return "ok";
  }
  sizeOf(v: string): number {
    return this.entries.get(v)?.length ?? 0;
  }
}

describe("replay window against its rule written out (model-based)", () => {
  it("same verdicts, floors and sizes as the model for random admissions with both bounds reached", () => {
    const op = fc.record({
      v: fc.constantFrom("a", "b", "c"),
      n: fc.integer({ min: 0, max: 40 }),
      // timestamps around `now`, some outside the window or beyond the skew
      dt: fc.integer({ min: -1_300, max: 300 }),
      // the clock moves forward in small steps, sometimes not at all
      step: fc.constantFrom(0, 0, 1, 7, 250),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 6 }), (ops, maxEntries, perValidator) => {
        const o = { windowMs: 1_000, maxClockSkewMs: 200, maxEntries, maxEntriesPerValidator: perValidator };
        const w = new ReplayWindow(o);
        const m = new Model(o);
        let now = T;
        for (const [i, { v, n, dt, step }] of ops.entries()) {
          now += step;
          assert.equal(w.admit(v, nonce(n), now + dt, now), m.admit(v, n, now + dt, now), `op ${i}`);
          for (const id of ["a", "b", "c"]) {
            assert.equal(w.floorOf(id), m.floors.get(id) ?? -1, `floor of ${id} after op ${i}`);
            assert.equal(w.sizeOf(id), m.sizeOf(id), `size of ${id} after op ${i}`);
          }
          assert.ok(w.size <= maxEntries);
        }
      }),
      { seed: 1_906, numRuns: 300 },
    );
  });

  it("a validator whose entries and floor have left the window is forgotten: its floor is -1 again", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxEntriesPerValidator: 1 });
    assert.equal(w.admit("a", nonce(1), T, T), "ok");
    assert.equal(w.admit("a", nonce(2), T + 10, T + 10), "ok");
    assert.deepEqual([w.floorOf("a"), w.sizeOf("a"), w.size], [T, 1, 1], "the first entry was evicted, the floor is its timestamp");
    assert.equal(w.peek("a", nonce(3), T + 1_011, T + 1_011), "ok");
    assert.deepEqual([w.floorOf("a"), w.sizeOf("a"), w.size], [-1, 0, 0]);
  });

  it("peek remembers nothing; admitMany classifies in order, a later duplicate is replayed", () => {
    const w = new ReplayWindow();
    assert.equal(w.peek("a", nonce(1), T, T), "ok");
    assert.equal(w.size, 0);
    assert.deepEqual(w.admitMany([{ validatorId: "a", nonce: nonce(1), timestampMs: T }, { validatorId: "a", nonce: nonce(1), timestampMs: T }, { validatorId: "a", nonce: nonce(2), timestampMs: T - 40_000 }], T), ["ok", "replayed", "stale"]);
    assert.equal(w.peek("a", nonce(1), T, T), "replayed");
  });

  it("nonces of any length are told apart byte by byte", () => {
    const w = new ReplayWindow();
    assert.equal(w.admit("a", new Uint8Array([1, 2, 3]), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array([1, 2, 3]), T, T), "replayed");
    assert.equal(w.admit("a", new Uint8Array([1, 2, 4]), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array([1, 2]), T, T), "ok");
    const n16 = nonce(5);
    assert.equal(w.admit("a", n16.subarray(0), T, T), "ok");
    assert.equal(w.admit("a", new Uint8Array([...n16]), T, T), "replayed");
  });
});
