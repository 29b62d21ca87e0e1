/**
 * Overload: C clients each send verify-batch requests of 256 fresh attestations back to back to a node process for
 * D seconds, while /healthz is probed every 50 ms. Prints, per concurrency: requests answered, shed (503), p50/p99 of
 * answered requests, and /healthz p50/p99/max. Admission counts items, so beyond the budget requests are shed at
 * once instead of queueing (a client still sending its body then sees the connection close: counted apart).
 *
 *   npx ts-node --transpile-only bench/overload.ts [seconds=10] [concurrency...=64 128]
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENV, ROUTES } from "@bizra/contract";
import { ATTESTATION_VERSION, payloadDigest } from "../src/poi/attestation";
import { toHex } from "../src/poi/bytes";
import { publicKeyOf } from "../src/poi/signature";
import { signAttestation } from "../src/poi/verify";

const [seconds = 10, ...concurrencies] = process.argv.slice(2).map(Number);
const levels = concurrencies.length > 0 ? concurrencies : [64, 128];
const BATCH = 256;
const SEED = new Uint8Array(randomBytes(32));

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number);
};

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bizra-overload-"));
  writeFileSync(join(dir, "set.json"), JSON.stringify([{ id: "node0", weight: 1, publicKey: toHex(publicKeyOf(SEED)) }]));
  const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", join(__dirname, "..", "src", "main.ts")], {
    env: { ...process.env, [ENV.apiPort]: "0", [ENV.metricsPort]: "0", [ENV.host]: "127.0.0.1", [ENV.validatorSetFile]: join(dir, "set.json"), [ENV.replayWindowMs]: "3600000", [ENV.logLevel]: "info" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.includes('"node started"'));
      if (line) resolve((JSON.parse(line) as { apiPort: number }).apiPort);
    });
    child.once("exit", (c) => reject(new Error(`node exited ${c}: ${out}`)));
  });
  const now = Date.now();
  const body = () => {
    const items = [];
    for (let i = 0; i < BATCH; i++) {
      const a = signAttestation({ version: ATTESTATION_VERSION, validatorId: "node0", epoch: 1, slot: i, payloadDigest: payloadDigest(new Uint8Array([i])), nonce: new Uint8Array(randomBytes(16)), timestampMs: now }, SEED);
      items.push({ encoding: toHex(a.encoding), signature: toHex(a.signature) });
    }
    return JSON.stringify({ items });
  };
  const report: Record<string, unknown>[] = [];
  // pre-signed, so signing is not measured; a body sent again is "replayed", after the same signature work
  const pool = Array.from({ length: 64 }, body);
  try {
    for (const c of levels) {
      let next = 0;
      const answered: number[] = [];
      let shed = 0;
      let closed = 0;
      const health: number[] = [];
      const until = Date.now() + seconds * 1000;
      const client = async () => {
        while (Date.now() < until) {
          const b = pool[next++ % pool.length] as string;
          const t0 = performance.now();
          let res: Response;
          try {
            res = await fetch(`http://127.0.0.1:${port}${ROUTES.attestationsVerifyBatch}`, { method: "POST", headers: { "content-type": "application/json" }, body: b });
            await res.arrayBuffer();
          } catch {
            closed++; // shed before the body was read: the server answered 503 and closed while the client still wrote
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          if (res.status === 503) shed++;
          else answered.push(performance.now() - t0);
          if (res.status === 503) await new Promise((r) => setTimeout(r, 5));
        }
      };
      const prober = async () => {
        while (Date.now() < until) {
          const t0 = performance.now();
          await (await fetch(`http://127.0.0.1:${port}${ROUTES.healthz}`)).arrayBuffer();
          health.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await Promise.all([...Array.from({ length: c }, client), prober()]);
      report.push({
        concurrency: c,
        answered: answered.length,
        shed,
        closedWhileSending: closed,
        answeredMs: { p50: Math.round(q(answered, 0.5)), p99: Math.round(q(answered, 0.99)) },
        healthzMs: { p50: Number(q(health, 0.5).toFixed(1)), p99: Number(q(health, 0.99).toFixed(1)), max: Number(Math.max(...health).toFixed(1)), samples: health.length },
      });
    }
  } finally {
    child.kill("SIGTERM");
  }
  console.log(JSON.stringify({ seconds, batch: BATCH, report }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
