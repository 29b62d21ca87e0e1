/**
 * Kyverno ClusterPolicy `require-signed-images`: Pods in the node namespace may only run images from the allowed
 * registries (rule `allowed-registries`: `verifyImages` only looks at images its `imageReferences` match, so an image
 * from elsewhere needs a rule of its own) that carry a cosign signature by the configured key, referenced by digest
 * (rule `verify-cosign-signature`). `Enforce` blocks admission, `Audit` reports (per stack, from config). The
 * per-rule `failureAction` is used because the CRD marks the policy-level `validationFailureAction` deprecated.
 *
 * Signatures are checked against the key alone: releases are signed without a transparency-log upload
 * (`cosign sign --tlog-upload=false`, no Rekor is reachable from the clusters), so the attestor sets
 * `rekor.ignoreTlog` and `ctlog.ignoreSCT`; without them Kyverno asks the public Rekor for every signature.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "./config";
import { KYVERNO_API_VERSION, type ClusterPolicy } from "./crds/kyverno";
import { registerCustomResource } from "./crds/register";
import { componentType } from "./component";

export const SIGNED_IMAGES_POLICY = "require-signed-images";

export type AdmissionConfig = Pick<StackConfig, "namespace" | "allowedRegistries" | "kyverno">;

/** `<registry>/*` for every allowed registry prefix. */
export function imageReferences(allowedRegistries: readonly string[]): string[] {
  return allowedRegistries.map((r) => `${r}/*`);
}

/** A Kyverno pattern value that accepts an image from any of the allowed registries (`a/* | b/*`). */
export function allowedImagePattern(allowedRegistries: readonly string[]): string {
  return imageReferences(allowedRegistries).join(" | ");
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
          name: "allowed-registries",
          match: { any: [{ resources: { kinds: ["Pod"], namespaces: [cfg.namespace] } }] },
          validate: {
            failureAction: cfg.kyverno.mode,
            message: `images must come from ${cfg.allowedRegistries.join(", ")}`,
            pattern: {
              spec: {
                containers: [{ image: allowedImagePattern(cfg.allowedRegistries) }],
                "=(initContainers)": [{ image: allowedImagePattern(cfg.allowedRegistries) }],
                "=(ephemeralContainers)": [{ image: allowedImagePattern(cfg.allowedRegistries) }],
              },
            },
          },
        },
        {
          name: "verify-cosign-signature",
          match: { any: [{ resources: { kinds: ["Pod"], namespaces: [cfg.namespace] } }] },
          verifyImages: [
            {
              imageReferences: imageReferences(cfg.allowedRegistries),
              failureAction: cfg.kyverno.mode,
              attestors: [{ count: 1, entries: [{ keys: { publicKeys: cfg.kyverno.cosignPublicKey, signatureAlgorithm: "sha256", rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true } } }] }],
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
    super(componentType("admission", "ImageAdmission"), name, {}, opts);
    const policy = signedImagesPolicy(args.config, args.labels);
    registerCustomResource(name, policy, { parent: this });
    this.policyName = policy.metadata.name;
    this.mode = args.config.kyverno.mode;
    this.registerOutputs({ policyName: this.policyName, mode: this.mode });
  }
}
