/**
 * A loopback OCI registry for tests (`crane registry serve`, go-containerregistry's registry, in memory) and
 * images pushed to it without a container engine (`crane append`: one layer on an empty base). Addresses on
 * 127.0.0.1 are spoken to over plain HTTP by crane, cosign and Kyverno alike (go-containerregistry's rule for
 * loopback registries).
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, stopChild, track, waitFor } from "./process";

export interface RunningRegistry {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  stop(): Promise<void>;
}

export async function startRegistry(crane: string): Promise<RunningRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let log = "";
  const child = track(spawn(crane, ["registry", "serve", "--address", host], { stdio: ["ignore", "pipe", "pipe"] }));
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  try {
    await waitFor(
      `registry on ${host}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`crane registry exited ${child.exitCode}: ${log}`);
        const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2_000) });
        return res.status === 200 ? true : undefined;
      },
      30_000,
      200,
    );
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { host, stop: () => stopChild(child) };
}

/** Pushes a one-layer image holding `content` as /content.txt to `ref` (a tag); returns `repo@sha256:...`. */
export function pushImage(crane: string, ref: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-img-"));
  try {
    fs.writeFileSync(path.join(dir, "content.txt"), content);
    const tar = path.join(dir, "layer.tar");
    const t = spawnSync("tar", ["-C", dir, "-cf", tar, "content.txt"], { encoding: "utf8" });
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    const r = spawnSync(crane, ["append", "--new_layer", tar, "--new_tag", ref], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`crane append ${ref}: ${r.stderr}`);
    const digest = spawnSync(crane, ["digest", ref], { encoding: "utf8" });
    if (digest.status !== 0 || !/^sha256:[0-9a-f]{64}$/.test(digest.stdout.trim())) throw new Error(`crane digest ${ref}: ${digest.stderr}`);
    return `${ref.replace(/:[^:/]+$/, "")}@${digest.stdout.trim()}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
