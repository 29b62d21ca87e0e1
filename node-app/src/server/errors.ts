/**
 * One error handler for every route: schema failures -> 400 naming field and rule; BreakerOpenError (circuit open or
 * admission shed) -> 503 with Retry-After; client errors keep their status; anything else -> 500 "internal".
 */
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { FAIL_REASON_LABEL, ROUTES } from "@bizra/contract";
import type { NodeMetrics } from "../metrics";
import { BreakerOpenError } from "./circuit-breaker";

/** "/items/0/encoding" in context "body" -> "body.items[0].encoding" */
function fieldName(context: string | undefined, instancePath: string, extra?: unknown): string {
  let field = context ?? "request";
  for (const part of instancePath.split("/").filter((p) => p.length > 0)) {
    field += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  }
  if (typeof extra === "string") field += `.${extra}`;
  return field;
}

export function sendUnavailable(reply: FastifyReply, err: BreakerOpenError): FastifyReply {
  return reply
    .code(503)
    .header("retry-after", String(err.retryAfterSeconds))
    .send({ error: err.kind === "open" ? "verifier_unavailable" : "overloaded", message: err.message });
}

export function installErrorHandling(app: FastifyInstance, metrics: NodeMetrics): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof BreakerOpenError) return sendUnavailable(reply, error);
    if (error.validation && error.validation.length > 0) {
      if (request.routeOptions.url === ROUTES.votes) metrics.consensusVoteRejectedTotal.inc({ [FAIL_REASON_LABEL]: "malformed" });
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
}
