/**
 * Helpers for running the real Pulumi engine (CLI v3.259.0 built by toolchain/pulumi.sh) on this project with a
 * local, self-contained default: a `file://` backend under `.pulumi-local/` (git-ignored), the passphrase secrets
 * provider with the documented LOCAL passphrase, and the Kubernetes provider rendering manifests to a folder
 * (`kubernetes:renderYamlToDirectory`) instead of talking to a cluster. Used by scripts/engine-local.ts
 * (`npm run up:local|preview:local|destroy:local -- <stack>`) and tests/engine.test.ts. See docs/engine.md.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { headCommit, trustedKeysOrLocal, verifyEvidence, type EvidenceProblem } from "@bizra/evidence";
import { REPO_ROOT } from "./stack-config";

/**
 * The passphrase the committed `secure:` values in Pulumi.<stack>.yaml are encrypted for. It is published here on
 * purpose and PROTECTS NOTHING: the only secret it guards is a throwaway local signing key. A real deployment uses a
 * real secrets provider (`pulumi stack change-secrets-provider`) and its own `bizra:signingKey`.
 */
export const LOCAL_PASSPHRASE = "bizra-local-passphrase-protects-nothing";
/** Git-ignored folder of the local default: `state/` (file:// backend), `config/` (generated stack config files). */
export const LOCAL_DIR = path.join(REPO_ROOT, ".pulumi-local");
export const LOCAL_BACKEND_DIR = path.join(LOCAL_DIR, "state");
export const POLICY_PACKS = ["policies/quality-gates", "policies/k8s-hardening"].map((p) => path.join(REPO_ROOT, p));
export const EVIDENCE_DIR = path.join(REPO_ROOT, "evidence");
const TOOLCHAIN = path.join(REPO_ROOT, "toolchain", "pulumi.sh");

/** True when toolchain/pulumi.sh has built everything (builds nothing). */
export function toolchainBuilt(env: NodeJS.ProcessEnv = process.env): boolean {
  return spawnSync("bash", [TOOLCHAIN, "--check"], { env, stdio: "ignore" }).status === 0;
}

/**
 * `eval "$(toolchain/pulumi.sh --env)"` for Node: builds what is missing (progress on stderr, inherited) and returns
 * process.env plus the exported PATH/PULUMI_HOME/PULUMI_SKIP_UPDATE_CHECK/PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION.
 */
export function toolchainEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const r = spawnSync("bash", [TOOLCHAIN, "--env"], { env: base, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`toolchain/pulumi.sh --env failed (exit ${r.status})`);
  const env: NodeJS.ProcessEnv = { ...base };
  for (const line of r.stdout.split("\n")) {
    const m = /^export ([A-Z_]+)="(.*)"$/.exec(line.trim()) ?? /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    env[m[1]!] = m[2]!.replace(/\$PATH|\$\{PATH\}/g, base["PATH"] ?? "");
  }
  if (!env["PULUMI_HOME"]) throw new Error(`toolchain/pulumi.sh --env printed no PULUMI_HOME:\n${r.stdout}`);
  return env;
}

