/** Reads `Pulumi.<stack>.yaml` into the flat string map the Pulumi runtime hands a program. */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const STACKS = ["testnet", "production"] as const;
export type StackName = (typeof STACKS)[number];

export interface RawStackConfig {
  /** `bizra:replicas` -> `"3"`; structured values as JSON, as the engine passes them. */
  readonly values: Record<string, string>;
  readonly secretKeys: string[];
}

export function readStackFile(stack: string): Record<string, unknown> {
  const file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new Error(`no stack file ${file}; stacks: ${STACKS.join(", ")}`);
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  return doc?.config ?? {};
}

/**
 * The stack's config as the engine would pass it. `secure:` values cannot be decrypted without the engine, so
 * for an offline evaluation each one is replaced by a fresh random value of the right shape, marked secret.
 */
export function offlineStackConfig(stack: string, overrides: Record<string, unknown> = {}): RawStackConfig {
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries({ ...readStackFile(stack), ...overrides })) {
    if (value && typeof value === "object" && "secure" in value) {
      values[key] = randomBytes(32).toString("hex");
      secretKeys.push(key);
    } else if (value !== undefined) {
      values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  if (!("bizra:signingKey" in values)) {
    values["bizra:signingKey"] = randomBytes(32).toString("hex");
    secretKeys.push("bizra:signingKey");
  }
  return { values, secretKeys };
}
