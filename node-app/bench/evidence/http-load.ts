/**
 * HTTP load test of the verify route on loopback against a real node (`startNode`), with a stated repeat ratio so
 * that the verification cache hit rate, read from the node's own /metrics, means something.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { ENV, METRICS, ROUTES } from "@bizra/contract";
import { seededRandom } from "../../src/consensus/determinism";
import { summarizeNanos } from "@bizra/evidence";
import { startNode } from "../../src/main";
import { toHex } from "../../src/poi/bytes";
import { signAttestation } from "../../src/poi/verify";
import { freshAttestation, identity, type Measured } from "./common";

interface Reply {
  readonly status: number;
  readonly body: string;
}

function request(agent: http.Agent, port: number, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port, method, path, agent, headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {} },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Sum of the samples of one metric family in Prometheus text format. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export async function measureHttpLoad(requests = 20_000, repeatRatio = 0.95, concurrency = 8): Promise<Measured> {
  const self = identity("load-node");
  // A verifier replica as deployed: no signing key, the validator set (here the one attesting validator) from a file.
  const dir = mkdtempSync(join(tmpdir(), "bizra-http-load-"));
  const setFile = join(dir, "validator-set.json");
  writeFileSync(setFile, JSON.stringify([{ id: self.id, weight: 1, publicKey: toHex(self.publicKey) }]));
  const config = loadConfig({
    [ENV.apiPort]: "0",
    [ENV.metricsPort]: "0",
    [ENV.host]: "127.0.0.1",
    [ENV.validatorId]: self.id,
    [ENV.validatorSetFile]: setFile,
    [ENV.logLevel]: "silent",
    [ENV.replayWindowMs]: "600000",
  });
  const node = await startNode({ config, logger: false }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    const every = Math.round(1 / (1 - repeatRatio)); // one fresh attestation every `every` requests
    const unique = Math.ceil(requests / every);
    const now = Date.now();
    const bodies = Array.from({ length: unique + 200 }, (_, i) => {
      const issued = signAttestation(freshAttestation(self.id, i, now), self.seed);
      return JSON.stringify({ encoding: toHex(issued.encoding), signature: toHex(issued.signature) });
    });
    const warm = bodies.splice(unique); // 200 fresh ones for warm-up, not counted
    for (const b of warm) await request(agent, node.apiPort, "POST", ROUTES.attestationsVerify, b);

    const random = seededRandom(7);
    const plan: number[] = [];
    let fresh = 0;
    for (let i = 0; i < requests; i++) plan.push(i % every === 0 || fresh === 0 ? fresh++ : Math.floor(random() * fresh));

    const scrape = async () => (await request(agent, node.metricsPort, "GET", "/metrics")).body;
    const before = await scrape();
    const nanos: bigint[] = new Array(requests);
    const status: Record<string, number> = {};
    const outcomes: Record<string, number> = {};
    let next = 0;
    let transportErrors = 0;
    const worker = async () => {
      for (let i = next++; i < requests; i = next++) {
        const t0 = process.hrtime.bigint();
        try {
          const r = await request(agent, node.apiPort, "POST", ROUTES.attestationsVerify, bodies[plan[i] as number]);
          nanos[i] = process.hrtime.bigint() - t0;
          status[String(r.status)] = (status[String(r.status)] ?? 0) + 1;
          const j = JSON.parse(r.body) as { valid?: boolean; reason?: string; error?: string };
          const outcome = j.valid === true ? "valid" : (j.reason ?? j.error ?? "unknown");
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        } catch {
          nanos[i] = process.hrtime.bigint() - t0;
          transportErrors++;
          status["transport_error"] = (status["transport_error"] ?? 0) + 1;
        }
      }
    };
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const after = await scrape();
    const cacheLookups = metricValue(after, METRICS.poiCacheLookupsTotal) - metricValue(before, METRICS.poiCacheLookupsTotal);
    const cacheHits = metricValue(after, METRICS.poiCacheHitsTotal) - metricValue(before, METRICS.poiCacheHitsTotal);
    const errors = transportErrors + Object.entries(status).filter(([s]) => /^5\d\d$/.test(s)).reduce((n, [, c]) => n + c, 0);
    return {
      kind: "http-load",
      title: "HTTP load test of the verify route on loopback",
      method:
        `startNode() on 127.0.0.1 as a verifier replica (no signing key; default signature backend and verify cache), ${warm.length} warm-up requests, then ${requests} ` +
        `POST ${ROUTES.attestationsVerify} over ${concurrency} keep-alive connections from the same process. Workload: every ${every}th request ` +
        `carries a fresh valid attestation (${unique} distinct), the others repeat a uniformly chosen earlier one (seeded), so the repeat ratio ` +
        `is ${repeatRatio}; a repeat is answered valid:false reason "replayed" after a cache hit on its signature. Latency is client-side per ` +
        `request (process.hrtime.bigint(), includes the client's share of the one event loop), nearest-rank percentiles over raw samples. ` +
        `Error rate = (5xx + transport errors) / requests. Cache hit rate = delta of ${METRICS.poiCacheHitsTotal} / ${METRICS.poiCacheLookupsTotal} ` +
        "scraped from the node's own /metrics before and after the run.",
      gates: [
        { gate: "api-p99-latency", slo: "apiP99Latency", field: "results.latency.p99Seconds" },
        { gate: "api-error-rate", slo: "apiErrorRate", field: "results.errorRate" },
        { gate: "cache-hit-rate", slo: "cacheHitRate", field: "results.cacheHitRate" },
      ],
      results: {
        route: ROUTES.attestationsVerify,
        requests,
        uniqueAttestations: unique,
        repeatRatio: (requests - unique) / requests,
        concurrency,
        wallSeconds,
        requestsPerSecond: requests / wallSeconds,
        latency: summarizeNanos(nanos),
        status,
        errors,
        errorRate: errors / requests,
        outcomes,
        cacheLookups,
        cacheHits,
        cacheHitRate: cacheLookups > 0 ? cacheHits / cacheLookups : 0,
      },
    };
  } finally {
    agent.destroy();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
