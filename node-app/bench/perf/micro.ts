/**
 * Development A/B micro-run (not part of `npm run bench`): the "bizra pool, batching" throughput configuration only,
 * variants interleaved in one process. Usage: node -r ./bench/perf/precompiled.js bench/perf/micro.ts [rounds] [variants...]
 */
import { BatchingVerifier, VerifyPool } from "../../src/poi/fast";
import { throughput, validators, workload } from "./measure";

type Variant = { name: string; pool: () => VerifyPool; chunk?: number; depth?: number };
const VARIANTS: Record<string, Variant> = {
  base: { name: "base", pool: () => new VerifyPool({ threads: 2, batch: true }) },
  old: { name: "old", pool: () => new VerifyPool({ threads: 2, batch: true, splitBusy: true }) },
  nosplit: { name: "nosplit", pool: () => new VerifyPool({ threads: 2, batch: true, minSplit: 1 << 30 }) },
  depth8: { name: "depth8", pool: () => new VerifyPool({ threads: 2, batch: true }), depth: 8 },
};

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const names = process.argv.slice(3).length ? process.argv.slice(3) : Object.keys(VARIANTS);
  const set = validators(128);
  const now = Date.now();
  const items = workload(set, 16384, now);
  const res: Record<string, number[]> = {};
  const made = names.map((n) => {
    const v = VARIANTS[n] as Variant;
    const p = v.pool();
    return { v, p, b: new BatchingVerifier(p, { maxItems: 256, maxWaitMicros: 200 }) };
  });
  for (const m of made) { await m.p.ready; await throughput(m.b, set, items.slice(0, 2048), now); res[m.v.name] = []; }
  for (let r = 0; r < rounds; r++) {
    for (const m of made) {
      const t = await throughput(m.b, set, items, now, m.v.chunk ?? 256, m.v.depth ?? 4);
      if (t.ok !== items.length) throw new Error(`${m.v.name}: ${t.ok} ok`);
      (res[m.v.name] as number[]).push(t.perSecond);
    }
  }
  for (const [k, xs] of Object.entries(res)) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${k.padEnd(12)} median ${Math.round(s[s.length >> 1] as number)}/s  runs ${xs.map((x) => Math.round(x)).join(" ")}`);
  }
  for (const m of made) await m.p.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
