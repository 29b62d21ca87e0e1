/**
 * The Proof-of-Impact attestation and its canonical binary encoding (version 1).
 *
 * Layout, all integers big-endian, no padding, nothing optional:
 *
 *   offset  size  field
 *   0       1     version            (= 1)
 *   1       1     validatorId length (1..64)
 *   2       n     validatorId        (ASCII [A-Za-z0-9._-])
 *   2+n     8     epoch              (u64, <= 2^53-1)
 *   10+n    8     slot               (u64, <= 2^53-1)
 *   18+n    32    payloadDigest      (BLAKE3-256 of the payload)
 *   50+n    16    nonce
 *   66+n    8     timestampMs        (u64 Unix milliseconds, <= 2^53-1)
 *   total   74+n
 *
 * The one length prefix makes the encoding injective; the decoder rejects trailing bytes, out-of-range integers
 * and non-canonical ids, so decode(encode(a)) = a and encode(decode(b)) = b for every accepted b.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import type { RejectReason } from "../contract";

export const ATTESTATION_VERSION = 1;
export const DIGEST_LENGTH = 32;
export const NONCE_LENGTH = 16;
export const MAX_VALIDATOR_ID_LENGTH = 64;
export const VALIDATOR_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const FIXED_LENGTH = 1 + 1 + 8 + 8 + DIGEST_LENGTH + NONCE_LENGTH + 8;
export const MAX_ENCODED_LENGTH = FIXED_LENGTH + MAX_VALIDATOR_ID_LENGTH;

export interface Attestation {
  readonly version: number;
  readonly validatorId: string;
  readonly epoch: number;
  readonly slot: number;
  /** BLAKE3-256 digest of the attested payload (32 bytes). */
  readonly payloadDigest: Uint8Array;
  /** 16 random bytes; unique per validator within the replay window. */
  readonly nonce: Uint8Array;
  readonly timestampMs: number;
}

/** A decode or validation failure, carrying the reject reason code it maps to. */
export class AttestationFormatError extends Error {
  constructor(
    readonly reason: Extract<RejectReason, "malformed" | "unsupported_version">,
    message: string,
  ) {
    super(message);
    this.name = "AttestationFormatError";
  }
}

function checkU53(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AttestationFormatError("malformed", `${name} must be an integer in [0, 2^53-1]`);
  }
}

/** Throws AttestationFormatError unless `a` can be encoded canonically. */
export function assertWellFormed(a: Attestation): void {
  if (a.version !== ATTESTATION_VERSION) {
    throw new AttestationFormatError("unsupported_version", `version ${a.version} is not supported`);
  }
  if (typeof a.validatorId !== "string" || !VALIDATOR_ID_PATTERN.test(a.validatorId)) {
    throw new AttestationFormatError("malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
  }
  checkU53("epoch", a.epoch);
  checkU53("slot", a.slot);
  checkU53("timestampMs", a.timestampMs);
  if (!(a.payloadDigest instanceof Uint8Array) || a.payloadDigest.length !== DIGEST_LENGTH) {
    throw new AttestationFormatError("malformed", `payloadDigest must be ${DIGEST_LENGTH} bytes`);
  }
  if (!(a.nonce instanceof Uint8Array) || a.nonce.length !== NONCE_LENGTH) {
    throw new AttestationFormatError("malformed", `nonce must be ${NONCE_LENGTH} bytes`);
  }
}

/** The canonical encoding of `a` (throws AttestationFormatError if `a` is not well formed). */
export function encodeAttestation(a: Attestation): Uint8Array {
  assertWellFormed(a);
  const id = Buffer.from(a.validatorId, "ascii");
  const out = new Uint8Array(FIXED_LENGTH + id.length);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = a.version;
  out[at++] = id.length;
  out.set(id, at);
  at += id.length;
  view.setBigUint64(at, BigInt(a.epoch));
  at += 8;
  view.setBigUint64(at, BigInt(a.slot));
  at += 8;
  out.set(a.payloadDigest, at);
  at += DIGEST_LENGTH;
  out.set(a.nonce, at);
  at += NONCE_LENGTH;
  view.setBigUint64(at, BigInt(a.timestampMs));
  return out;
}

/** Inverse of encodeAttestation; rejects every byte string that encodeAttestation cannot produce. */
export function decodeAttestation(bytes: Uint8Array): Attestation {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) {
    throw new AttestationFormatError("malformed", "encoding is too short");
  }
  const version = bytes[0] as number;
  if (version !== ATTESTATION_VERSION) {
    throw new AttestationFormatError("unsupported_version", `version ${version} is not supported`);
  }
  const idLength = bytes[1] as number;
  if (idLength < 1 || idLength > MAX_VALIDATOR_ID_LENGTH) {
    throw new AttestationFormatError("malformed", "validatorId length must be in [1, 64]");
  }
  if (bytes.length !== FIXED_LENGTH + idLength) {
    throw new AttestationFormatError("malformed", `encoding must be ${FIXED_LENGTH + idLength} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 2;
  const validatorId = Buffer.from(bytes.subarray(at, at + idLength)).toString("latin1");
  at += idLength;
  const readU53 = (name: string): number => {
    const v = view.getBigUint64(at);
    at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new AttestationFormatError("malformed", `${name} exceeds 2^53-1`);
    }
    return Number(v);
  };
  const epoch = readU53("epoch");
  const slot = readU53("slot");
  const payloadDigest = bytes.slice(at, at + DIGEST_LENGTH);
  at += DIGEST_LENGTH;
  const nonce = bytes.slice(at, at + NONCE_LENGTH);
  at += NONCE_LENGTH;
  const timestampMs = readU53("timestampMs");
  const a: Attestation = { version, validatorId, epoch, slot, payloadDigest, nonce, timestampMs };
  assertWellFormed(a); // rejects non-canonical id characters
  return a;
}

/** BLAKE3-256 of a payload: the value carried in `payloadDigest`. */
export function payloadDigest(payload: Uint8Array): Uint8Array {
  return blake3(payload);
}

/** BLAKE3-256 of the canonical encoding: the message that Ed25519 signs. */
export function attestationDigest(encoding: Uint8Array): Uint8Array {
  return blake3(encoding);
}
