/** Verification of attestations, one or a batch, through the circuit breaker; results carry per-item reasons. */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { FAIL_REASON_LABEL, ROUTES } from "@bizra/contract";
import type { NodeMetrics } from "../../metrics";
import type { Attestation } from "../../poi/attestation";
import { fromHex, toHex } from "../../poi/bytes";
import type { AttestationVerifier, SignedAttestation, VerifyResult } from "../../poi/verify";
import type { CircuitBreaker } from "../circuit-breaker";
import { verifyBatchBody, VerifyBody, type SignedAttestationBody } from "../schemas";

export function attestationJson(a: Attestation) {
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

export interface AttestationRouteOptions {
  readonly verifier: AttestationVerifier;
  readonly breaker: CircuitBreaker;
  readonly metrics: NodeMetrics;
  readonly batchVerify: boolean;
  readonly maxBatchSize: number;
}

export const attestationRoutes: FastifyPluginAsyncTypebox<AttestationRouteOptions> = async (app, o) => {
  const m = o.metrics;
  async function verifyItems(wire: readonly SignedAttestationBody[]): Promise<VerifyResult[]> {
    const items: SignedAttestation[] = wire.map((w) => ({ encoding: fromHex(w.encoding), signature: fromHex(w.signature) }));
    const started = process.hrtime.bigint();
    const results = await o.breaker.run(async () => {
      if (o.batchVerify) return o.verifier.verifyBatch(items);
      const out: VerifyResult[] = [];
      for (const item of items) out.push(await o.verifier.verify(item));
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

  app.post(ROUTES.attestationsVerify, { schema: { body: VerifyBody } }, async (request) => {
    const [result] = await verifyItems([request.body]);
    return resultJson(result as VerifyResult);
  });

  app.post(ROUTES.attestationsVerifyBatch, { schema: { body: verifyBatchBody(o.maxBatchSize) } }, async (request) => {
    const results = await verifyItems(request.body.items);
    return { results: results.map((r, index) => ({ index, ...resultJson(r) })) };
  });
};
