/**
 * The canary hold gate: a small HTTP service Flagger calls as its `pre-rollout`, `confirm-traffic-increase` and
 * `confirm-promotion` webhooks (components/canary.ts). `POST /gate` answers 200 to approve the step and 403 to hold
 * it (Flagger asks again next interval); the rule is `canary/hold.ts`. `GET /healthz` for the probes.
 *
 * Runs from the node image (`HOLD_GATE_COMMAND`). Env: `BIZRA_HOLD_GATE_PORT` (default 8090), `BIZRA_HOST`
 * (default 0.0.0.0), `BIZRA_HOLD_GATE_MAX_CANARIES` (default 1024), `BIZRA_LOG_LEVEL` (default info).
 * State is in memory: a restart only lengthens holds (see canary/hold.ts).
 */
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { DEFAULT_HOLD_GATE_PORT, ENV, HOLD_GATE_ROUTE, ROUTES } from "@bizra/contract";
import { HoldGate, type HoldRequest } from "../canary/hold";

export interface HoldGateOptions {
  readonly maxCanaries?: number;
  /** pino level, or false for no logs (tests). */
  readonly logLevel?: string | false;
}

const gateBody = {
  type: "object",
  required: ["name", "namespace", "metadata"],
  // Flagger may add fields in later versions; they are ignored.
  properties: {
    name: { type: "string", minLength: 1, maxLength: 253 },
    namespace: { type: "string", minLength: 1, maxLength: 63 },
    phase: { type: "string", maxLength: 64 },
    checksum: { type: "string", maxLength: 256 },
    metadata: { type: "object", additionalProperties: { type: "string", maxLength: 1024 }, maxProperties: 32 },
  },
} as const;

export function buildHoldGate(opts: HoldGateOptions = {}): { app: FastifyInstance; gate: HoldGate } {
  const gate = new HoldGate(opts.maxCanaries ?? 1024);
  const app = Fastify({
    logger: opts.logLevel ? { level: opts.logLevel } : false,
    bodyLimit: 16 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation && error.validation.length > 0) {
      const v = error.validation[0] as { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> };
      const extra = v.params["missingProperty"] ?? v.params["additionalProperty"];
      const field = [v.instancePath.split("/").filter((p) => p !== "").join("."), typeof extra === "string" ? extra : ""].filter((p) => p !== "").join(".") || "body";
      return reply.code(400).send({ error: "invalid_request", field, rule: v.keyword, message: `${field} ${v.message ?? "is invalid"}` });
    }
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) request.log.error({ err: error }, "unhandled error");
    return reply.code(status).send({ error: status === 500 ? "internal" : "bad_request", message: status === 500 ? "internal error" : error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: "not_found", message: `${request.method} ${request.url.split("?")[0]} is not a route` }),
  );

  app.get(ROUTES.healthz, async () => ({ status: "ok", canaries: gate.size }));

  app.post<{ Body: HoldRequest }>(HOLD_GATE_ROUTE, { schema: { body: gateBody } }, async (request, reply) => {
    const answer = gate.call(request.body);
    if (!answer.ok) {
      request.log.warn({ canary: answer.canary, problem: answer.problem }, "hold gate: bad webhook metadata");
      return reply.code(400).send({ error: "invalid_metadata", canary: answer.canary, ...answer.problem });
    }
    const d = answer.decision;
    const body = { canary: answer.canary, checksum: request.body.checksum ?? "", approved: d.approve, step: d.step, stage: d.stage, calls: d.calls, required: d.required };
    request.log.info(body, d.approve ? "hold gate: approved" : "hold gate: holding");
    return reply.code(d.approve ? 200 : 403).send(d.approve ? body : { error: "held", ...body });
  });
  return { app, gate };
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new Error(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  return n;
}

export async function startHoldGate(env: NodeJS.ProcessEnv = process.env): Promise<{ app: FastifyInstance; port: number }> {
  const port = intFromEnv(env, ENV.holdGatePort, DEFAULT_HOLD_GATE_PORT, 0, 65535);
  const maxCanaries = intFromEnv(env, ENV.holdGateMaxCanaries, 1024, 1, 1_000_000);
  const { app } = buildHoldGate({ maxCanaries, logLevel: env[ENV.logLevel] ?? "info" });
  await app.listen({ port, host: env[ENV.host] ?? "0.0.0.0" });
  const address = app.server.address();
  return { app, port: typeof address === "object" && address ? address.port : port };
}

if (require.main === module) {
  startHoldGate().then(
    ({ app }) => {
      for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
    },
    (err: unknown) => {
      console.error(`hold-gate: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
