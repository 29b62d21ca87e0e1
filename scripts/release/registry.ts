/**
 * The loopback registry (Debian's `docker-registry`, the CNCF distribution registry) that local and test stacks push
 * to, and the small part of the registry HTTP API the release needs (resolve a tag to its digest).
 *
 * `ensureLoopbackRegistry("127.0.0.1:5000")` uses a registry already answering there, else starts one detached with
 * its storage under `.registry/<port>/` (git-ignored) and its pid in `.registry/<port>/registry.pid`, so it outlives
 * the release (the cluster pulls from it); `stopLoopbackRegistry` stops only a registry this code started.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const REGISTRY_ROOT = path.resolve(__dirname, "..", "..", ".registry");
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

/** `host:port` of a loopback registry, or undefined for any other registry. */
export function loopbackHost(repository: string): string | undefined {
  const host = repository.split("/")[0]!;
  return /^(127\.0\.0\.1|localhost|\[::1\]):[0-9]+$/.test(host) ? host : undefined;
}

export async function registryAnswers(host: string, timeoutMs = 5000): Promise<boolean> {
  try {
    const r = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(timeoutMs) });
    return r.status === 200 || r.status === 401;
  } catch {
    return false;
  }
}

export interface RegistryHandle {
  readonly host: string;
  /** Pid when this call started the registry; undefined when one was already running. */
  readonly pid?: number;
  readonly dir: string;
}

function registryConfig(host: string, storage: string): string {
  return [
    "version: 0.1",
    "log: { level: warn }",
    "storage:",
    `  filesystem: { rootdirectory: ${JSON.stringify(storage)} }`,
    "  delete: { enabled: true }",
    "http:",
    `  addr: ${host}`,
    "",
  ].join("\n");
}

/** Starts `docker-registry` on `host` unless something answers there already. */
export async function ensureLoopbackRegistry(host: string, root: string = REGISTRY_ROOT): Promise<RegistryHandle> {
  const dir = path.join(root, host.replace(/[^0-9A-Za-z.]/g, "_"));
  if (await registryAnswers(host)) return { host, dir };
  if (spawnSync("sh", ["-c", "command -v docker-registry"], { stdio: "ignore" }).status !== 0) {
    throw new Error("docker-registry is not installed (Debian package docker-registry; scripts/setup.sh installs it)");
  }
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  const config = path.join(dir, "config.yml");
  fs.writeFileSync(config, registryConfig(host, path.join(dir, "data")));
  const log = fs.openSync(path.join(dir, "registry.log"), "a");
  const child = spawn("docker-registry", ["serve", config], { detached: true, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(path.join(dir, "registry.pid"), `${child.pid}\n`);
  for (let i = 0; i < 100; i++) {
    const answers = await registryAnswers(host, 1000);
    if (child.exitCode !== null) {
      // It could not listen: another registry took the address meanwhile (then use that one) or it failed.
      fs.rmSync(path.join(dir, "registry.pid"), { force: true });
      if (answers || (await registryAnswers(host))) return { host, dir };
      break;
    }
    if (answers) return { host, pid: child.pid!, dir };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on http://${host}/v2/ (log: ${path.join(dir, "registry.log")})`);
}

/** Stops the registry this code started on `host` (by its pid file); returns whether one was stopped. */
export function stopLoopbackRegistry(host: string, root: string = REGISTRY_ROOT): boolean {
  const pidFile = path.join(root, host.replace(/[^0-9A-Za-z.]/g, "_"), "registry.pid");
  if (!fs.existsSync(pidFile)) return false;
  const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
  fs.rmSync(pidFile);
  try {
    process.kill(pid, "SIGTERM");
    return true;
  } catch {
    return false;
  }
}

/** Splits `host/name[:tag|@digest]` for the HTTP API. */
export function splitReference(ref: string): { host: string; name: string; tagOrDigest: string } {
  const at = ref.indexOf("@");
  const base = at >= 0 ? ref.slice(0, at) : ref;
  const slash = base.indexOf("/");
  const host = base.slice(0, slash);
  let name = base.slice(slash + 1);
  let tagOrDigest = at >= 0 ? ref.slice(at + 1) : "latest";
  const colon = name.lastIndexOf(":");
  if (at < 0 && colon >= 0) {
    tagOrDigest = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return { host, name, tagOrDigest };
}

/** Digest the registry serves for a tag or digest reference (HEAD /v2/<name>/manifests/<ref>); undefined if absent. */
export async function resolveDigest(ref: string, scheme = "http"): Promise<string | undefined> {
  const { host, name, tagOrDigest } = splitReference(ref);
  const r = await fetch(`${scheme}://${host}/v2/${name}/manifests/${tagOrDigest}`, { method: "HEAD", headers: { Accept: ACCEPT } });
  if (r.status === 404) return undefined;
  if (!r.ok) throw new Error(`registry ${host}: HEAD manifests/${tagOrDigest} of ${name} answered ${r.status}`);
  return r.headers.get("docker-content-digest") ?? undefined;
}
