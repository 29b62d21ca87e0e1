/**
 * A fresh git worktree of HEAD that shares nothing writable with this checkout. What `npm run setup` installed or
 * built and the worktree needs is copied into it (`cp -a`): the dependency trees, the native addon, the evidence key
 * and evidence, and the built tools (Pulumi CLI and provider, cosign, syft, the node image's base archive). Whatever
 * runs there (npm ci, pulumi login, buildah, a release) then writes only inside the worktree.
 *
 * `checkoutSnapshot` records the entries (inode, size, mtime) of those paths two levels deep, so a test can show that
 * this checkout was left as it was.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/lib/stack-config";

/** Installed (git-ignored) paths of the checkout a worktree gets a copy of. */
export const INSTALLED = [
  "node_modules",
  "node-app/node_modules",
  "policies/quality-gates/node_modules",
  "policies/k8s-hardening/node_modules",
  "node-app/native/bizra_native.node",
  ".evidence-key",
  "evidence",
];

/** Built tool folders under .toolchain/ a release needs, by tool name (`<name>-v<version>/`, any version present). */
export const TOOL_NAMES = ["pulumi", "kubernetes", "cosign", "syft"];
/** The node image's base (scripts/images.sh base): the build copies it into its registry from the archive. */
export const IMAGE_BASE_FILES = ["base.oci.tar", "base.ref", "base.stamp"];

/** The paths (relative to the checkout) a fresh worktree copies, those present. */
export function copiedPaths(root: string = REPO_ROOT): string[] {
  const tc = path.join(root, ".toolchain");
  const tools = fs.existsSync(tc)
    ? fs
        .readdirSync(tc, { withFileTypes: true })
        .filter((d) => d.isDirectory() && TOOL_NAMES.some((t) => new RegExp(`^${t}-v[0-9][0-9.]*$`).test(d.name)))
        .map((d) => `.toolchain/${d.name}`)
    : [];
  const base = IMAGE_BASE_FILES.map((f) => `.toolchain/images/${f}`);
  return [...INSTALLED, ...tools, ...base].filter((p) => fs.existsSync(path.join(root, p)));
}

export interface Worktree {
  readonly dir: string;
  readonly copied: readonly string[];
  /** Wall seconds of `git worktree add` plus the copies. */
  readonly seconds: number;
  remove(): void;
}

function sh(cmd: string, args: string[], cwd = REPO_ROOT): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
}

/** `cp -a src dst`, as a promise (the copies run side by side: many small files, latency rather than bandwidth). */
function copy(src: string, dst: string): Promise<void> {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  return new Promise((resolve, reject) => {
    let err = "";
    const child = spawn("cp", ["-a", src, dst], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`cp -a ${src} ${dst} exited ${code}: ${err.trim().split("\n").slice(-3).join("\n")}`))));
  });
}

export async function freshWorktree(dir: string): Promise<Worktree> {
  const t0 = Date.now();
  sh("git", ["worktree", "add", "--detach", dir, "HEAD"]);
  const remove = () => {
    spawnSync("git", ["worktree", "remove", "--force", dir], { cwd: REPO_ROOT });
    fs.rmSync(dir, { recursive: true, force: true });
    spawnSync("git", ["worktree", "prune"], { cwd: REPO_ROOT });
  };
  const copied = copiedPaths();
  const copies = await Promise.allSettled(copied.map((p) => copy(path.join(REPO_ROOT, p), path.join(dir, p))));
  const failed = copies.find((c): c is PromiseRejectedResult => c.status === "rejected");
  if (failed) {
    remove();
    throw failed.reason as Error;
  }
  // A checkout gives its lock files a new mtime; trees installed from identical lock files are current (npm ci would
  // otherwise run again in the worktree: ensureNpmDeps compares the two times).
  for (const tree of INSTALLED.filter((p) => p.endsWith("node_modules") && copied.includes(p))) {
    const pkg = path.dirname(tree);
    const lock = (root: string) => fs.readFileSync(path.join(root, pkg, "package-lock.json"));
    if (lock(REPO_ROOT).equals(lock(dir))) {
      const now = new Date();
      fs.utimesSync(path.join(dir, tree, ".package-lock.json"), now, now);
    }
  }
  return {
    dir,
    copied,
    seconds: (Date.now() - t0) / 1000,
    remove,
  };
}

/** `relative path -> "inode size mtime"` for each path and its entries two levels down (links not followed). */
export function checkoutSnapshot(paths: readonly string[], root: string = REPO_ROOT): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (rel: string, depth: number) => {
    const abs = path.join(root, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      out.set(rel, "absent");
      return;
    }
    out.set(rel, `${st.ino} ${st.size} ${st.mtimeMs}`);
    if (depth > 0 && st.isDirectory()) for (const e of fs.readdirSync(abs).sort()) visit(path.join(rel, e), depth - 1);
  };
  for (const p of paths) visit(p, 2);
  return out;
}

/** The entries that differ between two snapshots, as readable lines. */
export function snapshotChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  return keys.filter((k) => before.get(k) !== after.get(k)).map((k) => `${k}: ${before.get(k) ?? "absent"} -> ${after.get(k) ?? "absent"}`);
}
