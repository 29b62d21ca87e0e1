/**
 * Ed25519 (RFC 8032, deterministic) signing and the ONE verification rule of this node: ZIP-215.
 *
 * ZIP-215, as `@noble/ed25519` implements it with `{ zip215: true }`:
 * - S must be canonical (S < L); a signature with S >= L is rejected (this blocks S-malleability).
 * - A and R may be any 32-byte string that decodes to a curve point, including non-canonical encodings
 *   (y >= p, or x = 0 with the sign bit set) and small-order points.
 * - The challenge k = SHA-512(R || A || M) uses the bytes as received, never re-encoded points.
 * - The check is cofactored: [8][S]B = [8]R + [8][k]A.
 * Every code path (single, batch, cached, and any future native or worker backend) must give the same answer as
 * this rule on `test/vectors/ed25519-edge-cases.json`.
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import { createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from "node:crypto";

ed.hashes.sha512 = sha512;

export const PUBLIC_KEY_LENGTH = 32;
export const SECRET_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

export interface SignatureItem {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** A pluggable signature backend. Implementations must follow ZIP-215 and never throw on malformed input. */
export interface SignatureVerifier {
  readonly name: string;
  verifyOne(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** Per-item results, same order and length as `items`. May be async (worker pool, native addon). */
  verifyMany(items: readonly SignatureItem[]): boolean[] | Promise<boolean[]>;
  /**
   * Optional hash-and-verify for attestation batches (native backends): digest i = BLAKE3-256(encodings[i]) and
   * verdict i = ZIP-215 verification of signatures[i] by keys[i] over that digest (the same rule as verifyMany).
   * Callers pass only 32-byte keys and 64-byte signatures.
   */
  verifyEncoded?(batch: EncodedBatch): EncodedResult | Promise<EncodedResult>;
}

/** Parallel arrays, one entry per attestation: the validator's key, the signature and the canonical encoding. */
export interface EncodedBatch {
  readonly keys: readonly Uint8Array[];
  readonly signatures: readonly Uint8Array[];
  readonly encodings: readonly Uint8Array[];
}

/** digests[i]: BLAKE3-256 of encodings[i] (32 bytes); verdicts[i]: 1 valid, 0 invalid. */
export interface EncodedResult {
  readonly digests: readonly Uint8Array[];
  readonly verdicts: Uint8Array;
}

/** ZIP-215 verification; false (never an exception) for wrong lengths or undecodable points. */
export function verifyZip215(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}

/** The default backend: pure TypeScript, `@noble/ed25519` with ZIP-215 rules. */
export const nobleVerifier: SignatureVerifier = {
  name: "noble-zip215",
  verifyOne: verifyZip215,
  verifyMany: (items) => items.map((i) => verifyZip215(i.publicKey, i.message, i.signature)),
};

/** DER prefixes: PKCS#8 for a 32-byte Ed25519 seed, SPKI for a 32-byte public key (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX_LENGTH = 12;
const KEY_CACHE_MAX = 256;
const keyCache = new Map<string, { key: KeyObject; publicKey: Uint8Array }>();

/**
 * The seed imported once as a PKCS#8 KeyObject (OpenSSL), plus its public key; cached per seed (bounded). Returns
 * undefined for anything that is not a 32-byte seed, so callers fall back to noble and keep its errors.
 */
function opensslKey(secretKey: Uint8Array): { key: KeyObject; publicKey: Uint8Array } | undefined {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_LENGTH) return undefined;
  const id = Buffer.from(secretKey.buffer, secretKey.byteOffset, secretKey.byteLength).toString("latin1");
  let entry = keyCache.get(id);
  if (entry === undefined) {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey]), format: "der", type: "pkcs8" });
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    entry = { key, publicKey: new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX_LENGTH)) };
    // Stryker disable next-line all: the bound only limits memory; no signature or key depends on when the cache is cleared.
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(id, entry);
  }
  return entry;
}

/** The 32-byte public key of a 32-byte RFC 8032 secret seed. */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  const k = opensslKey(secretKey);
  return k === undefined ? ed.getPublicKey(secretKey) : k.publicKey.slice();
}

/**
 * Deterministic RFC 8032 signature. Computed by OpenSSL (node:crypto, the seed imported once as PKCS#8): RFC 8032
 * signing is deterministic, so the bytes are identical to `@noble/ed25519`'s `sign` (test/poi/signature.test.ts
 * checks the RFC vectors and random seeds/messages against noble).
 */
export function signMessage(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  const k = opensslKey(secretKey);
  if (k === undefined) return ed.sign(message, secretKey);
  return new Uint8Array(nodeSign(null, message, k.key));
}

/** The reference signer (@noble/ed25519), kept for the equivalence test. */
export function signMessageNoble(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey);
}

/** A fresh random 32-byte secret seed. */
export function randomSecretKey(): Uint8Array {
  return ed.utils.randomSecretKey();
}
