/**
 * The signed consensus vote: its canonical binary encoding (version 1), signing and verification.
 *
 * Layout, all integers big-endian, no padding, nothing optional:
 *
 *   offset  size  field
 *   0       10    domain tag         ASCII "BIZRA-VOTE" (42 49 5a 52 41 2d 56 4f 54 45)
 *   10      1     version            (= 1)
 *   11      1     validatorId length (1..64)
 *   12      n     validatorId        (ASCII [A-Za-z0-9._-])
 *   12+n    8     slot               (u64, <= 2^53-1)
 *   20+n    32    blockHash          (the 32 raw bytes of the 64-hex-digit block hash)
 *   total   52+n
 *
 * Signature: Ed25519 (RFC 8032) by the validator's key over BLAKE3-256(encoding), verified by the node's ONE rule,
 * ZIP-215 (`src/poi/signature.ts`) - the same as attestations, through the same backends.
 *
 * Domain separation from attestations (`src/poi/attestation.ts`): an attestation encoding starts with its version
 * byte 0x01 (the only version decodeAttestation accepts); a vote encoding starts with the tag byte 0x42 ('B'). So no
 * byte string is both a vote encoding and an attestation encoding, hence (BLAKE3 being collision resistant) no signed
 * message is both, and an attestation signature can never be replayed as a vote or the other way round. A future
 * attestation version must not be 0x42 (test/consensus/vote-encoding.test.ts pins this down).
 *
 * Replays: a vote has no nonce or timestamp. Re-sending a genuine signed vote is harmless (the tally treats it as a
 * duplicate), and a signed vote for a second block in the same slot is the equivocation the tally already rejects.
 * The encoding binds no network/chain id, so a validator key must not be used on two networks.
 *
 * The length prefix makes the encoding injective; decodeVote rejects everything encodeVote cannot produce (bad tag,
 * other versions, trailing bytes, out-of-range slots, non-canonical ids), so decode(encode(v)) = v and
 * encode(decode(b)) = b for every accepted b.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import {
  PUBLIC_KEY_LENGTH,
  publicKeyOf,
  SIGNATURE_LENGTH,
  signMessage,
  verifyZip215,
  type SignatureItem,
} from "../poi/signature";
import { BLOCK_HASH_PATTERN, type Vote } from "./vote-tally";

/** Domain tag that starts every vote encoding (as ASCII bytes). */
export const VOTE_DOMAIN = "BIZRA-VOTE";
const TAG: Uint8Array = new Uint8Array(Buffer.from(VOTE_DOMAIN, "ascii"));
export const VOTE_VERSION = 1;
export const BLOCK_HASH_LENGTH = 32;
export const MAX_VOTE_VALIDATOR_ID_LENGTH = 64;
const VOTE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const TAG_LENGTH = TAG.length; // 10
const FIXED_LENGTH = TAG_LENGTH + 1 + 1 + 8 + BLOCK_HASH_LENGTH;
export const MIN_VOTE_ENCODED_LENGTH = FIXED_LENGTH + 1;
export const MAX_VOTE_ENCODED_LENGTH = FIXED_LENGTH + MAX_VOTE_VALIDATOR_ID_LENGTH;
const TWO32 = 0x1_0000_0000;

/** Why a vote was refused before it reached the tally (values of the `reason` label of bizra_consensus_vote_rejected_total). */
export const VOTE_REJECT_REASONS = ["bad_signature", "malformed", "unknown_validator"] as const;
export type VoteRejectReason = (typeof VOTE_REJECT_REASONS)[number];

/** The vote field a format error is about (the route turns it into `body.<field>`). */
export type VoteField = "validatorId" | "slot" | "blockHash" | "signature" | "encoding";

/** A vote that cannot be encoded or decoded canonically. */
export class VoteFormatError extends Error {
  constructor(
    readonly field: VoteField,
    readonly rule: "malformed" | "unsupported_version",
    message: string,
  ) {
    super(message);
    this.name = "VoteFormatError";
  }
}

