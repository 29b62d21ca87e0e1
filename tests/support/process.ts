/**
 * Ports, child processes and cleanup for tests that start servers (kube-apiserver and etcd, Prometheus, the node).
 * A test starts what it needs and stops it itself; `track` adds a last-resort kill when the test process exits.
 */
import type { ChildProcess } from "node:child_process";
import * as net from "node:net";

/** A free TCP port on 127.0.0.1 (bind to 0, read, release). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no free port on 127.0.0.1"))));
    });
  });
}

/** `n` distinct free ports. */
export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `fn` until it returns a value other than undefined, or throws after `timeoutMs` with the last error. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await sleep(everyMs);
  }
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` unless the child has exited (or never started). Never throws. */
export function killSync(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child || child.pid === undefined || hasExited(child)) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM, then SIGKILL after `graceMs` (at once when 0); resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killSync(child, graceMs > 0 ? "SIGTERM" : "SIGKILL");
  const timer = setTimeout(() => killSync(child, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

const tracked = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of tracked) killSync(c, "SIGKILL");
});

/** Registers a child for the last-resort kill on process exit. */
export function track(child: ChildProcess): ChildProcess {
  tracked.add(child);
  child.once("exit", () => tracked.delete(child));
  return child;
}
