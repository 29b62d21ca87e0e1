/**
 * Strict validation of custom resources against the real CRD schemas, the way the API server validates with
 * `fieldValidation=Strict`: an unknown or misspelt field is an error. The CRD files are fetched at pinned versions
 * from the Go module proxy by `scripts/crds.sh` (run by `scripts/setup.sh`) into `.toolchain/crds/`.
 *
 * A CRD's `openAPIV3Schema` is a Kubernetes *structural* schema, not plain JSON Schema. `toJsonSchema` converts it
 * for ajv (draft 2020-12):
 * - every object schema that lists `properties` and does not set `x-kubernetes-preserve-unknown-fields` is closed
 *   (`additionalProperties: false`) — that is what makes a misspelt field fail;
 * - `x-kubernetes-preserve-unknown-fields: true` leaves the node open;
 * - `x-kubernetes-int-or-string: true` accepts an integer or a string;
 * - `nullable: true` also accepts `null`;
 * - other `x-kubernetes-*` keywords (list/map types, CEL `x-kubernetes-validations`) and descriptions are dropped;
 *   CEL rules are not evaluated;
 * - Go RE2 patterns JavaScript cannot compile (`(?i)...`) are skipped and listed in `SKIPPED_PATTERNS`;
 * - formats ajv-formats does not know (`int`, `string`) are dropped, as the API server ignores them.
 * Branches of `oneOf`/`anyOf`/`allOf`/`not` only constrain (structural schemas cannot declare fields there), so they
 * are not closed. `metadata` is left open by CRDs; here it is checked loosely: name/namespace strings, labels and
 * annotations string maps, nothing else.
 */
import Ajv2020, { type ErrorObject, type SchemaObject, type ValidateFunction } from "ajv/dist/2020";
import type { KubeObject } from "../../scripts/lib/kube-kinds";
import addFormats from "ajv-formats";
import { fullFormats } from "ajv-formats/dist/formats";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadAll } from "js-yaml";

export const CRD_DIR = path.resolve(__dirname, "..", "..", ".toolchain", "crds");
/** Copies kept beside the repository by some CI setups; an optional cross-check, never required. */
export const SHARED_CRD_DIR = path.resolve(__dirname, "..", "..", "..", "shared", "crds");

/** A JSON Schema node (OpenAPI v3 from a CRD, converted in place), as ajv types it. */
type Schema = SchemaObject;

const KEPT_KEYWORDS = new Set([
  "type", "properties", "items", "required", "enum", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
  "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties",
  "maxProperties", "additionalProperties", "oneOf", "anyOf", "allOf", "not", "multipleOf",
]);
const KNOWN_FORMATS = new Set(Object.keys(fullFormats));

/** Go RE2 patterns JavaScript cannot compile (e.g. the `(?i)` flag group); they are skipped, not approximated. */
export const SKIPPED_PATTERNS = new Set<string>();

function compilesInJs(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** Converts one structural-schema node (see the header). `junctor`: inside oneOf/anyOf/allOf/not. */
export function toJsonSchema(node: Schema, junctor = false): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(node)) {
    if (!KEPT_KEYWORDS.has(k)) continue;
    switch (k) {
      case "properties":
        out.properties = Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, toJsonSchema(s as Schema)]));
        break;
      case "items":
        out.items = toJsonSchema(v as Schema);
        break;
      case "additionalProperties":
        out.additionalProperties = typeof v === "boolean" ? v : toJsonSchema(v as Schema);
        break;
      case "oneOf":
      case "anyOf":
      case "allOf":
        out[k] = (v as Schema[]).map((s) => toJsonSchema(s, true));
        break;
      case "not":
        out.not = toJsonSchema(v as Schema, true);
        break;
      case "pattern":
        if (compilesInJs(v as string)) out.pattern = v;
        else SKIPPED_PATTERNS.add(v as string);
        break;
      case "format":
        if (KNOWN_FORMATS.has(v as string)) out.format = v;
        break;
      default:
        out[k] = v;
    }
  }
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.type = ["integer", "string"];
  }
  if (node.nullable === true && out.type !== undefined) {
    out.type = [...(Array.isArray(out.type) ? out.type : [out.type]), "null"];
    if (out.enum) out.enum = [...out.enum, null];
  }
  if (!junctor && !preserve && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const STRING_MAP = { type: "object", additionalProperties: { type: "string" } };
/** Loose metadata: what the program sets, nothing misspelt. */
export const METADATA_SCHEMA: Schema = {
  type: "object",
  required: ["name"],
  properties: { name: { type: "string" }, namespace: { type: "string" }, labels: STRING_MAP, annotations: STRING_MAP },
  additionalProperties: false,
};

export interface CrdVersionSchema {
  readonly group: string;
  readonly kind: string;
  readonly version: string;
  readonly schema: Schema;
}

/** Every (group, kind, version) schema in the CRD files. */
export function loadCrdSchemas(dir = CRD_DIR): CrdVersionSchema[] {
  if (!fs.existsSync(dir)) throw new Error(`no CRD schemas in ${dir}: run \`bash scripts/crds.sh\` (part of scripts/setup.sh)`);
  const out: CrdVersionSchema[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
    // js-yaml, not `yaml`: the upstream Flagger file continues quoted scalars at the key's own indentation, which
    // Go's YAML parser (and so the API server) accepts and the stricter `yaml` package rejects.
    for (const doc of loadAll(fs.readFileSync(path.join(dir, file), "utf8"))) {
      const crd = doc as Schema | null;
      if (crd?.kind !== "CustomResourceDefinition") continue;
      for (const v of crd.spec.versions as Schema[]) {
        out.push({ group: crd.spec.group, kind: crd.spec.names.kind, version: v.name, schema: v.schema.openAPIV3Schema });
      }
    }
  }
  return out;
}

export type CrdValidator = (obj: KubeObject) => string[];

/** A validator for objects of every kind in `dir`, selected by apiVersion and kind. */
export function crdValidator(dir = CRD_DIR): CrdValidator & { kinds: string[] } {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const schemas = new Map(loadCrdSchemas(dir).map((c) => [`${c.group}/${c.version}/${c.kind}`, c.schema]));
  // Compiled on first use: the Istio file defines many kinds the program never renders.
  const compiled = new Map<string, ValidateFunction>();
  const compile = (key: string): ValidateFunction | undefined => {
    const crd = schemas.get(key);
    if (crd === undefined) return undefined;
    let fn = compiled.get(key);
    if (fn === undefined) {
      const schema = toJsonSchema(crd);
      schema.properties = { ...schema.properties, metadata: METADATA_SCHEMA };
      schema.required = [...new Set([...(schema.required ?? []), "apiVersion", "kind", "metadata"])];
      fn = ajv.compile(schema);
      compiled.set(key, fn);
    }
    return fn;
  };
  const validate = (obj: KubeObject): string[] => {
    const key = `${obj.apiVersion}/${obj.kind}`;
    const fn = compile(key);
    if (!fn) return [`no CRD schema for ${key}`];
    return fn(obj) ? [] : (fn.errors ?? []).map(formatError);
  };
  return Object.assign(validate, { kinds: [...schemas.keys()] });
}

function formatError(e: ErrorObject): string {
  const extra = e.keyword === "additionalProperties" ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : "";
  return `${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
}
