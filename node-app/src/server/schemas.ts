/**
 * Schemas of every API route, written once with TypeBox: fastify validates requests against them (JSON Schema) and
 * the handlers' request types are derived from them (`Static<typeof ...>`), so the two cannot drift apart.
 */
import { Type, type Static } from "@sinclair/typebox";
import { MAX_ENCODED_LENGTH, NONCE_LENGTH } from "../poi/attestation";

const U53 = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const HEX = "^(?:[0-9a-f]{2})*$";
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export const SignedAttestationBody = Type.Object(
  {
    encoding: Type.String({ minLength: 2, maxLength: 2 * MAX_ENCODED_LENGTH, pattern: HEX }),
    signature: Type.String({ pattern: "^[0-9a-f]{128}$" }),
  },
  { additionalProperties: false },
);
export type SignedAttestationBody = Static<typeof SignedAttestationBody>;

export const SignBody = Type.Object(
  {
    epoch: U53,
    slot: U53,
    payload: Type.String({ maxLength: 2 * MAX_PAYLOAD_BYTES, pattern: HEX }),
    nonce: Type.Optional(Type.String({ pattern: `^[0-9a-f]{${2 * NONCE_LENGTH}}$` })),
    timestampMs: Type.Optional(U53),
  },
  { additionalProperties: false },
);
export type SignBody = Static<typeof SignBody>;

export const VerifyBody = SignedAttestationBody;

export function verifyBatchBody(maxBatchSize: number) {
  return Type.Object(
    { items: Type.Array(SignedAttestationBody, { minItems: 1, maxItems: maxBatchSize }) },
    { additionalProperties: false },
  );
}
export type VerifyBatchBody = Static<ReturnType<typeof verifyBatchBody>>;

/** A signed vote: Ed25519 by the validator's key over BLAKE3(encodeVote(vote)) (src/consensus/vote-encoding.ts). */
export const VoteBody = Type.Object(
  {
    validatorId: Type.String({ pattern: "^[A-Za-z0-9._-]{1,64}$" }),
    slot: U53,
    blockHash: Type.String({ pattern: "^[0-9a-f]{64}$" }),
    signature: Type.String({ pattern: "^[0-9a-f]{128}$" }),
  },
  { additionalProperties: false },
);
export type VoteBody = Static<typeof VoteBody>;

export const FinalityParams = Type.Object({ blockHash: Type.String({ pattern: "^[0-9a-f]{64}$" }) }, { additionalProperties: false });
export type FinalityParams = Static<typeof FinalityParams>;
