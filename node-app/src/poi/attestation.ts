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
import type { RejectReason } from "@bizra/contract";

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

/** Big-endian u64 of a safe integer (checked by assertWellFormed), without BigInt. */
function setU53(view: DataView, at: number, v: number): void {
  view.setUint32(at, Math.floor(v / 0x1_0000_0000));
  view.setUint32(at + 4, v % 0x1_0000_0000);
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
  setU53(view, at, a.epoch);
  at += 8;
  setU53(view, at, a.slot);
  at += 8;
  out.set(a.payloadDigest, at);
  at += DIGEST_LENGTH;
  out.set(a.nonce, at);
  at += NONCE_LENGTH;
  setU53(view, at, a.timestampMs);
  return out;
}

const TWO32 = 0x1_0000_0000;

/** True for the id characters [A-Za-z0-9._-]. */
function idChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x5f || c === 0x2d
  );
}

/** Big-endian u64 at `at` as a number, or -1 when it exceeds 2^53-1 (no BigInt). */
function readU53(bytes: Uint8Array, at: number): number {
  const hi = ((bytes[at] as number) * 0x1000000 + (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)));
  if (hi > 0x1fffff) return -1;
  const lo = (bytes[at + 4] as number) * 0x1000000 + (((bytes[at + 5] as number) << 16) | ((bytes[at + 6] as number) << 8) | (bytes[at + 7] as number));
  return hi * TWO32 + lo;
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
  let at = 2;
  for (let i = 0; i < idLength; i++) {
    const c = bytes[at + i] as number;
    if (!idChar(c)) throw new AttestationFormatError("malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
  }
  const validatorId =
    idLength <= 32 ? String.fromCharCode.apply(null, bytes.subarray(at, at + idLength) as unknown as number[]) : Buffer.from(bytes.buffer, bytes.byteOffset + at, idLength).toString("latin1");
  at += idLength;
  const epoch = readU53(bytes, at);
  if (epoch < 0) throw new AttestationFormatError("malformed", "epoch exceeds 2^53-1");
  at += 8;
  const slot = readU53(bytes, at);
  if (slot < 0) throw new AttestationFormatError("malformed", "slot exceeds 2^53-1");
  at += 8;
  const payloadDigest = bytes.slice(at, at + DIGEST_LENGTH);
  at += DIGEST_LENGTH;
  const nonce = bytes.slice(at, at + NONCE_LENGTH);
  at += NONCE_LENGTH;
  const timestampMs = readU53(bytes, at);
  if (timestampMs < 0) throw new AttestationFormatError("malformed", "timestampMs exceeds 2^53-1");
  return { version, validatorId, epoch, slot, payloadDigest, nonce, timestampMs };
}

/** BLAKE3-256 of a payload: the value carried in `payloadDigest`. */
export function payloadDigest(payload: Uint8Array): Uint8Array {
  return blake3(payload);
}

/** BLAKE3-256 of the canonical encoding: the message that Ed25519 signs. */
export function attestationDigest(encoding: Uint8Array): Uint8Array {
  return blake3(encoding);
}
