/**
 * The local single-node cluster (scripts/cluster.sh, docs/cluster.md) seen from Node: its settings, kubectl inside its
 * network namespace, the node image scripts/images.sh built, and the CRDs the program's custom resources need.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config";
import { parseTrustedKeys, TRUSTED_KEYS_ENV, trustedKeysOrLocal } from "@bizra/evidence";
import { checkReleaseBundle, releaseBundles, RELEASES_DIR } from "../release/manifest";
import { offlineStackConfig, readStackFile, REPO_ROOT } from "./stack-config";

export const CLUSTER_SCRIPT = path.join(REPO_ROOT, "scripts", "cluster.sh");
export const IMAGES_SCRIPT = path.join(REPO_ROOT, "scripts", "images.sh");
/** Where scripts/images.sh writes the reference of the node image it built (docker.io/local/bizra-node@sha256:...). */
export const NODE_IMAGE_REF_FILE = path.join(REPO_ROOT, ".toolchain", "images", "node.ref");
/** The registry prefix of images built here; a cluster stack allows it beside the stack's own registries. */
export const LOCAL_IMAGE_REGISTRY = "docker.io/local";
/** CRDs of the custom resources the program creates (ServiceMonitor, PrometheusRule, Canary, ClusterPolicy, ...), fetched by scripts/crds.sh. */
export const CRD_DIR = path.join(REPO_ROOT, ".toolchain", "crds");

export interface ClusterEnv {
  NETNS: string;
  NETNS_FILE: string;
  STATE: string;
  LOGS: string;
  KUBECONFIG: string;
  KUBECTL: string;
  NODE_IP: string;
  [key: string]: string;
}

/**
 * Settings that select a cluster other than the default one (scripts/cluster.sh reads them): its network namespace and
 * state folder. Passed as `select` to the functions below; empty means the default cluster of this checkout.
 */
export interface ClusterSelect {
  BIZRA_CLUSTER_NETNS?: string;
  BIZRA_CLUSTER_DIR?: string;
}

