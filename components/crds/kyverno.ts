/** The subset of the Kyverno ClusterPolicy CRD (kyverno.io/v1) the program uses. */
import type { CustomResourceObject } from "./common";

export const KYVERNO_API_VERSION = "kyverno.io/v1";

/** Per-rule failure action (the policy-level `validationFailureAction` is deprecated in the CRD). */
export type FailureAction = "Audit" | "Enforce";

export interface ResourceFilter {
  readonly resources: { readonly kinds: string[]; readonly namespaces?: string[] };
}

export interface StaticKeyAttestor {
  readonly publicKeys: string;
  readonly signatureAlgorithm?: "sha224" | "sha256" | "sha384" | "sha512";
  /** Without it Kyverno requires a Rekor transparency-log entry (public instance) for every signature. */
  readonly rekor?: { readonly url?: string; readonly ignoreTlog?: boolean };
  readonly ctlog?: { readonly ignoreSCT?: boolean };
}

export interface Attestor {
  readonly count?: number;
  readonly entries: { readonly keys: StaticKeyAttestor }[];
}

export interface ImageVerification {
  readonly imageReferences: string[];
  readonly failureAction?: FailureAction;
  readonly attestors: Attestor[];
  readonly verifyDigest?: boolean;
  readonly mutateDigest?: boolean;
  readonly required?: boolean;
}

export interface Validation {
  readonly failureAction?: FailureAction;
  readonly message: string;
  readonly pattern: Record<string, unknown>;
}

export interface Rule {
  readonly name: string;
  readonly match: { readonly any?: ResourceFilter[]; readonly all?: ResourceFilter[] };
  readonly verifyImages?: ImageVerification[];
  readonly validate?: Validation;
}

export interface ClusterPolicySpec {
  readonly background?: boolean;
  readonly webhookTimeoutSeconds?: number;
  readonly rules: Rule[];
}

export type ClusterPolicy = CustomResourceObject<"ClusterPolicy", ClusterPolicySpec>;
