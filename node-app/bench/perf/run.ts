/**
 * `npm run bench` (node-app or repo root): prints the performance table, writes <repo>/evidence/perf-bench.json and
 * re-signs the evidence manifest so the bundle stays valid.
 * Usage: run.ts [outDir] [--runs N] [--scale F] [--arrivals poisson|fixed] [--latency-seconds S] [--no-write]
 *        [--latency-only] (development: latency section only, never writes)
 */
import * as path from "node:path";
import { DEFAULT_EVIDENCE_DIR, signEvidence, writeArtifact } from "@bizra/evidence";
import { measureArtifact } from "../evidence/common";
import { measurePerf } from "./measure";

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const us = (s: number): string => `${(s * 1e6).toFixed(1)} µs`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const runs = Number(opt("--runs") ?? 5);
  const scale = Number(opt("--scale") ?? 0.5);
  const arrivals = opt("--arrivals") ?? "poisson";
  if (arrivals !== "poisson" && arrivals !== "fixed") throw new Error("--arrivals must be poisson or fixed");
  const latencySeconds = opt("--latency-seconds") === undefined ? undefined : Number(opt("--latency-seconds"));
  const latencyOnly = args.includes("--latency-only");
  const write = !args.includes("--no-write") && !latencyOnly;
  const valued = new Set(["--runs", "--scale", "--arrivals", "--latency-seconds"]);
  const positional = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && valued.has(args[i - 1] as string)));
  const dir = positional[0] === undefined ? DEFAULT_EVIDENCE_DIR : path.resolve(process.env["INIT_CWD"] ?? process.cwd(), positional[0]);

  const artifact = await measureArtifact(() => measurePerf({ runs, scale, arrivals, latencyOnly, ...(latencySeconds !== undefined ? { latencySeconds } : {}), log: (l) => process.stdout.write(`${l}\n`) }));
  // measureArtifact copies `results` unchanged: read them back as measurePerf typed them
  const r = artifact.results as Awaited<ReturnType<typeof measurePerf>>["results"];
  const lines: string[] = [];
  lines.push("");
  lines.push(`| path | threads | batching | verified/s (median of ${runs}) | × sodium-native (same threads) |`);
  lines.push("| --- | ---: | :---: | ---: | ---: |");
  for (const row of r["throughput"]) {
    lines.push(`| ${row.label} | ${row.threads} | ${row.batching ? "yes" : "no"} | ${fmt(row.medianPerSecond)} | ${row.ratioToSodiumSameThreads.toFixed(2)} |`);
  }
  const lat = r["latencyAtHalfPeak"];
  lines.push("");
  lines.push(`| measure | value |`);
  lines.push("| --- | ---: |");
  const arr = lat.arrivals === "poisson" ? "Poisson arrivals" : "fixed-interval arrivals";
  const pp = (x: { p50Seconds: number; p99Seconds: number }): string => `${us(x.p50Seconds)} / ${us(x.p99Seconds)}`;
  lines.push(`| verify peak: single verify() calls, batcher + pool of 2, closed loop (best of concurrency ${lat.verify.peakByConcurrency.map((c: { concurrency: number }) => c.concurrency).join("/")}: ${lat.verify.peakConcurrency}) | ${fmt(lat.verify.peakPerSecond)}/s |`);
  lines.push(`| verify latency at ${fmt(lat.verify.rate)}/s (50 % of that peak, ${arr}, ${lat.verify.samples} calls) p50 / p99 | ${pp(lat.verify)} |`);
  lines.push(`| verify latency, same run with the fixed ${lat.verifyFixedWindow.maxBatchWaitMicros} µs batch window instead of the adaptive one, p50 / p99 | ${pp(lat.verifyFixedWindow)} |`);
  const bd = lat.verifyBreakdown as Record<string, { p50Seconds: number; p99Seconds: number }> | null;
  if (bd) {
    const parts = ["eventLoopQueue", "decodeToBatcher", "batcherWait", "poolRoundTrip", "afterPool"];
    lines.push(`| verify time split, instrumented rerun at the same rate (p50 / p99): ${parts.join(" · ")} | ${parts.map((k) => `${(bd[k]!.p50Seconds * 1e6).toFixed(0)} / ${(bd[k]!.p99Seconds * 1e6).toFixed(0)}`).join(" · ")} µs |`);
  }
  lines.push(`| generate peak: signAttestation back to back (closed loop) | ${fmt(lat.generate.peakPerSecond)}/s |`);
  lines.push(`| generate latency at ${fmt(lat.generate.rate)}/s (50 % of that peak, ${arr}, ${lat.generate.samples} calls) p50 / p99 | ${pp(lat.generate)} |`);
  lines.push(`| generate with node:crypto signer (closed loop) p50 / p99 | ${pp(lat.generateNodeCryptoSigner)} |`);
  lines.push(`| finality check p50 / p99 | ${us(r["finality"].p50Seconds)} / ${us(r["finality"].p99Seconds)} |`);
  lines.push(`| pipeline alone (no-op signature backend) | ${fmt(r["profile"].pipelineOnlyPerSecond)}/s = ${r["profile"].pipelineOnlyMicrosPerItem.toFixed(1)} µs/item |`);
  lines.push(`| pipeline alone, hash-and-verify path (no-op verifyEncoded, still packs) | ${fmt(r["profile"].pipelineOnlyEncodedPerSecond)}/s = ${r["profile"].pipelineOnlyEncodedMicrosPerItem.toFixed(1)} µs/item |`);
  if (r["profile"].signatureOnly2ThreadsPerSecond !== null) lines.push(`| signatures alone, pool of 2, batch | ${fmt(r["profile"].signatureOnly2ThreadsPerSecond)}/s |`);
  if (r["profile"].ceiling2ThreadsPerSecond !== null) lines.push(`| ceiling: the addon's batch verify over pre-decoded items, 2 Rust threads, no JavaScript (curve backend ${r["nativeBackend"]?.curveBackend}) | ${fmt(r["profile"].ceiling2ThreadsPerSecond)}/s |`);
  if (r["profile"].ceiling2ThreadsPerSecond !== null) lines.push(`| full pipeline (bizra pool, batching, 2 threads) / ceiling: median of the per-run ratios (each ceiling run right after a pipeline run) | ${r["profile"].pipelineOverCeiling.toFixed(2)} |`);
  if (r["profile"].hashVerifyOnly2ThreadsPerSecond !== null) lines.push(`| BLAKE3 + signatures alone (verifyEncoded), pool of 2, batch | ${fmt(r["profile"].hashVerifyOnly2ThreadsPerSecond)}/s |`);
  for (const h of r["http"]?.scenarios ?? []) {
    const m = h.median;
    const what = h.route === "verify" ? `POST ${h.path} (one attestation per request)` : `POST ${h.path}, ${h.batch} per request`;
    lines.push(`| HTTP ${what}, ${h.connections} connections: attestations/s · p50 / p99 · client CPU · server CPU | ${fmt(m.itemsPerSecond)}/s · ${fmt(m.latencyMicros.p50)} / ${fmt(m.latencyMicros.p99)} µs · ${m.clientCpuCores.toFixed(2)} · ${m.serverCpuCores.toFixed(2)} cores |`);
  }
  if (r["http"]?.bestVerifyBatch) lines.push(`| HTTP verify-batch (best: ${r["http"].bestVerifyBatch.batch} per request) / in-process pipeline | ${r["http"].bestVerifyBatch.ratioToInProcessPipeline.toFixed(2)} |`);
  lines.push(`| peak RSS (bench process; HTTP server process apart: ${r["http"] ? `${(r["http"].serverMaxRssBytes / 1048576).toFixed(0)} MiB` : "not run"}) | ${(r["maxRssBytes"] / 1048576).toFixed(0)} MiB |`);
  lines.push("");
  for (const [k, t] of Object.entries(r["targets"] as Record<string, { target: number; measured: number; met: boolean }>)) {
    lines.push(`target ${k}: ${t.met ? "MET" : "NOT MET"} (measured ${t.measured.toPrecision(4)}, target ${t.target})`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  if (write) {
    const file = writeArtifact(dir, "perf-bench.json", artifact);
    const manifest = signEvidence(dir);
    process.stdout.write(`wrote ${file}; re-signed ${path.join(dir, "manifest.json")} (${manifest.artifacts.length} artifacts)\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
