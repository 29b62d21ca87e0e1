/**
 * What the shared state costs: attestations/s through the full verification path (decode, BLAKE3, Ed25519 through
 * the fast backend, replay admission) with the replay window in this process versus in Redis (one Lua call per batch),
 * in one run, alternating rounds so machine load hits both alike. Prints medians over the rounds.
 *
 *   npx ts-node --transpile-only bench/shared-state.ts [rounds=7] [batches=200] [batchSize=256]
 *
 * Needs `redis-server` on PATH (started here on a free loopback port, stopped at the end).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { ATTESTATION_VERSION, payloadDigest } from "../src/poi/attestation";
import { createSignatureBackend } from "../src/poi/fast";
import { ReplayWindow, type ReplayGuard } from "../src/poi/replay";
import { publicKeyOf } from "../src/poi/signature";
import { AttestationVerifier, signAttestation, type SignedAttestation } from "../src/poi/verify";
import { RedisReplayGuard } from "../src/state/replay-redis";
import { startRedis } from "../test/support/redis";

const [rounds = 7, batches = 200, batchSize = 256] = process.argv.slice(2).map(Number);
const VALIDATORS = 16;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

async function main(): Promise<void> {
  const seeds = Array.from({ length: VALIDATORS }, () => new Uint8Array(randomBytes(32)));
  const keys = new Map(seeds.map((s, i) => [`v${i}`, publicKeyOf(s)]));
  const now = Date.now();
  const make = (n: number): SignedAttestation[][] => {
    const out: SignedAttestation[][] = [];
    for (let b = 0; b < n; b++) {
      const batch: SignedAttestation[] = [];
      for (let i = 0; i < batchSize; i++) {
        const v = (b * batchSize + i) % VALIDATORS;
        const a = signAttestation(
          { version: ATTESTATION_VERSION, validatorId: `v${v}`, epoch: 1, slot: b, payloadDigest: payloadDigest(new Uint8Array([i])), nonce: new Uint8Array(randomBytes(16)), timestampMs: now },
          seeds[v] as Uint8Array,
        );
        batch.push({ encoding: a.encoding, signature: a.signature });
      }
      out.push(batch);
    }
    return out;
  };
  const fast = createSignatureBackend({ batchVerify: true });
  await fast.ready;
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const rates: Record<string, number[]> = { "in-process": [], redis: [] };
  try {
    process.stderr.write(`backend ${fast.backend.name}; signing ${batches * batchSize} attestations (each round verifies them against an empty window)...\n`);
    const work = make(batches);
    for (let r = 0; r < rounds; r++) {
      for (const kind of r % 2 === 0 ? (["in-process", "redis"] as const) : (["redis", "in-process"] as const)) {
        const replay: ReplayGuard =
          kind === "redis"
            ? new RedisReplayGuard(redis, { windowMs: 600_000, maxClockSkewMs: 2_000, maxEntriesPerValidator: 1_000_000, prefix: `bench${r}:` })
            : new ReplayWindow({ windowMs: 600_000, maxClockSkewMs: 2_000, maxEntries: 10_000_000 });
        const verifier = new AttestationVerifier({ publicKeyOf: (id) => keys.get(id), replay, backend: fast.backend, now: () => now });
        const t0 = process.hrtime.bigint();
        // as the HTTP layer runs it: several batches in flight at once
        let ok = 0;
        const inflight = 8;
        for (let i = 0; i < work.length; i += inflight) {
          const results = await Promise.all(work.slice(i, i + inflight).map((b) => verifier.verifyBatch(b)));
          for (const rs of results) for (const x of rs) if (x.ok) ok++;
        }
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        if (ok !== batches * batchSize) throw new Error(`${kind}: ${ok} of ${batches * batchSize} verified`);
        rates[kind]?.push(ok / seconds);
      }
    }
  } finally {
    redis.disconnect();
    await redisServer.stop();
    await fast.close();
  }
  const local = median(rates["in-process"] as number[]);
  const shared = median(rates["redis"] as number[]);
  console.log(JSON.stringify({
    backend: fast.backend.name,
    rounds,
    attestationsPerRound: batches * batchSize,
    batchSize,
    medianPerSecond: { inProcess: Math.round(local), redis: Math.round(shared) },
    redisOverInProcess: Number((shared / local).toFixed(3)),
    allRounds: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, v.map(Math.round)])),
  }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
