/**
 * A loopback OCI registry for tests (Debian's docker-registry, started by the release's own code on a free port with
 * its storage in a temporary folder) and small images pushed to it with buildah (a private vfs store per push).
 * Addresses on 127.0.0.1 are spoken to over plain HTTP by buildah (--tls-verify=false), cosign and Kyverno alike
 * (go-containerregistry's rule for loopback registries).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureLoopbackRegistry, stopLoopbackRegistry } from "../../scripts/release/registry";
import { freePort, sleep } from "./process";

export interface RunningRegistry {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<RunningRegistry> {
  const host = `127.0.0.1:${await freePort()}`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-registry-"));
  const handle = await ensureLoopbackRegistry(host, root);
  if (handle.pid === undefined) {
    fs.rmSync(root, { recursive: true, force: true });
    throw new Error(`another registry answered on ${host} before this one started`);
  }
  const pid = handle.pid;
  return {
    host,
    stop: async () => {
      stopLoopbackRegistry(host, root);
      for (let i = 0; i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(100);
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

function buildah(store: string[], args: string[]): string {
  const r = spawnSync("buildah", [...store, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`buildah ${args.slice(0, 2).join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Pushes a one-layer image holding `content` as /content.txt to `ref` (a tag, plain http); returns `repo@sha256:...`. */
export function pushImage(ref: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bizra-img-"));
  const store = ["--root", path.join(dir, "storage"), "--runroot", path.join(dir, "run"), "--storage-driver", "vfs"];
  try {
    fs.writeFileSync(path.join(dir, "content.txt"), content);
    const ctr = buildah(store, ["from", "scratch"]);
    buildah(store, ["copy", ctr, path.join(dir, "content.txt"), "/content.txt"]);
    buildah(store, ["commit", "--quiet", "--rm", "--format", "oci", ctr, "localhost/bizra-test-image"]);
    buildah(store, ["push", "--quiet", "--tls-verify=false", "--digestfile", path.join(dir, "digest"), "localhost/bizra-test-image", `docker://${ref}`]);
    const digest = fs.readFileSync(path.join(dir, "digest"), "utf8").trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`buildah push ${ref} wrote no digest (${JSON.stringify(digest)})`);
    return `${ref.replace(/:[^:/]+$/, "")}@${digest}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
