/**
 * Offline render: evaluates the program for a stack under the same mock runtime the tests use and writes every
 * Kubernetes object as YAML under `rendered/<stack>/`, one file per object with a stable name. This is NOT a
 * `pulumi preview`: no engine, no provider, no cluster. Secret values are redacted in the files. The real engine's
 * manifests (`npm run up:local -- <stack>`) go to the subfolders `rendered/<stack>/1-manifest/` and `0-crd/`, which
 * this helper leaves alone.
 *
 *   npm run render -- testnet
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ConfigError } from "../components/config";
import { kubernetesObjects, runProgram } from "./lib/mock-runtime";
import { isKind, type KubeObject } from "./lib/kube-kinds";
import { offlineStackConfig, REPO_ROOT, STACKS } from "./lib/stack-config";

/** The plain Prometheus rules file written next to the objects. */
export const PROMETHEUS_RULES_FILE = "prometheus-rules.yaml";

/** `<kind>-<namespace>-<name>.yaml`, lower-case. */
export function objectFileName(obj: KubeObject): string {
  const ns = obj.metadata?.namespace ? `${obj.metadata.namespace}-` : "";
  return `${String(obj.kind).toLowerCase()}-${ns}${obj.metadata?.name}.yaml`;
}

export function redactSecrets(obj: KubeObject): KubeObject {
  if (!isKind(obj, "Secret")) return obj;
  const redact = (m?: Record<string, string>) => (m ? Object.fromEntries(Object.keys(m).map((k) => [k, "<redacted>"])) : undefined);
  return { ...obj, data: redact(obj.data), stringData: redact(obj.stringData) };
}

/** `overrides`: config values on top of the stack file (the release renders with the image it just pushed). */
export async function renderStack(stack: string, outDir = path.join(REPO_ROOT, "rendered", stack), overrides: Record<string, unknown> = {}): Promise<string[]> {
  const run = await runProgram(stack, offlineStackConfig(stack, overrides));
  // Replace this helper's own files (top level) only: subfolders belong to the engine's renderYamlToDirectory output
  // (`1-manifest/`, `0-crd/` from `npm run up:local`), which the engine itself keeps in step with its state.
  fs.mkdirSync(outDir, { recursive: true });
  for (const entry of fs.readdirSync(outDir, { withFileTypes: true })) {
    if (entry.isFile()) fs.rmSync(path.join(outDir, entry.name));
  }
  const files: string[] = [];
  for (const obj of kubernetesObjects(run)) {
    const file = path.join(outDir, objectFileName(obj));
    if (files.includes(file)) throw new Error(`two objects render to ${file}`);
    fs.writeFileSync(file, stringify(redactSecrets(obj), { sortMapEntries: false }));
    files.push(file);
  }
  // The PrometheusRule's spec (`groups:`) is a plain Prometheus rules file, for `promtool check/test rules`.
  const rules = kubernetesObjects(run).find((o) => o.kind === "PrometheusRule");
  if (rules) {
    const file = path.join(outDir, PROMETHEUS_RULES_FILE);
    fs.writeFileSync(file, stringify(rules.spec, { sortMapEntries: false }));
    files.push(file);
  }
  fs.writeFileSync(path.join(outDir, "outputs.json"), JSON.stringify(run.outputs, null, 2) + "\n");
  return files.sort();
}

async function main(): Promise<void> {
  const stack = process.argv[2];
  if (!stack || !(STACKS as readonly string[]).includes(stack)) {
    console.error(`usage: npm run render -- <stack>   (stack: ${STACKS.join(" | ")})`);
    process.exit(2);
  }
  const files = await renderStack(stack);
  console.log(`offline render of stack ${stack} (mock runtime, not a pulumi preview): ${files.length} objects`);
  for (const f of files) console.log(`  ${path.relative(REPO_ROOT, f)}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
