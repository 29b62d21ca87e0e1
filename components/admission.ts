/**
 * Kyverno ClusterPolicy `require-signed-images`: Pods in the node namespace may only run images from the allowed
 * registries that carry a cosign signature by the configured key, referenced by digest. `Enforce` blocks admission,
 * `Audit` reports (per stack, from config). The per-rule `verifyImages[].failureAction` is used because the CRD marks
 * the policy-level `validationFailureAction` deprecated.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { KYVERNO_API_VERSION, type ClusterPolicy } from "./crds/kyverno";
import { registerCustomResource } from "./crds/register";

export const SIGNED_IMAGES_POLICY = "require-signed-images";

export type AdmissionConfig = Pick<StackConfig, "namespace" | "allowedRegistries" | "kyverno">;

/** `<registry>/*` for every allowed registry prefix. */
export function imageReferences(allowedRegistries: readonly string[]): string[] {
  return allowedRegistries.map((r) => `${r}/*`);
}

/** The ClusterPolicy. Pure. */
export function signedImagesPolicy(cfg: AdmissionConfig, labels: Record<string, string>): ClusterPolicy {
  return {
    apiVersion: KYVERNO_API_VERSION,
    kind: "ClusterPolicy",
    metadata: {
      name: SIGNED_IMAGES_POLICY,
      labels,
      annotations: {
        "policies.kyverno.io/title": "Require signed images",
        "policies.kyverno.io/description": "Node images must be cosign-signed by the release key and pinned by digest.",
      },
    },
    spec: {
      background: false,
      webhookTimeoutSeconds: 30,
      rules: [
        {
          name: "verify-cosign-signature",
          match: { any: [{ resources: { kinds: ["Pod"], namespaces: [cfg.namespace] } }] },
          verifyImages: [
            {
              imageReferences: imageReferences(cfg.allowedRegistries),
              failureAction: cfg.kyverno.mode,
              attestors: [{ count: 1, entries: [{ keys: { publicKeys: cfg.kyverno.cosignPublicKey, signatureAlgorithm: "sha256" } }] }],
              verifyDigest: true,
              mutateDigest: false,
              required: true,
            },
          ],
        },
      ],
    },
  };
}

export interface ImageAdmissionArgs {
  /** Validated stack config (the parts this component uses). */
  readonly config: AdmissionConfig;
  /** Labels of the node deployment (`nodeLabels`), put on every object. */
  readonly labels: Record<string, string>;
}

export class ImageAdmission extends pulumi.ComponentResource {
  public readonly policyName: string;
  public readonly mode: string;

  constructor(name: string, args: ImageAdmissionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("bizra:admission:ImageAdmission", name, {}, opts);
    const policy = signedImagesPolicy(args.config, args.labels);
    registerCustomResource(name, policy, { parent: this });
    this.policyName = policy.metadata.name;
    this.mode = args.config.kyverno.mode;
    this.registerOutputs({ policyName: this.policyName, mode: this.mode });
  }
}
