/**
 * Paths of the controller binaries `scripts/delivery-toolchain.sh` builds (and of cosign, which
 * `toolchain/supply-chain.sh` builds). A missing binary is an error naming the command that builds it.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/lib/stack-config";

export type DeliveryTool = "flagger" | "kyverno" | "prometheus-operator" | "keda";

/** KEY=path lines of `scripts/delivery-toolchain.sh paths TOOL`, e.g. `KYVERNO_KYVERNO_BIN`. */
export function deliveryToolPaths(tool: DeliveryTool): Record<string, string> {
  const script = path.join(REPO_ROOT, "scripts", "delivery-toolchain.sh");
  const r = spawnSync("bash", [script, "paths", tool], { encoding: "utf8" });
  const out = Object.fromEntries(
    (r.stdout ?? "")
      .split("\n")
      .map((l) => /^([A-Z0-9_]+)=(.+)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, m[2] as string]),
  );
  if (r.status !== 0) throw new Error(`${tool} is not built: run \`bash scripts/delivery-toolchain.sh build ${tool}\` (scripts/setup.sh does)`);
  return out;
}

export function deliveryTool(tool: DeliveryTool, binary: string): string {
  const key = `${tool}_${binary}_BIN`.toUpperCase().replace(/-/g, "_");
  const p = deliveryToolPaths(tool)[key];
  if (!p) throw new Error(`scripts/delivery-toolchain.sh paths ${tool} printed no ${key}`);
  return p;
}
