/**
 * Reading the stack being deployed, shared by both packs: its name (from resource URNs) and its SLO table (the
 * `<appName>-slo` ConfigMap, data key `SLO_CONFIGMAP_KEY` of @bizra/contract, rendered by components/slo-configmap.ts).
 */
import type { PolicyResource } from "@pulumi/policy";
import { SLO_COMPARISONS, SLO_CONFIGMAP_KEY, SLO_SEVERITIES, type SloComparison, type SloSeverity } from "@bizra/contract";

export const SLO_CONFIGMAP_TYPE = "kubernetes:core/v1:ConfigMap";

export interface StackSlo {
  readonly value: number;
  readonly unit: string;
  readonly comparison: SloComparison;
  readonly severity: SloSeverity;
}
export type StackSloTable = Readonly<Record<string, StackSlo>>;

export type SloTableLookup =
  | { readonly ok: true; readonly table: StackSloTable; readonly source: string }
  | { readonly ok: false; readonly reason: string };

/** Finds the ConfigMap `*-slo` with `data["slo.json"]` and parses it. */
export function readSloTable(resources: readonly Pick<PolicyResource, "type" | "props" | "name">[]): SloTableLookup {
  const maps = resources.filter(
    (r) => r.type === SLO_CONFIGMAP_TYPE && typeof r.props?.["data"]?.[SLO_CONFIGMAP_KEY] === "string",
  );
  if (maps.length === 0) return { ok: false, reason: `no ConfigMap with data key "${SLO_CONFIGMAP_KEY}" (the <appName>-slo SLO table) in the stack` };
  if (maps.length > 1) return { ok: false, reason: `${maps.length} ConfigMaps carry "${SLO_CONFIGMAP_KEY}"; expected exactly one SLO table` };
  const cm = maps[0]!;
  const source = `ConfigMap ${cm.props["metadata"]?.["name"] ?? cm.name}`;
  let doc: unknown;
  try {
    doc = JSON.parse(cm.props["data"][SLO_CONFIGMAP_KEY] as string);
  } catch (err) {
    return { ok: false, reason: `${source}: ${SLO_CONFIGMAP_KEY} is not JSON (${(err as Error).message})` };
  }
  if (doc === null || typeof doc !== "object") return { ok: false, reason: `${source}: ${SLO_CONFIGMAP_KEY} is not an object` };
  const table: Record<string, StackSlo> = {};
  for (const [id, value] of Object.entries(doc)) {
    // a JSON document: each entry is checked field by field below before it is used
    const e = (value !== null && typeof value === "object" ? value : {}) as { value?: unknown; unit?: unknown; comparison?: unknown; severity?: unknown };
    if (typeof e.value !== "number" || !isOneOf(SLO_COMPARISONS, e.comparison) || !isOneOf(SLO_SEVERITIES, e.severity)) {
      return { ok: false, reason: `${source}: ${SLO_CONFIGMAP_KEY}.${id} needs a numeric value, comparison ${SLO_COMPARISONS.join("|")} and a severity (${SLO_SEVERITIES.join(", ")})` };
    }
    table[id] = { value: e.value, unit: String(e.unit ?? ""), comparison: e.comparison, severity: e.severity };
  }
  return { ok: true, table, source };
}

/** `value` is one of `allowed`. */
function isOneOf<T extends string>(allowed: readonly T[], value: unknown): value is T {
  return (allowed as readonly unknown[]).includes(value);
}

/** `urn:pulumi:<stack>::<project>::<type>::<name>` -> `<stack>`. */
export function stackOfUrn(urn: string | undefined): string | undefined {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn ?? "");
  return m?.[1];
}

/** The stack name: explicit (policy config), else from the resources' URNs, else `pulumi.getStack()` when available. */
export function stackName(resources: readonly Pick<PolicyResource, "urn">[], explicit?: string): string | undefined {
  if (explicit) return explicit;
  for (const r of resources) {
    const s = stackOfUrn(r.urn);
    if (s) return s;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const stack = (require("@pulumi/pulumi") as typeof import("@pulumi/pulumi")).getStack();
    return stack || undefined;
  } catch {
    return undefined;
  }
}
