/**
 * The real node (`node-app/src/main.ts` under ts-node) as a child process on 127.0.0.1 with ephemeral ports, read
 * from its "node started" log line. Stop it with `stopChild(node.child)`; a last-resort hook kills it on exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/lib/stack-config";
import { stopChild, track, waitFor } from "./process";

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly apiPort: number;
  readonly metricsPort: number;
  /** The signer listener's port (sign route behind the bearer token); undefined when the node loads no signing key. */
  readonly signerPort: number | undefined;
  log(): string;
}

/** Starts the node with `env` added to this process's environment (log level must let "node started" through). */
export async function startNodeProcess(env: Record<string, string>): Promise<NodeProcess> {
  const appDir = path.join(REPO_ROOT, "node-app");
  let out = "";
  const child = track(
    spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "src/main.ts"], {
      cwd: appDir,
      env: { ...process.env, TS_NODE_PROJECT: path.join(appDir, "tsconfig.json"), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  try {
    const started = await waitFor(
      "node-app 'node started'",
      async () => {
        if (child.exitCode !== null) throw new Error(`node-app exited with ${child.exitCode}:\n${out.slice(-2000)}`);
        const line = out.split("\n").find((l) => l.includes('"node started"'));
        return line ? (JSON.parse(line) as { apiPort: number; metricsPort: number; signerPort?: number }) : undefined;
      },
      120_000,
      250,
    );
    return { child, apiPort: started.apiPort, metricsPort: started.metricsPort, signerPort: started.signerPort, log: () => out };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}
