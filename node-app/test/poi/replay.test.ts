import { strict as assert } from "node:assert";
import fc from "fast-check";
import { ReplayWindow } from "../../src/poi";

const nonce = (n: number) => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(12, n);
  return b;
};
const T = 1_700_000_000_000;

describe("replay window", () => {
  it("defaults to a 30 s window", () => {
    assert.equal(new ReplayWindow().windowMs, 30_000);
  });

  it("accepts once, then names the replay", () => {
    const w = new ReplayWindow();
    assert.equal(w.admit("v1", nonce(1), T, T), "ok");
    assert.equal(w.admit("v1", nonce(1), T, T + 10), "replayed");
    assert.equal(w.admit("v2", nonce(1), T, T + 10), "ok"); // nonces are per validator
  });

  it("refuses timestamps outside [now - window, now + skew] as stale, boundaries included as written", () => {
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000 });
    assert.equal(w.admit("v", nonce(1), T - 30_000, T), "ok");
    assert.equal(w.admit("v", nonce(2), T - 30_001, T), "stale");
    assert.equal(w.admit("v", nonce(3), T + 2_000, T), "ok");
    assert.equal(w.admit("v", nonce(4), T + 2_001, T), "stale");
  });

  it("forgets expired pairs; an old replay is then stale, never ok", () => {
    const w = new ReplayWindow({ windowMs: 1_000, maxClockSkewMs: 0 });
    w.admit("v", nonce(1), T, T);
    assert.equal(w.admit("v", nonce(2), T + 5_000, T + 5_000), "ok");
    assert.equal(w.size, 1);
    assert.equal(w.admit("v", nonce(1), T, T + 5_000), "stale");
  });

  it("stays bounded under a flood and never admits the same attestation twice (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ n: fc.nat({ max: 300 }), dt: fc.integer({ min: -3_000, max: 500 }), step: fc.nat({ max: 50 }) }), { minLength: 1, maxLength: 600 }),
        (events) => {
          const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000, maxEntries: 64 });
          const admitted = new Set<string>();
          const sent: { n: number; ts: number }[] = [];
          let now = T;
          for (const e of events) {
            now += e.step;
            // half the time, resend something already sent (a replay attempt)
            const again = e.n % 2 === 0 ? sent[e.n % Math.max(1, sent.length)] : undefined;
            const n = again?.n ?? e.n;
            const ts = again?.ts ?? now + e.dt;
            sent.push({ n, ts });
            if (w.admit("v", nonce(n), ts, now) === "ok") {
              const key = `${n}/${ts}`;
              assert.ok(!admitted.has(key), `attestation ${key} admitted twice`);
              admitted.add(key);
            }
            assert.ok(w.size <= 64);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("under a flood, an evicted pair is refused as stale (the floor rises), not accepted", () => {
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000, maxEntries: 10 });
    assert.equal(w.admit("v", nonce(0), T - 1_000, T), "ok");
    for (let i = 1; i <= 100; i++) assert.equal(w.admit("v", nonce(i), T + i, T), "ok");
    assert.equal(w.size, 10);
    assert.ok(w.floorOf("v") >= T - 1_000);
    assert.equal(w.admit("v", nonce(0), T - 1_000, T), "stale");
  });

  it("one validator's flood of future-dated attestations does not make an honest validator's attestation stale", () => {
    // the attack: cache of 1000, 1100 attestations by "flooder" dated at the edge of the skew, then "honest" at 1.3 s old
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000, maxEntries: 1_000 });
    assert.equal(w.admit("honest", nonce(9_999), T - 5_000, T), "ok");
    for (let i = 0; i < 1_100; i++) w.admit("flooder", nonce(i), T + 2_000, T);
    assert.ok(w.size <= 1_000);
    assert.equal(w.floorOf("honest"), -1, "the honest validator's floor did not move");
    assert.equal(w.admit("honest", nonce(1), T - 1_300, T), "ok");
    assert.equal(w.admit("honest", nonce(9_999), T - 5_000, T), "replayed", "and its remembered nonce is still remembered");
    assert.ok(w.floorOf("flooder") >= T + 2_000 - 1, "the flooder pays with its own window");
  });

  it("caps each validator at maxEntriesPerValidator, evicting only its own oldest entries", () => {
    const w = new ReplayWindow({ windowMs: 30_000, maxClockSkewMs: 2_000, maxEntries: 100, maxEntriesPerValidator: 10 });
    for (let i = 0; i < 5; i++) assert.equal(w.admit("a", nonce(i), T - 100 + i, T), "ok");
    for (let i = 0; i < 50; i++) assert.equal(w.admit("b", nonce(i), T + i, T), "ok");
    assert.deepEqual([w.sizeOf("a"), w.sizeOf("b"), w.floorOf("a")], [5, 10, -1]);
    assert.equal(w.admit("b", nonce(0), T, T), "stale", "b's evicted entry is refused, never re-admitted");
  });

  it("refuses bad bounds by name", () => {
    assert.throws(() => new ReplayWindow({ maxEntriesPerValidator: 0 }), /maxEntriesPerValidator must be a positive integer/);
    assert.throws(() => new ReplayWindow({ maxEntries: 1.5 }), /maxEntries must be a positive integer/);
  });
});
