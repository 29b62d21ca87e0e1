/** JSON schemas of every API route (fastify validates requests against them before a handler runs). */
import { MAX_ENCODED_LENGTH, NONCE_LENGTH } from "../poi/attestation";

const U53 = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
const HEX = "^(?:[0-9a-f]{2})*$";
export const MAX_PAYLOAD_BYTES = 64 * 1024;

const signedAttestation = {
  type: "object",
  additionalProperties: false,
  required: ["encoding", "signature"],
  properties: {
    encoding: { type: "string", minLength: 2, maxLength: 2 * MAX_ENCODED_LENGTH, pattern: HEX },
    signature: { type: "string", pattern: "^[0-9a-f]{128}$" },
  },
} as const;

export const signBody = {
  type: "object",
  additionalProperties: false,
  required: ["epoch", "slot", "payload"],
  properties: {
    epoch: U53,
    slot: U53,
    payload: { type: "string", maxLength: 2 * MAX_PAYLOAD_BYTES, pattern: HEX },
    nonce: { type: "string", pattern: `^[0-9a-f]{${2 * NONCE_LENGTH}}$` },
    timestampMs: U53,
  },
} as const;

export const verifyBody = signedAttestation;

export function verifyBatchBody(maxBatchSize: number) {
  return {
    type: "object",
    additionalProperties: false,
    required: ["items"],
    properties: { items: { type: "array", minItems: 1, maxItems: maxBatchSize, items: signedAttestation } },
  } as const;
}

/** A signed vote: Ed25519 by the validator's key over BLAKE3(encodeVote(vote)) (src/consensus/vote-encoding.ts). */
export const voteBody = {
  type: "object",
  additionalProperties: false,
  required: ["validatorId", "slot", "blockHash", "signature"],
  properties: {
    validatorId: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" },
    slot: U53,
    blockHash: { type: "string", pattern: "^[0-9a-f]{64}$" },
    signature: { type: "string", pattern: "^[0-9a-f]{128}$" },
  },
} as const;

export const finalityParams = {
  type: "object",
  additionalProperties: false,
  required: ["blockHash"],
  properties: { blockHash: { type: "string", pattern: "^[0-9a-f]{64}$" } },
} as const;
