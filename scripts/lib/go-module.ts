/** Go modules from the module proxy, as the project's toolchain scripts pin them (scripts/delivery-toolchain/versions.env). */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "./stack-config";

export const DELIVERY_VERSIONS_FILE = path.join(REPO_ROOT, "scripts", "delivery-toolchain", "versions.env");

/** `<KEY>_VERSION` of scripts/delivery-toolchain/versions.env (e.g. `PROMETHEUS_OPERATOR` -> `0.85.0`). */
export function toolchainVersion(key: string): string {
  const m = new RegExp(`^${key}_VERSION=([0-9.]+)`, "m").exec(fs.readFileSync(DELIVERY_VERSIONS_FILE, "utf8"));
  if (!m) throw new Error(`scripts/delivery-toolchain/versions.env has no ${key}_VERSION`);
  return m[1] as string;
}

/** The module's folder in the Go module cache (downloaded from the proxy if missing). */
export function goModuleDir(module: string, version: string): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@v${version}`], {
    encoding: "utf8",
    env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
  });
  const dir = (JSON.parse(out) as { Dir?: string; Error?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${module}@v${version}: ${out}`);
  return dir;
}
