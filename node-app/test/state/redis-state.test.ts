/** The shared state in a real Redis: the same replay rule as the in-process window, and one vote log for all replicas. */
import { strict as assert } from "node:assert";
import fc from "fast-check";
import { Redis } from "ioredis";
import { ValidatorSet } from "../../src/consensus/validator-set";
import { VoteTally } from "../../src/consensus/vote-tally";
import { ReplayWindow } from "../../src/poi/replay";
import { RedisReplayGuard } from "../../src/state/replay-redis";
import { SharedTally } from "../../src/state/tally";
import { startRedis, type TestRedis } from "../support/redis";

const T = 1_700_000_000_000;
const nonce = (n: number) => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(12, n);
  return b;
};

describe("shared state in Redis", function () {
  this.timeout(60_000);
  let server: TestRedis;
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis(server.url);
    clients.push(c);
    return c;
  };
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await server.stop();
  });

  it("gives the same verdicts as the in-process window, item by item (property)", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ v: fc.constantFrom("a", "b", "c"), n: fc.nat({ max: 40 }), dt: fc.integer({ min: -31_000, max: 2_500 }), step: fc.nat({ max: 400 }) }), { minLength: 1, maxLength: 120 }),
        async (events) => {
          run++;
          const opts = { windowMs: 30_000, maxClockSkewMs: 2_000, maxEntriesPerValidator: 8 };
          const local = new ReplayWindow({ ...opts, maxEntries: 1_000_000 });
          const shared = new RedisReplayGuard(client(), { ...opts, prefix: `prop${run}:` });
          let now = T;
          for (const e of events) {
            now += e.step;
            const item = { validatorId: e.v, nonce: nonce(e.n), timestampMs: now + e.dt };
            const [want] = local.admitMany([item], now);
            const [got] = await shared.admitMany([item], now);
            assert.equal(got, want, JSON.stringify({ e, now }));
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("admits a nonce once across two replicas racing on it", async () => {
    const a = new RedisReplayGuard(client(), { windowMs: 30_000, maxClockSkewMs: 2_000, maxEntriesPerValidator: 1_000, prefix: "race:" });
    const b = new RedisReplayGuard(client(), { windowMs: 30_000, maxClockSkewMs: 2_000, maxEntriesPerValidator: 1_000, prefix: "race:" });
    const items = Array.from({ length: 200 }, (_, i) => ({ validatorId: "v", nonce: nonce(i), timestampMs: T }));
    const [ra, rb] = await Promise.all([a.admitMany(items, T), b.admitMany(items, T)]);
    for (let i = 0; i < items.length; i++) assert.deepEqual([ra[i], rb[i]].sort(), ["ok", "replayed"], `item ${i}`);
  });

  it("applies one vote log in one order on every replica, including one started later", async () => {
    const set = () => new ValidatorSet([{ id: "v1", weight: 1 }, { id: "v2", weight: 1 }, { id: "v3", weight: 1 }]);
    const r1 = new SharedTally(new VoteTally(set()), client(), "votes-test");
    const r2 = new SharedTally(new VoteTally(set()), client(), "votes-test");
    const h1 = "11".repeat(32);
    const h2 = "22".repeat(32);
    assert.deepEqual(await r1.addVote({ validatorId: "v1", slot: 5, blockHash: h1 }), { accepted: true, duplicate: false });
    assert.deepEqual(await r2.addVote({ validatorId: "v2", slot: 5, blockHash: h1 }), { accepted: true, duplicate: false });
    const eq = await r2.addVote({ validatorId: "v1", slot: 5, blockHash: h2 });
    assert.equal(eq.accepted ? "accepted" : eq.reason, "equivocation", "r2 sees r1's earlier vote");
    const late = new SharedTally(new VoteTally(set()), client(), "votes-test");
    for (const r of [r1, r2, late]) assert.deepEqual(await r.finalityOf(h1), await r1.finalityOf(h1));
    assert.equal((await late.finalityOf(h1))?.supportWeight, 1, "v1 equivocated: only v2's vote counts, everywhere");
  });
});
