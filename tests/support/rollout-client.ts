/**
 * A bounded HTTP client for rollout tests, run inside the cluster's network namespace (the Service address exists
 * only there): sends GET <url> one request after another (each with a timeout) until <stop-file> exists or
 * <max-seconds> have passed, then writes a JSON summary to <out-file>:
 *   { total, ok, failed, failures: { "<status or error code>": n }, firstFailure?, seconds }
 * A request counts as ok only with a 2xx status.
 *
 *   ts-node --transpile-only tests/support/rollout-client.ts <url> <stop-file> <max-seconds> <out-file>
 */
import * as fs from "node:fs";
import * as http from "node:http";

const REQUEST_TIMEOUT_MS = 2000;
const PAUSE_MS = 20;

function once(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode && res.statusCode >= 200 && res.statusCode < 300 ? undefined : `HTTP ${res.statusCode}`));
      res.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
    req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function main(): Promise<void> {
  const [url, stopFile, maxSecondsText, outFile] = process.argv.slice(2);
  const maxSeconds = Number(maxSecondsText);
  if (!url || !stopFile || !outFile || !Number.isFinite(maxSeconds) || maxSeconds <= 0) {
    console.error("usage: rollout-client.ts <url> <stop-file> <max-seconds> <out-file>");
    process.exit(2);
  }
  const t0 = Date.now();
  const failures: Record<string, number> = {};
  let total = 0;
  let failed = 0;
  let firstFailure: string | undefined;
  while (!fs.existsSync(stopFile) && Date.now() - t0 < maxSeconds * 1000) {
    const problem = await once(url);
    total++;
    if (problem !== undefined) {
      failed++;
      failures[problem] = (failures[problem] ?? 0) + 1;
      firstFailure ??= `${new Date().toISOString()} ${problem}`;
    }
    await new Promise((r) => setTimeout(r, PAUSE_MS));
  }
  const summary = { total, ok: total - failed, failed, failures, firstFailure, seconds: (Date.now() - t0) / 1000 };
  fs.writeFileSync(outFile, JSON.stringify(summary));
}

void main();
