/**
 * Release policies: every image the stack runs must have a release manifest (scripts/release/manifest.ts) in
 * `releasesDir/<stack>/` that verifies offline: Ed25519 signature by a trusted key (the evidence keys), every SBOM,
 * evidence and rendered-file digest, the same digest-pinned reference, and the same cosign key as the stack's Kyverno
 * policy. Mandatory for the stacks that must carry the operator's key (production), advisory elsewhere (testnet).
 * The registry half (cosign verify, verify-attestation, tag) is `npm run release:verify`, which the release command
 * and CI run before `up`.
 */
import type { PolicyConfigSchema, PolicyResource, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import * as path from "node:path";
import { operatorKeyRequired } from "../../scripts/release/cosign-key";
import { LOCAL_TRUST_STACKS, parseTrustedKeys, TRUSTED_KEYS_ENV, trustedKeysOrLocal } from "@bizra/evidence";
import { checkReleaseBundle, findReleaseFor } from "../../scripts/release/manifest";
import { stackName } from "../shared/stack";

export interface ReleasePolicyConfig {
  readonly releasesDir: string;
  /** Hex Ed25519 keys trusted to sign release manifests (default: the local evidence key). */
  readonly trustedPublicKeys: readonly string[];
  /** The stack name, when the resources' URNs do not carry it (tests). */
  readonly stack?: string;
}

/** Defaults: the repo's releases/, and the keys in BIZRA_EVIDENCE_TRUSTED_KEYS (comma-separated), else the local key. */
export function defaultReleasePolicyConfig(env: NodeJS.ProcessEnv = process.env): ReleasePolicyConfig {
  return { releasesDir: path.resolve(__dirname, "..", "..", "releases"), trustedPublicKeys: trustedKeysOrLocal(parseTrustedKeys(env[TRUSTED_KEYS_ENV])) };
}

function configSchema(d: ReleasePolicyConfig): PolicyConfigSchema {
  return {
    properties: {
      releasesDir: { type: "string", default: d.releasesDir, description: "Folder of release bundles (<releasesDir>/<stack>/<id>/release.json)" },
      trustedPublicKeys: {
        type: "array",
        items: { type: "string", pattern: "^[0-9a-fA-F]{64}$" },
        default: [...d.trustedPublicKeys],
        description: "Hex Ed25519 public keys trusted to sign release manifests (default: the local .evidence-key)",
      },
      stack: { type: "string", description: "Stack name (default: from the resource URNs)" },
    },
  };
}

const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  "kubernetes:apps/v1:Deployment": ["spec", "template", "spec"],
  "kubernetes:batch/v1:Job": ["spec", "template", "spec"],
};

/** Every container image of the stack's workloads, with the object that runs it. */
export function workloadImages(resources: readonly Pick<PolicyResource, "type" | "props" | "name">[]): Map<string, string[]> {
  const images = new Map<string, string[]>();
  for (const r of resources) {
    const p = POD_SPEC_PATHS[r.type];
    if (!p) continue;
    let node: unknown = r.props;
    for (const k of p) node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[k] : undefined;
    // the pod spec as far as images go; each image is checked to be a string before use
    const spec = node as { initContainers?: readonly ({ image?: unknown } | undefined)[]; containers?: readonly ({ image?: unknown } | undefined)[] } | undefined;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      if (typeof c?.image !== "string") continue;
      images.set(c.image, [...(images.get(c.image) ?? []), `${r.type.split(":").pop()} ${r.props?.metadata?.name ?? r.name}`]);
    }
  }
  return images;
}

/** The cosign key of the Kyverno ClusterPolicy `require-signed-images`, if the stack has one. */
export function kyvernoCosignKey(resources: readonly Pick<PolicyResource, "type" | "props">[]): string | undefined {
  const policy = resources.find((r) => r.type === "kubernetes:kyverno.io/v1:ClusterPolicy");
  return policy?.props?.spec?.rules?.[0]?.verifyImages?.[0]?.attestors?.[0]?.entries?.[0]?.keys?.publicKeys;
}

/** One line per image without a verified release manifest. */
export function releaseProblems(args: Pick<StackValidationArgs, "resources">, config: ReleasePolicyConfig, stack: string): string[] {
  const problems: string[] = [];
  const cosignPublicKey = kyvernoCosignKey(args.resources);
  for (const [image, users] of workloadImages(args.resources)) {
    const where = `${image} (${users.join(", ")})`;
    const file = findReleaseFor(stack, image, config.releasesDir);
    if (!file) {
      problems.push(`${where}: no release manifest for this digest in ${path.join(config.releasesDir, stack)}/ (run \`npm run release -- ${stack}\`)`);
      continue;
    }
    const report = checkReleaseBundle(file, { trustedKeys: config.trustedPublicKeys, stack, imageReference: image, ...(cosignPublicKey ? { cosignPublicKey } : {}) });
    if (!report.ok) problems.push(`${where}: release manifest ${file} does not verify:\n${report.problems.map((p) => `    [${p.code}] ${p.message}`).join("\n")}`);
  }
  return problems;
}

const DEFAULTS = defaultReleasePolicyConfig();
const resolve = (given: Partial<ReleasePolicyConfig> | undefined): ReleasePolicyConfig =>
  ({ ...DEFAULTS, ...Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) }) as ReleasePolicyConfig;

function releasePolicy(mandatory: boolean): StackValidationPolicy {
  return {
    name: mandatory ? "verified-release-manifest" : "verified-release-manifest-advisory",
    description: mandatory
      ? `Stacks other than ${LOCAL_TRUST_STACKS.join(", ")} (production): every image has a release manifest that verifies (signature, digests, image reference, cosign key).`
      : `Stacks ${LOCAL_TRUST_STACKS.join(", ")}: the same check, advisory.`,
    remediationSteps: "Run `npm run release -- <stack>` on a clean tree (it sets bizra:image to the signed digest), then `npm run release:verify -- releases/<stack>/<id>/release.json`.",
    enforcementLevel: mandatory ? "mandatory" : "advisory",
    configSchema: configSchema(DEFAULTS),
    validateStack: (args, reportViolation) => {
      const config = resolve(args.getConfig<Partial<ReleasePolicyConfig>>());
      const stack = stackName(args.resources, config.stack);
      if (!stack) {
        if (mandatory) reportViolation("cannot tell the stack name (no URN carries it; set the policy config `stack`)");
        return;
      }
      if (operatorKeyRequired(stack) !== mandatory) return;
      const problems = releaseProblems(args, config, stack);
      if (problems.length > 0) reportViolation(`image without a verified release manifest:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    },
  };
}

export const releaseManifestPolicy = releasePolicy(true);
export const releaseManifestAdvisory = releasePolicy(false);
export const releasePolicies = [releaseManifestPolicy, releaseManifestAdvisory];
