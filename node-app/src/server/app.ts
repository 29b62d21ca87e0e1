/** The HTTP API: a thin shell over poi/ and consensus/. Errors are data: { error, field?, rule?, message }. */
import { randomBytes } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import { FAIL_REASON_LABEL, ROUTES } from "@bizra/contract";
import { voteSignatureItem, VoteFormatError, type VoteRejectReason } from "../consensus/vote-encoding";
import type { Vote, VoteTally } from "../consensus/vote-tally";
import type { NodeMetrics } from "../metrics";
import { ATTESTATION_VERSION, payloadDigest, type Attestation } from "../poi/attestation";
import { fromHex, toHex } from "../poi/bytes";
import { signAttestation, type AttestationVerifier, type SignedAttestation, type VerifyResult } from "../poi/verify";
import { BreakerOpenError, type CircuitBreaker } from "./circuit-breaker";
import { finalityParams, signBody, verifyBatchBody, verifyBody, voteBody } from "./schemas";

export interface ApiDeps {
  readonly validatorId: string;
  /** Returns the 32-byte signing seed, or undefined when no key is loaded. */
  readonly signingSeed: () => Uint8Array | undefined;
  readonly verifier: AttestationVerifier;
  readonly tally: VoteTally;
  readonly breaker: CircuitBreaker;
  readonly metrics: NodeMetrics;
  readonly batchVerify: boolean;
  readonly maxBatchSize: number;
  readonly bodyLimitBytes: number;
  /** Readiness: key loaded, verifier self-test passed, circuit not open. */
  readonly ready: () => { ready: boolean; checks: Record<string, boolean> };
  readonly logger?: Logger;
  readonly now?: () => number;
}

interface SignRequest {
  epoch: number;
  slot: number;
  payload: string;
  nonce?: string;
  timestampMs?: number;
}
interface VoteRequest {
  validatorId: string;
  slot: number;
  blockHash: string;
  /** Ed25519 by the validator's key over BLAKE3(encodeVote({validatorId, slot, blockHash})), 128 hex digits. */
  signature: string;
}
type WireAttestation = { encoding: string; signature: string };

function attestationJson(a: Attestation) {
  return {
    version: a.version,
    validatorId: a.validatorId,
    epoch: a.epoch,
    slot: a.slot,
    payloadDigest: toHex(a.payloadDigest),
    nonce: toHex(a.nonce),
    timestampMs: a.timestampMs,
  };
}

function resultJson(r: VerifyResult) {
  return r.ok
    ? { valid: true, digest: toHex(r.digest), attestation: attestationJson(r.attestation) }
    : { valid: false, reason: r.reason, detail: r.detail };
}

