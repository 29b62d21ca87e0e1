/**
 * A throw-away Redis (or Valkey) server on a free loopback port, for tests of the shared state.
 * The binary comes from Debian (`redis-server`, installed by scripts/setup.sh); env REDIS_SERVER_BIN overrides it.
 * No persistence, no disk; `stop()` kills it and removes its directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRedis {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: "127.0.0.1", port }, () => sock.write("PING\r\n"));
    sock.setTimeout(500, () => { sock.destroy(); resolve(false); });
    sock.on("data", (d) => { sock.destroy(); resolve(d.toString().startsWith("+PONG")); });
    sock.on("error", () => resolve(false));
  });
}

export async function startRedis(): Promise<TestRedis> {
  const bin = process.env["REDIS_SERVER_BIN"] ?? "redis-server";
  const dir = mkdtempSync(join(tmpdir(), "bizra-redis-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    bin,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes", "--loglevel", "warning"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (err) => reject(new Error(`cannot start ${bin} (install it with scripts/setup.sh, or set REDIS_SERVER_BIN): ${err.message}`))),
  );
  const up = (async () => {
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) throw new Error(`${bin} exited (${child.exitCode}): ${stderr}`);
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${bin} did not answer PING on port ${port}: ${stderr}`);
  })();
  // a test process that exits (or is interrupted) without calling stop() still takes its server with it
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([up, spawnError]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
