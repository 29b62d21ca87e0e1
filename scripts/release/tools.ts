/**
 * The external tools of a release and how they are called: cosign, syft (built by toolchain/supply-chain.sh from the
 * Go module proxy, cached by version) and buildah (Debian package). Every call goes through `run`, which raises an
 * error naming the command and its output.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
const SUPPLY_CHAIN = path.join(REPO_ROOT, "toolchain", "supply-chain.sh");

export interface ToolPaths {
  readonly cosign: string;
  readonly syft: string;
  readonly actionlint: string;
}

/** Builds what is missing (progress on stderr) and returns the binaries' paths. */
export function supplyChainTools(opts: { build?: boolean; tools?: Array<keyof ToolPaths> } = {}): ToolPaths {
  const args = [SUPPLY_CHAIN, opts.build === false ? "paths" : "build", ...(opts.tools ?? [])];
  const r = spawnSync("bash", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const paths: Record<string, string> = {};
  for (const line of (r.stdout ?? "").split("\n")) {
    const m = /^([A-Z]+)_BIN=(.+)$/.exec(line.trim());
    if (m) paths[m[1]!.toLowerCase()] = m[2]!;
  }
  if (r.status !== 0) throw new Error(`toolchain/supply-chain.sh ${args.slice(1).join(" ")} failed (exit ${r.status})`);
  return paths as unknown as ToolPaths;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
}

/** Runs a command; throws (with its output) unless it exits 0, or returns the result when `allowFailure`. */
export function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions & { allowFailure?: boolean; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, cwd: REPO_ROOT, ...opts });
  if (r.error) throw new Error(`${path.basename(cmd)} could not start: ${r.error.message}`);
  const res = { stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), status: r.status };
  if (!opts.allowFailure && r.status !== 0) {
    const tail = `${res.stdout}\n${res.stderr}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(" ")} exited ${r.status}:\n${tail}`);
  }
  return res;
}

export function toolVersion(bin: string, args: string[] = ["version"]): string {
  const r = run(bin, args, { allowFailure: true });
  const text = `${r.stdout}\n${r.stderr}`;
  return (/GitVersion:\s*(\S+)/.exec(text)?.[1] ?? /(?:^|\s)v?(\d+\.\d+\.\d+)/m.exec(text)?.[1] ?? text.trim().split("\n")[0] ?? "unknown").replace(/^v/, "");
}

/** Environment for cosign against a plain-http loopback registry, with no transparency log (none is reachable). */
export function cosignEnv(password: string): NodeJS.ProcessEnv {
  return { ...process.env, COSIGN_PASSWORD: password, COSIGN_YES: "true", COSIGN_EXPERIMENTAL: "0", SIGSTORE_NO_CACHE: "true", TUF_ROOT: path.join(REPO_ROOT, ".toolchain", "sigstore-tuf") };
}

export function ensureDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
