/**
 * Field-level differences between two releases of a set of CRDs: which properties a kind/version gained or lost,
 * and where a property's type, enum or required list changed. Used to say what the Flagger release the cluster
 * runs (built from the Go module proxy) accepts compared with the newer CRD copy in ../shared/crds.
 */
import * as path from "node:path";
import { goModuleDir, toolchainVersion } from "../../scripts/lib/go-module";
import { loadCrdSchemas, type CrdVersionSchema } from "./crd-schema";
import type { SchemaObject } from "ajv/dist/2020";

/** A JSON Schema node of a CRD version, as ajv types it. */
type Schema = SchemaObject;

export interface FieldInfo {
  readonly type: string;
  readonly enum?: string;
  readonly required: string;
  readonly preserveUnknown: boolean;
}

/** path -> info for every property under a schema (`spec.analysis.stepWeights[]`). Pure. */
export function flattenSchema(schema: Schema, prefix = ""): Map<string, FieldInfo> {
  const out = new Map<string, FieldInfo>();
  const visit = (node: Schema, at: string) => {
    if (at !== "") {
      out.set(at, {
        type: node["x-kubernetes-int-or-string"] ? "int-or-string" : String(node.type ?? "any"),
        ...(node.enum ? { enum: (node.enum as unknown[]).map(String).join("|") } : {}),
        required: ((node.required as string[] | undefined) ?? []).slice().sort().join(","),
        preserveUnknown: node["x-kubernetes-preserve-unknown-fields"] === true,
      });
    }
    for (const [k, v] of Object.entries((node.properties as Schema | undefined) ?? {})) visit(v as Schema, at === "" ? k : `${at}.${k}`);
    if (node.items) visit(node.items as Schema, `${at}[]`);
    if (node.additionalProperties && typeof node.additionalProperties === "object") visit(node.additionalProperties as Schema, `${at}{}`);
  };
  visit(schema, prefix);
  return out;
}

export interface KindDiff {
  readonly kind: string;
  readonly version: string;
  /** In the newer CRD only: objects using them are refused by the older controller's API (strict) or dropped. */
  readonly added: string[];
  readonly removed: string[];
  /** `path: old -> new` for type, enum, required or preserve-unknown changes. */
  readonly changed: string[];
}

/** Differences from `older` to `newer`, per (kind, version) present in either. Pure. */
export function diffCrds(older: readonly CrdVersionSchema[], newer: readonly CrdVersionSchema[]): KindDiff[] {
  const key = (c: CrdVersionSchema) => `${c.kind}/${c.version}`;
  const keys = [...new Set([...older.map(key), ...newer.map(key)])].sort();
  return keys.map((k) => {
    const [kind, version] = k.split("/") as [string, string];
    const a = flattenSchema(older.find((c) => key(c) === k)?.schema ?? {});
    const b = flattenSchema(newer.find((c) => key(c) === k)?.schema ?? {});
    const added = [...b.keys()].filter((p) => !a.has(p)).sort();
    const removed = [...a.keys()].filter((p) => !b.has(p)).sort();
    const changed: string[] = [];
    for (const [p, x] of a) {
      const y = b.get(p);
      if (!y) continue;
      for (const f of ["type", "enum", "required", "preserveUnknown"] as const) {
        if (String(x[f] ?? "") !== String(y[f] ?? "")) changed.push(`${p} ${f}: ${String(x[f] ?? "") || "-"} -> ${String(y[f] ?? "") || "-"}`);
      }
    }
    return { kind, version, added: collapse(added), removed: collapse(removed), changed: changed.sort() };
  });
}

/** Drops paths under an already-listed path (a new object is listed once, not with all its fields). */
function collapse(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) if (!out.some((q) => p.startsWith(`${q}.`) || p.startsWith(`${q}[`) || p.startsWith(`${q}{`))) out.push(p);
  return out;
}

/** Flagger version the delivery toolchain builds. */
export const flaggerVersion = (): string => toolchainVersion("FLAGGER");

/** `artifacts/flagger` of the Flagger module at that version. */
export function flaggerCrdDir(version = flaggerVersion()): string {
  return path.join(goModuleDir("github.com/fluxcd/flagger", version), "artifacts", "flagger");
}

/** The CRD folders of the controller releases the cluster runs, per API group. */
export function controllerCrdDirs(): { group: string; release: string; dir: string }[] {
  const kyverno = toolchainVersion("KYVERNO");
  const po = toolchainVersion("PROMETHEUS_OPERATOR");
  return [
    { group: "flagger.app", release: `Flagger v${flaggerVersion()}`, dir: flaggerCrdDir() },
    { group: "kyverno.io", release: `Kyverno v${kyverno}`, dir: path.join(goModuleDir("github.com/kyverno/kyverno", kyverno), "config", "crds", "kyverno") },
    { group: "monitoring.coreos.com", release: `Prometheus Operator v${po}`, dir: path.join(goModuleDir("github.com/prometheus-operator/prometheus-operator", po), "example", "prometheus-operator-crd") },
  ];
}

export { goModuleDir, loadCrdSchemas, toolchainVersion };