/** The environment for one engine run: toolchain env + a file:// backend + the local passphrase. */
export function engineEnv(toolchain: NodeJS.ProcessEnv, backendDir: string, passphrase = LOCAL_PASSPHRASE): NodeJS.ProcessEnv {
  fs.mkdirSync(backendDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...toolchain,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  delete env["PULUMI_CONFIG_PASSPHRASE_FILE"];
  delete env["PULUMI_ACCESS_TOKEN"];
  return env;
}

/**
 * Writes a copy of Pulumi.<stack>.yaml (same `encryptionsalt`, same `secure:` values, so secrets decrypt with the
 * local passphrase) plus `kubernetes:renderYamlToDirectory: <renderDir>` and any `extra` config values, for
 * `pulumi … --config-file <file>`. The committed stack file is never written. Returns the file's path.
 */
export function writeEngineConfigFile(stack: string, renderDir: string, outFile: string, extra: Record<string, unknown> = {}): string {
  return writeStackConfigFile(stack, { "kubernetes:renderYamlToDirectory": renderDir, ...extra }, outFile);
}

/** A copy of Pulumi.<stack>.yaml with `settings` (full keys, e.g. `kubernetes:kubeconfig`) set or replaced. */
export function writeStackConfigFile(stack: string, settings: Record<string, unknown>, outFile: string): string {
  const doc = parseDocument(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
  if (!doc.has("config")) doc.set("config", doc.createNode({}));
  for (const [key, value] of Object.entries(settings)) doc.setIn(["config", key], doc.createNode(value));
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, doc.toString());
  return outFile;
}

/** Problems that make `evidence/` unusable for a preview of HEAD (the quality-gates pack's default checks). */
export function evidenceProblems(dir = EVIDENCE_DIR): string[] {
  if (!fs.existsSync(path.join(dir, "manifest.json"))) return [`${path.relative(REPO_ROOT, dir)}/manifest.json is missing`];
  const head = headCommit();
  const report = verifyEvidence(dir, { trustedKeys: trustedKeysOrLocal(undefined), ...(head ? { commit: head } : {}), maxAgeHours: 24 });
  return report.problems.map((p: EvidenceProblem) => `[${p.code}] ${p.message}`);
}

/** `npm ci` in a folder whose node_modules is missing or older than its package-lock.json. */
export function ensureNpmDeps(dir: string, log: (s: string) => void = console.error): void {
  const lock = path.join(dir, "package-lock.json");
  const installed = path.join(dir, "node_modules", ".package-lock.json");
  if (fs.existsSync(installed) && fs.statSync(installed).mtimeMs >= fs.statSync(lock).mtimeMs) return;
  log(`npm ci in ${path.relative(REPO_ROOT, dir) || "."}`);
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", process.stderr, "inherit"] });
  if (r.status !== 0) throw new Error(`npm ci failed in ${dir}`);
}

/** node-app's node_modules (it measures and signs the evidence) and each policy pack's own. */
export function ensurePackDeps(log?: (s: string) => void): void {
  for (const dir of [path.join(REPO_ROOT, "node-app"), ...POLICY_PACKS]) ensureNpmDeps(dir, log);
}

/**
 * `--policy-pack <p>` for both packs (quality-gates, k8s-hardening); with `configs`, one `--policy-pack-config <file>`
 * per pack, in the same order (the CLI pairs them by position).
 */
export function policyPackArgs(configs?: readonly [qualityGates: string, k8sHardening: string]): string[] {
  return [...POLICY_PACKS.flatMap((p) => ["--policy-pack", p]), ...(configs ?? []).flatMap((c) => ["--policy-pack-config", c])];
}

export interface PulumiRun {
  readonly status: number | null;
  readonly output: string;
  readonly seconds: number;
}

/**
 * Runs `pulumi <args>` in the project folder. `capture` collects stdout+stderr instead of streaming them; `netns` (a
 * /run/netns/<name> file) runs the engine inside that network namespace (the local cluster's API server is only there).
 */
export function pulumi(args: string[], env: NodeJS.ProcessEnv, opts: { capture?: boolean; timeoutMs?: number; netns?: string } = {}): PulumiRun {
  const t0 = Date.now();
  const [cmd, cmdArgs] = opts.netns ? ["nsenter", [`--net=${opts.netns}`, "--", "pulumi", ...args]] : ["pulumi", args];
  const r: SpawnSyncReturns<string> = spawnSync(cmd, cmdArgs, {
    cwd: REPO_ROOT,
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: opts.capture ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"],
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
  });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}`, seconds: (Date.now() - t0) / 1000 };
}

/** Rendered manifests under a renderYamlToDirectory folder (`0-crd/`, `1-manifest/`), as paths. */
export function renderedManifestFiles(renderDir: string): string[] {
  return ["0-crd", "1-manifest"]
    .map((d) => path.join(renderDir, d))
    .filter((d) => fs.existsSync(d))
    .flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".yaml")).map((f) => path.join(d, f)))
    .sort();
}
