/**
 * Building the node image with buildah (no Docker daemon): build args `BIZRA_USE_RUST` and `GIT_COMMIT`, OCI labels
 * `org.opencontainers.image.{revision,source,created}` with `created` = the commit's committer time, and
 * `buildah build --timestamp <commit time>` so the image config and every layer file carry that time instead of the
 * build time (docs/release.md says what that gives).
 *
 * Storage: a private buildah store under `.toolchain/buildah/` (vfs driver: works in any container, needs no
 * fuse-overlayfs), so releases never touch another tool's images.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT, run } from "./tools";

export const BUILDAH_ROOT = path.join(REPO_ROOT, ".toolchain", "buildah");
const CONTAINERFILE = path.join(__dirname, "Containerfile");
const NODE_APP = path.join(REPO_ROOT, "node-app");
/** node-app's `file:` dependencies (@bizra/contract, @bizra/evidence). */
const LOCAL_PACKAGES = ["contract", "evidence"] as const;

export interface ImageBuildInput {
  readonly commit: string;
  /** ISO 8601 committer time. */
  readonly commitTime: string;
  readonly source: string;
  readonly useRust: boolean;
  /** Local name of the built image (e.g. `<repository>:<commit>`). */
  readonly name: string;
}

export interface BuiltImage {
  readonly name: string;
  /** Image id in the buildah store. */
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly buildArgs: { BIZRA_USE_RUST: "true" | "false"; GIT_COMMIT: string };
  readonly builder: string;
}

/** Global buildah flags of the private store. */
export function buildahStoreArgs(root: string = BUILDAH_ROOT): string[] {
  return ["--root", path.join(root, "storage"), "--runroot", path.join(root, "run"), "--storage-driver", "vfs"];
}

function copyInto(src: string, dest: string): void {
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.cpSync(src, dest, { recursive: true, dereference: true, preserveTimestamps: false });
}

/** The node binary and every shared library `ldd` names, at their own paths. */
function stageNodeRuntime(rootfs: string): void {
  const node = fs.realpathSync(process.execPath);
  copyInto(node, path.join(rootfs, "usr", "bin", "node"));
  const ldd = run("ldd", [node]).stdout;
  for (const line of ldd.split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (!m) continue;
    copyInto(m[1]!, path.join(rootfs, m[1]!));
  }
}

/** Stages the root filesystem from node-app/ (compiled here) into `<work>/rootfs`. */
function stageRootfs(work: string, useRust: boolean): void {
  const rootfs = path.join(work, "rootfs");
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(rootfs, { recursive: true });
  stageNodeRuntime(rootfs);
  run("npm", ["--prefix", NODE_APP, "run", "build"]);
  const app = path.join(rootfs, "app");
  copyInto(path.join(NODE_APP, "dist"), path.join(app, "dist"));
  for (const f of ["package.json", "package-lock.json"]) copyInto(path.join(NODE_APP, f), path.join(app, f));
  // The local packages (`file:` dependencies), compiled into the image only, as node-app/Dockerfile does: their
  // package.json and JavaScript, linked by npm ci from node_modules/@bizra/.
  for (const pkg of LOCAL_PACKAGES) {
    copyInto(path.join(NODE_APP, pkg, "package.json"), path.join(app, pkg, "package.json"));
    run(path.join(NODE_APP, "node_modules", ".bin", "tsc"), ["-p", path.join(NODE_APP, pkg), "--outDir", path.join(app, pkg), "--declaration", "false"]);
  }
  run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: app });
  for (const f of ["index.js", "index.d.ts", "package.json"]) copyInto(path.join(NODE_APP, "native", f), path.join(app, "native", f));
  if (useRust) {
    const addon = path.join(NODE_APP, "native", "bizra_native.node");
    if (!fs.existsSync(addon)) run("bash", [path.join(NODE_APP, "native", "build.sh")]);
    copyInto(addon, path.join(app, "native", "bizra_native.node"));
  }
  fs.mkdirSync(path.join(rootfs, "tmp"), { recursive: true });
}

export function buildahVersion(): string {
  return /version\s+(\S+)/.exec(run("buildah", ["--version"]).stdout)?.[1] ?? "unknown";
}

export function buildNodeImage(input: ImageBuildInput, root: string = BUILDAH_ROOT): BuiltImage {
  const work = path.join(root, "work", input.commit.slice(0, 12));
  stageRootfs(work, input.useRust);
  fs.copyFileSync(CONTAINERFILE, path.join(work, "Containerfile"));
  const epoch = Math.floor(Date.parse(input.commitTime) / 1000);
  const buildArgs = { BIZRA_USE_RUST: input.useRust ? "true" : "false", GIT_COMMIT: input.commit } as const;
  const created = new Date(epoch * 1000).toISOString().replace(".000Z", "Z");
  const store = buildahStoreArgs(root);
  run("buildah", [
    ...store, "build", "--format", "oci", "--layers=false", "--timestamp", String(epoch), "--pull=never",
    "--build-arg", `BIZRA_USE_RUST=${buildArgs.BIZRA_USE_RUST}`, "--build-arg", `GIT_COMMIT=${buildArgs.GIT_COMMIT}`,
    "--build-arg", `SOURCE=${input.source}`, "--build-arg", `CREATED=${created}`,
    "-f", path.join(work, "Containerfile"), "-t", input.name, work,
  ]);
  const inspect = JSON.parse(run("buildah", [...store, "inspect", "--type", "image", input.name]).stdout) as {
    FromImageID: string;
    OCIv1: { config?: { Labels?: Record<string, string> } };
  };
  return { name: input.name, id: inspect.FromImageID, labels: inspect.OCIv1.config?.Labels ?? {}, buildArgs, builder: `buildah ${buildahVersion()} (stand-in rootfs, scripts/release/Containerfile)` };
}

/** Pushes to a registry (plain http for a loopback host) and returns the pushed manifest digest. */
export function pushImage(name: string, destination: string, opts: { insecure: boolean; root?: string }): string {
  const digestFile = path.join(opts.root ?? BUILDAH_ROOT, `digest-${process.pid}`);
  run("buildah", [...buildahStoreArgs(opts.root), "push", "--digestfile", digestFile, ...(opts.insecure ? ["--tls-verify=false"] : []), name, `docker://${destination}`]);
  const digest = fs.readFileSync(digestFile, "utf8").trim();
  fs.rmSync(digestFile);
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`buildah push wrote no digest (got ${JSON.stringify(digest)})`);
  return digest;
}
