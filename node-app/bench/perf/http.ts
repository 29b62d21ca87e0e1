/**
 * What a client sees: attestations per second through the HTTP API on loopback. The node runs in this process
 * (`startNode`, the production stack: fastify, JSON schema, AttestationVerifier with its signature cache, batcher and a
 * pool of 2 native workers); the load comes from `http-client.js` (autocannon) in its own process, so both share the
 * 2 cores as a real client on the same host would, and the client's CPU time is measured by the client itself.
 *
 * Every request body is distinct (fresh attestations, distinct nonces, timestamped just before the run), so no item
 * is a replay or a cache hit, and each body is sent exactly once; every verdict must come back valid.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../src/config";
import { ENV, ROUTES } from "@bizra/contract";
import { startNode } from "../../src/main";
import { toHex } from "../../src/poi/bytes";
import type { SignedAttestation } from "../../src/poi/verify";

export interface HttpScenario {
  /** "verify-batch" (items per body = batch) or "verify" (one attestation per body). */
  readonly route: "verify-batch" | "verify";
  readonly batch: number;
  /** Keep-alive connections, one request in flight each (closed loop). */
  readonly connections: number;
}

export interface HttpRun {
  readonly itemsPerSecond: number;
  readonly requestsPerSecond: number;
  readonly items: number;
  readonly seconds: number;
  readonly latencyMicros: { p50: number; p90: number; p99: number; max: number; samples: number };
  /** Client process CPU seconds / wall seconds (1.0 = one core busy). */
  readonly clientCpuCores: number;
  /** This process (server: main thread + verify workers) CPU seconds / wall seconds. */
  readonly serverCpuCores: number;
}

export interface HttpResult extends HttpScenario {
  readonly path: string;
  readonly runs: HttpRun[];
  /** The run with the median attestations/s. */
  readonly median: HttpRun;
}

const CLIENT = path.join(__dirname, "http-client.js");

function runClient(jobFile: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, jobFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        const res = JSON.parse(out.trim().split("\n").pop() ?? "{}") as Record<string, any>;
        if (code !== 0 || res["error"] !== undefined) reject(new Error(`http client failed (exit ${code}): ${String(res["error"] ?? "")} ${err}`));
        else resolve(res);
      } catch {
        reject(new Error(`http client printed no result (exit ${code}): ${err}`));
      }
    });
  });
}

const wire = (a: SignedAttestation) => ({ encoding: toHex(a.encoding), signature: toHex(a.signature) });

export async function measureHttp(options: {
  validators: ReadonlyArray<{ id: string; publicKey: Uint8Array }>;
  /** Fresh signed attestations, timestamped now (called just before each run). */
  sign(n: number): SignedAttestation[];
  scenarios: readonly HttpScenario[];
  /** Attestations per measured run (verify: requests per run). */
  items(s: HttpScenario): number;
  runs: number;
  log(line: string): void;
}): Promise<HttpResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "bizra-http-bench-"));
  const setFile = path.join(dir, "validators.json");
  writeFileSync(setFile, JSON.stringify(options.validators.map((v) => ({ id: v.id, weight: 1, publicKey: toHex(v.publicKey) }))));
  const config = loadConfig({
    [ENV.apiPort]: "0",
    [ENV.metricsPort]: "0",
    [ENV.host]: "127.0.0.1",
    [ENV.logLevel]: "silent",
    [ENV.validatorSetFile]: setFile,
    [ENV.verifyThreads]: "2",
  });
  const node = await startNode({ config, logger: false });
  const results: HttpResult[] = [];
  try {
    for (const s of options.scenarios) {
      const route = s.route === "verify" ? ROUTES.attestationsVerify : ROUTES.attestationsVerifyBatch;
      const url = `http://127.0.0.1:${node.apiPort}${route}`;
      const once = async (items: number): Promise<HttpRun> => {
        const signed = options.sign(items);
        const bodies: string[] = [];
        if (s.route === "verify") for (const a of signed) bodies.push(JSON.stringify(wire(a)));
        else for (let i = 0; i < signed.length; i += s.batch) bodies.push(JSON.stringify({ items: signed.slice(i, i + s.batch).map(wire) }));
        const jobFile = path.join(dir, "job.json");
        writeFileSync(jobFile, JSON.stringify({ url, connections: s.connections, bodies, contentType: "application/json" }));
        const cpu0 = process.cpuUsage();
        const r = await runClient(jobFile);
        const cpu = process.cpuUsage(cpu0);
        if (r["valid"] !== signed.length || r["non2xx"] !== 0 || r["errors"] !== 0) {
          throw new Error(`http ${s.route} x${s.batch}: ${r["valid"]} of ${signed.length} verdicts valid, ${r["non2xx"]} non-2xx, ${r["errors"]} errors`);
        }
        const seconds = r["seconds"] as number;
        return {
          itemsPerSecond: signed.length / seconds,
          requestsPerSecond: bodies.length / seconds,
          items: signed.length,
          seconds,
          latencyMicros: r["latencyMicros"],
          clientCpuCores: (r["clientCpuSeconds"] as number) / seconds,
          serverCpuCores: (cpu.user + cpu.system) / 1e6 / seconds,
        };
      };
      await once(Math.min(options.items(s), 4096)); // warm-up (connections, JIT), discarded
      const runs: HttpRun[] = [];
      for (let r = 0; r < options.runs; r++) runs.push(await once(options.items(s)));
      const median = [...runs].sort((a, b) => a.itemsPerSecond - b.itemsPerSecond)[Math.floor(runs.length / 2)] as HttpRun;
      results.push({ ...s, path: route, runs, median });
      options.log(
        `  HTTP ${route} ${s.route === "verify" ? "single" : `x${s.batch}`} (${s.connections} connections): median ${Math.round(median.itemsPerSecond)} attestations/s, ` +
          `p50 ${Math.round(median.latencyMicros.p50)} µs, p99 ${Math.round(median.latencyMicros.p99)} µs, client CPU ${median.clientCpuCores.toFixed(2)} cores, server ${median.serverCpuCores.toFixed(2)} cores`,
      );
    }
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