/** Throws VoteFormatError unless `v` can be encoded canonically. */
export function assertVoteWellFormed(v: Vote): void {
  if (typeof v.validatorId !== "string" || !VOTE_ID_PATTERN.test(v.validatorId)) {
    throw new VoteFormatError("validatorId", "malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
  }
  if (!Number.isSafeInteger(v.slot) || v.slot < 0) {
    throw new VoteFormatError("slot", "malformed", "slot must be an integer in [0, 2^53-1]");
  }
  if (typeof v.blockHash !== "string" || !BLOCK_HASH_PATTERN.test(v.blockHash)) {
    throw new VoteFormatError("blockHash", "malformed", "blockHash must be 64 lower-case hex digits");
  }
}

/** The canonical encoding of `v` (version 1; throws VoteFormatError if `v` is not well formed). */
export function encodeVote(v: Vote): Uint8Array {
  assertVoteWellFormed(v);
  const id = Buffer.from(v.validatorId, "ascii");
  const out = new Uint8Array(FIXED_LENGTH + id.length);
  const view = new DataView(out.buffer);
  out.set(TAG, 0);
  let at = TAG_LENGTH;
  out[at++] = VOTE_VERSION;
  out[at++] = id.length;
  out.set(id, at);
  at += id.length;
  view.setUint32(at, Math.floor(v.slot / TWO32));
  view.setUint32(at + 4, v.slot % TWO32);
  at += 8;
  out.set(Buffer.from(v.blockHash, "hex"), at);
  return out;
}

function idChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x5f || c === 0x2d
  );
}

/** Inverse of encodeVote; rejects every byte string that encodeVote cannot produce. */
export function decodeVote(bytes: Uint8Array): Vote {
  if (!(bytes instanceof Uint8Array) || bytes.length < TAG_LENGTH + 2) {
    throw new VoteFormatError("encoding", "malformed", "vote encoding is too short");
  }
  for (let i = 0; i < TAG_LENGTH; i++) {
    if (bytes[i] !== TAG[i]) throw new VoteFormatError("encoding", "malformed", "not a vote encoding (domain tag)");
  }
  const version = bytes[TAG_LENGTH] as number;
  if (version !== VOTE_VERSION) {
    throw new VoteFormatError("encoding", "unsupported_version", `vote version ${version} is not supported`);
  }
  const idLength = bytes[TAG_LENGTH + 1] as number;
  if (idLength < 1 || idLength > MAX_VOTE_VALIDATOR_ID_LENGTH) {
    throw new VoteFormatError("validatorId", "malformed", "validatorId length must be in [1, 64]");
  }
  if (bytes.length !== FIXED_LENGTH + idLength) {
    throw new VoteFormatError("encoding", "malformed", `vote encoding must be ${FIXED_LENGTH + idLength} bytes`);
  }
  let at = TAG_LENGTH + 2;
  for (let i = 0; i < idLength; i++) {
    if (!idChar(bytes[at + i] as number)) throw new VoteFormatError("validatorId", "malformed", "validatorId must match [A-Za-z0-9._-]{1,64}");
  }
  const validatorId = Buffer.from(bytes.buffer, bytes.byteOffset + at, idLength).toString("latin1");
  at += idLength;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hi = view.getUint32(at);
  if (hi > 0x1fffff) throw new VoteFormatError("slot", "malformed", "slot exceeds 2^53-1");
  const slot = hi * TWO32 + view.getUint32(at + 4);
  at += 8;
  const blockHash = Buffer.from(bytes.buffer, bytes.byteOffset + at, BLOCK_HASH_LENGTH).toString("hex");
  return { validatorId, slot, blockHash };
}

/** BLAKE3-256 of a vote encoding: the message that Ed25519 signs. */
export function voteDigest(encoding: Uint8Array): Uint8Array {
  return blake3(encoding);
}

export interface SignedVote {
  readonly vote: Vote;
  readonly encoding: Uint8Array;
  readonly digest: Uint8Array;
  readonly signature: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Encodes `vote` canonically and signs BLAKE3(encoding) with `signMessage` (Ed25519, RFC 8032, deterministic). */
export function signVote(vote: Vote, secretKey: Uint8Array): SignedVote {
  const encoding = encodeVote(vote);
  const digest = voteDigest(encoding);
  return { vote, encoding, digest, signature: signMessage(secretKey, digest), publicKey: publicKeyOf(secretKey) };
}

/**
 * The item a SignatureVerifier backend checks for `vote`: (publicKey, BLAKE3(encodeVote(vote)), signature). Throws
 * VoteFormatError for a vote that cannot be encoded or a signature that is not 64 bytes.
 */
export function voteSignatureItem(vote: Vote, publicKey: Uint8Array, signature: Uint8Array): SignatureItem {
  const message = voteDigest(encodeVote(vote));
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_LENGTH) {
    throw new VoteFormatError("signature", "malformed", `signature must be ${SIGNATURE_LENGTH} bytes`);
  }
  return { publicKey, message, signature };
}

/**
 * True when `signature` is the validator's valid ZIP-215 signature over the vote (false, never an exception, for a
 * malformed vote, wrong lengths or undecodable points): the in-process form of what the route asks the backend.
 */
export function verifyVote(vote: Vote, publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
  let item: SignatureItem;
  try {
    item = voteSignatureItem(vote, publicKey, signature);
  } catch (e) {
    if (e instanceof VoteFormatError) return false;
    throw e;
  }
  return verifyZip215(item.publicKey, item.message, item.signature);
}
