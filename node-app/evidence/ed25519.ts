/**
 * The Ed25519 primitives the evidence manifest needs: RFC 8032 signing (`@noble/ed25519`) and verification under
 * ZIP-215, the same rule the node applies to attestations (node-app/src/poi/signature.ts). Keys and signatures as
 * raw bytes; verification never throws.
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";

ed.hashes.sha512 = sha512;

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Parses lower-case hex of exactly `length` bytes; throws on anything else. */
export function fromHex(hex: string, length: number): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex) || hex.length !== 2 * length) throw new TypeError(`expected ${length} bytes as lower-case hex`);
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function publicKeyOf(seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed);
}

export function randomSeed(): Uint8Array {
  return ed.utils.randomSecretKey();
}

export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

/** ZIP-215 verification; false for wrong lengths or undecodable points. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return ed.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}
