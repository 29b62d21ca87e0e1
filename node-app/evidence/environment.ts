/** Where and with what the evidence was produced: machine, git commit, tool versions. Read, never typed in. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { GitInfo, MachineInfo } from "./schema";

/** node-app/ (this package is node-app/evidence/). */
export const NODE_APP_ROOT = path.resolve(__dirname, "..");
/** The repository root, parent of node-app/. */
export const REPO_ROOT = path.resolve(NODE_APP_ROOT, "..");
/** Where `npm run evidence` writes the bundle. */
export const DEFAULT_EVIDENCE_DIR = path.join(REPO_ROOT, "evidence");

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    node: process.version,
    platform: os.platform(),
    arch: os.arch(),
    totalMemoryBytes: os.totalmem(),
  };
}

function git(args: string[], cwd: string): string | undefined {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

/** `git rev-parse HEAD` and whether the work tree has uncommitted changes (untracked files count). */
export function gitInfo(cwd: string = REPO_ROOT): GitInfo {
  const commit = git(["rev-parse", "HEAD"], cwd);
  const status = git(["status", "--porcelain"], cwd);
  return { commit: commit && /^[0-9a-f]{40,64}$/.test(commit) ? commit : "unknown", dirty: status === undefined ? true : status.length > 0 };
}

/** The current commit, or undefined outside a git work tree. */
export function headCommit(cwd: string = REPO_ROOT): string | undefined {
  const c = git(["rev-parse", "HEAD"], cwd);
  return c && /^[0-9a-f]{40,64}$/.test(c) ? c : undefined;
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(NODE_APP_ROOT, "node_modules", name, "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

function npmVersion(): string {
  const agent = /npm\/(\S+)/.exec(process.env["npm_config_user_agent"] ?? "");
  if (agent?.[1]) return agent[1];
  try {
    return execFileSync("npm", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

/** Versions of the tools whose behaviour the figures depend on. */
export function toolVersions(): Record<string, string> {
  return {
    node: process.version,
    npm: npmVersion(),
    typescript: packageVersion("typescript"),
    "@noble/ed25519": packageVersion("@noble/ed25519"),
    "@noble/hashes": packageVersion("@noble/hashes"),
    fastify: packageVersion("fastify"),
    zod: packageVersion("zod"),
  };
}
