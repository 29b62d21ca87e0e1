/**
 * What a client sees: attestations per second through the HTTP API on loopback. The node runs in its own process
 * (`http-server.ts`: `startNode` with the production stack: fastify, JSON schema, AttestationVerifier with its
 * signature cache, batcher and a pool of 2 native workers, configured from the environment as `node dist/main.js`
 * is); the load comes from `http-client.js` (autocannon) in another process, so both share the 2 cores as a real
 * client on the same host would, and each process measures its own CPU time.
 *
 * Every request body is distinct (fresh attestations, distinct nonces, timestamped just before the run), so no item
 * is a replay or a cache hit, and each body is sent exactly once; every verdict must come back valid.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ENV, ROUTES } from "@bizra/contract";
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
  /** Server process (main thread + verify workers) CPU seconds / wall seconds. */
  readonly serverCpuCores: number;
}

export interface HttpResult extends HttpScenario {
  readonly path: string;
  readonly runs: HttpRun[];
  /** The run with the median attestations/s. */
  readonly median: HttpRun;
}

const CLIENT = path.join(__dirname, "http-client.js");
const SERVER = path.join(__dirname, "http-server.ts");
const PRECOMPILED = path.join(__dirname, "precompiled.js");

/** Sends one IPC request to the server process and waits for the first reply that has `key`. */
function ask<T>(child: ChildProcess, op: string | null, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>): void => {
      if (m[key] === undefined) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(m as T);
    };
    const onExit = (code: number | null): void => reject(new Error(`http server exited (code ${code}) before answering ${op ?? key}`));
    child.on("message", onMessage);
    child.once("exit", onExit);
    if (op !== null) child.send({ op });
  });
}

/** The one JSON line http-client.js prints: the run's counts and latencies, or `error`. */
interface ClientResult {
  readonly requests: number;
  readonly sent: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly valid: number;
  readonly seconds: number;
  readonly latencyMicros: { p50: number; p90: number; p99: number; max: number; samples: number };
  readonly clientCpuSeconds: number;
  readonly error?: string;
}

function runClient(jobFile: string): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, jobFile], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        const res = JSON.parse(out.trim().split("\n").pop() ?? "{}") as Partial<ClientResult>;
        if (code !== 0 || res.error !== undefined) reject(new Error(`http client failed (exit ${code}): ${String(res.error ?? "")} ${err}`));
        else if (typeof res.seconds !== "number" || res.latencyMicros === undefined) reject(new Error(`http client printed an incomplete result: ${out.trim()}`));
        else resolve(res as ClientResult);
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
}): Promise<{ scenarios: HttpResult[]; serverMaxRssBytes: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), "bizra-http-bench-"));
  const setFile = path.join(dir, "validators.json");
  writeFileSync(setFile, JSON.stringify(options.validators.map((v) => ({ id: v.id, weight: 1, publicKey: toHex(v.publicKey) }))));
  // The server is configured through its environment, as a deployed node is.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    [ENV.apiPort]: "0",
    [ENV.metricsPort]: "0",
    [ENV.host]: "127.0.0.1",
    [ENV.logLevel]: "silent",
    [ENV.validatorSetFile]: setFile,
    [ENV.verifyThreads]: "2",
  };
  // The child loads TypeScript the way this process does: precompiled under `npm run bench`, ts-node otherwise
  // (`npm run evidence`).
  const loader = require.cache[PRECOMPILED] !== undefined ? PRECOMPILED : "ts-node/register/transpile-only";
  const server = fork(SERVER, [], { execArgv: ["-r", loader], env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  type Usage = { cpu: NodeJS.CpuUsage; maxRssBytes: number };
  let serverMaxRssBytes = 0;
  const { port } = await ask<{ port: number }>(server, null, "port");
  const results: HttpResult[] = [];
  try {
    for (const s of options.scenarios) {
      const route = s.route === "verify" ? ROUTES.attestationsVerify : ROUTES.attestationsVerifyBatch;
      const url = `http://127.0.0.1:${port}${route}`;
      const once = async (items: number): Promise<HttpRun> => {
        const signed = options.sign(items);
        const bodies: string[] = [];
        if (s.route === "verify") for (const a of signed) bodies.push(JSON.stringify(wire(a)));
        else for (let i = 0; i < signed.length; i += s.batch) bodies.push(JSON.stringify({ items: signed.slice(i, i + s.batch).map(wire) }));
        const jobFile = path.join(dir, "job.json");
        writeFileSync(jobFile, JSON.stringify({ url, connections: s.connections, bodies, contentType: "application/json" }));
        const u0 = await ask<Usage>(server, "usage", "cpu");
        const r = await runClient(jobFile);
        const u1 = await ask<Usage>(server, "usage", "cpu");
        serverMaxRssBytes = Math.max(serverMaxRssBytes, u1.maxRssBytes);
        const cpu = { user: u1.cpu.user - u0.cpu.user, system: u1.cpu.system - u0.cpu.system };
        if (r.valid !== signed.length || r.non2xx !== 0 || r.errors !== 0) {
          throw new Error(`http ${s.route} x${s.batch}: ${r.valid} of ${signed.length} verdicts valid, ${r.non2xx} non-2xx, ${r.errors} errors`);
        }
        const seconds = r.seconds;
        return {
          itemsPerSecond: signed.length / seconds,
          requestsPerSecond: bodies.length / seconds,
          items: signed.length,
          seconds,
          latencyMicros: r.latencyMicros,
          clientCpuCores: r.clientCpuSeconds / seconds,
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
    if (server.connected) await ask(server, "close", "closed").catch(() => undefined);
    if (server.exitCode === null) server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  return { scenarios: results, serverMaxRssBytes };
}
