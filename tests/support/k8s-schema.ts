/**
 * Strict validation of built-in Kubernetes kinds, as the API server does with `fieldValidation=Strict`: an unknown
 * or misspelt field is an error. The schemas are the strict JSON schemas bundled by the PyPI package
 * `kubernetes-validate` (installed into `.toolchain/venv` from requirements.txt), generated from Kubernetes' OpenAPI.
 */
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/lib/stack-config";
import type { KubeObject } from "../../scripts/lib/kube-kinds";

/** The Kubernetes version whose schemas we validate against. */
export const KUBERNETES_SCHEMA_VERSION = "1.34.0";

function schemaDir(): string {
  const fromEnv = process.env.K8S_SCHEMA_DIR;
  if (fromEnv) return fromEnv;
  const python = path.join(REPO_ROOT, ".toolchain", "venv", "bin", "python");
  if (!fs.existsSync(python)) {
    throw new Error(`${python} is missing: run \`python3 -m venv .toolchain/venv && .toolchain/venv/bin/pip install -r requirements.txt\` (.ci/run does)`);
  }
  const pkg = execFileSync(python, ["-c", "import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))"], {
    encoding: "utf8",
  }).trim();
  return path.join(pkg, "kubernetes-json-schema", `v${KUBERNETES_SCHEMA_VERSION}-local-strict`);
}

let ajv: Ajv2020 | undefined;
const validators = new Map<string, ValidateFunction>();

/** File name kubernetes-validate uses: `deployment-apps-v1.json`, `service-v1.json`. */
function schemaFile(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const groupPart = group ? `-${group.split(".")[0]}` : "";
  return `${kind.toLowerCase()}${groupPart}-${version}.json`;
}

function validatorFor(apiVersion: string, kind: string): ValidateFunction {
  const key = `${apiVersion}/${kind}`;
  const cached = validators.get(key);
  if (cached) return cached;
  const dir = schemaDir();
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    addFormats(ajv);
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, "_definitions.json"), "utf8")), "https://kubernetes.io/api/_definitions.json");
  }
  const file = path.join(dir, schemaFile(apiVersion, kind));
  if (!fs.existsSync(file)) throw new Error(`no strict schema for ${key} (looked for ${file})`);
  const validate = ajv.compile(JSON.parse(fs.readFileSync(file, "utf8")));
  validators.set(key, validate);
  return validate;
}

/** Errors for one built-in object, as `path: message` lines; empty when valid. */
export function validateBuiltIn(obj: KubeObject): string[] {
  const validate = validatorFor(obj.apiVersion, obj.kind);
  if (validate(obj as unknown)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === "additionalProperties" ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : "";
    return `${obj.kind}/${obj.metadata?.name}${e.instancePath || "/"}: ${e.message}${extra}`;
  });
}

/** Built-in kinds are those whose group is core or a *.k8s.io / well-known built-in group. */
export function isBuiltIn(obj: Pick<KubeObject, "apiVersion">): boolean {
  const apiVersion = String(obj.apiVersion);
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  return ["", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"].includes(group);
}
