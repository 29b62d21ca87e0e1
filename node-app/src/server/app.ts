/**
 * The HTTP listeners: a thin shell over poi/, consensus/ and signer/. Errors are data: { error, field?, rule?, message }.
 *
 *   buildApi        the public API port: health, readiness, verification, votes, finality, head (never signing)
 *   buildSignerApi  the signer port: the sign route behind a bearer token (only where a signing key is loaded)
 *
 * Both share the guards (admission by items, shutdown 503, media types, timeouts, connection cap), the one error
 * handler and the request metrics; each route group is a fastify plugin whose request types come from its schemas.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Logger } from "pino";
import type { NodeMetrics } from "../metrics";
import type { AttestationVerifier } from "../poi/verify";
import type { Signer } from "../signer/signer";
import type { Tally } from "../state/tally";
import { Admission, installGuards, serverFactory, type ListenerLimits } from "./admission";
import type { CircuitBreaker } from "./circuit-breaker";
import { installErrorHandling } from "./errors";
import { attestationRoutes } from "./routes/attestations";
import { consensusRoutes } from "./routes/consensus";
import { healthRoutes, type Readiness } from "./routes/health";
import { signRoutes } from "./routes/sign";

export type { Readiness } from "./routes/health";

export interface ListenerDeps {
  readonly metrics: NodeMetrics;
  readonly bodyLimitBytes: number;
  readonly limits: ListenerLimits;
  /** Items admitted in flight on this listener. */
  readonly admission: Admission;
  readonly logger?: Logger;
}

export interface ApiDeps extends ListenerDeps {
  readonly verifier: AttestationVerifier;
  readonly tally: Tally;
  readonly breaker: CircuitBreaker;
  readonly batchVerify: boolean;
  readonly maxBatchSize: number;
  readonly ready: () => Readiness;
}

export interface SignerApiDeps extends ListenerDeps {
  readonly signer: Signer;
  readonly token: string;
}

function listener(deps: ListenerDeps) {
  let closing = false;
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: deps.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: false, // the guard answers 503 with Retry-After instead
    serverFactory: serverFactory(deps.limits),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onResponse", async (request, reply) => {
    const labels = { route: request.routeOptions.url ?? "unmatched", method: request.method, status_code: String(reply.statusCode) };
    deps.metrics.httpRequestsTotal.inc(labels);
    deps.metrics.httpRequestDurationSeconds.observe(labels, reply.elapsedTime / 1000);
  });
  installErrorHandling(app, deps.metrics);
  installGuards(app, { admission: deps.admission, metrics: deps.metrics, bodyLimitBytes: deps.bodyLimitBytes, isClosing: () => closing });
  return app;
}

export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = listener(deps);
  void app.register(healthRoutes, { ready: deps.ready });
  void app.register(attestationRoutes, deps);
  void app.register(consensusRoutes, deps);
  return app as unknown as FastifyInstance;
}

export function buildSignerApi(deps: SignerApiDeps): FastifyInstance {
  const app = listener(deps);
  void app.register(signRoutes, { signer: deps.signer, metrics: deps.metrics, token: deps.token });
  return app as unknown as FastifyInstance;
}

export { Admission };
