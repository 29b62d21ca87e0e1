/**
 * Votes, finality and head. A vote counts only with a valid signature by the validator's registered key, checked
 * before the tally by the attestation rule (ZIP-215, the same backend and circuit breaker). Order: schema (400, field
 * and rule) -> unknown validator or no registered key (422) -> bad signature (403, field body.signature) -> tally.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { FAIL_REASON_LABEL, ROUTES } from "@bizra/contract";
import { voteSignatureItem, VoteFormatError, type VoteRejectReason } from "../../consensus/vote-encoding";
import type { Vote } from "../../consensus/vote-tally";
import type { NodeMetrics } from "../../metrics";
import { fromHex } from "../../poi/bytes";
import type { AttestationVerifier } from "../../poi/verify";
import type { Tally } from "../../state/tally";
import type { CircuitBreaker } from "../circuit-breaker";
import { FinalityParams, VoteBody } from "../schemas";

export interface ConsensusRouteOptions {
  readonly tally: Tally;
  readonly verifier: AttestationVerifier;
  readonly breaker: CircuitBreaker;
  readonly metrics: NodeMetrics;
}

export const consensusRoutes: FastifyPluginAsyncTypebox<ConsensusRouteOptions> = async (app, o) => {
  const m = o.metrics;

  app.post(ROUTES.votes, { schema: { body: VoteBody } }, async (request, reply) => {
    const b = request.body;
    const vote: Vote = { validatorId: b.validatorId, slot: b.slot, blockHash: b.blockHash };
    const refuse = (reason: VoteRejectReason) => {
      m.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: reason });
      m.consensusVotesTotal.inc({ outcome: reason });
    };
    const publicKey = o.tally.validators.get(vote.validatorId)?.publicKey;
    if (publicKey === undefined) {
      refuse("unknown_validator");
      const known = o.tally.validators.has(vote.validatorId);
      return reply.code(422).send({
        error: "unknown_validator",
        message: known ? `validator ${vote.validatorId} has no registered public key` : `validator ${vote.validatorId} is not in the set`,
      });
    }
    let item;
    try {
      item = voteSignatureItem(vote, publicKey, fromHex(b.signature));
    } catch (err) {
      if (!(err instanceof VoteFormatError)) throw err;
      refuse("malformed");
      return reply.code(400).send({ error: "invalid_request", field: `body.${err.field}`, rule: err.rule, message: err.message });
    }
    const [verdict] = await o.breaker.run(async () => o.verifier.backend.verifyMany([item]));
    if (verdict !== true) {
      refuse("bad_signature");
      return reply.code(403).send({
        error: "bad_signature",
        field: "body.signature",
        rule: "bad_signature",
        message: `body.signature is not a valid Ed25519 (ZIP-215) signature by ${vote.validatorId} over this vote`,
      });
    }
    const outcome = await o.tally.addVote(vote);
    if (!outcome.accepted) {
      m.consensusVotesTotal.inc({ outcome: outcome.reason });
      if (outcome.reason === "equivocation") m.consensusEquivocationsTotal.inc();
      else m.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: outcome.reason });
      return reply.code(outcome.reason === "equivocation" ? 409 : 422).send({ error: outcome.reason, message: outcome.detail });
    }
    m.consensusVotesTotal.inc({ outcome: outcome.duplicate ? "duplicate" : "accepted" });
    return reply.code(202).send({ accepted: true, duplicate: outcome.duplicate, finality: await o.tally.finalityOf(vote.blockHash) });
  });

  app.get(ROUTES.finality, { schema: { params: FinalityParams } }, async (request, reply) => {
    const started = process.hrtime.bigint();
    const finality = await o.tally.finalityOf(request.params.blockHash);
    m.finalityCheckSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    m.finalityChecksTotal.inc();
    if (finality === undefined) {
      return reply.code(404).send({ error: "unknown_block", message: `no votes for block ${request.params.blockHash}` });
    }
    return reply.send({ finality });
  });

  app.get(ROUTES.head, async () => ({ head: (await o.tally.head()) ?? null }));
};
