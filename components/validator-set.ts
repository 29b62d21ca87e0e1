/**
 * The validator set as stack config: who votes, with what weight and key. Rendered once into a ConfigMap that every
 * node pod (verifiers and signers) mounts, so all replicas of one validator share one set and one id. Pure.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

/** Where the validator-set ConfigMap is mounted, and its one key. */
export const VALIDATOR_SET_DIR = "/etc/bizra/validator-set";
export const VALIDATOR_SET_FILE = "validators.json";

export interface ValidatorConfigEntry {
  readonly id: string;
  readonly weight: number;
  /** Ed25519 public key, 64 lower-case hex digits. */
  readonly publicKey: string;
}

/**
 * Problems of a set for fault tolerance f: ids unique, and n >= 3f + 1 validators (below that, f faulty validators
 * can finalize two conflicting blocks, or stop finality). Each problem: [path under bizra:validators, found, allowed].
 */
export function validatorSetProblems(
  validators: readonly ValidatorConfigEntry[],
  faultTolerance: number,
  validatorId: string,
): Array<{ path: string[]; found: unknown; allowed: string }> {
  const problems: Array<{ path: string[]; found: unknown; allowed: string }> = [];
  const seen = new Set<string>();
  validators.forEach((v, i) => {
    if (seen.has(v.id)) problems.push({ path: ["validators", String(i), "id"], found: v.id, allowed: "an id not used by another validator" });
    seen.add(v.id);
  });
  const n = validators.length;
  if (n < 3 * faultTolerance + 1) {
    problems.push({
      path: ["faultTolerance"],
      found: faultTolerance,
      allowed: `at most ${Math.floor((n - 1) / 3)} for ${n} validators (n >= 3f + 1), or list at least ${3 * faultTolerance + 1} validators`,
    });
  }
  if (!seen.has(validatorId)) {
    problems.push({ path: ["validatorId"], found: validatorId, allowed: `the id of an entry of bizra:validators (${[...seen].join(", ")})` });
  }
  return problems;
}

/** The file the node reads (`BIZRA_VALIDATOR_SET_FILE`): a JSON list of {id, weight, publicKey}. */
export function validatorSetJson(validators: readonly ValidatorConfigEntry[]): string {
  return `${JSON.stringify(validators.map((v) => ({ id: v.id, weight: v.weight, publicKey: v.publicKey })), null, 2)}\n`;
}

/** Ed25519 public key (hex) of a 32-byte seed (hex), via node:crypto (PKCS#8 wrapping of the raw seed). */
export function publicKeyOfSeed(seedHex: string): string {
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(seedHex, "hex")]);
  const spki = createPublicKey(createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" })).export({ format: "der", type: "spki" });
  return spki.subarray(spki.length - 32).toString("hex");
}

/**
 * The set the nodes get: the configured one, or (none configured) this validator alone with its key's public key.
 * Throws when the configured entry of `validatorId` does not carry the signing key's public key: such a node would
 * never be ready (its /readyz names the mismatch), so the deployment is refused before it starts.
 */
export function effectiveValidatorSet(
  configured: readonly ValidatorConfigEntry[] | undefined,
  validatorId: string,
  signingKeyPublic: string,
): ValidatorConfigEntry[] {
  if (configured === undefined || configured.length === 0) return [{ id: validatorId, weight: 1, publicKey: signingKeyPublic }];
  const own = configured.find((v) => v.id === validatorId);
  if (own !== undefined && own.publicKey !== signingKeyPublic) {
    throw new Error(
      `bizra:validators: the entry of ${validatorId} has public key ${own.publicKey.slice(0, 16)}…, but bizra:signingKey's public key is ${signingKeyPublic.slice(0, 16)}…`,
    );
  }
  return [...configured];
}

/** Pod template annotation carrying a digest of the validator set the pods mount (read once, at start). */
export const VALIDATOR_SET_DIGEST_ANNOTATION = "bizra.io/validator-set-sha256";

/** The digest in VALIDATOR_SET_DIGEST_ANNOTATION: a changed set changes the pod template, so the pods roll. */
export function validatorSetDigest(json: string): string {
  return createHash("sha256").update(json).digest("hex");
}