/** `scripts/cluster.sh env` as an object (KEY=VALUE lines). Throws when the Kubernetes binaries are not built. */
export function clusterEnv(select: ClusterSelect = {}): ClusterEnv {
  const r = spawnSync("bash", [CLUSTER_SCRIPT, "env"], { encoding: "utf8", env: { ...process.env, ...select } });
  if (r.status !== 0) throw new Error(`scripts/cluster.sh env failed:\n${r.stderr}`);
  const env: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/^([A-Z_]+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  for (const k of ["NETNS_FILE", "KUBECONFIG", "KUBECTL"]) if (!env[k]) throw new Error(`scripts/cluster.sh env printed no ${k}`);
  return env as ClusterEnv;
}

/** True when `scripts/cluster.sh status` says a cluster of this checkout runs. */
export function clusterRunning(select: ClusterSelect = {}): boolean {
  return spawnSync("bash", [CLUSTER_SCRIPT, "status"], { stdio: "ignore", env: { ...process.env, ...select } }).status === 0;
}

/** Runs a command inside the cluster's network namespace (KUBECONFIG set). */
export function inClusterNs(env: ClusterEnv, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync("nsenter", [`--net=${env.NETNS_FILE}`, "--", cmd, ...args], {
    encoding: "utf8",
    env: { ...process.env, KUBECONFIG: env.KUBECONFIG },
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeout: opts.timeoutMs ?? 120_000,
  });
}

/** kubectl (the one built with the cluster) inside the namespace; throws with its stderr when it fails. */
export function kubectl(env: ClusterEnv, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = inClusterNs(env, env.KUBECTL, args, opts);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed (exit ${r.status}): ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

/**
 * kubectl get ... -o json, or undefined when the object does not exist. `T` is the caller's reading of the answer
 * (e.g. the Kubernetes provider's output type of the kind it asked for); nothing checks it.
 */
export function kubectlGet<T = unknown>(env: ClusterEnv, args: string[]): T | undefined {
  const r = inClusterNs(env, env.KUBECTL, ["get", ...args, "-o", "json"]);
  if (r.status !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(`kubectl get ${args.join(" ")} failed: ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as T;
}

/** Server-side applies every CRD in CRD_DIR and waits until each is Established. Returns their names. */
export function installCrds(env: ClusterEnv, dir = CRD_DIR): string[] {
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f));
  if (files.length === 0) throw new Error(`no CRD files in ${dir}`);
  const out = kubectl(env, ["apply", "--server-side", "--force-conflicts", "-o", "name", ...files.flatMap((f) => ["-f", f])], { timeoutMs: 300_000 });
  const names = out.split("\n").filter((l) => l.startsWith("customresourcedefinition")).map((l) => l.replace(/^[^/]+\//, ""));
  if (names.length > 0) kubectl(env, ["wait", "--for=condition=Established", "--timeout=120s", ...names.map((n) => `crd/${n}`)], { timeoutMs: 180_000 });
  return names;
}

/** The node image reference scripts/images.sh recorded, or undefined when it has not built one. */
export function builtNodeImage(): string | undefined {
  // Fresh only when built from node-app as it is now (scripts/images.sh node-fresh compares its inputs' hash).
  const r = spawnSync("bash", [IMAGES_SCRIPT, "node-fresh"], { encoding: "utf8" });
  const ref = r.status === 0 ? r.stdout.trim() : "";
  return /^[a-z0-9./-]+@sha256:[0-9a-f]{64}$/.test(ref) ? ref : undefined;
}

/** The digest of the committed stack files' `bizra:image.reference` before anything was released (all zeros). */
export const UNRELEASED_DIGEST = `sha256:${"0".repeat(64)}`;

/** What `up:cluster` deploys: a release the stack names, or the image scripts/images.sh built here. */
export type ClusterImageChoice =
  | {
      readonly source: "release";
      /** `<repository>@sha256:<digest>`, exactly the stack's `bizra:image.reference`. */
      readonly reference: string;
      readonly repository: string;
      /** The tag the release pushed beside the digest (the commit): the name the cluster's containerd gets. */
      readonly tag: string;
      /** The release.json that names the digest and verified. */
      readonly bundle: string;
    }
  | { readonly source: "local"; readonly why: string };

/**
 * The image a deployment of `stack` to the local cluster runs. While the stack file names the unreleased placeholder
 * digest: the image built here (`source: "local"`). Once `npm run release -- <stack>` or `npm run release:use -- <stack>`
 * set `bizra:image.reference`: exactly that digest, and only when a bundle in releases/<stack>/ names it and verifies
 * offline (signature by a trusted key, every file digest, the stack's cosign key); otherwise an error that says so.
 */
export function clusterImageChoice(
  stack: string,
  opts: { reference?: string; releasesDir?: string; trustedKeys?: string[]; cosignPublicKey?: string } = {},
): ClusterImageChoice {
  let reference = opts.reference;
  if (reference === undefined) {
    const image = readStackFile(stack)["bizra:image"] as { reference?: unknown } | undefined;
    if (typeof image?.reference !== "string") throw new Error(`Pulumi.${stack}.yaml has no bizra:image.reference`);
    reference = image.reference;
  }
  if (reference.endsWith(`@${UNRELEASED_DIGEST}`)) {
    return { source: "local", why: `Pulumi.${stack}.yaml names no release (bizra:image.reference is the placeholder ${reference})` };
  }
  const root = opts.releasesDir ?? RELEASES_DIR;
  const trustedKeys = opts.trustedKeys ?? trustedKeysOrLocal(parseTrustedKeys(process.env[TRUSTED_KEYS_ENV]));
  let cosignPublicKey = opts.cosignPublicKey;
  if (cosignPublicKey === undefined) {
    const raw = offlineStackConfig(stack);
    cosignPublicKey = parseStackConfig(stack, raw.values, raw.secretKeys).kyverno.cosignPublicKey;
  }
  const problems: string[] = [];
  for (const file of releaseBundles(stack, root)) {
    const report = checkReleaseBundle(file, { trustedKeys, stack, imageReference: reference, cosignPublicKey });
    if (report.ok && report.manifest) {
      return { source: "release", reference, repository: report.manifest.image.repository, tag: report.manifest.image.tag, bundle: file };
    }
    if (!report.problems.some((p) => p.code === "wrong-image")) problems.push(`${path.relative(REPO_ROOT, file)}: ${report.problems.map((p) => `[${p.code}] ${p.message}`).join("; ")}`);
  }
  throw new Error(
    `Pulumi.${stack}.yaml deploys ${reference}, but no release bundle in ${path.join(root, stack)} names that digest and verifies` +
      (problems.length > 0 ? `:\n  ${problems.join("\n  ")}` : "") +
      `\nSet a verified release with \`npm run release:use -- ${stack} [bundle]\`, or restore the committed placeholder (\`git checkout Pulumi.${stack}.yaml\`) to deploy the image built here.`,
  );
}

/**
 * Stack config for a deployment to the local cluster: the cluster's kubeconfig, the image (built here, or a release:
 * exactly that digest) and the allowed registries. Everything else comes from Pulumi.<stack>.yaml.
 */
export function clusterStackSettings(env: ClusterEnv, image: string, stack: string): Record<string, unknown> {
  // The stack's own registries stay allowed (its release repository must be under one of them); the local one is added.
  const stackRegistries = readStackFile(stack)["bizra:allowedRegistries"];
  const registries = Array.isArray(stackRegistries) ? stackRegistries.map(String) : [];
  return {
    "kubernetes:kubeconfig": env.KUBECONFIG,
    "bizra:image": { reference: image },
    "bizra:allowedRegistries": [...registries.filter((r) => r !== LOCAL_IMAGE_REGISTRY), LOCAL_IMAGE_REGISTRY],
  };
}
