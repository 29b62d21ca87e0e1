/**
 * Long-running processes inside the local cluster's network namespace (the Kyverno admission controller, the
 * registry, Flagger and its load tester): started detached, output to `<cluster logs>/<name>.log`, pid in
 * `<dir>/<name>.pid`, so a later command (or a test's `after`) finds and stops exactly that process.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ClusterEnv } from "./cluster";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pidFile(dir: string, name: string): string {
  return path.join(dir, `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in `<dir>/<name>.pid` if that process is alive, else undefined. */
export function runningPid(dir: string, name: string): number | undefined {
  const f = pidFile(dir, name);
  if (!fs.existsSync(f)) return undefined;
  const pid = Number(fs.readFileSync(f, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

export interface StartInNsOptions {
  /** Where the pid file goes. */
  readonly dir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * A resolv.conf for the process: bind-mounted over /etc/resolv.conf in a mount namespace of its own (as
   * `ip netns exec` does with /etc/netns/<name>/resolv.conf), so it resolves cluster names through the cluster DNS.
   */
  readonly resolvConf?: string;
}

/** The log file of process `name`. */
export function processLog(cluster: ClusterEnv, name: string): string {
  return path.join(cluster.LOGS, `${name}.log`);
}

/** Starts `cmd` detached inside the namespace, output to `<logs>/<name>.log`, pid to `<dir>/<name>.pid`. */
export function startInNs(cluster: ClusterEnv, name: string, cmd: string, args: string[], opts: StartInNsOptions): number {
  fs.mkdirSync(opts.dir, { recursive: true });
  fs.mkdirSync(cluster.LOGS, { recursive: true });
  const logFile = processLog(cluster, name);
  if (fs.existsSync(logFile)) fs.renameSync(logFile, `${logFile}.previous`);
  const log = fs.openSync(logFile, "a");
  const nsenter = ["nsenter", `--net=${cluster.NETNS_FILE}`, "--", cmd, ...args];
  // unshare, sh and nsenter each exec the next, so the pid is the command's own.
  const [file, argv] = opts.resolvConf
    ? ["unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', opts.resolvConf, ...nsenter]]
    : [nsenter[0] as string, nsenter.slice(1)];
  const child = spawn(file, argv, { detached: true, stdio: ["ignore", log, log], env: opts.env ?? process.env, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  fs.closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`${name}: ${cmd} could not be started`);
  fs.writeFileSync(pidFile(opts.dir, name), `${child.pid}\n`);
  return child.pid;
}

/** SIGTERM (SIGKILL after `graceMs`) to the process of `<dir>/<name>.pid`; returns whether one was running. */
export async function stopByPid(dir: string, name: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(dir, name);
  fs.rmSync(pidFile(dir, name), { force: true });
  if (pid === undefined) return false;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  while (alive(pid)) await sleep(50);
  return true;
}

/** Polls `fn` every 250 ms until it returns a value; fails with what `died` reports, or after `timeoutMs`. */
export async function waitUntil<T>(what: string, timeoutMs: number, fn: () => T | undefined, died?: () => string | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    const dead = died?.();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** The last `lines` lines of a file, or `(no log)`. */
export function tail(file: string, lines = 30): string {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "(no log)";
}