/** "/items/0/encoding" in context "body" -> "body.items[0].encoding" */
function fieldName(context: string | undefined, instancePath: string, extra?: unknown): string {
  let field = context ?? "request";
  for (const part of instancePath.split("/").filter((p) => p.length > 0)) {
    field += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  if (typeof extra === "string") field += `.${extra}`;
  return field;
}

function sendUnavailable(reply: FastifyReply, err: BreakerOpenError) {
  return reply
    .code(503)
    .header("retry-after", String(err.retryAfterSeconds))
    .send({ error: err.kind === "open" ? "verifier_unavailable" : "overloaded", message: err.message });
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: deps.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  });
  const m = deps.metrics;

  app.addHook("onResponse", async (request, reply) => {
    const labels = {
      route: request.routeOptions.url ?? "unmatched",
      method: request.method,
      status_code: String(reply.statusCode),
    };
    m.httpRequestsTotal.inc(labels);
    m.httpRequestDurationSeconds.observe(labels, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation && error.validation.length > 0) {
      if (request.routeOptions.url === ROUTES.votes) m.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: "malformed" });
      const v = error.validation[0] as { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> };
      const extra = v.params["missingProperty"] ?? v.params["additionalProperty"];
      return reply.code(400).send({
        error: "invalid_request",
        field: fieldName(error.validationContext, v.instancePath, extra),
        rule: v.keyword,
        message: `${fieldName(error.validationContext, v.instancePath, extra)} ${v.message ?? "is invalid"}`,
      });
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, "unhandled error");
    const code = status === 500 ? "internal" : (error.code ?? "bad_request").replace(/^FST_ERR_/, "").toLowerCase();
    return reply.code(status).send({ error: code, message: status === 500 ? "internal error" : error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: "not_found", message: `${request.method} ${request.url.split("?")[0]} is not a route` }),
  );

  app.get(ROUTES.healthz, async () => ({ status: "ok" }));
  app.get(ROUTES.readyz, async (_request, reply) => {
    const r = deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? "ready" : "not_ready", checks: r.checks });
  });

  app.post<{ Body: SignRequest }>(ROUTES.attestationsSign, { schema: { body: signBody } }, async (request, reply) => {
    const seed = deps.signingSeed();
    if (seed === undefined) {
      return reply.code(503).header("retry-after", "30").send({ error: "key_not_loaded", message: "no signing key is loaded" });
    }
    const b = request.body;
    const started = process.hrtime.bigint();
    const issued = signAttestation(
      {
        version: ATTESTATION_VERSION,
        validatorId: deps.validatorId,
        epoch: b.epoch,
        slot: b.slot,
        payloadDigest: payloadDigest(fromHex(b.payload)),
        nonce: b.nonce !== undefined ? fromHex(b.nonce) : new Uint8Array(randomBytes(16)),
        timestampMs: b.timestampMs ?? now(),
      },
      seed,
    );
    m.poiGenerateSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return reply.code(201).send({
      attestation: attestationJson(issued.attestation),
      encoding: toHex(issued.encoding),
      digest: toHex(issued.digest),
      signature: toHex(issued.signature),
      publicKey: toHex(issued.publicKey),
    });
  });

  async function verifyItems(wire: readonly WireAttestation[]): Promise<VerifyResult[]> {
    const items: SignedAttestation[] = wire.map((w) => ({ encoding: fromHex(w.encoding), signature: fromHex(w.signature) }));
    const started = process.hrtime.bigint();
    const results = await deps.breaker.run(async () => {
      if (deps.batchVerify) return deps.verifier.verifyBatch(items);
      const out: VerifyResult[] = [];
      for (const item of items) out.push(await deps.verifier.verify(item));
      return out;
    });
    const perItem = Number(process.hrtime.bigint() - started) / 1e9 / Math.max(1, items.length);
    for (const r of results) {
      m.poiVerifySeconds.observe(perItem);
      if (r.ok) m.poiVerifyTotal.inc();
      else {
        m.poiVerifyFailTotal.inc({ [FAIL_REASON_LABEL]: r.reason });
        if (r.reason === "replayed") m.consensusReplayRejectedTotal.inc();
      }
    }
    return results;
  }

  app.post<{ Body: WireAttestation }>(ROUTES.attestationsVerify, { schema: { body: verifyBody } }, async (request, reply) => {
    try {
      const [result] = await verifyItems([request.body]);
      return reply.send(resultJson(result as VerifyResult));
    } catch (err) {
      if (err instanceof BreakerOpenError) return sendUnavailable(reply, err);
      throw err;
    }
  });

  app.post<{ Body: { items: WireAttestation[] } }>(
    ROUTES.attestationsVerifyBatch,
    { schema: { body: verifyBatchBody(deps.maxBatchSize) } },
    async (request, reply) => {
      try {
        const results = await verifyItems(request.body.items);
        return reply.send({ results: results.map((r, index) => ({ index, ...resultJson(r) })) });
      } catch (err) {
        if (err instanceof BreakerOpenError) return sendUnavailable(reply, err);
        throw err;
      }
    },
  );

  /**
   * A vote counts only with a valid signature by the validator's registered key, checked before the tally by the
   * attestation rule (ZIP-215, the same backend and circuit breaker). Order: schema (400, field and rule) ->
   * unknown validator or no registered key (422) -> bad signature (403, field body.signature) -> tally.
   */
  app.post<{ Body: VoteRequest }>(ROUTES.votes, { schema: { body: voteBody } }, async (request, reply) => {
    const b = request.body;
    const vote: Vote = { validatorId: b.validatorId, slot: b.slot, blockHash: b.blockHash };
    const refuse = (reason: VoteRejectReason) => {
      m.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: reason });
      m.consensusVotesTotal.inc({ outcome: reason });
    };
    const publicKey = deps.tally.validators.get(vote.validatorId)?.publicKey;
    if (publicKey === undefined) {
      refuse("unknown_validator");
      const known = deps.tally.validators.has(vote.validatorId);
      return reply.code(422).send({
        error: "unknown_validator",
        message: known ? `validator ${vote.validatorId} has no registered public key` : `validator ${vote.validatorId} is not in the set`,
      });
    }
    let valid: boolean;
    try {
      const item = voteSignatureItem(vote, publicKey, fromHex(b.signature));
      const [verdict] = await deps.breaker.run(async () => deps.verifier.backend.verifyMany([item]));
      valid = verdict === true;
    } catch (err) {
      if (err instanceof BreakerOpenError) return sendUnavailable(reply, err);
      if (err instanceof VoteFormatError) {
        refuse("malformed");
        return reply.code(400).send({ error: "invalid_request", field: `body.${err.field}`, rule: err.rule, message: err.message });
      }
      throw err;
    }
    if (!valid) {
      refuse("bad_signature");
      return reply.code(403).send({
        error: "bad_signature",
        field: "body.signature",
        rule: "bad_signature",
        message: `body.signature is not a valid Ed25519 (ZIP-215) signature by ${vote.validatorId} over this vote`,
      });
    }
    const outcome = deps.tally.addVote(vote);
    if (!outcome.accepted) {
      m.consensusVotesTotal.inc({ outcome: outcome.reason });
      if (outcome.reason === "equivocation") m.consensusEquivocationsTotal.inc();
      else m.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: outcome.reason });
      const status = outcome.reason === "equivocation" ? 409 : 422;
      return reply.code(status).send({ error: outcome.reason, message: outcome.detail });
    }
    m.consensusVotesTotal.inc({ outcome: outcome.duplicate ? "duplicate" : "accepted" });
    return reply.code(202).send({ accepted: true, duplicate: outcome.duplicate, finality: deps.tally.finalityOf(vote.blockHash) });
  });

  app.get<{ Params: { blockHash: string } }>(ROUTES.finality, { schema: { params: finalityParams } }, async (request, reply) => {
    const started = process.hrtime.bigint();
    const finality = deps.tally.finalityOf(request.params.blockHash);
    m.finalityCheckSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    m.finalityChecksTotal.inc();
    if (finality === undefined) {
      return reply.code(404).send({ error: "unknown_block", message: `no votes for block ${request.params.blockHash}` });
    }
    if (!finality.fast) m.consensusQuorumFailuresTotal.inc();
    return reply.send({ finality });
  });

  app.get(ROUTES.head, async () => ({ head: deps.tally.head() ?? null }));

  return app;
}
