/**
 * Which Ed25519 keys are trusted to sign evidence: the one rule used by the Pulumi program (validator Job), the
 * quality-gates pack, the local engine wrapper and `npm run evidence:verify`.
 *
 * Keys given explicitly (stack config `bizra:evidenceTrustedKeys`, the pack's `trustedPublicKeys`, `--trusted-key`,
 * `BIZRA_EVIDENCE_TRUSTED_KEYS`) always win. Without them, the local `.evidence-key` is trusted, because the
 * developer who measured is the one deploying; that default holds only for a local or testnet deployment: the
 * program requires `bizra:evidenceTrustedKeys` on every other stack (`localKeyTrustAllowed`).
 */
import { localPublicKeyHex } from "./key";

/** Environment variable the validator Job and the CLI read: comma-separated hex public keys. */
export const TRUSTED_KEYS_ENV = "BIZRA_EVIDENCE_TRUSTED_KEYS";

/** Stacks on which the deployer's local key may stand in for configured trusted keys. */
export const LOCAL_TRUST_STACKS: readonly string[] = ["testnet"];

export function localKeyTrustAllowed(stack: string): boolean {
  return LOCAL_TRUST_STACKS.includes(stack);
}

/** `given` when it names keys, else the local key's public key (when there is one), else none. */
export function trustedKeysOrLocal(given: readonly string[] | undefined, localKeyFile?: string): string[] {
  if (given !== undefined && given.length > 0) return given.map((k) => k.toLowerCase());
  const local = localKeyFile === undefined ? localPublicKeyHex() : localPublicKeyHex(localKeyFile);
  return local === undefined ? [] : [local];
}

/** Keys from a comma-separated list (the `TRUSTED_KEYS_ENV` format). */
export function parseTrustedKeys(list: string | undefined): string[] {
  return (list ?? "").split(",").map((k) => k.trim().toLowerCase()).filter((k) => k !== "");
}
