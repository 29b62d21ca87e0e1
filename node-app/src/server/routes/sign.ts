/**
 * The sign route, registered on the signer listener only. Every request presents `Authorization: Bearer <token>`:
 * none or malformed -> 401 unauthenticated, wrong -> 403 forbidden; both are counted and logged. Then the signer
 * (signer/signer.ts) decides against the persisted high-water mark: 201 signed (200 for a repeat of what was already
 * signed), 409 double_sign / slot_regression, 422 timestamp_out_of_range, 503 not_signer / state_unavailable.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { FAIL_REASON_LABEL, ROUTES, type SignRefuseReason } from "@bizra/contract";
import type { NodeMetrics } from "../../metrics";
import { fromHex, toHex } from "../../poi/bytes";
import type { Signer } from "../../signer/signer";
import { SignBody } from "../schemas";
import { attestationJson } from "./attestations";

export interface SignRouteOptions {
  readonly signer: Signer;
  readonly metrics: NodeMetrics;
  /** The bearer token callers must present (read from a mounted Secret). */
  readonly token: string;
}

const STATUS: Record<Exclude<SignRefuseReason, "unauthenticated" | "forbidden">, number> = {
  double_sign: 409,
  slot_regression: 409,
  timestamp_out_of_range: 422,
  not_signer: 503,
  state_unavailable: 503,
};

const digestOf = (s: string) => createHash("sha256").update(s, "utf8").digest();

export const signRoutes: FastifyPluginAsyncTypebox<SignRouteOptions> = async (app, o) => {
  const expected = digestOf(o.token);
  const count = (reason: SignRefuseReason) => o.metrics.poiSignRefusedTotal.inc({ [FAIL_REASON_LABEL]: reason });

  app.addHook("onRequest", async (request, reply) => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (match === null) {
      count("unauthenticated");
      request.log.warn({ remote: request.ip, route: request.url }, "sign request without a bearer token");
      return reply.code(401).header("www-authenticate", 'Bearer realm="bizra-signer"').send({ error: "unauthenticated", message: "send Authorization: Bearer <signer token>" });
    }
    if (!timingSafeEqual(digestOf(match[1] as string), expected)) {
      count("forbidden");
      request.log.warn({ remote: request.ip, route: request.url }, "sign request with a wrong bearer token");
      return reply.code(403).send({ error: "forbidden", message: "the bearer token is not the signer token" });
    }
  });

  app.post(ROUTES.attestationsSign, { schema: { body: SignBody } }, async (request, reply) => {
    const b = request.body;
    const started = process.hrtime.bigint();
    const outcome = await o.signer.sign({
      epoch: b.epoch,
      slot: b.slot,
      payload: fromHex(b.payload),
      nonce: b.nonce !== undefined ? fromHex(b.nonce) : undefined,
      timestampMs: b.timestampMs,
    });
    if (!outcome.ok) {
      count(outcome.reason);
      request.log.warn({ reason: outcome.reason, epoch: b.epoch, slot: b.slot }, `sign refused: ${outcome.detail}`);
      const status = STATUS[outcome.reason];
      if (status === 503) reply.header("retry-after", "1");
      // a keep-alive client reconnects, and the signer Service routes a new connection to the active signer only
      if (outcome.reason === "not_signer") reply.header("connection", "close");
      return reply.code(status).send({ error: outcome.reason, message: outcome.detail });
    }
    o.metrics.poiGenerateSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const issued = outcome.issued;
    return reply.code(outcome.repeated ? 200 : 201).send({
      attestation: attestationJson(issued.attestation),
      encoding: toHex(issued.encoding),
      digest: toHex(issued.digest),
      signature: toHex(issued.signature),
      publicKey: toHex(issued.publicKey),
      repeated: outcome.repeated,
    });
  });
};
